package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"socksd/msg"
	"socksd/tunnel/openssh"
)

// ErrEngineUnavailable: the profile asks for the openssh engine and no
// suitable ssh (OpenSSH 8.4 or later) was found.
var ErrEngineUnavailable = errors.New("tunnel: ssh engine unavailable")

// errEngineOS: the openssh engine is not built for this system (it needs
// Linux today); auto then takes builtin.
var errEngineOS = errors.New("tunnel: openssh: the openssh engine is not available on " + runtime.GOOS)

// engineState is what the pool learned about the openssh engine, once.
type engineState struct {
	detectOnce sync.Once
	version    OpenSSHVersion
	detectErr  error

	dirOnce sync.Once
	dir     string
	dirErr  error
}

// OpenSSH runs `ssh -V` once (Options.OpenSSH) and returns what it found;
// the error says why no OpenSSH version could be read. Whether the version
// is new enough is EngineOf's question.
func (p *Pool) OpenSSH() (OpenSSHVersion, error) {
	e := &p.eng
	e.detectOnce.Do(func() {
		if !openssh.Supported {
			e.version, e.detectErr = OpenSSHVersion{Path: p.opts.OpenSSH}, errEngineOS
			return
		}
		e.version, e.detectErr = DetectOpenSSH(p.ctx, p.opts.OpenSSH)
	})
	return e.version, e.detectErr
}

// keyOnly reports whether the profile never gives ssh a password or a
// passphrase, so that an ssh older than MinOpenSSH (without
// SSH_ASKPASS_REQUIRE) can carry it.
func keyOnly(prof Profile) bool {
	return !prof.withDefaults().usesPassword() && prof.PassphraseFile == ""
}

// EngineOf returns the engine that carries the profile's connections:
// EngineBuiltin or EngineOpenSSH (auto resolved). The openssh engine needs
// OpenSSH MinOpenSSH or later; an older OpenSSH is used only for key-only
// profiles (no password method, no passphrase_file). err is set when the
// profile asks for openssh explicitly and it cannot be used (its Opens then
// fail with ErrEngineUnavailable); for auto it is nil and the engine is
// builtin.
func (p *Pool) EngineOf(prof Profile) (engine string, err error) {
	engine = prof.Engine
	if engine == "" {
		engine = p.opts.Engine
	}
	if engine == "" || engine == EngineBuiltin {
		return EngineBuiltin, nil
	}
	v, err := p.OpenSSH()
	if err == nil && !v.Suitable() && !keyOnly(prof) {
		err = fmt.Errorf("tunnel: openssh: %s is %q, older than OpenSSH %d.%d: only key-only profiles (auth = [\"publickey\"], no passphrase_file) can use it", v.Path, v.Text, MinOpenSSH[0], MinOpenSSH[1])
	}
	switch {
	case err == nil:
		return EngineOpenSSH, nil
	case engine == EngineAuto:
		return EngineBuiltin, nil
	default:
		return EngineOpenSSH, fmt.Errorf("%w: %w", ErrEngineUnavailable, err)
	}
}

// runtimeDir makes the pool's private directory for control sockets once.
func (p *Pool) runtimeDir() (string, error) {
	e := &p.eng
	e.dirOnce.Do(func() {
		var bases []string
		if p.opts.RuntimeDir != "" {
			bases = []string{p.opts.RuntimeDir}
		} else {
			if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
				bases = append(bases, d)
			}
			bases = append(bases, "/run/socksd", os.TempDir())
		}
		var errs []error
		for _, b := range bases {
			d, err := os.MkdirTemp(b, "socksd-")
			if err == nil {
				err = os.Chmod(d, 0o700)
			}
			if err == nil {
				e.dir = d
				return
			}
			errs = append(errs, err)
			if p.opts.RuntimeDir != "" {
				break
			}
		}
		e.dirErr = fmt.Errorf("tunnel: runtime directory: %w", errors.Join(errs...))
	})
	return e.dir, e.dirErr
}

// removeRuntimeDir removes the private directory (Close, after the masters).
func (p *Pool) removeRuntimeDir() {
	e := &p.eng
	e.dirOnce.Do(func() {}) // none made from now on
	if e.dir != "" {
		os.RemoveAll(e.dir)
	}
}

