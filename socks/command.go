package socks

import (
	"fmt"
	"strings"
)

// Command is a SOCKS request command (the CD field of SOCKS4, CMD of SOCKS5).
type Command byte

// SOCKS commands. SOCKS4 knows only CONNECT and BIND.
const (
	CmdConnect      Command = 1
	CmdBind         Command = 2
	CmdUDPAssociate Command = 3
)

// String returns the command's configuration name: "connect", "bind" or
// "udp-associate"; unknown values print as "command(N)".
func (c Command) String() string {
	switch c {
	case CmdConnect:
		return "connect"
	case CmdBind:
		return "bind"
	case CmdUDPAssociate:
		return "udp-associate"
	}
	return fmt.Sprintf("command(%d)", byte(c))
}

// ParseCommand parses a command's configuration name (see [Command.String]),
// ignoring case.
func ParseCommand(s string) (Command, error) {
	switch strings.ToLower(s) {
	case "connect":
		return CmdConnect, nil
	case "bind":
		return CmdBind, nil
	case "udp-associate":
		return CmdUDPAssociate, nil
	}
	return 0, fmt.Errorf("socks: unknown command %q (want connect, bind or udp-associate)", s)
}

// Method is a SOCKS5 authentication method (RFC 1928 section 3).
type Method byte

// SOCKS5 authentication methods.
const (
	MethodNone         Method = 0x00
	MethodUserPass     Method = 0x02
	MethodNoAcceptable Method = 0xFF
)

// String returns the method's configuration name: "none" or "userpass";
// others print as "method(0xNN)".
func (m Method) String() string {
	switch m {
	case MethodNone:
		return "none"
	case MethodUserPass:
		return "userpass"
	case MethodNoAcceptable:
		return "no-acceptable"
	}
	return fmt.Sprintf("method(0x%02x)", byte(m))
}

// ParseMethod parses a configuration name ("none" or "userpass", any case)
// into a Method.
func ParseMethod(s string) (Method, error) {
	switch strings.ToLower(s) {
	case "none":
		return MethodNone, nil
	case "userpass":
		return MethodUserPass, nil
	}
	return 0, fmt.Errorf("socks: unknown authentication method %q (want none or userpass)", s)
}
