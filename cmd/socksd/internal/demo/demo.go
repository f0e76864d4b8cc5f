package demo

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"socksd/config"
	"socksd/console"
	"socksd/jcl"
	"socksd/msg"
	"socksd/socks"
	"socksd/socksd"
)

// Options configure a demo run.
type Options struct {
	// SizeMiB is the size of the long transfer in MiB; 0 means 256.
	SizeMiB int
	// Quiet prints the section titles, the checks and the summary only.
	Quiet bool
	// Timeout bounds the whole run; 0 means 10 minutes.
	Timeout time.Duration
	// Version is the socksd version the daemon reports.
	Version string
}

// DefaultSizeMiB is the long transfer's default size.
const DefaultSizeMiB = 256

// demoUser is the user of the demo's SSH and FTP servers (the job's
// USER). The password is made up for each run and never printed.
const demoUser = "demo"

// env is one run's servers, daemon and output.
type env struct {
	opt      Options
	out      *printer
	dir      string
	password string
	ssh      *SSHServer
	ftp      *FTPServer
	daemon   *socksd.Daemon
	con      *console.Console
	log      *syncBuffer
	audit    string // audit file path
	socks    string // socksd's address
	snapshot []string
}

// Run runs the demonstration and writes its report to w. It returns the
// checks; Result.Passed tells whether every one passed. An error means the
// demo could not set itself up (a server did not start); the checks so far
// are returned with it. Everything it starts ends before it returns, and
// its temporary files are removed.
func Run(ctx context.Context, w io.Writer, opt Options) (*Result, error) {
	if opt.SizeMiB == 0 {
		opt.SizeMiB = DefaultSizeMiB
	}
	if opt.SizeMiB < 1 || opt.SizeMiB > 16<<10 {
		return &Result{}, fmt.Errorf("demo: size %d MiB out of range 1..16384", opt.SizeMiB)
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	e := &env{opt: opt, out: &printer{w: w, quiet: opt.Quiet}, log: &syncBuffer{}}
	dir, err := os.MkdirTemp("", "socksd-demo-")
	if err != nil {
		return e.out.result(), fmt.Errorf("demo: temp dir: %w", err)
	}
	e.dir = dir
	defer os.RemoveAll(dir)

	if err := e.start(ctx); err != nil {
		e.stop()
		return e.out.result(), err
	}
	e.runDeck(ctx, "passive")
	e.runDeck(ctx, "active")
	e.anonymous(ctx)
	e.longTransfer(ctx)
	e.blocked(ctx)
	e.showSnapshot()
	e.proveTunnel()
	e.stop()
	e.showLog()
	e.showAudit()
	e.summary()
	return e.out.result(), nil
}

// start starts the SSH server, the FTP server and socksd.
func (e *env) start(ctx context.Context) error {
	e.out.Section("Start: SSH server, FTP server, socksd (in-process, loopback)")
	pw := make([]byte, 12)
	if _, err := rand.Read(pw); err != nil {
		return fmt.Errorf("demo: password: %w", err)
	}
	e.password = hex.EncodeToString(pw)

	// socksd's own key, for public-key fallback.
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("demo: client key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "socksd demo")
	if err != nil {
		return fmt.Errorf("demo: client key: %w", err)
	}
	idFile := filepath.Join(e.dir, "id_ed25519")
	if err := os.WriteFile(idFile, pem.EncodeToMemory(block), 0o600); err != nil {
		return fmt.Errorf("demo: client key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return fmt.Errorf("demo: client key: %w", err)
	}

	e.ssh, err = StartSSHServer(SSHConfig{User: demoUser, Password: e.password, AuthorizedKey: sshPub, KeyUsers: []string{"anonymous"}})
	if err != nil {
		return err
	}
	knownHosts := filepath.Join(e.dir, "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(e.ssh.KnownHostsLine()+"\n"), 0o600); err != nil {
		return fmt.Errorf("demo: known_hosts: %w", err)
	}
	e.out.Detailf("SSH server   %s  host key %s (written to a temporary known_hosts; checked strictly)",
		e.ssh.Addr(), ssh.FingerprintSHA256(e.ssh.HostKey()))
	e.out.Detailf("             user %q: password, or socksd's key %s; user \"anonymous\": that key only", demoUser, ssh.FingerprintSHA256(sshPub))

	root := filepath.Join(e.dir, "ftproot")
	if err := os.Mkdir(root, 0o700); err != nil {
		return fmt.Errorf("demo: ftp root: %w", err)
	}
	e.ftp, err = StartFTPServer(FTPConfig{User: demoUser, Password: e.password, Root: root, Anonymous: true})
	if err != nil {
		return err
	}
	e.out.Detailf("FTP server   %s  (ftpserverlib; files in a temporary directory)", e.ftp.Addr())

	e.audit = filepath.Join(e.dir, "audit.jsonl")
	text := demoConfig(e.ftp.Addr().Port(), e.ssh.Addr().Port(), knownHosts, idFile, e.audit)
	cfg, err := config.Parse("demo.toml", []byte(text))
	if err != nil {
		return fmt.Errorf("demo: configuration: %w", err)
	}
	log, level, logFile, err := socksd.NewLogger(cfg.Log, e.log)
	if err != nil {
		return err
	}
	logFile.Close() // the log goes to a buffer; there is no file to close
	audit, err := socksd.NewAuditWriter(cfg.Log.AuditFile, log)
	if err != nil {
		return err
	}
	msg.Log(&log, "SOX0001I", e.opt.Version, "demo.toml").Str("event", "start").Str("version", e.opt.Version).Str("config", "demo.toml").Send()
	e.daemon, err = socksd.New(cfg, socksd.Options{Version: e.opt.Version, Logger: log, Level: level, Audit: audit})
	if err != nil {
		audit.Close()
		return err
	}
	if err := e.daemon.Listen(); err != nil {
		audit.Close()
		e.daemon = nil
		return err
	}
	e.socks = e.daemon.Addrs()[0].String()
	e.con = console.New(e.daemon, log)
	go func() {
		e.daemon.Serve(context.Background())
		audit.Close()
	}()
	e.out.Detailf("socksd       %s  rules: FTP port %d -> ftp-tunnel through the SSH server on the FTP host; everything else blocked",
		e.socks, e.ftp.Addr().Port())
	e.out.Block("    | ", text)
	return nil
}

// demoConfig is the embedded default with the demo's ports and files:
// FTP is ftp-tunnel through SSH on the FTP host, everything else blocked.
func demoConfig(ftpPort, sshPort uint16, knownHosts, idFile, audit string) string {
	return fmt.Sprintf(`[server]
listen = ["127.0.0.1:0"]
allow_clients = ["127.0.0.0/8", "::1/128"]
socks_versions = [4, 5]
socks5_auth = ["userpass", "none"]
handshake_timeout = "10s"
idle_timeout = "5m"
max_sessions = 64
drain_timeout = "20s"

[log]
level = "info"
format = "console"
audit_file = %s

[console]
socket = ""

[ssh]
known_hosts = [%s]
host_key_policy = "strict"
keepalive_interval = "15s"
keepalive_max = 3
connect_timeout = "10s"
idle_close = "5m"

[profiles.ftp-host]
host = ""
port = %d
user = ""
auth = ["password", "publickey"]
identity_files = [%s]
share = true
max_channels = 64

[[rules]]
name = "ftp-through-ssh"
ports = ["%d"]
commands = ["connect", "bind"]
action = "ftp-tunnel"
profile = "ftp-host"

[rules.ftp]
data = "auto"
active = "convert"
encoding = "auto"
deny = []
allow_auth_tls = false

[[rules]]
name = "everything-else"
action = "block"
`, strconv.Quote(audit), strconv.Quote(knownHosts), sshPort, strconv.Quote(idFile), ftpPort)
}

// runDeck runs the FTPJOB sample's INPUT deck in one data mode.
func (e *env) runDeck(ctx context.Context, mode string) {
	client := "github.com/jlaffaye/ftp over SOCKS5 (x/net/proxy); data: SOCKS CONNECT to the EPSV port"
	if mode == "active" {
		client = "z/OS-like job client (internal/ftpjob): control in IBM-1047 with NL line ends; data: SOCKS BIND, PORT with the bound address"
	}
	e.out.Section("FTPJOB INPUT deck, " + mode + " mode")
	e.out.Detailf("client: %s", client)
	deck, err := sampleDeck()
	if err != nil {
		e.out.Check(mode+": FTPJOB deck", false, "%v", err)
		return
	}
	e.out.Detailf("deck from jcl/samples/FTPJOB, DD INPUT (%d subcommands; user and password replaced by the demo's)", len(deck.Steps))
	deck.User, deck.Password = demoUser, e.password
	if err := e.seedServer(deck); err != nil {
		e.out.Check(mode+": server files", false, "%v", err)
		return
	}
	var c ftpClient
	if mode == "active" {
		c, err = dialActive(ctx, e.socks, socks.Addr{Host: "127.0.0.1", Port: e.ftp.Addr().Port()})
	} else {
		c, err = dialPassive(ctx, e.socks, e.ftp.Addr().String())
	}
	if err != nil {
		e.out.Check(mode+": connect through socksd", false, "%v", err)
		return
	}
	defer c.Close()
	in := &interpreter{mode: mode, client: c, server: e.ftp, prefix: strings.ToUpper(demoUser),
		datasets: map[string]*dataset{}, out: e.out}
	in.Run(ctx, deck)
}

// anonymous runs an anonymous job: it sends no password of its own, so
// socksd logs in to SSH with its key (public-key fallback).
func (e *env) anonymous(ctx context.Context) {
	e.out.Section("Public-key fallback: an anonymous job (no password for SSH)")
	e.out.Detailf("jlaffaye/ftp over SOCKS5: USER anonymous; socksd logs in to SSH as anonymous with its key")
	before := e.ssh.Stats().PublicKeyLogins
	c, err := dialPassive(ctx, e.socks, e.ftp.Addr().String())
	if err != nil {
		e.out.Check("anonymous: connect through socksd", false, "%v", err)
		return
	}
	defer c.Close()
	err = c.Login("anonymous", "demo@localhost")
	after := e.ssh.Stats().PublicKeyLogins
	e.out.Check("anonymous: login through SSH with socksd's key", err == nil && after > before,
		"%s; %d public-key login(s) at the SSH server", errText(err, "logged in as anonymous (230)"), after-before)
	if err != nil {
		return
	}
	start := time.Now()
	got, err := c.Get(ctx, "inbound.txt")
	took := time.Since(start)
	sum, n, serr := e.ftp.Sum("inbound.txt")
	ok := err == nil && serr == nil && sum == got.Sum && n == got.Size
	e.out.Transfer("anonymous RETR inbound.txt", got.Size, took, ok)
	e.out.Check("anonymous: get inbound.txt", ok,
		"%s in %v (%s), SHA-256 server %s local %s", size(got.Size), took.Round(time.Millisecond), rate(got.Size, took), short(sum), short(got.Sum))
	err = c.Put(ctx, "anonymous.txt", []byte("not allowed\n"))
	e.out.Check("anonymous: put refused (read-only user)", err != nil, "%s", errText(err, "the server stored the file"))
	if err := c.Quit(); err != nil {
		e.out.Check("anonymous: quit", false, "%v", err)
	}
}

// sampleDeck reads and parses the FTPJOB sample's INPUT deck.
func sampleDeck() (*Deck, error) {
	member, err := jcl.Sample("FTPJOB")
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	lines, err := jcl.ExtractInstream(member, "INPUT")
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return ParseDeck(lines)
}

// seedServer creates the remote files the deck's get steps read and no
// put step of the deck writes first.
func (e *env) seedServer(d *Deck) error {
	stored := map[string]bool{}
	for _, st := range d.Steps {
		switch st.Verb {
		case "put":
			local, err := DatasetName(st.Args[0], strings.ToUpper(demoUser))
			if err != nil {
				return err
			}
			name := RemoteName(local)
			if len(st.Args) > 1 {
				name = st.Args[1]
			}
			stored[name] = true
		case "get":
			name := filepath.Base(st.Args[0])
			if stored[name] {
				continue
			}
			path := filepath.Join(e.ftp.cfg.Root, name)
			if _, err := os.Stat(path); err == nil {
				continue
			}
			ds := textDataset("PARTNER."+strings.ToUpper(strings.ReplaceAll(name, ".", "")), 500)
			if err := os.WriteFile(path, ds.Data, 0o600); err != nil {
				return fmt.Errorf("demo: seed %s: %w", name, err)
			}
		}
	}
	return nil
}

// stop stops socksd (draining), then the FTP and SSH servers.
func (e *env) stop() {
	if e.daemon != nil {
		e.daemon.Stop(false)
		select {
		case <-e.daemon.Done():
		case <-time.After(30 * time.Second):
			e.daemon.Stop(true)
			select {
			case <-e.daemon.Done():
			case <-time.After(10 * time.Second):
				e.out.Check("socksd stops", false, "still running 40s after STOP")
			}
		}
		e.daemon = nil
	}
	if e.ftp != nil {
		e.ftp.Close()
	}
	if e.ssh != nil {
		e.ssh.Close()
	}
}

// blocked sends a SOCKS CONNECT to a port no rule lets through.
func (e *env) blocked(ctx context.Context) {
	e.out.Section("A request the rules block")
	dest := socks.Addr{Host: "127.0.0.1", Port: e.ssh.Addr().Port()}
	e.out.Detailf("SOCKS5 CONNECT %s (the SSH port: not FTP, so rule everything-else applies)", dest)
	c, err := dialLoopback(ctx, e.socks)
	if err != nil {
		e.out.Check("blocked: connect to socksd", false, "%v", err)
		return
	}
	defer c.Close()
	_, err = socks.ClientHandshake(c, 5, dest, "", "")
	var re *socks.ReplyError
	ok := errors.As(err, &re) && re.Code == socks.RepNotAllowed
	e.out.Check("blocked: CONNECT to a non-FTP port answered \"not allowed\"", ok, "%s", errText(err, "the request was let through"))
}

// proveTunnel checks that every connection the FTP server accepted was
// opened by the SSH server for a channel: nothing reached it directly.
func (e *env) proveTunnel() {
	e.out.Section("Every FTP connection came through SSH")
	peers := e.ftp.Peers()
	var direct []string
	for _, p := range peers {
		if !e.ssh.Dialed(p) {
			direct = append(direct, p)
		}
	}
	st := e.ssh.Stats()
	e.out.Detailf("SSH server: %d password login(s), %d public-key login(s), %d refused, %d direct-tcpip channels, %d refused requests",
		st.PasswordLogins, st.PublicKeyLogins, st.Refused, st.Channels, st.Rejected)
	e.out.Check("tunnel: every FTP control and data connection was opened by the SSH server",
		len(peers) > 0 && len(direct) == 0, "%d connections, %d not from the SSH server %v", len(peers), len(direct), direct)
	e.out.Check("tunnel: socksd logged in to SSH with the job's password", st.PasswordLogins > 0, "%d login(s)", st.PasswordLogins)
	cmds := e.ftp.Commands()
	active, passive := cmds["PORT"]+cmds["EPRT"], cmds["PASV"]+cmds["EPSV"]
	e.out.Check("tunnel: active mode converted: the FTP server got no PORT/EPRT (it refuses them), only PASV/EPSV",
		active == 0 && passive > 0, "%d PORT/EPRT, %d PASV/EPSV", active, passive)
}

// showSnapshot prints the console replies taken during the long transfer.
func (e *env) showSnapshot() {
	e.out.Section("Operator console, taken while the long transfer was running")
	if len(e.snapshot) == 0 {
		e.out.Check("console: D SESSIONS and D TUNNELS during a transfer", false, "no snapshot was taken")
		return
	}
	e.out.Block("  ", strings.Join(e.snapshot, "\n"))
}

// takeSnapshot runs D SESSIONS and D TUNNELS now.
func (e *env) takeSnapshot() {
	var lines []string
	ok := true
	for _, cmd := range []string{"D SESSIONS", "D TUNNELS"} {
		r := e.con.Execute(cmd)
		ok = ok && r.OK
		lines = append(lines, "> "+cmd)
		lines = append(lines, r.Lines...)
		lines = append(lines, "")
	}
	e.snapshot = lines
	all := strings.Join(lines, "\n")
	e.out.Check("console: D SESSIONS shows the running transfer, D TUNNELS the shared SSH connection",
		ok && strings.Contains(all, "SOX0410I") && strings.Contains(all, "SOX0412I") &&
			strings.Contains(all, "ftp-tunnel") && strings.Contains(all, "ftp-data"),
		"%d lines", len(lines))
}

// showLog prints the daemon's log and checks it.
func (e *env) showLog() {
	e.out.Section("Operator messages (socksd log, console format)")
	text := e.log.String()
	e.out.Block("  ", text)
	e.out.Check("log: socksd started, served, logged the blocked request and ended",
		strings.Contains(text, "SOX0002I") && strings.Contains(text, "SOX0105I") && strings.Contains(text, "SOX0008I"),
		"%d lines", strings.Count(text, "\n"))
}

// summary prints the checks again, then the verdict.
func (e *env) summary() {
	e.out.Section("Summary")
	// The password check covers everything written before it.
	secret := e.password
	leaked := strings.Contains(e.out.Output(), secret) || strings.Contains(e.log.String(), secret)
	if b, err := os.ReadFile(e.audit); err == nil && strings.Contains(string(b), secret) {
		leaked = true
	}
	e.out.Check("secrets: the password appears in no output, log line or audit record", !leaked, "")
	res := e.out.result()
	failed := res.Failed()
	var b strings.Builder
	b.WriteString("\n")
	for _, c := range res.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "  %s %s\n", mark, c.Name)
	}
	b.WriteString("\n" + e.out.transferTable())
	fmt.Fprintf(&b, "\n  %d checks, %d passed, %d failed\n", len(res.Checks), len(res.Checks)-len(failed), len(failed))
	for _, c := range failed {
		fmt.Fprintf(&b, "  FAILED: %s: %s\n", c.Name, c.Detail)
	}
	e.out.write(b.String())
	if res.Passed() {
		e.out.write("  RESULT: PASS\n")
	} else {
		e.out.write("  RESULT: FAIL\n")
	}
}