// program is the socksd binary that ssh runs as askpass and ProxyCommand.
func (p *Pool) program() (string, error) {
	if p.opts.Program != "" {
		return p.opts.Program, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("tunnel: socksd program: %w", err)
	}
	return exe, nil
}

// EnvProxyVia is the environment variable through which the via proxy's
// URL (with its password) reaches `socksd __proxy`: never argv.
const EnvProxyVia = "SOCKSD_PROXY_VIA"

// ProxySubcommand is the hidden subcommand of socksd that ssh runs as the
// ProxyCommand for a profile's via (see ProxyMain).
const ProxySubcommand = "__proxy"

// proxyCommand is the ProxyCommand and its environment for via.
func proxyCommand(program string, via string, timeout time.Duration) (string, []string, error) {
	if strings.ContainsAny(program, "'\r\n") {
		return "", nil, fmt.Errorf("tunnel: socksd program path %q cannot be quoted for ssh", program)
	}
	// ssh expands %-tokens, then runs "exec " + cmd with the shell.
	cmd := fmt.Sprintf("'%s' %s %s %%h %%p", strings.ReplaceAll(program, "%", "%%"), ProxySubcommand, timeout)
	return cmd, []string{EnvProxyVia + "=" + via}, nil
}

// loginOpenSSH starts a master for r and makes a connection of it.
func (p *Pool) loginOpenSSH(r request) (*tconn, error) {
	log := p.opts.Logger.With().Str("server", r.server).Str("user", r.user).Str("profile", r.prof.Name).Logger()
	if _, err := p.EngineOf(r.prof); err != nil {
		return nil, err
	}
	dir, err := p.runtimeDir()
	if err != nil {
		return nil, err
	}
	prog, err := p.program()
	if err != nil {
		return nil, err
	}
	host, portText, _ := net.SplitHostPort(r.server)
	port, _ := strconv.Atoi(portText)
	o := openssh.Options{
		SSH: p.eng.version.Path, Dir: dir, Askpass: prog,
		Host: host, Port: port, User: r.user,
		AcceptNew:      p.opts.HostKeyPolicy == PolicyAcceptNew,
		Auth:           r.prof.Auth,
		ConnectTimeout: p.opts.ConnectTimeout,
		KeepaliveMax:   p.opts.KeepaliveMax,
		// connect_timeout bounds the connection and the login together,
		// as with the builtin engine, plus a moment to start ssh.
		StartTimeout: p.opts.ConnectTimeout + startSlack,
	}
	if p.opts.KeepaliveInterval > 0 {
		o.KeepaliveInterval = p.opts.KeepaliveInterval
	}
	for _, f := range p.opts.KnownHosts {
		o.KnownHosts = append(o.KnownHosts, absPath(f))
	}
	for _, f := range r.prof.IdentityFiles {
		o.IdentityFiles = append(o.IdentityFiles, absPath(f))
	}
	if r.prof.Agent {
		o.IdentityAgent = p.opts.AgentSocket
		if o.IdentityAgent == "" {
			o.IdentityAgent = os.Getenv("SSH_AUTH_SOCK")
		}
	}
	if len(r.password) > 0 {
		o.Password = r.password
	}
	if r.prof.PassphraseFile != "" {
		pp, err := readPassphrase(r.prof.PassphraseFile)
		if err != nil {
			log.Debug().Err(err).Msg("tunnel: passphrase_file not read")
		}
		defer clear(pp)
		o.Passphrase = pp
	}
	if r.prof.Via != "" {
		o.ProxyCommand, o.Env, err = proxyCommand(prog, string(r.prof.Via), p.opts.ConnectTimeout)
		if err != nil {
			return nil, err
		}
	}
	m, err := openssh.Start(p.ctx, o)
	if err != nil {
		return nil, p.masterError(r, err, log)
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.opts.ConnectTimeout)
	client, err := m.Client(ctx)
	cancel()
	if err != nil {
		m.Stop()
		err = fmt.Errorf("tunnel: connect %s: %w: %w", r.server, ErrServerUnreachable, err)
		log.Debug().Err(err).Msg("tunnel: openssh master not usable")
		return nil, err
	}
	if p.opts.HostKeyPolicy == PolicyAcceptNew {
		p.noteAcceptedKey(m, r.server, o.KnownHosts[0])
	}
	method := m.AuthMethod()
	if len(r.password) > 0 && passwordPrompted(m.Prompts()) && method != AuthPassword && method != AuthKeyboardInteractive {
		// ssh gave the password, and logged in by another method: the
		// password was rejected (as the builtin engine's SOX0212W).
		p.rejects.add(r.reject, time.Now())
		msg.Log(&log, "SOX0212W", r.user, r.server, method).Str("method", method).Send()
	}
	c := p.newTconn(r, method, client)
	c.engine, c.master, c.pid = EngineOpenSSH, m, m.PID()
	p.logOpened(c, log)
	return c, nil
}

