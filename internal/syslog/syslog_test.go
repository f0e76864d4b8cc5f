package syslog

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/octetcounting"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"socksd/internal/testing/wait"
)

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in      string
		want    Address
		wantErr bool
	}{
		{"local", Address{"unix", "/dev/log"}, false},
		{"unix:/run/syslog.sock", Address{"unix", "/run/syslog.sock"}, false},
		{"unix:///run/syslog.sock", Address{"unix", "/run/syslog.sock"}, false},
		{"udp://127.0.0.1:5514", Address{"udp", "127.0.0.1:5514"}, false},
		{"udp://siem.example", Address{"udp", "siem.example:514"}, false},
		{"tcp://[::1]:601", Address{"tcp", "[::1]:601"}, false},
		{"tcp://[::1]", Address{"tcp", "[::1]:514"}, false},
		{"unix:relative.sock", Address{}, true},
		{"http://siem.example", Address{}, true},
		{"siem.example:514", Address{}, true},
		{"udp://:514", Address{}, true},
		{"tcp://siem.example:99999", Address{}, true},
		{"tcp://siem.example:x", Address{}, true},
		{"tcp://]0", Address{}, true},
		{"tcp://[10.0.0.1]", Address{}, true},
		{"udp://siem/x", Address{}, true},
	}
	for _, tc := range tests {
		got, err := ParseAddress(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseAddress(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err == nil {
			if again, err := ParseAddress(got.String()); err != nil || again != got {
				t.Errorf("ParseAddress(%q) (String of %q) = %v, %v", got.String(), tc.in, again, err)
			}
		}
	}
}

func TestChecks(t *testing.T) {
	tests := []struct {
		name  string
		check func(string) error
		in    string
		ok    bool
	}{
		{"facility", func(s string) error { _, err := ParseFacility(s); return err }, "local7", true},
		{"facility", func(s string) error { _, err := ParseFacility(s); return err }, "authpriv", true},
		{"facility", func(s string) error { _, err := ParseFacility(s); return err }, "local8", false},
		{"app", CheckAppName, "socksd", true},
		{"app", CheckAppName, "", false},
		{"app", CheckAppName, "two words", false},
		{"app", CheckAppName, strings.Repeat("a", 49), false},
		{"sd-id", CheckSDID, "socksd@32473", true},
		{"sd-id", CheckSDID, "socksd", false}, // IETF-reserved form
		{"sd-id", CheckSDID, "socksd@", false},
		{"sd-id", CheckSDID, "socksd@12a", false},
		{"sd-id", CheckSDID, "sock]sd@1", false},
		{"sd-id", CheckSDID, "sock sd@1", false},
		{"sd-id", CheckSDID, strings.Repeat("s", 30) + "@12", false},
	}
	for _, tc := range tests {
		if err := tc.check(tc.in); (err == nil) != tc.ok {
			t.Errorf("%s %q: error %v, want ok %v", tc.name, tc.in, err, tc.ok)
		}
	}
	if f, _ := ParseFacility("local0"); f != 16 {
		t.Errorf("local0 = %d, want 16", f)
	}
}

// record is a record whose values need escaping.
var record = Record{
	Severity: Warning,
	MsgID:    "transfer",
	Params: map[string]string{
		"command": "RETR",
		"path":    `a "quoted" \name] here`,
		"bytes":   "1048576",
		"site":    `["RECFM=FB","LRECL=80"]`,
	},
	Msg:  `{"command":"RETR"}`,
	Time: time.Date(2026, 12, 6, 15, 4, 5, 123456000, time.UTC),
}

func testWriter(a Address) *Writer {
	return New(Options{Address: a, Facility: 16, AppName: "socksd", SDID: "socksd@32473", Hostname: "host1"})
}

// checkParsed checks a parsed message against record.
func checkParsed(t *testing.T, m gosyslog.Message) {
	t.Helper()
	sm, ok := m.(*rfc5424.SyslogMessage)
	if !ok || sm == nil {
		t.Fatalf("parsed %T %v", m, m)
	}
	if *sm.Priority != 16*8+4 || sm.Version != 1 || *sm.Hostname != "host1" || *sm.Appname != "socksd" ||
		*sm.MsgID != "transfer" || *sm.Message != record.Msg || *sm.ProcID == "" || !sm.Timestamp.Equal(record.Time) {
		t.Errorf("header or MSG differ: %+v", sm)
	}
	sd := *sm.StructuredData
	got := sd["socksd@32473"]
	if len(sd) != 1 || len(got) != len(record.Params) {
		t.Fatalf("structured data %v, want one element with %v", sd, record.Params)
	}
	for k, v := range record.Params {
		if got[k] != v {
			t.Errorf("param %s = %q, want %q", k, got[k], v)
		}
	}
}

func TestFormat(t *testing.T) {
	s := testWriter(Address{}).Format(record)
	for _, want := range []string{
		"<132>1 2026-12-06T15:04:05.123456Z host1 socksd ",
		` transfer [socksd@32473 `,
		`path="a \"quoted\" \\name\] here"`,
		`] {"command":"RETR"}`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("%s\nlacks %s", s, want)
		}
	}
	m, err := rfc5424.NewParser().Parse([]byte(s))
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	checkParsed(t, m)
}

