package reliability

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"socksd/internal/testing/wait"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"socksd/ebcdic"
	"socksd/internal/testing/ftpjob"
	"socksd/internal/testing/testpeer"
	"socksd/socks"
)

// keyMaterial returns the base64 lines of an OpenSSH private key file, the
// strings that must never show in any output.
func keyMaterial(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "-----") && len(l) >= 16 {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no key material in %s", path)
	}
	return out
}

// encryptedKey makes an ed25519 key encrypted with passphrase, authorizes
// it on s, and returns the key file and a passphrase file.
func encryptedKey(t testing.TB, s *testpeer.SSHD, passphrase string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "id_enc")
	if out, err := exec.Command(testpeer.RequireTool(t, "ssh-keygen"), "-q", "-t", "ed25519", "-N", passphrase, "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AuthorizeKey(pk); err != nil {
		t.Fatal(err)
	}
	pass := filepath.Join(dir, "passphrase")
	if err := os.WriteFile(pass, []byte(passphrase+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return key, pass
}

// TestSecurityNoSecretsAnywhere runs logins that succeed and fail, with a
// password, a SOCKS5 password and an encrypted key with its passphrase,
// with tracing and debug logging on, and then searches everything the
// daemon wrote — log, audit file, console replies, replies and errors the
// clients got — for the secrets.
func TestSecurityNoSecretsAnywhere(t *testing.T) {
	r := record(t, secSecurity, "no password, passphrase or key material in any output")
	l := newLane(t, "a", laneOptions{})
	const passphrase = "Passphrase-Of-The-Key-5309"
	const wrongPw = "Wrong-Password-4471"
	key, passFile := encryptedKey(t, l.sshd, passphrase)
	dest := newCountingServer(t, "127.0.0.1")
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	cfg := rigConfig{lanes: []*lane{l}, auditFile: audit,
		profiles: fmt.Sprintf("[profiles.keyed]\nhost = \"127.0.0.1\"\nport = %d\nauth = [\"password\", \"publickey\"]\nidentity_files = [%q]\npassphrase_file = %q\n",
			l.sshd.Port, key, passFile),
		rules: fmt.Sprintf("[[rules]]\nname = \"web\"\nports = [\"%d\"]\naction = \"tunnel\"\nprofile = \"keyed\"\n", dest.port())}
	d := startSocksd(t, cfg)
	secrets := append([]string{l.sshd.Password, passphrase, wrongPw}, keyMaterial(t, key)...)
	secrets = append(secrets, keyMaterial(t, l.sshd.ClientKeyFile)...)
	var seen bytes.Buffer // everything the clients and the operator got
	var mu sync.Mutex
	keep := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(&seen, format+"\n", args...)
	}
	r.tried("LOGLEVEL DEBUG and TRACE ON for every session; FTP login with the right password, STOR+RETR; FTP login with a wrong password (twice); SOCKS5 user/password CONNECT by a tunnel rule (right and wrong password); SOCKS4 (user, no password) CONNECT whose SSH login uses an encrypted key and its passphrase file; every D command")
	for _, c := range []string{"LOGLEVEL DEBUG", "TRACE ON"} {
		out, err := opCmd(d, c)
		keep("%s\n%s %v", c, out, err)
		if err != nil {
			t.Fatal(err)
		}
	}
	j, err := openJob(d.Addr, l.ftpd.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.login(l.ftpd.User, l.ftpd.Password); err != nil {
		t.Fatal(err)
	}
	data := testpeer.Data(1<<20, 3)
	if err := j.put("s.bin", data); err != nil {
		t.Fatal(err)
	}
	if _, _, err := j.get("s.bin"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"D SESSIONS", "D TUNNELS", "D CONFIG", "D STATS", "D RULES", "D SESSION 1"} {
		out, err := opCmd(d, c)
		keep("%s\n%s %v", c, out, err)
	}
	j.quit()
	for i := 0; i < 2; i++ {
		j, err := openJob(d.Addr, l.ftpd.Addr)
		if err != nil {
			t.Fatal(err)
		}
		err = j.login(l.ftpd.User, wrongPw)
		keep("wrong FTP login: %v", err)
		if err == nil {
			t.Error("a wrong password logged in")
		}
		j.close()
	}
	for _, pw := range []string{l.sshd.Password, wrongPw} {
		c, err := dialSOCKS(d.Addr, "", socksAddr(dest.port()), l.sshd.User, pw)
		keep("SOCKS5 tunnel: %v", err)
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(c, 100))
			keep("%s", b)
			c.Close()
		}
	}
	// SOCKS4: a user id and no password, so the SSH login uses the key.
	c, err := net.Dial("tcp", d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(ioTimeout))
	_, err = socks.ClientHandshake(c, 4, socksAddr(dest.port()), l.sshd.User, "")
	keep("SOCKS4 tunnel: %v", err)
	if err != nil {
		t.Errorf("SOCKS4 CONNECT with the encrypted key: %v", err)
	} else {
		b, _ := io.ReadAll(io.LimitReader(c, 100))
		keep("%s", b)
	}
	c.Close()
	if n := l.sshd.WaitLog("Accepted publickey for "+l.sshd.User, 1, waitTimeout); n < 1 {
		t.Errorf("the encrypted key was not used")
	}
	for _, c := range []string{"D SESSIONS", "D TUNNELS", "D STATS", "TRACE OFF"} {
		out, err := opCmd(d, c)
		keep("%s\n%s %v", c, out, err)
	}
	if !wait.For(waitTimeout, func() bool { return dStats(t, d).active == 0 }) {
		t.Error("sessions did not end")
	}
	auditText, _ := os.ReadFile(audit)
	sources := map[string][]byte{
		"daemon log (stderr)": []byte(d.Log.String()),
		"audit file":          auditText,
		"console replies, client replies, errors": seen.Bytes(),
	}
	total := 0
	for name, b := range sources {
		total += len(b)
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("a secret (%d bytes, starts %q) is in the %s", len(s), s[:3], name)
			}
		}
		r.figure("bytes searched: "+name, len(b))
	}
	r.figure("secrets searched for", fmt.Sprintf("%d (the login password, a wrong password, the passphrase, %d base64 lines of two private keys)", len(secrets), len(secrets)-3))
	r.figure("log lines with DEBUG or TRACE detail", d.Log.Count("DBG")+d.Log.Count("trace"))
	r.saw("none of the secrets appears in %d bytes of output", total)
}

