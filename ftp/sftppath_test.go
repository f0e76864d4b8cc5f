package ftp

import (
	"path"
	"strings"
	"testing"
)

func TestSFTPPathsResolve(t *testing.T) {
	type step struct {
		arg     string
		want    string
		dataset bool
		wantErr bool
	}
	tests := []struct {
		name                 string
		home, root, datasets string
		cwd                  string // setCwd before the steps, if not ""
		pwd                  string // pwd after setCwd
		steps                []step
	}{
		{
			name: "no root", home: "/home/job", datasets: StripQuotes, pwd: "/home/job",
			steps: []step{
				{arg: "", want: "/home/job"},
				{arg: "a.txt", want: "/home/job/a.txt"},
				{arg: "sub/../b", want: "/home/job/b"},
				{arg: "..", want: "/home"},
				{arg: "../../../..", want: "/"},
				{arg: "/etc/passwd", want: "/etc/passwd"},
				{arg: "//x//y/", want: "/x/y"},
				{arg: "'HLQ.DATA.SET'", want: "/home/job/HLQ.DATA.SET"},
				{arg: "'HLQ.PDS(MEM)'", want: "/home/job/HLQ.PDS(MEM)"},
				{arg: " 'HLQ.GDG(+1)' ", want: "/home/job/HLQ.GDG(+1)"},
				{arg: "HLQ.UNQUOTED", want: "/home/job/HLQ.UNQUOTED"},
				{arg: "'A/B'", wantErr: true},
				{arg: "'..'", wantErr: true},
				{arg: "'A..B'", wantErr: true},
				{arg: "'A.B(../X)'", wantErr: true},
				{arg: "'A.B(X'", wantErr: true},
				{arg: "a\x00b", wantErr: true},
				{arg: "a\r\nb", wantErr: true},
			},
		},
		{
			name: "absolute root", home: "/home/job", root: "/srv/ftp", datasets: StripQuotes, pwd: "/",
			steps: []step{
				{arg: "", want: "/srv/ftp"},
				{arg: "a.txt", want: "/srv/ftp/a.txt"},
				{arg: "..", want: "/srv/ftp"},
				{arg: "../../etc/passwd", want: "/srv/ftp/etc/passwd"},
				{arg: "/etc/passwd", want: "/srv/ftp/etc/passwd"},
				{arg: "/", want: "/srv/ftp"},
				{arg: "a/../../x", want: "/srv/ftp/x"},
				{arg: "/../ftp2", want: "/srv/ftp/ftp2"},
				{arg: "'HLQ.DATA.SET'", want: "/srv/ftp/HLQ.DATA.SET"},
			},
		},
		{
			name: "root with cwd", home: "/home/job", root: "/srv/ftp", cwd: "/srv/ftp/in/deep", pwd: "/in/deep",
			steps: []step{
				{arg: "", want: "/srv/ftp/in/deep"},
				{arg: "x", want: "/srv/ftp/in/deep/x"},
				{arg: "..", want: "/srv/ftp/in"},
				{arg: "../../../../..", want: "/srv/ftp"},
				{arg: "/out", want: "/srv/ftp/out"},
				{arg: "'HLQ.X'", want: "/srv/ftp/in/deep/HLQ.X"},
			},
		},
		{
			name: "cwd outside root ignored", home: "/home/job", root: "/srv/ftp", cwd: "/srv/ftp2", pwd: "/",
			steps: []step{{arg: "x", want: "/srv/ftp/x"}},
		},
		{
			name: "relative root", home: "/home/job", root: "data/in", pwd: "/",
			steps: []step{
				{arg: "", want: "/home/job/data/in"},
				{arg: "../x", want: "/home/job/data/in/x"},
			},
		},
		{
			name: "root is /", home: "/home/job", root: "/", cwd: "/tmp", pwd: "/tmp",
			steps: []step{
				{arg: "..", want: "/"},
				{arg: "../..", want: "/"},
				{arg: "x", want: "/tmp/x"},
			},
		},
		{
			name: "dataset prefix", home: "/u/job", root: "/u/job/files", datasets: "//", pwd: "/",
			steps: []step{
				{arg: "'HLQ.DATA.SET'", want: "//HLQ.DATA.SET", dataset: true},
				{arg: "'hlq.pds(mem)'", want: "//hlq.pds(mem)", dataset: true},
				{arg: "'HLQ.GDG(-1)'", want: "//HLQ.GDG(-1)", dataset: true},
				{arg: "plain.txt", want: "/u/job/files/plain.txt"},
				{arg: "'../../etc/passwd'", wantErr: true},
				{arg: "'/etc/passwd'", wantErr: true},
				{arg: "'A B'", wantErr: true},
				{arg: "''", wantErr: true},
				{arg: "'A.(M)'", wantErr: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := newSFTPPaths(tt.home, tt.root, tt.datasets)
			if err != nil {
				t.Fatal(err)
			}
			if tt.cwd != "" {
				p.setCwd(tt.cwd)
			}
			if got := p.pwd(); got != tt.pwd {
				t.Errorf("pwd = %q, want %q", got, tt.pwd)
			}
			for _, s := range tt.steps {
				got, ds, err := p.resolve(s.arg)
				if (err != nil) != s.wantErr || got != s.want || ds != s.dataset {
					t.Errorf("resolve(%q) = %q, %v, %v; want %q, %v, error %v", s.arg, got, ds, err, s.want, s.dataset, s.wantErr)
				}
			}
		})
	}
}

func TestSFTPPathsDisplay(t *testing.T) {
	p, _ := newSFTPPaths("/home/job", "/srv/ftp", "")
	for abs, want := range map[string]string{
		"/srv/ftp":       "/",
		"/srv/ftp/a/b":   "/a/b",
		"/srv/ftp2":      "/",
		"/etc":           "/",
		"/srv/ftp/a(b)c": "/a(b)c",
	} {
		if got := p.display(abs); got != want {
			t.Errorf("display(%q) = %q, want %q", abs, got, want)
		}
	}
	p, _ = newSFTPPaths("/home/job", "", "")
	if got := p.display("/etc"); got != "/etc" {
		t.Errorf("no root: display(/etc) = %q", got)
	}
	p.setCwd("/tmp/../var")
	if got := p.pwd(); got != "/var" {
		t.Errorf("no root: pwd after setCwd = %q, want /var", got)
	}
}

func TestNewSFTPPathsErrors(t *testing.T) {
	for _, c := range []struct{ home, root string }{
		{"relative", ""},
		{"", ""},
		{"/home/a\x00b", ""},
		{"/home/job", "a\x00b"},
		{"/home/job", "\n"},
	} {
		if _, err := newSFTPPaths(c.home, c.root, ""); err == nil {
			t.Errorf("newSFTPPaths(%q, %q) gave no error", c.home, c.root)
		}
	}
}

func FuzzSFTPPath(f *testing.F) {
	for _, s := range []string{"..", "../..", "/", "a/../../x", "'HLQ.A.B'", "'A.B(M)'", "x\x00y", "/../root2", "'../x'", "'A.B(+1)'"} {
		f.Add("/srv/root", "", s, s)
		f.Add("/", "//", s, "..")
	}
	f.Fuzz(func(t *testing.T, root, datasets, cd, arg string) {
		if root == "" {
			root = "/"
		}
		p, err := newSFTPPaths("/home/job", root, datasets)
		if err != nil {
			return
		}
		check := func(arg string) {
			got, ds, err := p.resolve(arg)
			if err != nil {
				return
			}
			if strings.ContainsRune(got, 0) {
				t.Fatalf("resolve(%q) = %q holds NUL", arg, got)
			}
			if ds {
				rest := strings.TrimPrefix(got, p.datasets)
				if strings.Contains(rest, "/") || strings.Contains(rest, "..") {
					t.Fatalf("resolve(%q) = data set %q with a path in it", arg, got)
				}
				return
			}
			if path.Clean(got) != got || !underRoot(p.root, got) {
				t.Fatalf("root %q: resolve(%q) = %q, not Clean under the root", p.root, arg, got)
			}
			if d := p.display(got); !path.IsAbs(d) {
				t.Fatalf("display(%q) = %q", got, d)
			}
		}
		// Change directory through a resolved path first, as CWD does.
		if dir, ds, err := p.resolve(cd); err == nil && !ds {
			p.setCwd(dir)
		}
		check(arg)
		check(cd)
	})
}