// noteAcceptedKey logs SOX0210I, as the builtin engine does, when ssh
// recorded the server's key under accept-new ("Warning: Permanently added
// ... to the list of known hosts."): the key is read back from the file
// ssh wrote (the last entry for the server).
func (p *Pool) noteAcceptedKey(m *openssh.Master, server, file string) {
	if !m.Said("Permanently added") {
		return
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return
	}
	want := knownhosts.Normalize(server)
	var key ssh.PublicKey
	for len(data) > 0 {
		_, hosts, k, _, rest, err := ssh.ParseKnownHosts(data)
		if err != nil {
			break
		}
		if slices.Contains(hosts, want) {
			key = k
		}
		data = rest
	}
	if key == nil {
		return
	}
	msg.Log(&p.opts.Logger, "SOX0210I", server, file, key.Type()+" "+Fingerprint(key)).Str("host", server).
		Str("key_type", key.Type()).Str("fingerprint", Fingerprint(key)).Str("file", file).Send()
}

// startSlack is what a master may take beyond connect_timeout to start:
// exec, config parsing, the control socket.
const startSlack = 2 * time.Second

// absPath makes a path absolute (ssh_config wants absolute paths).
func absPath(f string) string {
	if a, err := filepath.Abs(f); err == nil {
		return a
	}
	return f
}

// masterError maps a master that did not start onto the builtin engine's
// typed errors, and remembers a rejected password.
func (p *Pool) masterError(r request, err error, log zerolog.Logger) error {
	var me *openssh.MasterError
	if !errors.As(err, &me) {
		if errors.Is(err, openssh.ErrBadOptions) {
			return fmt.Errorf("%w %q: %w", ErrBadProfile, r.prof.Name, err)
		}
		return fmt.Errorf("tunnel: connect %s: %w: %w", r.server, ErrServerUnreachable, err)
	}
	switch {
	case errors.Is(err, openssh.ErrHostKeyUnknown), errors.Is(err, openssh.ErrHostKeyChanged):
		if hk := p.probeHostKey(r); hk != nil {
			return hk
		}
		sentinel := ErrHostKeyUnknown
		if errors.Is(err, openssh.ErrHostKeyChanged) {
			sentinel = ErrHostKeyChanged
		}
		keyType, fp := hostKeyFromStderr(me.Stderr)
		return &HostKeyError{Host: r.server, KeyType: keyType, Fingerprint: fp, Detail: lastLine(me.Stderr), Err: sentinel}
	case errors.Is(err, openssh.ErrAuthFailed):
		pwRejected := passwordPrompted(me.Prompts) && len(r.password) > 0
		if pwRejected {
			p.rejects.add(r.reject, time.Now())
		}
		ae := &AuthError{Server: r.server, User: r.user, PasswordRejected: pwRejected, Err: ErrAuthFailed, Detail: lastLine(me.Stderr)}
		log.Debug().Bool("password_rejected", pwRejected).Msg(ae.Error())
		return ae
	}
	err = fmt.Errorf("tunnel: connect %s: %w: %w", r.server, ErrServerUnreachable, err)
	log.Debug().Err(err).Msg("tunnel: ssh master failed")
	return err
}

// passwordPrompted reports whether ssh asked for the password (a prompt
// that is neither a key's passphrase nor a host key confirmation); the
// askpass helper answers the first such prompt with it.
func passwordPrompted(prompts []string) bool {
	for _, pr := range prompts {
		lp := strings.ToLower(pr)
		if !strings.Contains(lp, "passphrase") && !strings.Contains(lp, "continue connecting") && !strings.Contains(lp, "(yes/no") {
			return true
		}
	}
	return false
}