// TestSecurityControlSocket checks the control socket's mode and that
// another user is refused, by the mode and, behind it, by SO_PEERCRED.
func TestSecurityControlSocket(t *testing.T) {
	r := record(t, secSecurity, "control socket 0600, other users refused")
	setpriv := testpeer.RequireTool(t, "setpriv")
	d := testpeer.StartSocksd(t, socksdBin, `
[server]
listen = ["127.0.0.1:0"]
[console]
socket = "{{SOCKET}}"
[[rules]]
name = "rest"
action = "block"
`)
	if !d.Log.WaitCount("SOX0418I", 1, waitTimeout) {
		t.Fatal("the control socket was not reported listening")
	}
	fi, err := os.Lstat(d.Socket)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	r.figure("socket mode / owner uid", fmt.Sprintf("%#o / %d", fi.Mode().Perm(), st.Uid))
	if fi.Mode().Perm() != 0o600 || int(st.Uid) != os.Geteuid() {
		t.Errorf("control socket mode %#o uid %d", fi.Mode().Perm(), st.Uid)
	}
	// Let user nobody reach the socket's directory, so that only the
	// socket itself stands in the way.
	for dir := filepath.Dir(d.Socket); dir != "/" && dir != os.TempDir(); dir = filepath.Dir(dir) {
		os.Chmod(dir, 0o755)
	}
	asNobody := func() (string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
			socksdBin, "cmd", "--socket", d.Socket, "D STATS")
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	out, code := asNobody()
	r.tried("`socksd cmd 'D STATS'` as user nobody (setpriv --reuid=nobody), the socket's directory opened to all")
	r.saw("as nobody, socket mode 0600: exit %d, %q", code, strings.TrimSpace(out))
	if code == 0 || strings.Contains(out, "goroutines") {
		t.Errorf("user nobody got an answer: exit %d %q", code, out)
	}
	// Behind the mode: the daemon checks the peer's uid.
	if err := os.Chmod(d.Socket, 0o666); err != nil {
		t.Fatal(err)
	}
	out, code = asNobody()
	os.Chmod(d.Socket, 0o600)
	r.tried("the same after chmod 0666 on the socket (so only the daemon's SO_PEERCRED check stands)")
	r.saw("as nobody, socket mode 0666: exit %d, %q", code, strings.TrimSpace(out))
	if code == 0 || strings.Contains(out, "goroutines") || !strings.Contains(out, "SOX0409W") {
		t.Errorf("user nobody through a 0666 socket: exit %d %q", code, out)
	}
	if !d.Log.WaitCount("SOX0409W", 1, waitTimeout) {
		t.Errorf("the refusal was not logged")
	}
	if _, err := opCmd(d, "D STATS"); err != nil {
		t.Errorf("root refused: %v", err)
	}
	r.saw("root (the daemon's user) is still answered")
}

