package openssh

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Authentication method names, as ssh_config's PreferredAuthentications
// spells them.
const (
	AuthPassword            = "password"
	AuthKeyboardInteractive = "keyboard-interactive"
	AuthPublicKey           = "publickey"
)

// DefaultAuth is the order used when Options.Auth is empty.
var DefaultAuth = []string{AuthPassword, AuthKeyboardInteractive, AuthPublicKey}

// Options describe one master: whom it logs in to and how. The caller (the
// tunnel pool) fills them from a profile; nothing is read from ~/.ssh or
// /etc/ssh.
type Options struct {
	// SSH is the ssh program; "" = "ssh" from PATH.
	SSH string
	// Dir is a directory that only this process's user can enter (mode
	// 0700). Start makes a private subdirectory in it for the master's
	// control socket, its ssh_config and the askpass socket. Unix socket
	// paths are short (108 bytes): keep Dir short.
	Dir string
	// Askpass is the path of the socksd binary: ssh runs it (through a
	// symbolic link named AskpassName) as its SSH_ASKPASS program.
	Askpass string

	Host string // the SSH server's name or address
	Port int    // its port; 0 = 22
	User string // the SSH user

	// KnownHosts are the known_hosts files (UserKnownHostsFile); the
	// system-wide ones are never read.
	KnownHosts []string
	// AcceptNew sets StrictHostKeyChecking accept-new (an unknown key is
	// added to the first KnownHosts file); otherwise it is "yes".
	AcceptNew bool
	// Auth is PreferredAuthentications in order; nil = DefaultAuth.
	Auth []string
	// IdentityFiles are the private keys offered (IdentitiesOnly yes).
	IdentityFiles []string
	// IdentityAgent is the agent's socket; "" = no agent.
	IdentityAgent string
	// Password is answered once, to the first password or
	// keyboard-interactive prompt, through the askpass helper. Start takes
	// its own copy and erases it after use; the caller erases the slice it
	// passed. A second prompt ends the master (ErrAuthFailed).
	Password []byte
	// Passphrase answers prompts for the passphrase of an identity file,
	// once per key file.
	Passphrase []byte

	KeepaliveInterval time.Duration // ServerAliveInterval; 0 = off
	KeepaliveMax      int           // ServerAliveCountMax; 0 = ssh's default (3)
	ConnectTimeout    time.Duration // ConnectTimeout; 0 = the system's TCP timeout
	// ProxyCommand reaches the server through another program (a via
	// proxy); used verbatim, so ssh expands its %h and %p tokens.
	ProxyCommand string
	// Env is extra environment (NAME=value) for ssh and so for its
	// ProxyCommand, e.g. a via proxy's URL with its password, which must
	// not go in the command's argv. Start does not keep it.
	Env []string
	// Ciphers pins the cipher list (e.g. "aes128-gcm@openssh.com").
	Ciphers string
	// StartTimeout bounds Start; 0 = ConnectTimeout plus one minute for
	// authentication.
	StartTimeout time.Duration
}

// ErrBadOptions: the options cannot be turned into an ssh_config.
var ErrBadOptions = errors.New("openssh: bad options")

func (o *Options) port() int {
	if o.Port == 0 {
		return 22
	}
	return o.Port
}

func (o *Options) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadOptions}, args...)...)
	}
	switch {
	case o.Dir == "":
		return bad("no directory for the control socket")
	case o.Askpass == "" || !filepath.IsAbs(o.Askpass):
		return bad("askpass program %q is not an absolute path", o.Askpass)
	case o.Host == "" || strings.HasPrefix(o.Host, "-") || strings.ContainsAny(o.Host, " \t\r\n\"'@%"):
		return bad("host %q", o.Host)
	case o.User == "" || strings.HasPrefix(o.User, "-") || strings.ContainsAny(o.User, " \t\r\n\"'%"):
		return bad("user %q", o.User)
	case o.Port < 0 || o.Port > 65535:
		return bad("port %d", o.Port)
	case len(o.KnownHosts) == 0:
		return bad("no known_hosts file")
	case strings.ContainsAny(o.ProxyCommand+o.Ciphers, "\r\n"):
		return bad("line break in ProxyCommand or Ciphers")
	}
	for _, a := range o.Auth {
		switch a {
		case AuthPassword, AuthKeyboardInteractive, AuthPublicKey:
		default:
			return bad("authentication method %q", a)
		}
	}
	for _, f := range append(append([]string{}, o.KnownHosts...), o.IdentityFiles...) {
		if !filepath.IsAbs(f) || strings.ContainsAny(f, "\"\r\n") {
			return bad("file %q must be an absolute path without quotes", f)
		}
	}
	if o.IdentityAgent != "" && (!filepath.IsAbs(o.IdentityAgent) || strings.ContainsAny(o.IdentityAgent, "\"\r\n")) {
		return bad("agent socket %q", o.IdentityAgent)
	}
	return nil
}

