package tunnel

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Sentinel errors. Errors returned by this package wrap one of them, so a
// caller branches with errors.Is.
var (
	// ErrHostKeyUnknown: known_hosts has no key for the server (strict policy).
	ErrHostKeyUnknown = errors.New("tunnel: host key unknown")
	// ErrHostKeyChanged: the server's key differs from the keys known_hosts holds.
	ErrHostKeyChanged = errors.New("tunnel: host key changed")
	// ErrHostKeyRevoked: the server's key is marked @revoked.
	ErrHostKeyRevoked = errors.New("tunnel: host key revoked")
	// ErrAuthFailed: the server accepted none of the authentication methods.
	ErrAuthFailed = errors.New("tunnel: authentication failed")
	// ErrPasswordRejectedRecently: this password was rejected by this server
	// for this user a short while ago; it is not offered again.
	ErrPasswordRejectedRecently = errors.New("tunnel: password rejected recently, not tried again")
	// ErrServerUnreachable: the TCP connection or SSH handshake to the SSH
	// server (or the via proxy) failed or timed out.
	ErrServerUnreachable = errors.New("tunnel: ssh server unreachable")
	// ErrProhibited: the SSH server refused the channel (administratively prohibited).
	ErrProhibited = errors.New("tunnel: channel administratively prohibited")
	// ErrConnectFailed: the SSH server could not connect to the destination (refused).
	ErrConnectFailed = errors.New("tunnel: destination refused the connection")
	// ErrUnreachable: the SSH server could not reach or resolve the destination.
	ErrUnreachable = errors.New("tunnel: destination unreachable")
	// ErrSessionRefused: the SSH server refused a session channel (sshd's
	// MaxSessions reached, or sessions not allowed).
	ErrSessionRefused = errors.New("tunnel: session channel refused")
	// ErrSubsystemRefused: the SSH server refused to start a subsystem
	// (sshd has no Subsystem line for it).
	ErrSubsystemRefused = errors.New("tunnel: subsystem refused")
	// ErrTunnelClosed: the SSH connection behind a lease has gone.
	ErrTunnelClosed = errors.New("tunnel: ssh connection closed")
	// ErrPoolClosed: the Pool was closed.
	ErrPoolClosed = errors.New("tunnel: pool closed")
	// ErrNoSuchTunnel: no connection has the id given to Drop.
	ErrNoSuchTunnel = errors.New("tunnel: no such tunnel")
	// ErrBadProfile: the profile or request cannot be used.
	ErrBadProfile = errors.New("tunnel: bad profile")
)

// HostKeyError reports a host key that the policy refused. It shows
// fingerprints only.
type HostKeyError struct {
	Host        string   // "host:port" as checked against known_hosts
	KeyType     string   // the offered key's type
	Fingerprint string   // SHA256 fingerprint of the offered key
	Known       []string // "TYPE SHA256:... (file:line)" for each key known_hosts holds
	Detail      string   // extra explanation, may be empty
	Err         error    // ErrHostKeyUnknown, ErrHostKeyChanged or ErrHostKeyRevoked
}

// Error describes the refusal with the fingerprints.
func (e *HostKeyError) Error() string {
	var b strings.Builder
	switch {
	case errors.Is(e.Err, ErrHostKeyChanged):
		fmt.Fprintf(&b, "tunnel: host key for %s changed: server offers %s %s", e.Host, e.KeyType, e.Fingerprint)
		if len(e.Known) > 0 {
			fmt.Fprintf(&b, "; known_hosts has %s", strings.Join(e.Known, ", "))
		}
	case errors.Is(e.Err, ErrHostKeyRevoked):
		fmt.Fprintf(&b, "tunnel: host key for %s is revoked: %s %s", e.Host, e.KeyType, e.Fingerprint)
	default:
		fmt.Fprintf(&b, "tunnel: host key for %s unknown: server offers %s %s", e.Host, e.KeyType, e.Fingerprint)
	}
	if e.Detail != "" {
		b.WriteString(" (")
		b.WriteString(e.Detail)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the sentinel.
func (e *HostKeyError) Unwrap() error { return e.Err }

// AuthError reports an authentication failure. It never holds a secret.
type AuthError struct {
	Server           string   // "host:port"
	User             string   // the SSH user
	Tried            []string // methods the server rejected, in order
	PasswordRejected bool     // the server rejected the password
	Detail           string   // why no method could be tried, may be empty
	Err              error    // ErrAuthFailed or ErrPasswordRejectedRecently
	Cause            error    // the underlying error, may be nil
}

// Error describes the failure without any secret.
func (e *AuthError) Error() string {
	if errors.Is(e.Err, ErrPasswordRejectedRecently) {
		return fmt.Sprintf("tunnel: password for %s@%s was rejected recently; not tried again to protect the user id", e.User, e.Server)
	}
	msg := fmt.Sprintf("tunnel: authentication as %s at %s failed", e.User, e.Server)
	if len(e.Tried) > 0 {
		msg += " (tried " + strings.Join(e.Tried, ", ") + ")"
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.PasswordRejected {
		msg += "; the password was rejected and will not be tried again for a while"
	}
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// Unwrap returns the sentinel and the cause.
func (e *AuthError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

// ChannelError reports a refused direct-tcpip channel.
type ChannelError struct {
	Addr    string              // the destination asked for
	Reason  ssh.RejectionReason // the server's reason code
	Message string              // the server's message
}

// Error shows the destination, the reason and the server's message.
func (e *ChannelError) Error() string {
	return fmt.Sprintf("tunnel: channel to %s refused: %s: %q", e.Addr, e.Reason, e.Message)
}

// Unwrap maps the reason to ErrProhibited, ErrConnectFailed or ErrUnreachable.
func (e *ChannelError) Unwrap() error {
	switch e.Reason {
	case ssh.Prohibited:
		return ErrProhibited
	case ssh.ConnectionFailed:
		m := strings.ToLower(e.Message)
		if strings.Contains(m, "refused") {
			return ErrConnectFailed
		}
		for _, s := range []string{"unreachable", "no route", "resolve", "name or service", "not known", "timed out", "timeout", "no address"} {
			if strings.Contains(m, s) {
				return ErrUnreachable
			}
		}
		return ErrConnectFailed
	default:
		return ErrConnectFailed
	}
}

// SessionError reports a session channel, or the subsystem on it, that the
// SSH server refused.
type SessionError struct {
	Server    string              // "host:port" of the SSH server
	Tunnel    string              // the connection's id
	Subsystem string              // the subsystem asked for
	Reason    ssh.RejectionReason // why the channel was refused (ErrSessionRefused)
	Message   string              // the server's message (ErrSessionRefused)
	// Open is how many session channels the connection had open besides
	// this one when the server refused it (ErrSessionRefused): what the
	// server allows. 0 = it allows none at all.
	Open int
	Err  error // ErrSessionRefused or ErrSubsystemRefused
}

// Error names the server, the connection and what was refused.
func (e *SessionError) Error() string {
	if errors.Is(e.Err, ErrSubsystemRefused) {
		return fmt.Sprintf("tunnel: %s (%s) refused the %s subsystem", e.Server, e.Tunnel, e.Subsystem)
	}
	return fmt.Sprintf("tunnel: %s (%s) refused a session channel with %d open: %s: %q", e.Server, e.Tunnel, e.Open, e.Reason, e.Message)
}

// Unwrap returns the sentinel.
func (e *SessionError) Unwrap() error { return e.Err }
