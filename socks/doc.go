// Package socks implements the SOCKS4, SOCKS4a and SOCKS5 wire protocols.
//
// The server side reads one request from a client connection
// ([ReadRequest]) and writes the reply ([WriteReply]); it performs the
// SOCKS5 method negotiation and the RFC 1929 username/password
// subnegotiation on the way, but makes no policy decision and never dials
// or resolves anything: a domain name in a request stays a name in
// [Addr.Host], to be resolved on the far side of a tunnel.
//
// The client side ([ClientHandshake], [ClientBind], [ReadBindSecond],
// [ParseProxyURL], and [Dialer] built on them) is the small part needed to
// reach a server through an upstream SOCKS proxy: the tunnel package dials
// a profile's via with it. ParseProxyURL is socksd's one parser of proxy
// URLs, and [ProxyURL] holds one as a setting without ever printing its
// password.
//
// Reads are exact: nothing after a request or reply is consumed, so the
// connection can be handed to a relay afterwards. Every length read from
// the wire is at most 255, so a peer cannot make this package allocate
// more than that per field.
//
// References: SOCKS4 ("SOCKS: A protocol for TCP proxy across firewalls",
// Ying-Da Lee), SOCKS4a (Ying-Da Lee), RFC 1928 (SOCKS5), RFC 1929
// (username/password authentication for SOCKS5).
package socks
