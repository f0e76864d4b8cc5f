package demo

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// fakeFTP is an in-memory FTP client and server in one; corrupt flips a
// byte of every stored file, as a broken path would.
type fakeFTP struct {
	files   map[string][]byte
	sent    []string
	corrupt bool
	siteErr bool
}

func (f *fakeFTP) Login(user, pass string) error {
	f.sent = append(f.sent, "USER "+user, "PASS "+pass)
	if pass != "pw" {
		return errors.New("530 login incorrect")
	}
	return nil
}

func (f *fakeFTP) Quote(line string) (int, string, error) {
	f.sent = append(f.sent, line)
	if f.siteErr && strings.HasPrefix(line, "SITE") {
		return 500, "Unknown SITE subcommand", nil
	}
	return 200, "ok", nil
}

func (f *fakeFTP) Put(ctx context.Context, remote string, data []byte) error {
	f.sent = append(f.sent, "STOR "+remote)
	b := append([]byte(nil), data...)
	if f.corrupt && len(b) > 0 {
		b[0] ^= 1
	}
	f.files[remote] = b
	return nil
}

func (f *fakeFTP) Get(ctx context.Context, remote string) (fetched, error) {
	f.sent = append(f.sent, "RETR "+remote)
	b, ok := f.files[remote]
	if !ok {
		return fetched{}, errors.New("550 no such file")
	}
	return fetched{Sum: sha256.Sum256(b), Size: int64(len(b))}, nil
}

func (f *fakeFTP) List(ctx context.Context) (string, error) {
	f.sent = append(f.sent, "LIST")
	var names []string
	for n := range f.files {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, "\n") + "\n", nil
}

func (f *fakeFTP) Quit() error  { f.sent = append(f.sent, "QUIT"); return nil }
func (f *fakeFTP) Close() error { return nil }

// Sum serves as the fileServer: it sees the stored (maybe corrupted) copy.
func (f *fakeFTP) Sum(name string) ([32]byte, int64, error) {
	b, ok := f.files[name]
	if !ok {
		return [32]byte{}, 0, fmt.Errorf("no %s", name)
	}
	return sha256.Sum256(b), int64(len(b)), nil
}

func runFake(t *testing.T, f *fakeFTP, lines ...string) (*Result, map[string]*dataset) {
	t.Helper()
	d, err := ParseDeck(lines)
	if err != nil {
		t.Fatal(err)
	}
	out := &printer{w: &strings.Builder{}}
	in := &interpreter{mode: "test", client: f, server: f, prefix: "JOB", datasets: map[string]*dataset{}, out: out}
	in.Run(context.Background(), d)
	return out.result(), in.datasets
}

func TestInterpreterSample(t *testing.T) {
	d, err := sampleDeck()
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeFTP{files: map[string][]byte{"inbound.txt": []byte("from the partner\n")}}
	out := &printer{w: &strings.Builder{}}
	in := &interpreter{mode: "test", client: f, server: f, prefix: "JOB", datasets: map[string]*dataset{}, out: out}
	d.Password = "pw"
	in.Run(context.Background(), d)
	res := out.result()
	if !res.Passed() || len(res.Checks) != 6 {
		t.Fatalf("checks %+v", res.Checks)
	}
	want := "USER FTPUSER|PASS pw|SITE umask 022|STOR outbound.txt|RETR inbound.txt|LIST|QUIT"
	if got := strings.Join(f.sent, "|"); got != want {
		t.Errorf("commands\n got %s\nwant %s", got, want)
	}
	ds := in.datasets["SOCKSD.FTP.INBOUND"]
	if ds == nil || ds.Sum != sha256.Sum256([]byte("from the partner\n")) {
		t.Errorf("local data set %+v", ds)
	}
	if out := in.out.Output(); strings.Contains(out, "PASS pw") || !strings.Contains(out, "********") {
		t.Errorf("the password line is not hidden:\n%s", out)
	}
}

