package socks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
)

type timeoutErr struct{}

func (timeoutErr) Error() string { return "i/o timeout" }
func (timeoutErr) Timeout() bool { return true }

func TestReplyCode(t *testing.T) {
	opErr := func(errno error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: errno}}
	}
	for _, tc := range []struct {
		name string
		err  error
		want Reply
	}{
		{"nil", nil, RepSucceeded},
		{"reply error", &ReplyError{Code: RepNotAllowed}, RepNotAllowed},
		{"wrapped reply error", fmt.Errorf("tunnel: %w", &ReplyError{Code: RepHostUnreachable, Err: errors.New("x")}), RepHostUnreachable},
		{"refused", opErr(syscall.ECONNREFUSED), RepConnectionRefused},
		{"host unreachable", opErr(syscall.EHOSTUNREACH), RepHostUnreachable},
		{"host down", opErr(syscall.EHOSTDOWN), RepHostUnreachable},
		{"net unreachable", opErr(syscall.ENETUNREACH), RepNetworkUnreachable},
		{"net down", opErr(syscall.ENETDOWN), RepNetworkUnreachable},
		{"permission", opErr(syscall.EPERM), RepNotAllowed},
		{"access", opErr(syscall.EACCES), RepNotAllowed},
		{"address family", opErr(syscall.EAFNOSUPPORT), RepAddressNotSupported},
		{"etimedout", opErr(syscall.ETIMEDOUT), RepTTLExpired},
		{"deadline", fmt.Errorf("x: %w", os.ErrDeadlineExceeded), RepTTLExpired},
		{"context deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), RepTTLExpired},
		{"timeout interface", &net.OpError{Op: "dial", Err: timeoutErr{}}, RepTTLExpired},
		{"dns not found", &net.DNSError{Err: "no such host", Name: "nx.example", IsNotFound: true}, RepHostUnreachable},
		{"dns timeout", &net.DNSError{Err: "timeout", Name: "nx.example", IsTimeout: true}, RepHostUnreachable},
		{"reset", opErr(syscall.ECONNRESET), RepGeneralFailure},
		{"other", errors.New("something"), RepGeneralFailure},
		{"canceled", context.Canceled, RepGeneralFailure},
	} {
		if got := ReplyCode(tc.err); got != tc.want {
			t.Errorf("%s: ReplyCode(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestReplyError(t *testing.T) {
	cause := errors.New("channel open refused")
	e := &ReplyError{Code: RepConnectionRefused, Err: cause}
	if got, want := e.Error(), "socks: connection refused: channel open refused"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, cause) {
		t.Error("ReplyError does not unwrap to its cause")
	}
	if got, want := (&ReplyError{Code: RepTTLExpired}).Error(), "socks: TTL expired"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestProtoErrorText(t *testing.T) {
	err := wrap("socks5 request", errorf(ErrCommand, "command 0x%02x", 9))
	if got, want := err.Error(), "socks: socks5 request: unsupported command: command 0x09"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	cause := errors.New("denied")
	err = wrap("p", &protoError{kind: ErrAuth, msg: "user \"u\"", cause: cause})
	if !errors.Is(err, ErrAuth) || !errors.Is(err, cause) {
		t.Errorf("%v does not wrap both ErrAuth and its cause", err)
	}
}
