package socks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
)

// Sentinel errors returned (wrapped, with context) by this package. Test
// for them with [errors.Is].
var (
	// ErrVersion reports a protocol version that is unknown or not enabled.
	ErrVersion = errors.New("socks: unsupported version")
	// ErrMethod reports that no SOCKS5 authentication method was acceptable.
	ErrMethod = errors.New("socks: no acceptable authentication method")
	// ErrAuth reports a failed RFC 1929 username/password authentication.
	ErrAuth = errors.New("socks: authentication failed")
	// ErrCommand reports an unknown or unsupported command.
	ErrCommand = errors.New("socks: unsupported command")
	// ErrAddressType reports an unknown or unusable address type.
	ErrAddressType = errors.New("socks: unsupported address type")
	// ErrMalformed reports a message that breaks the protocol.
	ErrMalformed = errors.New("socks: malformed message")
	// ErrTooLong reports a field longer than the configured or protocol limit.
	ErrTooLong = errors.New("socks: field too long")
)

// ReplyError is an error that carries the SOCKS reply code to send (on the
// server side) or that was received (on the client side). Dialers return
// it so that the daemon can choose the reply code for a failure.
type ReplyError struct {
	// Code is the SOCKS5 reply code; SOCKS4 encodes every failure as 91.
	Code Reply
	// Err is the underlying cause; it may be nil.
	Err error
}

// Error implements error.
func (e *ReplyError) Error() string {
	if e.Err == nil {
		return "socks: " + e.Code.String()
	}
	return "socks: " + e.Code.String() + ": " + e.Err.Error()
}

// Unwrap returns the underlying cause.
func (e *ReplyError) Unwrap() error { return e.Err }

// ReplyCode maps err to the SOCKS reply code that best describes it:
//
//   - nil: [RepSucceeded]
//   - a [*ReplyError] anywhere in the chain: its Code
//   - a DNS failure ([*net.DNSError]): [RepHostUnreachable]
//   - ECONNREFUSED: [RepConnectionRefused]
//   - EHOSTUNREACH, EHOSTDOWN: [RepHostUnreachable]
//   - ENETUNREACH, ENETDOWN: [RepNetworkUnreachable]
//   - EACCES, EPERM (e.g. a local firewall): [RepNotAllowed]
//   - EAFNOSUPPORT: [RepAddressNotSupported]
//   - a timeout (ETIMEDOUT, [os.ErrDeadlineExceeded],
//     [context.DeadlineExceeded], or any error with Timeout() true):
//     [RepTTLExpired], the code Dante and most SOCKS servers send when a
//     connection attempt times out
//   - anything else: [RepGeneralFailure]
func ReplyCode(err error) Reply {
	if err == nil {
		return RepSucceeded
	}
	var re *ReplyError
	if errors.As(err, &re) {
		return re.Code
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return RepHostUnreachable
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return RepConnectionRefused
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.EHOSTDOWN):
		return RepHostUnreachable
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ENETDOWN):
		return RepNetworkUnreachable
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return RepNotAllowed
	case errors.Is(err, syscall.EAFNOSUPPORT):
		return RepAddressNotSupported
	case errors.Is(err, syscall.ETIMEDOUT),
		errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, context.DeadlineExceeded):
		return RepTTLExpired
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return RepTTLExpired
	}
	return RepGeneralFailure
}

// protoError is a protocol error of one of the sentinel kinds. Its text
// has no package prefix: the exported function that returns it wraps it
// with "socks: " and the phase (e.g. "socks: socks5 request: ...").
type protoError struct {
	kind  error
	msg   string
	cause error // optional
}

func (e *protoError) Error() string {
	s := strings.TrimPrefix(e.kind.Error(), "socks: ") + ": " + e.msg
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *protoError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// errorf returns a protoError of the given kind.
func errorf(kind error, format string, args ...any) error {
	return &protoError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