// TestSendUDPAndUnix: one datagram a record, parsed as RFC 5424.
func TestSendUDPAndUnix(t *testing.T) {
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	path := filepath.Join(t.TempDir(), "log.sock")
	unixgram, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer unixgram.Close()
	for _, tc := range []struct {
		name string
		addr string
		pc   net.PacketConn
	}{
		{"udp", "udp://" + udp.LocalAddr().String(), udp},
		{"unix", "unix:" + path, unixgram},
	} {
		a, err := ParseAddress(tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		w := testWriter(a)
		for i := 0; i < 2; i++ {
			if err := w.Send(record); err != nil {
				t.Fatalf("%s: send: %v", tc.name, err)
			}
			tc.pc.SetReadDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 65536)
			n, _, err := tc.pc.ReadFrom(buf)
			if err != nil {
				t.Fatalf("%s: receive: %v", tc.name, err)
			}
			m, err := rfc5424.NewParser().Parse(buf[:n])
			if err != nil {
				t.Fatalf("%s: parse %q: %v", tc.name, buf[:n], err)
			}
			checkParsed(t, m)
		}
		w.Close()
	}
}

// readFrame reads one octet-counted frame (RFC 6587 section 3.4.1):
// MSG-LEN SP SYSLOG-MSG.
func readFrame(r *bufio.Reader) ([]byte, error) {
	n, err := r.ReadString(' ')
	if err != nil {
		return nil, err
	}
	size, err := strconv.Atoi(strings.TrimSuffix(n, " "))
	if err != nil || size < 1 || strings.HasPrefix(n, "0") {
		return nil, fmt.Errorf("bad MSG-LEN %q", n)
	}
	b := make([]byte, size)
	_, err = io.ReadFull(r, b)
	return b, err
}

// TestSendTCP: records framed by octet counting (RFC 6587); after the
// receiver closes the connection, the next record comes on a new one and
// none is lost. The same stream also goes through the library's
// octet-counting parser.
func TestSendTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	w := testWriter(Address{"tcp", ln.Addr().String()})
	defer w.Close()
	var stream bytes.Buffer
	for round := 0; round < 2; round++ {
		sent := make(chan error, 1)
		go func() {
			var err error
			for i := 0; i < 3 && err == nil; i++ {
				err = w.Send(record)
			}
			sent <- err
		}()
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		for i := 0; i < 3; i++ {
			b, err := readFrame(r)
			if err != nil {
				t.Fatalf("round %d, record %d: %v", round, i+1, err)
			}
			fmt.Fprintf(&stream, "%d %s", len(b), b)
			m, err := rfc5424.NewParser().Parse(b)
			if err != nil {
				t.Fatalf("round %d: parse %q: %v", round, b, err)
			}
			checkParsed(t, m)
		}
		c.Close() // the receiver goes away; the next round's records need a new connection
		if err := <-sent; err != nil {
			t.Fatalf("round %d: send: %v", round, err)
		}
		// A record written before the close reaches the writer's socket
		// would be lost (RFC 6587 has no acknowledgement): wait until the
		// writer's socket has it.
		wait.Until(t, "the close reaches the writer", 10*time.Second, func() bool {
			w.mu.Lock()
			defer w.mu.Unlock()
			return w.conn == nil || peerClosed(w.conn)
		})
	}
	var results []*gosyslog.Result
	octetcounting.NewParser(gosyslog.WithListener(func(r *gosyslog.Result) { results = append(results, r) })).Parse(&stream)
	if len(results) != 6 {
		t.Fatalf("the library's parser found %d records, want 6", len(results))
	}
	for _, r := range results {
		if r.Error != nil {
			t.Fatalf("library parser: %v", r.Error)
		}
		checkParsed(t, r.Message)
	}
}

// TestSendFails: a receiver that is not there is an error, not a hang.
func TestSendFails(t *testing.T) {
	w := testWriter(Address{"unix", filepath.Join(t.TempDir(), "none.sock")})
	if err := w.Send(record); err == nil || !strings.HasPrefix(err.Error(), "syslog: send to unix:") {
		t.Errorf("send to a missing socket: %v", err)
	}
	if h, _ := os.Hostname(); New(Options{}).opt.Hostname != h {
		t.Errorf("hostname not taken from the system")
	}
}
