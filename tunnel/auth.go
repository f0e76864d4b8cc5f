package tunnel

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strings"
	"sync"

	"socksd/msg"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// errPasswordSpent stops a second offer of the password in one attempt.
var errPasswordSpent = errors.New("tunnel: password already offered on this connection attempt")

// errNoMethods ends authentication when no method of the profile is left.
var errNoMethods = errors.New("tunnel: no authentication method left")

// candidate is one step of the auth chain.
type candidate struct {
	name   string // protocol method name
	label  string // for logs: "password", "publickey(files)", "publickey(agent)"
	method ssh.AuthMethod
	usesPW bool
}

// authChain drives authentication for one connection attempt: it walks the
// profile's methods in order, skips those the server does not accept, and
// offers the password at most once across password and keyboard-interactive.
type authChain struct {
	password   []byte // the dial's copy; Pool wipes it after the login
	candidates []candidate
	log        zerolog.Logger

	mu          sync.Mutex
	next        int
	started     bool
	pwSent      bool // the password went to the server
	pwRejected  bool // the server answered the password with a failure
	pendingPW   bool // the method now running sent the password
	partialSeen int
	last        string // label of the method now running
	tried       []string
	closers     []func()

	// transportFailed reports a read or write error on the connection: a
	// method that ended that way was not answered by the server, so a
	// password it carried was not (knowingly) rejected.
	transportFailed func() bool
	// sawTransportFailure is transportFailed as of the last method choice.
	sawTransportFailure bool
}

// newAuthChain builds the chain for a profile. With no password, only
// publickey is used.
func newAuthChain(prof Profile, password []byte, agentSock string, log zerolog.Logger) (*authChain, error) {
	a := &authChain{password: password, log: log}
	for _, m := range prof.Auth {
		switch m {
		case AuthPassword:
			if len(password) == 0 {
				continue
			}
			a.candidates = append(a.candidates, candidate{name: m, label: m, usesPW: true,
				method: ssh.PasswordCallback(a.passwordAnswer)})
		case AuthKeyboardInteractive:
			if len(password) == 0 {
				continue
			}
			a.candidates = append(a.candidates, candidate{name: m, label: m, usesPW: true,
				method: ssh.KeyboardInteractive(a.challenge)})
		case AuthPublicKey:
			if signers := loadSigners(prof, log); len(signers) > 0 {
				a.candidates = append(a.candidates, candidate{name: m, label: "publickey(identity files)",
					method: ssh.PublicKeys(signers...)})
			}
			if prof.Agent {
				if c, ok := a.agentCandidate(agentSock); ok {
					a.candidates = append(a.candidates, c)
				}
			}
		}
	}
	if len(a.candidates) == 0 {
		a.close()
		if len(password) == 0 {
			return nil, fmt.Errorf("no password given and no usable public key in profile %q", prof.Name)
		}
		return nil, fmt.Errorf("profile %q has no usable authentication method", prof.Name)
	}
	return a, nil
}

// agentCandidate connects to the ssh-agent.
func (a *authChain) agentCandidate(sock string) (candidate, bool) {
	if sock == "" {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock == "" {
		msg.Log(&a.log, "SOX0214W", "SSH_AUTH_SOCK is not set").Send()
		return candidate{}, false
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		msg.Log(&a.log, "SOX0214W", err.Error()).Err(err).Send()
		return candidate{}, false
	}
	a.closers = append(a.closers, func() { c.Close() })
	ag := agent.NewClient(c)
	return candidate{name: AuthPublicKey, label: "publickey(agent)", method: ssh.PublicKeysCallback(ag.Signers)}, true
}

// close releases the agent connections.
func (a *authChain) close() {
	for _, f := range a.closers {
		f()
	}
	a.closers = nil
}

// passwordAnswer is the password method's callback. The string it makes
// is allocated under Pool.connect's scrub.Do, so it is erased once the SSH
// library has sent it and dropped it.
func (a *authChain) passwordAnswer() (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pwSent {
		return "", errPasswordSpent
	}
	a.pwSent, a.pendingPW = true, true
	return string(a.password), nil
}

// challenge answers keyboard-interactive prompts: prompts that ask for a
// password get the password (once per attempt); any other prompt ends the
// method, since guessing answers could lock the user out.
func (a *authChain) challenge(_, _ string, questions []string, _ []bool) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	answers := make([]string, len(questions))
	usesPW := false
	for i, q := range questions {
		if !strings.Contains(strings.ToLower(q), "password") {
			return nil, fmt.Errorf("tunnel: keyboard-interactive prompt %q not answered (only password prompts are)", q)
		}
		answers[i] = string(a.password) // erased as passwordAnswer's is
		usesPW = true
	}
	if usesPW {
		if a.pwSent {
			return nil, errPasswordSpent
		}
		a.pwSent, a.pendingPW = true, true
	}
	return answers, nil
}