// quotePath quotes a path for ssh_config and doubles '%', which ssh would
// otherwise expand as a token (ControlPath, IdentityFile, UserKnownHostsFile
// and IdentityAgent all expand tokens).
func quotePath(p string) string {
	return `"` + strings.ReplaceAll(p, "%", "%%") + `"`
}

// sshConfig renders the ssh_config for one master. It uses only keywords
// that OpenSSH 8.4 knows (an unknown keyword is fatal to ssh).
func (o *Options) sshConfig(controlPath string) string {
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%s %s\n", k, v) }
	b.WriteString("# written by socksd for one ssh master; ~/.ssh/config and /etc/ssh are not read\n")
	line("User", o.User)
	line("Port", strconv.Itoa(o.port()))
	line("ControlMaster", "yes")
	line("ControlPath", quotePath(controlPath))
	line("ControlPersist", "no")
	line("BatchMode", "no") // askpass must work
	// INFO: errors for the typed mapping, and "channel N: open failed"
	// for a refused forward; VERBOSE adds one line, the method that
	// logged in (Master.AuthMethod).
	line("LogLevel", "VERBOSE")
	kh := make([]string, len(o.KnownHosts))
	for i, f := range o.KnownHosts {
		kh[i] = quotePath(f)
	}
	line("UserKnownHostsFile", strings.Join(kh, " "))
	line("GlobalKnownHostsFile", "/dev/null")
	if o.AcceptNew {
		line("StrictHostKeyChecking", "accept-new")
	} else {
		line("StrictHostKeyChecking", "yes")
	}
	line("UpdateHostKeys", "no")
	line("CheckHostIP", "no")
	line("HashKnownHosts", "no")
	line("VerifyHostKeyDNS", "no")
	auth := o.Auth
	if len(auth) == 0 {
		auth = DefaultAuth
	}
	line("PreferredAuthentications", strings.Join(auth, ","))
	line("NumberOfPasswordPrompts", "1")
	line("PasswordAuthentication", "yes")
	line("KbdInteractiveAuthentication", "yes")
	line("PubkeyAuthentication", "yes")
	line("HostbasedAuthentication", "no")
	line("GSSAPIAuthentication", "no")
	// Without an IdentityFile ssh would try ~/.ssh/id_*: /dev/null is a
	// key file that loads nothing. With an agent and no files, every agent
	// key is offered (IdentitiesOnly would filter them all out).
	if len(o.IdentityFiles) == 0 {
		line("IdentityFile", "/dev/null")
		line("IdentitiesOnly", yesNo(o.IdentityAgent == ""))
	} else {
		for _, f := range o.IdentityFiles {
			line("IdentityFile", quotePath(f))
		}
		line("IdentitiesOnly", "yes")
	}
	if o.IdentityAgent != "" {
		line("IdentityAgent", quotePath(o.IdentityAgent))
	} else {
		line("IdentityAgent", "none")
	}
	line("AddKeysToAgent", "no")
	line("ForwardAgent", "no")
	line("ForwardX11", "no")
	line("PermitLocalCommand", "no")
	line("EscapeChar", "none")
	line("RequestTTY", "no")
	line("ConnectionAttempts", "1")
	if o.KeepaliveInterval > 0 {
		line("ServerAliveInterval", strconv.Itoa(seconds(o.KeepaliveInterval)))
		if o.KeepaliveMax > 0 {
			line("ServerAliveCountMax", strconv.Itoa(o.KeepaliveMax))
		}
	}
	if o.ConnectTimeout > 0 {
		line("ConnectTimeout", strconv.Itoa(seconds(o.ConnectTimeout)))
	}
	if o.ProxyCommand != "" {
		line("ProxyCommand", o.ProxyCommand)
	}
	if o.Ciphers != "" {
		line("Ciphers", o.Ciphers)
	}
	return b.String()
}

// seconds rounds up to whole seconds, at least 1.
func seconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