var (
	stderrKeyTypeRE = regexp.MustCompile(`(?:No|fingerprint for the) ([A-Z0-9-]+) (?:host )?key`)
	stderrSHA256RE  = regexp.MustCompile(`SHA256:[A-Za-z0-9+/]+`)
)

// hostKeyFromStderr reads the key type (as ssh names it: "ED25519") and
// the fingerprint from ssh's words about a refused host key, for when the
// builtin probe could not fetch the key itself; either may be "".
func hostKeyFromStderr(text string) (keyType, fingerprint string) {
	if m := stderrKeyTypeRE.FindStringSubmatch(text); m != nil {
		keyType = m[1]
	}
	return keyType, stderrSHA256RE.FindString(text)
}

// lastLine is ssh's last line on stderr, for an error's detail.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return "ssh: " + strings.TrimSpace(lines[len(lines)-1])
}

// probeHostKey asks the server for its host key the builtin way (a
// handshake that stops at the host key, before any authentication) and
// checks it strictly, so that a key the master refused is reported with
// the same fingerprints as the builtin engine reports. It returns nil when
// the probe fails or the key is accepted.
func (p *Pool) probeHostKey(r request) *HostKeyError {
	ctx, cancel := context.WithTimeout(p.ctx, p.opts.ConnectTimeout)
	defer cancel()
	nc, err := dialServer(ctx, r.prof.via, r.server)
	if err != nil {
		return nil
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	strict := &hostKeys{files: p.hk.files, policy: PolicyStrict, log: p.opts.Logger}
	check := strict.callback()
	var found *HostKeyError
	errStop := errors.New("stop")
	cfg := &ssh.ClientConfig{
		User: r.user,
		HostKeyCallback: func(host string, remote net.Addr, key ssh.PublicKey) error {
			if err := check(host, remote, key); err != nil {
				errors.As(err, &found)
				return err
			}
			return errStop
		},
		HostKeyAlgorithms: strict.algorithms(r.server),
	}
	_, _, _, _ = ssh.NewClientConn(nc, r.server, cfg)
	return found
}

// forwardError types a forward that the master did not open.
func (c *tconn) forwardError(ctx context.Context, addr string, err error) error {
	var me *openssh.MuxError
	switch {
	case errors.As(err, &me) && errors.Is(err, openssh.ErrForwardRefused):
		reason, message := channelRefusal(me.Detail)
		return &ChannelError{Addr: addr, Reason: reason, Message: message}
	case ctx.Err() != nil:
		return fmt.Errorf("tunnel: channel to %s via %s: %w", addr, c.id, ctx.Err())
	case errors.Is(err, openssh.ErrBadOptions):
		return fmt.Errorf("tunnel: channel to %s via %s: %w", addr, c.id, err)
	default:
		return fmt.Errorf("tunnel: channel to %s via %s: %w: %w", addr, c.id, ErrTunnelClosed, err)
	}
}

// channelRefusal reads the master's log text of a refused channel
// ("administratively prohibited: open failed", "connect failed: Connection
// refused") as the server's reason code and message.
func channelRefusal(detail string) (ssh.RejectionReason, string) {
	for _, r := range []struct {
		prefix string
		reason ssh.RejectionReason
	}{
		{"administratively prohibited: ", ssh.Prohibited},
		{"connect failed: ", ssh.ConnectionFailed},
		{"unknown channel type: ", ssh.UnknownChannelType},
		{"resource shortage: ", ssh.ResourceShortage},
	} {
		if rest, ok := strings.CutPrefix(detail, r.prefix); ok {
			return r.reason, rest
		}
	}
	if detail == "" {
		detail = "channel open refused"
	}
	return ssh.ConnectionFailed, detail
}

// forwardLost types a forward that ended with an error: the connection
// went (the reason the pool gave, when it dropped it) or the master died.
func (c *tconn) forwardLost(err error) error {
	if gone := c.goneErr.Load(); gone != nil {
		return *gone
	}
	if errors.Is(err, openssh.ErrMasterGone) {
		return fmt.Errorf("%w: %w", ErrTunnelClosed, err)
	}
	return err
}