// callback is the ssh.ClientConfig.AuthCallback: it picks the next method.
func (a *authChain) callback(ctx *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	// The method that ran before this call did not succeed.
	a.sawTransportFailure = a.transportFailed != nil && a.transportFailed()
	if a.started {
		partial := len(ctx.PartialSuccessMethods) > a.partialSeen
		a.partialSeen = len(ctx.PartialSuccessMethods)
		if !partial {
			a.tried = append(a.tried, a.last)
			if a.pendingPW && !a.sawTransportFailure {
				a.pwRejected = true
			}
		}
		a.pendingPW = false
	}
	a.started = true
	for a.next < len(a.candidates) {
		c := a.candidates[a.next]
		a.next++
		if !slices.Contains(ctx.AllowedMethods, c.name) {
			continue
		}
		if c.usesPW && a.pwSent {
			continue
		}
		a.last = c.label
		a.log.Debug().Str("method", c.label).Msg("tunnel: trying authentication method")
		return c.method, nil
	}
	return nil, errNoMethods
}

// result reports what happened, after the handshake.
func (a *authChain) result() (started, pwSent, pwRejected bool, tried []string, last string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.started, a.pwSent, a.pwRejected, slices.Clone(a.tried), a.last
}

// transportWasFailing reports a transport failure seen when the last
// method was chosen.
func (a *authChain) transportWasFailing() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sawTransportFailure
}

// disconnectedOnPassword marks the password rejected when the server
// answered the password attempt by disconnecting (OpenSSH does so instead
// of a failure message once MaxAuthTries is reached).
func (a *authChain) disconnectedOnPassword(err error) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pendingPW && !a.pwRejected && err != nil && strings.Contains(err.Error(), "ssh: disconnect, reason") {
		a.pwRejected = true
		a.tried = append(a.tried, a.last)
	}
	return a.pwRejected
}

// loadSigners reads the profile's identity files. Files that cannot be read
// or decrypted are logged (never with the passphrase) and skipped.
func loadSigners(prof Profile, log zerolog.Logger) []ssh.Signer {
	var signers []ssh.Signer
	var passphrase []byte
	passLoaded := false
	for _, f := range prof.IdentityFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			msg.Log(&log, "SOX0215W", f, "cannot read it: "+withoutPath(err)).Str("identity_file", f).Send()
			continue
		}
		s, err := ssh.ParsePrivateKey(b)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			if !passLoaded {
				passLoaded = true
				passphrase, err = readPassphrase(prof.PassphraseFile)
				if err != nil {
					msg.Log(&log, "SOX0215W", f, "it is encrypted and passphrase_file cannot be read: "+strings.TrimPrefix(err.Error(), "tunnel: passphrase_file: ")).Str("identity_file", f).Send()
					continue
				}
			}
			if passphrase == nil {
				msg.Log(&log, "SOX0215W", f, "it is encrypted and no passphrase_file is set").Str("identity_file", f).Send()
				continue
			}
			s, err = ssh.ParsePrivateKeyWithPassphrase(b, passphrase)
			if err != nil {
				msg.Log(&log, "SOX0215W", f, "it cannot be decrypted with passphrase_file").Str("identity_file", f).Send()
				continue
			}
		} else if err != nil {
			msg.Log(&log, "SOX0215W", f, "not a private key: "+err.Error()).Str("identity_file", f).Send()
			continue
		}
		signers = append(signers, s)
	}
	return signers
}

// readPassphrase reads the passphrase file (first line, without its line
// end). No file configured gives nil. Errors never show the content.
func readPassphrase(file string) ([]byte, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tunnel: passphrase_file: %w", err)
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return bytes.TrimSuffix(b, []byte("\r")), nil
}

// withoutPath is err's text without the file name that a *fs.PathError
// repeats, for a message that names the file itself.
func withoutPath(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}
