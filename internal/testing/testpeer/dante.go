package testpeer

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Dante is a Dante SOCKS server (danted) on a loopback port.
type Dante struct {
	Addr string     // host:port of its SOCKS listener
	Log  *LogBuffer // its log (standard error), with a line per CONNECT
}

// StartDante runs danted on a free loopback port, allowing CONNECT and
// BIND between loopback addresses only and logging every CONNECT. It is
// stopped (SIGTERM, then SIGKILL) at the end of the test. Without danted
// the test fails under CI=true, else it is skipped (Missing).
func StartDante(t testing.TB) *Dante {
	t.Helper()
	Track(t)
	bin := RequireTool(t, "danted")
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	conf := fmt.Sprintf(`logoutput: stderr
internal: 127.0.0.1 port = %d
external: 127.0.0.1
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {
	from: 127.0.0.0/8 to: 0.0.0.0/0
}
socks pass {
	from: 127.0.0.0/8 to: 127.0.0.0/8
	command: connect bind bindreply
	log: connect
}
socks block {
	from: 0.0.0.0/0 to: 0.0.0.0/0
	log: error connect
}
`, port)
	confPath := filepath.Join(dir, "danted.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &Dante{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Log: NewLogBuffer()}
	cmd := exec.Command(bin, "-f", confPath, "-N", "1", "-p", filepath.Join(dir, "danted.pid"))
	cmd.Stdout, cmd.Stderr = d.Log, d.Log
	if err := cmd.Start(); err != nil {
		t.Fatalf("testpeer: danted: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		// SIGTERM lets danted stop its own child processes.
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			KillTree(cmd.Process.Pid)
			<-done
		}
		if t.Failed() {
			if p := Keep(t, "danted.log", d.Log.String()); p != "" {
				t.Logf("danted log kept in %s", p)
			}
		}
	})
	if _, ok := d.Log.WaitFor(regexp.MustCompile(` running`), 30*time.Second, done); !ok {
		t.Fatalf("testpeer: danted did not report that it is running:\n%s", d.Log.String())
	}
	return d
}
