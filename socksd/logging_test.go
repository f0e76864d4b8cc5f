package socksd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"socksd/config"
	"socksd/ftp"
	"socksd/internal/syslog"
	"socksd/internal/testing/wait"
	"socksd/msg"
)

// TestLogLevelFilter: the level switch drops events below its level, but
// daemon lifecycle messages (SOX00xx) pass at any level, also when they
// are written through msg.Log.
func TestLogLevelFilter(t *testing.T) {
	for _, tc := range []struct {
		level string
		want  []string // IDs that reach the log, of those logged below
	}{
		{"debug", []string{"SOX0011I", "SOX0101I", "SOX0111W", "SOX0015W", "SOX0017E"}},
		{"info", []string{"SOX0011I", "SOX0101I", "SOX0111W", "SOX0015W", "SOX0017E"}},
		{"warn", []string{"SOX0011I", "SOX0111W", "SOX0015W", "SOX0017E"}},
		{"error", []string{"SOX0011I", "SOX0015W", "SOX0017E"}},
	} {
		t.Run(tc.level, func(t *testing.T) {
			var buf bytes.Buffer
			log, _, closer, err := NewLogger(config.Log{Level: tc.level, Format: "json"}, &buf)
			if err != nil {
				t.Fatal(err)
			}
			defer closer.Close()
			log.Debug().Msg("plain debug")
			msg.Log(&log, "SOX0011I", "x").Send()
			msg.Log(&log, "SOX0101I", 1).Send()
			msg.Log(&log, "SOX0111W", 1, "x").Send()
			msg.Log(&log, "SOX0015W", "x", "y").Send()
			msg.Log(&log, "SOX0017E", "x", "y").Send()
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				if i := strings.Index(line, `"message":"SOX`); i >= 0 {
					got = append(got, line[i+11:i+19])
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("logged %v, want %v", got, tc.want)
			}
			if plain := strings.Contains(buf.String(), "plain debug"); plain != (tc.level == "debug") {
				t.Errorf("plain debug line logged: %v", plain)
			}
		})
	}
}

// TestLogFileReopen: writers keep writing while the file is moved away and
// reopened; every line lands whole in the old file or the new one, none
// twice, and the lines written after Reopen are in the new file.
func TestLogFileReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "socksd.log")
	lf, err := OpenLogFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	const writers, lines = 4, 500
	var wg sync.WaitGroup
	moved := make(chan struct{})
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < lines; i++ {
				if i == lines/2 && w == 0 {
					close(moved) // half written: rotate now
				}
				fmt.Fprintf(lf, "writer %d line %d\n", w, i)
			}
		}()
	}
	<-moved
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := lf.Reopen(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	fmt.Fprintf(lf, "after reopen\n")
	old, _ := os.ReadFile(path + ".1")
	cur, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no new file: %v", err)
	}
	if !strings.HasSuffix(string(cur), "after reopen\n") {
		t.Errorf("the new file does not end with the line written after Reopen")
	}
	seen := map[string]int{}
	for _, l := range strings.Split(strings.TrimSuffix(string(old)+string(cur), "\n"), "\n") {
		seen[l]++
	}
	for w := 0; w < writers; w++ {
		for i := 0; i < lines; i++ {
			if l := fmt.Sprintf("writer %d line %d", w, i); seen[l] != 1 {
				t.Fatalf("%q found %d times", l, seen[l])
			}
		}
	}
	if len(seen) != writers*lines+1 {
		t.Errorf("%d distinct lines, want %d (a line was split)", len(seen), writers*lines+1)
	}
	// A path that cannot be opened again: the old file stays in use.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if os.Geteuid() != 0 { // root may create files anyway
		if err := lf.Reopen(); err == nil {
			t.Errorf("Reopen in a read-only directory succeeded")
		}
		if _, err := fmt.Fprintf(lf, "still written\n"); err != nil {
			t.Errorf("write after a failed Reopen: %v", err)
		}
	}
}

// lifecycle records the notifications a daemon sends.
type lifecycle struct {
	mu  sync.Mutex
	got []string
}

func (l *lifecycle) add(s string) { l.mu.Lock(); l.got = append(l.got, s); l.mu.Unlock() }
func (l *lifecycle) Ready()       { l.add("ready") }
func (l *lifecycle) Reloading()   { l.add("reloading") }
func (l *lifecycle) Stopping()    { l.add("stopping") }
func (l *lifecycle) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.got, " ")
}

