// Package config reads socksd's TOML configuration: the schema, strict
// decoding, validation, and the embedded default.
//
// Parse reports every problem of a file in one run, each as an *Error at
// FILE:LINE with its key path (rules[2].to), in the configuration's terms;
// no error quotes a password. Each setting is checked by the parser of the
// package that owns it (rules, socks, ebcdic, jcl); config never
// re-implements one. The rule set, client prefixes and SOCKS5 methods that
// those parsers build are kept (Config.RuleSet and friends), so nothing
// compiles them twice.
//
// Runtime packages never import config; the daemon turns a *Config into
// runtime objects.
package config
