// Package rules holds socksd's compiled, ordered filter rules.
//
// A rule set is compiled from Specs (the rule tables of the configuration)
// and answers Match for each SOCKS request: the first rule whose every
// condition holds decides. A request that no rule matches is blocked. The
// package does no I/O and never resolves host names: a name the client sent
// unresolved matches only name patterns, an IP literal matches only IP and
// CIDR patterns.
package rules