func TestInterpreterChecksFail(t *testing.T) {
	tests := []struct {
		name  string
		f     *fakeFTP
		lines []string
		fail  string // name of the failing check (substring)
	}{
		{"corrupted put", &fakeFTP{corrupt: true}, []string{"u", "pw", "put 'A.B'"}, "put 'A.B'"},
		{"missing remote", &fakeFTP{}, []string{"u", "pw", "get nothing 'A.B'"}, "get nothing"},
		{"get without replace", &fakeFTP{files: map[string][]byte{"b": []byte("x")}},
			[]string{"u", "pw", "put 'A.B' b", "get b 'A.B'"}, "get b 'A.B'"},
		{"site refused", &fakeFTP{siteErr: true}, []string{"u", "pw", "site umask 022"}, "site umask"},
		{"bad login", &fakeFTP{}, []string{"u", "bad", "dir"}, "login"},
		{"bad local name", &fakeFTP{}, []string{"u", "pw", "put '1A'"}, "local data sets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.f.files == nil {
				tt.f.files = map[string][]byte{}
			}
			res, _ := runFake(t, tt.f, tt.lines...)
			if res.Passed() {
				t.Fatalf("passed: %+v", res.Checks)
			}
			failed := res.Failed()
			if len(failed) == 0 || !strings.Contains(failed[0].Name, tt.fail) {
				t.Errorf("failed checks %+v, want %q", failed, tt.fail)
			}
		})
	}
}

func TestInterpreterListMissing(t *testing.T) {
	f := &fakeFTP{files: map[string][]byte{}}
	d, _ := ParseDeck([]string{"u", "pw", "put 'A.B' b", "dir"})
	out := &printer{w: &strings.Builder{}}
	in := &interpreter{mode: "t", client: listHides{f}, server: f, prefix: "J", datasets: map[string]*dataset{}, out: out}
	in.Run(context.Background(), d)
	if res := out.result(); res.Passed() {
		t.Fatalf("a listing without the stored file passed: %+v", res.Checks)
	}
}

// listHides lists nothing.
type listHides struct{ *fakeFTP }

func (listHides) List(ctx context.Context) (string, error) { return "", nil }

func TestResultPassed(t *testing.T) {
	if (&Result{}).Passed() {
		t.Error("no checks passed")
	}
	r := &Result{Checks: []Check{{Name: "a", OK: true}, {Name: "b", OK: false}}}
	if r.Passed() || len(r.Failed()) != 1 {
		t.Errorf("%+v", r)
	}
	r.Checks[1].OK = true
	if !r.Passed() {
		t.Error("all ok, not passed")
	}
}

func TestParseAudit(t *testing.T) {
	data := []byte(`{"session":1,"user":"demo","command":"STOR","mode":"passive","bytes":5,"code":226}

{"session":2,"user":"demo","command":"RETR","mode":"active","bytes":7,"code":226,"duration_ns":1000}
`)
	recs, err := parseAudit(data)
	if err != nil || len(recs) != 2 || recs[1].Mode != "active" || recs[1].Duration != 1000 {
		t.Fatalf("%+v %v", recs, err)
	}
	if _, err := parseAudit([]byte("{\"session\":1}\nnot json\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad line: %v", err)
	}
}

// FuzzParseAudit: no panic, never more records than lines.
func FuzzParseAudit(f *testing.F) {
	f.Add([]byte(`{"session":1,"command":"STOR","bytes":5,"code":226}` + "\n"))
	f.Add([]byte("{}\n{}\n"))
	f.Add([]byte("{\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := parseAudit(data)
		if err != nil && !strings.HasPrefix(err.Error(), "demo: audit") {
			t.Fatalf("error %q", err)
		}
		if len(recs) > strings.Count(string(data), "\n")+1 {
			t.Fatalf("%d records from %d lines", len(recs), strings.Count(string(data), "\n")+1)
		}
	})
}