// TestReloadReopensLogsAndNotifies: each RELOAD opens the log and audit
// files again, also when the new configuration is rejected, and is told to
// the notifier as reloading then ready; READY comes once the listeners are
// open and STOPPING when the stop begins.
func TestReloadReopensLogsAndNotifies(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "socksd.toml")
	good := "[server]\nlisten = [\"127.0.0.1:0\"]\n[console]\nsocket = \"\"\n[[rules]]\nname = \"rest\"\naction = \"block\"\n"
	if err := os.WriteFile(conf, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	logPath, auditPath := filepath.Join(dir, "socksd.log"), filepath.Join(dir, "audit.jsonl")
	cfg.Log.File, cfg.Log.Format = logPath, "json"
	log, _, lf, err := NewLogger(cfg.Log, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	audit, err := NewAuditWriter(auditPath, log)
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	note := &lifecycle{}
	d, err := New(cfg, Options{ConfigPath: conf, Logger: log, Audit: audit, LogFile: lf, Notify: note})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Listen(); err != nil {
		t.Fatal(err)
	}
	go d.Serve(context.Background())
	wait.Until(t, "READY", 10*time.Second, func() bool { return note.String() == "ready" })

	for i, text := range []string{good, "[server]\nlisten = 1\n"} {
		for _, p := range []string{logPath, auditPath} {
			if err := os.Rename(p, fmt.Sprintf("%s.%d", p, i+1)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		err := d.Reload()
		if (err != nil) != (i == 1) {
			t.Fatalf("reload %d: %v", i+1, err)
		}
		audit.Write(map[string]int{"reload": i + 1})
		b, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatalf("reload %d: no new log file: %v", i+1, err)
		}
		wantID := []string{"SOX0003I", "SOX0004E"}[i]
		if !strings.Contains(string(b), "SOX0823I log file "+logPath+" reopened") || !strings.Contains(string(b), wantID) {
			t.Errorf("reload %d: new log file lacks SOX0823I or %s:\n%s", i+1, wantID, b)
		}
		if a, err := os.ReadFile(auditPath); err != nil || string(a) != fmt.Sprintf("{\"reload\":%d}\n", i+1) {
			t.Errorf("reload %d: new audit file %q, %v", i+1, a, err)
		}
	}
	d.Stop(false)
	<-d.Done()
	if got, want := note.String(), "ready reloading ready reloading ready stopping"; got != want {
		t.Errorf("notifications %q, want %q", got, want)
	}
}

// TestAuditSyslogRecord: the syslog record holds the JSON record's fields
// as parameters and the JSON record as MSG, with MSGID transfer, and is a
// warning when the transfer failed.
func TestAuditSyslogRecord(t *testing.T) {
	tr := ftp.Transfer{Session: 7, Client: "127.0.0.1:4000", User: "job1", Command: "STOR", Path: `a "b"]`,
		Site: []string{"RECFM=FB", "LRECL=80"}, Bytes: 80, Code: 451, Rule: "ftp", Error: "data connection lost"}
	b, _ := json.Marshal(tr)
	r := auditSyslogRecord(tr, b)
	if r.MsgID != "transfer" || r.Severity != syslog.Warning || r.Msg != string(b) {
		t.Errorf("record %+v", r)
	}
	var fields map[string]any
	json.Unmarshal(b, &fields)
	if len(r.Params) != len(fields) {
		t.Errorf("params %v, want one per JSON field %v", r.Params, fields)
	}
	for k, want := range map[string]string{"session": "7", "path": `a "b"]`, "site": `["RECFM=FB","LRECL=80"]`, "code": "451", "error": "data connection lost", "server": ""} {
		if got, ok := r.Params[k]; !ok || got != want {
			t.Errorf("param %s = %q (%v), want %q", k, got, ok, want)
		}
	}
	tr.Error, tr.Code = "", 226
	b, _ = json.Marshal(tr)
	if r := auditSyslogRecord(tr, b); r.Severity != syslog.Info {
		t.Errorf("a good transfer has severity %d", r.Severity)
	}
	if r := auditSyslogRecord(map[string]any{"x": nil}, []byte(`{"x":null}`)); r.MsgID != "audit" || len(r.Params) != 0 {
		t.Errorf("other record: %+v", r)
	}
}

// TestAuditWriterSyslog: records reach the syslog receiver in order, all
// of them once Close returns; a receiver that refuses the connection is
// reported (SOX0824E) and does not stop the writer.
func TestAuditWriterSyslog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.sock")
	pc, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var logbuf bytes.Buffer
	a, err := NewAuditWriter("", zerolog.New(&logbuf))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.OpenSyslog(config.Log{AuditSyslog: "unix:" + path, SyslogFacility: "local1", SyslogAppName: "sx", SyslogSDID: "x@1"}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		a.Write(ftp.Transfer{Session: uint64(i), Command: "RETR", Code: 226})
	}
	a.Close()
	a.Write(ftp.Transfer{Session: 4}) // after Close: dropped, no panic
	for i := 1; i <= 3; i++ {
		pc.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 4096)
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !strings.HasPrefix(string(buf[:n]), "<142>1 ") || !strings.Contains(string(buf[:n]), fmt.Sprintf(` sx %d transfer [x@1 `, os.Getpid())) ||
			!strings.Contains(string(buf[:n]), fmt.Sprintf(`session="%d"`, i)) {
			t.Errorf("record %d: %s", i, buf[:n])
		}
	}
	if logbuf.Len() != 0 {
		t.Errorf("log: %s", logbuf.String())
	}

	// A TCP receiver that is not there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	a, _ = NewAuditWriter("", zerolog.New(&logbuf))
	if err := a.OpenSyslog(config.Log{AuditSyslog: "tcp://" + closed, SyslogFacility: "local0", SyslogAppName: "socksd", SyslogSDID: "socksd@32473"}); err != nil {
		t.Fatal(err)
	}
	a.Write(ftp.Transfer{Session: 1})
	a.Close()
	if !strings.Contains(logbuf.String(), "SOX0824E audit record not sent to syslog: syslog: send to tcp://"+closed) {
		t.Errorf("log: %s", logbuf.String())
	}
}
