// Package config reads socksd's TOML configuration: the schema, strict
// decoding (an unknown key is an error that names FILE:LINE), validation,
// and the embedded default.
//
// Runtime packages never import config; the daemon turns a *Config into
// runtime objects.
package config