// TestSecurityLoopbackOnlyByDefault runs socksd in a namespace listening
// on its veth address with the default allow_clients; a client in another
// namespace is refused before the handshake, a loopback client is served.
func TestSecurityLoopbackOnlyByDefault(t *testing.T) {
	r := record(t, secSecurity, "only loopback clients by default")
	topo := testpeer.NewTopology(t)
	d := testpeer.StartSocksdIn(t, topo.Client, socksdBin, fmt.Sprintf(`
[server]
listen = ["%s:1080", "127.0.0.1:1081"]
[console]
socket = ""
[[rules]]
name = "rest"
action = "block"
`, topo.ClientIP))
	r.tried("socksd in namespace %s listening on %s:1080 and 127.0.0.1:1081, allow_clients left at its default; a SOCKS5 CONNECT from namespace %s (%s), and one from loopback inside socksd's namespace", topo.Client, topo.ClientIP, topo.Gateway, topo.GatewayIP)
	try := func(nsPath, addr string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		c, err := testpeer.DialIn(ctx, nsPath, "tcp", addr)
		if err != nil {
			return "", err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(ioTimeout))
		_, err = socks.ClientHandshake(c, 5, socks.Addr{Host: "10.77.2.2", Port: 21}, "", "")
		return replyCode(err), err
	}
	got, err := try(topo.GatewayNSPath, topo.ClientIP+":1080")
	r.saw("from %s: %s (%v)", topo.GatewayIP, got, err)
	if err == nil || strings.HasPrefix(got, "0x") {
		t.Errorf("a client from %s got a SOCKS reply: %s %v", topo.GatewayIP, got, err)
	}
	if l, ok := d.Log.WaitFor(regexp.MustCompile(`SOX0103W`), waitTimeout, nil); ok {
		r.saw("logged: %s", l[strings.Index(l, "SOX0103W"):])
	} else {
		t.Errorf("refusal not logged")
	}
	got, err = try(topo.ClientNSPath, "127.0.0.1:1081")
	r.saw("from loopback: %s (the block rule answers: the client was let in)", got)
	if got != "0x02 connection not allowed by ruleset" {
		t.Errorf("loopback client: %s %v", got, err)
	}
}

