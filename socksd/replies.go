package socksd

import (
	"errors"

	"socksd/socks"
	"socksd/tunnel"
)

// failureReply maps why a connection could not be set up to the SOCKS
// reply code the client gets. "Not allowed" (SOCKS5 0x02) is kept for
// rule blocks: no failure maps to it, so that a client can tell a block
// from a tunnel that could not be built. SOCKS4 has one failure code, 91,
// for all of them. README.md ("SOCKS reply codes") shows the table.
//
//	destination refused (directly or at the SSH server)       0x05
//	destination or SSH server unreachable, name not resolved  0x04
//	network unreachable                                       0x03
//	timed out                                                 0x06
//	host key, SSH login, channel prohibited, anything else    0x01
func failureReply(err error) socks.Reply {
	switch {
	case errors.Is(err, tunnel.ErrConnectFailed):
		return socks.RepConnectionRefused
	case errors.Is(err, tunnel.ErrUnreachable), errors.Is(err, tunnel.ErrServerUnreachable):
		return socks.RepHostUnreachable
	case errors.Is(err, tunnel.ErrHostKeyUnknown), errors.Is(err, tunnel.ErrHostKeyChanged),
		errors.Is(err, tunnel.ErrHostKeyRevoked), errors.Is(err, tunnel.ErrAuthFailed),
		errors.Is(err, tunnel.ErrPasswordRejectedRecently), errors.Is(err, tunnel.ErrProhibited),
		errors.Is(err, tunnel.ErrTunnelClosed), errors.Is(err, tunnel.ErrPoolClosed),
		errors.Is(err, tunnel.ErrBadProfile):
		return socks.RepGeneralFailure
	}
	switch code := socks.ReplyCode(err); code {
	case socks.RepSucceeded, socks.RepNotAllowed:
		// A local firewall (EACCES, EPERM) is not one of socksd's rules.
		return socks.RepGeneralFailure
	default:
		return code
	}
}