// wrongKnownHosts writes a known_hosts file that gives s's address a key
// that is not its own.
func wrongKnownHosts(t testing.TB, s *testpeer.SSHD) string {
	t.Helper()
	dir := t.TempDir()
	f := filepath.Join(dir, "k")
	if out, err := exec.Command(testpeer.RequireTool(t, "ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-f", f).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pub, err := os.ReadFile(f + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	kh := filepath.Join(dir, "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, pk) + "\n"
	if err := os.WriteFile(kh, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return kh
}

// TestSecurityHostKeyMismatch: a changed host key fails closed, even with
// fallback_to_plain, and no password reaches the impostor.
func TestSecurityHostKeyMismatch(t *testing.T) {
	r := record(t, secSecurity, "host-key mismatch fails closed, even with fallback_to_plain")
	l := newLane(t, "a", laneOptions{})
	dest := newCountingServer(t, "127.0.0.1")
	kh := wrongKnownHosts(t, l.sshd)
	d := testpeer.StartSocksd(t, socksdBin, fmt.Sprintf(`
[server]
listen = ["127.0.0.1:0"]
[console]
socket = ""
[ssh]
known_hosts = [%q]
[profiles.p]
host = "127.0.0.1"
port = %d
auth = ["password", "publickey"]
identity_files = [%q]
[[rules]]
name = "web"
ports = ["%d"]
action = "tunnel"
profile = "p"
fallback_to_plain = true
[[rules]]
name = "ftp"
ports = ["%d"]
action = "ftp-tunnel"
profile = "p"
[[rules]]
name = "rest"
action = "block"
`, kh, l.sshd.Port, l.sshd.ClientKeyFile, dest.port(), l.ftpd.Port))
	probes := l.ftpd.CountLog("CONNECT: Client") // the harness's start-up check
	r.tried("known_hosts gives the sshd's address another ed25519 key; a SOCKS5 CONNECT (user/password) by a tunnel rule with fallback_to_plain = true, three times, and an FTP job by an ftp-tunnel rule")
	for i := 0; i < 3; i++ {
		_, err := dialSOCKS(d.Addr, "", socksAddr(dest.port()), l.sshd.User, l.sshd.Password)
		if i == 0 {
			r.saw("tunnel rule with fallback: SOCKS reply %s", replyCode(err))
			r.figure("SOCKS reply", replyCode(err))
		}
		// A tunnel that could not be built is a general failure; 0x02
		// is kept for rule blocks.
		if replyCode(err) != "0x01 general SOCKS server failure" {
			t.Errorf("attempt %d: %s", i, replyCode(err))
		}
	}
	j, err := openJob(d.Addr, l.ftpd.Addr)
	if err != nil {
		t.Fatal(err)
	}
	lerr := j.login(l.ftpd.User, l.ftpd.Password)
	j.close()
	r.saw("FTP job: %v", lerr)
	if lerr == nil {
		t.Errorf("FTP login through a server with a changed host key succeeded")
	}
	if !d.Log.WaitCount("SOX0203E", 1, waitTimeout) {
		t.Errorf("no SOX0203E host key message")
	}
	r.figure("connections that reached the destination (direct fallback)", dest.accepted.Load())
	ftpConns := l.ftpd.CountLog("CONNECT: Client") - probes
	r.figure("FTP connections vsftpd saw", ftpConns)
	r.figure("password or key logins at the impostor (sshd: Accepted/Failed)", l.sshd.CountLog("Accepted ")+l.sshd.CountLog("Failed "))
	r.figure("SOX0203E messages", d.Log.Count("SOX0203E"))
	if dest.accepted.Load() != 0 || ftpConns != 0 {
		t.Errorf("traffic went around the failed tunnel")
	}
	if n := l.sshd.CountLog("Accepted ") + l.sshd.CountLog("Failed ") + l.sshd.CountLog("Postponed"); n != 0 {
		t.Errorf("socksd authenticated to a server whose host key changed (%d log lines)", n)
	}
	if d.Log.Count("SOX0208W") != 0 {
		t.Errorf("fallback_to_plain was used after a host-key failure")
	}
}

// TestSecurityRejectedPassword: a password the server rejected is not
// offered again, and later attempts are refused at once.
func TestSecurityRejectedPassword(t *testing.T) {
	r := record(t, secSecurity, "a rejected password is not retried and is refused at once for a while")
	l := newLane(t, "a", laneOptions{})
	dest := newCountingServer(t, "127.0.0.1")
	d := startSocksd(t, rigConfig{lanes: []*lane{l}, profileAuth: `["password"]`,
		profiles: fmt.Sprintf("[profiles.pw]\nhost = \"127.0.0.1\"\nport = %d\nauth = [\"password\"]\n", l.sshd.Port),
		rules:    fmt.Sprintf("[[rules]]\nname = \"web\"\nports = [\"%d\"]\naction = \"tunnel\"\nprofile = \"pw\"\n", dest.port())})
	const wrong = "Not-The-Password-8812"
	r.tried("profile auth = [\"password\"], reject_memory at its default (15m); 4 FTP logins with the same wrong password, then 2 SOCKS5 tunnel CONNECTs with it, then an FTP login with the right password")
	var replies []string
	var durs []string
	for i := 0; i < 4; i++ {
		start := time.Now()
		j, err := openJob(d.Addr, l.ftpd.Addr)
		if err != nil {
			t.Fatal(err)
		}
		err = j.login(l.ftpd.User, wrong)
		j.close()
		durs = append(durs, time.Since(start).Round(10*time.Millisecond).String())
		replies = append(replies, fmt.Sprint(err))
		if err == nil {
			t.Fatal("wrong password accepted")
		}
		if i == 0 && l.sshd.WaitLog("Failed password for "+l.sshd.User, 1, waitTimeout) < 1 {
			t.Fatal("sshd never saw the wrong password (sshd.log in the evidence directory)")
		}
	}
	for i := 0; i < 2; i++ {
		_, err := dialSOCKS(d.Addr, "", socksAddr(dest.port()), l.sshd.User, wrong)
		replies = append(replies, "SOCKS "+replyCode(err))
		if err == nil {
			t.Error("tunnel CONNECT with the rejected password succeeded")
		}
	}
	for i, s := range replies {
		r.saw("attempt %d: %s", i+1, s)
	}
	r.figure("FTP attempt durations (login to reply; not asserted)", strings.Join(durs, ", "))
	j, err := openJob(d.Addr, l.ftpd.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.login(l.ftpd.User, l.ftpd.Password); err != nil {
		t.Errorf("the right password after the rejections: %v", err)
	}
	j.quit()
	failed := l.sshd.CountLog("Failed password for " + l.sshd.User)
	r.figure("sshd \"Failed password\" lines after 6 attempts", failed)
	r.figure("sshd \"Accepted password\" lines (the right password afterwards)", l.sshd.CountLog("Accepted password for "+l.sshd.User))
	r.figure("SOX0206W (refused at once) messages", d.Log.Count("SOX0206W"))
	if failed != 1 {
		t.Errorf("sshd saw the wrong password %d times, want 1", failed)
	}
	if d.Log.Count("SOX0206W") < 5 {
		t.Errorf("%d SOX0206W messages, want one per repeated attempt (5)", d.Log.Count("SOX0206W"))
	}
}

// TestSecurityBounce: PORT and EPRT naming a third host are refused, and
// nothing connects there.
func TestSecurityBounce(t *testing.T) {
	r := record(t, secSecurity, "PORT/EPRT bounce attempts refused")
	l := newLane(t, "a", laneOptions{})
	d := startSocksd(t, rigConfig{lanes: []*lane{l}}, l.sshd.Password)
	third := newCountingServer(t, "127.0.0.9")
	p := third.port()
	j, err := openJob(d.Addr, l.ftpd.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	if err := j.login(l.ftpd.User, l.ftpd.Password); err != nil {
		t.Fatal(err)
	}
	l.ftpd.WriteFile(t, "f.bin", []byte("data\n"))
	r.tried("a logged-in job (client 127.0.0.1) sends PORT and EPRT naming 127.0.0.9:%d, where a listener counts connections, each followed by RETR", p)
	for _, c := range []string{
		fmt.Sprintf("PORT 127,0,0,9,%d,%d", p>>8, p&255),
		fmt.Sprintf("EPRT |1|127.0.0.9|%d|", p),
		fmt.Sprintf("PORT 10,1,2,3,%d,%d", p>>8, p&255),
	} {
		code, text, err := j.cmd(c)
		r.saw("%s → %s %q", c, replyText(code, err), text)
		if err != nil || code/100 != 5 {
			t.Errorf("%s: %d %q %v", c, code, text, err)
		}
		code, text, err = j.cmd("RETR f.bin")
		r.saw("then RETR → %s %q", replyText(code, err), text)
		if code/100 == 1 || code/100 == 2 {
			t.Errorf("RETR after a refused %s: %d %q", c, code, text)
			if code/100 == 1 {
				j.reply()
			}
		}
	}
	if _, _, err := j.cmd("NOOP"); err != nil {
		t.Errorf("session unusable after the refusals: %v", err)
	}
	r.figure("connections to the third host", third.accepted.Load())
	r.figure("PORT/EPRT commands that reached vsftpd", l.ftpd.CountLog(`"PORT `)+l.ftpd.CountLog(`"EPRT `))
	if third.accepted.Load() != 0 || l.ftpd.CountLog(`"PORT `)+l.ftpd.CountLog(`"EPRT `) != 0 {
		t.Errorf("the bounce went through")
	}
}

// TestSecurityPermissionWarnings: secrets readable by others are reported
// at start-up.
func TestSecurityPermissionWarnings(t *testing.T) {
	r := record(t, secSecurity, "warning when a key, passphrase file or config with secrets is readable by others")
	dir := t.TempDir()
	key, pass, conf := filepath.Join(dir, "id_ed25519"), filepath.Join(dir, "passphrase"), filepath.Join(dir, "socksd.toml")
	if out, err := exec.Command(testpeer.RequireTool(t, "ssh-keygen"), "-q", "-t", "ed25519", "-N", "pp-1234", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	os.WriteFile(pass, []byte("pp-1234\n"), 0o600)
	text := fmt.Sprintf(`
[server]
listen = ["127.0.0.1:0"]
[console]
socket = ""
[profiles.p]
host = "127.0.0.1"
identity_files = [%q]
passphrase_file = %q
[[rules]]
name = "rest"
action = "block"
`, key, pass)
	text = testpeer.WithEngine(text, "")
	run := func(mode os.FileMode) string {
		os.WriteFile(conf, []byte(text), 0o600)
		for _, f := range []string{key, pass, conf} {
			os.Chmod(f, mode)
		}
		log := testpeer.NewLogBuffer()
		cmd := exec.Command(socksdBin, "serve", "-c", conf)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		_, ok := log.WaitFor(regexp.MustCompile(`SOX0002I`), waitTimeout, done)
		cmd.Process.Kill()
		<-done
		if !ok {
			t.Fatalf("socksd did not start:\n%s", log.String())
		}
		return log.String()
	}
	r.tried("socksd started with an encrypted identity file, its passphrase file and the config naming them, all mode 0644; then all 0600")
	out := run(0o644)
	for _, f := range []string{key, pass, conf} {
		if !strings.Contains(out, "SOX0012W "+f+" is readable by other users") {
			t.Errorf("no SOX0012W for %s:\n%s", f, out)
		}
	}
	r.figure("SOX0012W at mode 0644", strings.Count(out, "SOX0012W"))
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "SOX0012W") {
			r.saw("%s", l[strings.Index(l, "SOX0012W"):])
		}
	}
	out = run(0o600)
	r.figure("SOX0012W at mode 0600", strings.Count(out, "SOX0012W"))
	if strings.Contains(out, "SOX0012W") {
		t.Errorf("warning for private files:\n%s", out)
	}
	if strings.Contains(out, "pp-1234") {
		t.Errorf("the passphrase reached the log")
	}
}

// secondUser creates (once) a second local account with a password for
// the identity tests.
func secondUser(t testing.TB) (string, string) {
	t.Helper()
	const name, pw = "socksdtest2", "Second-User-Pw-6620"
	if os.Geteuid() != 0 {
		testpeer.Missing(t, "creating a user needs root")
	}
	if err := exec.Command("id", "-u", name).Run(); err != nil {
		if out, err := exec.Command(testpeer.RequireTool(t, "useradd"), "-m", "-s", "/bin/sh", name).CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v: %s", err, out)
		}
	}
	cmd := exec.Command(testpeer.RequireTool(t, "chpasswd"))
	cmd.Stdin = strings.NewReader(name + ":" + pw + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v: %s", err, out)
	}
	return name, pw
}

// TestSecurityIdentitySeparation: sessions of different users (or of the
// same user with another password) never share an SSH connection.
func TestSecurityIdentitySeparation(t *testing.T) {
	r := record(t, secSecurity, "a session never reaches an SSH connection of another identity")
	user2, pw2 := secondUser(t)
	l := newLane(t, "a", laneOptions{sshdExtra: "AllowUsers " + user2 + "\n"})
	d := startSocksd(t, rigConfig{lanes: []*lane{l}, profileAuth: `["password"]`}, l.sshd.Password, pw2)
	l.ftpd.WriteFile(t, "shared.bin", testpeer.Data(1<<20, 5))
	want := sha256.Sum256(testpeer.Data(1<<20, 5))
	r.tried("two FTP jobs at once through the same rule and profile, as %s and %s (each with its own password); while both are logged in, a third job as %s with a wrong password", l.ftpd.User, user2, l.ftpd.User)
	j1, err := openJob(d.Addr, l.ftpd.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer j1.close()
	j2, err := openJob(d.Addr, l.ftpd.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.close()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, x := range []struct {
		j        *job
		user, pw string
	}{{j1, l.ftpd.User, l.ftpd.Password}, {j2, user2, pw2}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = x.j.login(x.user, x.pw); errs[i] != nil {
				return
			}
			n, sum, err := x.j.get("shared.bin")
			if err == nil && (n != 1<<20 || sum != want) {
				err = fmt.Errorf("RETR digest differs")
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("job %d: %v", i+1, err)
		}
	}
	out, err := opCmd(d, "D TUNNELS")
	if err != nil {
		t.Fatal(err)
	}
	rows := tableRows(out)
	users := map[string]int{}
	for _, row := range rows {
		users[row["USER"]]++
	}
	r.saw("D TUNNELS with both jobs logged in: %d SSH connections, users %v", len(rows), users)
	if len(rows) != 2 || users[l.ftpd.User] != 1 || users[user2] != 1 {
		t.Errorf("D TUNNELS:\n%s", out)
	}
	// Same user, another password, while the right one's connection lives.
	j3, err := openJob(d.Addr, l.ftpd.Addr)
	if err != nil {
		t.Fatal(err)
	}
	err = j3.login(l.ftpd.User, "Not-"+l.ftpd.Password)
	j3.close()
	r.saw("%s with a wrong password while %s's connection is open: %v", l.ftpd.User, l.ftpd.User, err)
	if err == nil {
		t.Errorf("a wrong password rode the open SSH connection of the right one")
	}
	a1 := l.sshd.CountLog("Accepted password for " + l.ftpd.User + " ")
	a2 := l.sshd.CountLog("Accepted password for " + user2 + " ")
	f1 := l.sshd.WaitLog("Failed password for "+l.ftpd.User+" ", 1, waitTimeout)
	r.figure("sshd Accepted password for "+l.ftpd.User+" / "+user2, fmt.Sprintf("%d / %d", a1, a2))
	r.figure("sshd Failed password for "+l.ftpd.User+" (the wrong one reached the server itself)", f1)
	if a1 != 1 || a2 != 1 || f1 != 1 {
		t.Errorf("sshd logins: %d accepted for %s, %d for %s, %d failed", a1, l.ftpd.User, a2, user2, f1)
	}
	j1.quit()
	j2.quit()
}

// procMemCount counts occurrences of secret in the writable memory of a
// process (root only): its heap, stacks and anonymous mappings. It also
// returns, for up to 10 of them, the 24 bytes before each (printable
// ASCII, the secret itself masked), which show what holds the copy.
func procMemCount(pid int, secret []byte) (int, int64, []string, error) {
	maps, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return 0, 0, nil, err
	}
	defer maps.Close()
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return 0, 0, nil, err
	}
	defer mem.Close()
	count := 0
	var scanned int64
	var contexts []string
	sc := bufio.NewScanner(maps)
	for n := 0; sc.Scan() && n < 100000; n++ {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !strings.HasPrefix(f[1], "rw") {
			continue
		}
		var lo, hi uint64
		if _, err := fmt.Sscanf(f[0], "%x-%x", &lo, &hi); err != nil || hi <= lo || hi-lo > 1<<30 {
			continue
		}
		buf := make([]byte, hi-lo)
		n, _ := mem.ReadAt(buf, int64(lo))
		buf = buf[:n]
		scanned += int64(n)
		for off := 0; off < len(buf); {
			i := bytes.Index(buf[off:], secret)
			if i < 0 {
				break
			}
			at := off + i
			count++
			if len(contexts) < 10 {
				contexts = append(contexts, memContext(buf[max(0, at-24):at], secret)+"****")
			}
			off = at + len(secret)
		}
	}
	return count, scanned, contexts, sc.Err()
}

// memContext renders bytes as printable ASCII, other bytes as '.'; a
// context holding any 6 bytes of the secret (another copy next to this
// one) is not shown.
func memContext(b, secret []byte) string {
	for i := 0; i+6 <= len(secret); i++ {
		if bytes.Contains(b, secret[i:i+6]) {
			return "(next to another copy)"
		}
	}
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 0x20 && c < 0x7f {
			out[i] = c
		} else {
			out[i] = '.'
		}
	}
	return string(out)
}

// TestSecurityCredentialLifetime looks for a job's password in the
// daemon's memory before any login, once the login is over while the
// session goes on, and after the session ended: for an FTP job (PASS taken
// from the control connection, sent to sshd and to the FTP server) and for
// a SOCKS5 client whose RFC 1929 password is the SSH login of a tunnel
// rule. socksd wipes its own copies; what the SSH library copies is
// allocated under runtime/secret and erased once garbage (internal/scrub).
// The erasure follows a garbage collection the daemon asks for after the
// login, so the test waits for the count to fall (bounded), then holds it
// at zero.
func TestSecurityCredentialLifetime(t *testing.T) {
	r := record(t, secSecurity, "credentials held in memory only as long as a login needs them")
	out, err := exec.Command(socksdBin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	r.saw("socksd version: %s", strings.ReplaceAll(strings.TrimSpace(string(out)), "\n", "; "))
	if !strings.Contains(string(out), "password erasure: on") {
		testpeer.Missing(t, "this socksd build cannot erase passwords (build with GOEXPERIMENT=runtimesecret, as make test does)")
	}
	l := newLane(t, "a", laneOptions{})
	// SOCKS5 CONNECTs to the name "localhost" go through l's sshd, logged
	// in with the SOCKS5 user and password.
	tunnelRule := fmt.Sprintf("[[rules]]\nname = \"tunnel\"\nto = [\"localhost\"]\nports = [\"%d\"]\naction = \"tunnel\"\nprofile = \"a\"\n", l.ftpd.Port)
	d := startSocksd(t, rigConfig{lanes: []*lane{l}, rules: tunnelRule}, l.sshd.Password)
	// The password as ASCII, and as an IBM-1047 job sends it.
	pw := []byte(l.ftpd.Password)
	pw1047 := ebcdic.Encode(ebcdic.IBM1047, l.ftpd.Password)
	count := func() (int, int64, []string) {
		n, scanned, ctx, err := procMemCount(d.PID(), pw)
		if err != nil {
			t.Fatalf("reading the daemon's memory: %v", err)
		}
		n2, _, ctx2, err := procMemCount(d.PID(), pw1047)
		if err != nil {
			t.Fatalf("reading the daemon's memory: %v", err)
		}
		return n + n2, scanned, append(ctx, ctx2...)
	}
	// settle returns the count at once and, as the erasure follows a
	// garbage collection the daemon starts after an SSH login, the count
	// once it is zero or eraseWait has passed. eraseWait is ample for a
	// collection that was asked for (milliseconds on this heap) and well
	// short of the runtime's own, at least every 2 minutes, so erasure left
	// to chance would not pass.
	const eraseWait = 15 * time.Second
	settle := func() (first, last int, contexts []string) {
		first, _, contexts = count()
		last = first
		// Memory gives no event to wait on.
		wait.For(eraseWait, func() bool { last, _, contexts = count(); return last == 0 })
		return first, last, contexts
	}
	before, scanned, _ := count()
	r.tried("the daemon's writable memory (/proc/PID/mem, %d MiB) searched for the job's password: before any login; for an FTP job, once it is logged in (USER/PASS to sshd and to vsftpd through the tunnel), for a second job logged in on the same SSH connection (PASS to vsftpd only) and sending PASS again once logged in, for an IBM-1047 job (the password also searched in IBM-1047), and after these sessions and the SSH connection ended; then for a SOCKS5 client (RFC 1929 user and password) through a tunnel rule, once its CONNECT is up and after it ended", scanned>>20)
	if before != 0 {
		t.Errorf("the password was in memory before any login (%d copies)", before)
	}

	// loggedIn opens an FTP job, logs it in and has it send one command.
	loggedIn := func() *job {
		j, err := openJob(d.Addr, l.ftpd.Addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := j.login(l.ftpd.User, l.ftpd.Password); err != nil {
			t.Fatal(err)
		}
		if _, _, err := j.cmd("NOOP"); err != nil {
			t.Fatal(err)
		}
		return j
	}
	j := loggedIn()
	ftpFirst, ftpDuring, ctxDuring := settle()
	// A second job logs in on the SSH connection the first one opened: no
	// SSH login this time, only the PASS to the FTP server.
	j2 := loggedIn()
	if st := dStats(t, d); st.ssh != 1 {
		t.Errorf("the second job did not share the first one's SSH connection: %d SSH connections", st.ssh)
	}
	sharedFirst, sharedDuring, ctxShared := settle()
	// The second job sends PASS again on its open session: socksd relays
	// that one to the server as it is.
	code, _, err := j2.cmd("PASS " + l.ftpd.Password)
	if err != nil {
		t.Fatal(err)
	}
	againFirst, againDuring, ctxAgain := settle()
	r.saw("PASS again on a logged-in session: vsftpd answered %d", code)
	// A z/OS-like job in IBM-1047 with NL line ends.
	zj := &ftpjob.Job{
		Dial: (&net.Dialer{Timeout: ioTimeout}).DialContext, Proxy: d.Addr, Version: 5, HostOK: false,
		CP: ebcdic.IBM1047, End: []byte{0x15}, ASCIIGreeting: true,
		Server: socks.Addr{Host: "127.0.0.1", Port: uint16(l.ftpd.Port)},
	}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := zj.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := zj.Login(l.ftpd.User, l.ftpd.Password); err != nil {
		t.Fatal(err)
	}
	ebcdicFirst, ebcdicDuring, ctxEBCDIC := settle()
	zj.Cmd("QUIT")
	zj.Close()
	j2.quit()
	j.quit()
	var st stats
	wait.For(waitTimeout, func() bool { st = dStats(t, d); return st.active == 0 && st.ssh == 0 })
	ftpAfter, _, ctxAfter := settle()
	r.figure("FTP job, copies of the password: before login / just after login / logged in, once settled / after the session", fmt.Sprintf("%d / %d / %d / %d", before, ftpFirst, ftpDuring, ftpAfter))
	r.figure("second FTP job on the same SSH connection: just after login / logged in, once settled", fmt.Sprintf("%d / %d", sharedFirst, sharedDuring))
	r.figure("the second job sends PASS again on its open session: just after / once settled", fmt.Sprintf("%d / %d", againFirst, againDuring))
	r.figure("IBM-1047 job (NL line ends), password searched as ASCII and as IBM-1047: just after login / logged in, once settled", fmt.Sprintf("%d / %d", ebcdicFirst, ebcdicDuring))

	c, err := net.DialTimeout("tcp", d.Addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := socks.ClientHandshake(c, 5, socks.Addr{Host: "localhost", Port: uint16(l.ftpd.Port)}, l.sshd.User, l.sshd.Password); err != nil {
		t.Fatalf("SOCKS5 CONNECT through the tunnel rule: %v", err)
	}
	greeting, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(greeting, "220") {
		t.Fatalf("no FTP greeting through the tunnel: %q, %v", greeting, err)
	}
	socksFirst, socksDuring, ctxSocks := settle()
	c.Close()
	wait.For(waitTimeout, func() bool { st = dStats(t, d); return st.active == 0 && st.ssh == 0 })
	socksAfter, _, ctxSocksAfter := settle()
	r.figure("SOCKS5 client, copies of the password: just after CONNECT / connected, once settled / after the session", fmt.Sprintf("%d / %d / %d", socksFirst, socksDuring, socksAfter))

	r.saw("socksd wipes its own copies (the PASS line and the line reader's buffer, the translated password, the SOCKS5 password, the pool's copy for the dial) and keeps only keyed hashes; the SSH login runs under runtime/secret and a garbage collection after it has the runtime erase the SSH library's copies; each PASS to the FTP server is followed by a NOOP padded to its length, which overwrites it in the SSH channel's reused packet buffer")
	for _, c := range []struct {
		what     string
		n        int
		contexts []string
	}{
		{"while the FTP job is logged in", ftpDuring, ctxDuring},
		{"while a second FTP job is logged in on the same SSH connection", sharedDuring, ctxShared},
		{"after a PASS sent again on an open session", againDuring, ctxAgain},
		{"while an IBM-1047 job is logged in", ebcdicDuring, ctxEBCDIC},
		{"after the FTP session and its SSH connection ended", ftpAfter, ctxAfter},
		{"while the SOCKS5 tunnel session is connected", socksDuring, ctxSocks},
		{"after the SOCKS5 session and its SSH connection ended", socksAfter, ctxSocksAfter},
	} {
		if c.n > 0 {
			r.saw("FINDING: %d copies of the password in the daemon's memory %s; the bytes before each: %q", c.n, c.what, c.contexts)
			t.Errorf("%d copies of the password in the daemon's memory %s; the bytes before each: %q", c.n, c.what, c.contexts)
		}
	}
}
