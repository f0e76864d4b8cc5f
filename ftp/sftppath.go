package ftp

import (
	"fmt"
	"path"
	"strings"
)

// sftpPaths maps FTP path arguments to server paths for one session. It
// keeps the current directory; it does no I/O.
type sftpPaths struct {
	root     string // absolute and Clean; "" = no confinement
	cwd      string // absolute and Clean; under root when there is one
	datasets string // StripQuotes or a prefix such as "//"
}

// newSFTPPaths starts a session's paths. home is the login directory the
// server reports (absolute, from sftp.Client.Getwd); root is
// SFTPOptions.Root ("" = no confinement: start at home, and absolute
// paths and .. go where the server lets them); a relative root is
// relative to home. datasets is SFTPOptions.Datasets after normalize
// (StripQuotes, or "" for the same, or a prefix such as "//").
func newSFTPPaths(home, root, datasets string) (*sftpPaths, error) {
	if !path.IsAbs(home) || strings.ContainsAny(home, "\x00\r\n") {
		return nil, fmt.Errorf("ftp: the SFTP server's login directory %q is not an absolute path", home)
	}
	if strings.ContainsAny(root, "\x00\r\n") {
		return nil, fmt.Errorf("ftp: root %q holds a control character", root)
	}
	if strings.ContainsAny(datasets, "\x00\r\n'") {
		return nil, fmt.Errorf("ftp: data set prefix %q holds a quote or control character", datasets)
	}
	if datasets == "" {
		datasets = StripQuotes
	}
	p := &sftpPaths{cwd: path.Clean(home), datasets: datasets}
	if root != "" {
		if path.IsAbs(root) {
			p.root = path.Clean(root)
		} else {
			p.root = path.Join(p.cwd, root)
		}
		p.cwd = p.root
	}
	return p, nil
}

// resolve turns an FTP argument into an absolute, Clean server path (""
// = the current directory).
//
// With a root, the job's "/" is the root and ".." stops there, as in a
// chroot: "/..", "../../x" and "a/../../x" all stay inside the root, so
// no argument can name anything outside it (resolve clamps, it does not
// fail).
//
// A quoted z/OS name ('HLQ.DATA.SET' or 'HLQ.PDS(MEM)') must be a valid
// data set name (qualifiers of letters, digits, @ # $ - _, a member of
// those and + for a relative generation): with StripQuotes it becomes
// that file name (HLQ.DATA.SET or HLQ.PDS(MEM)) in the current
// directory; with a prefix it becomes prefix+name (//HLQ.DATA.SET) with
// dataset true, which is not a file path and not subject to the root.
//
// An argument holding NUL, CR or LF is an error.
func (p *sftpPaths) resolve(arg string) (target string, dataset bool, err error) {
	if strings.ContainsAny(arg, "\x00\r\n") {
		return "", false, fmt.Errorf("ftp: path %q holds a control character", arg)
	}
	if t := strings.TrimSpace(arg); len(t) >= 2 && t[0] == '\'' && t[len(t)-1] == '\'' {
		name, err := datasetPath(t)
		if err != nil {
			return "", false, err
		}
		if p.datasets != StripQuotes {
			return p.datasets + name, true, nil
		}
		arg = name
	}
	if arg == "" {
		return p.cwd, false, nil
	}
	if p.root == "" {
		if path.IsAbs(arg) {
			return path.Clean(arg), false, nil
		}
		return path.Join(p.cwd, arg), false, nil
	}
	// In the job's view, where "/" is the root, Clean clamps ".." at "/".
	view := arg
	if !path.IsAbs(arg) {
		view = p.display(p.cwd) + "/" + arg
	}
	return path.Join(p.root, path.Clean("/"+view)), false, nil
}

// datasetPath checks a quoted data set name with DatasetName and returns
// it unquoted, the member in parentheses.
func datasetPath(quoted string) (string, error) {
	name, member, _, err := DatasetName(quoted)
	if err != nil {
		return "", err
	}
	for q := range strings.SplitSeq(name, ".") {
		if q == "" || !datasetChars(q, "") {
			return "", fmt.Errorf("ftp: data set name %q: bad qualifier %q", name, q)
		}
	}
	if member == "" {
		return name, nil
	}
	if !datasetChars(member, "+") {
		return "", fmt.Errorf("ftp: data set name %q: bad member %q", name, member)
	}
	return name + "(" + member + ")", nil
}

// datasetChars reports whether s holds only letters, digits, the national
// characters @ # $, - and _, and the bytes of extra.
func datasetChars(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case strings.IndexByte("@#$-_", c) >= 0, strings.IndexByte(extra, c) >= 0:
		default:
			return false
		}
	}
	return true
}

// pwd is what PWD shows: with a root, the current directory relative to
// it as "/..."; without, the absolute server path.
func (p *sftpPaths) pwd() string { return p.display(p.cwd) }

// setCwd makes abs (a result of resolve, a directory the server
// confirmed) current. With a root, a path outside it is ignored.
func (p *sftpPaths) setCwd(abs string) {
	abs = path.Clean(abs)
	if p.root != "" && !underRoot(p.root, abs) {
		return
	}
	p.cwd = abs
}

// display is how a server path is shown to the job (same rule as pwd),
// e.g. in a 257 reply. With a root, a path outside it shows as "/".
func (p *sftpPaths) display(abs string) string {
	if p.root == "" || p.root == "/" {
		return abs
	}
	if !underRoot(p.root, abs) {
		return "/"
	}
	if rest := abs[len(p.root):]; rest != "" {
		return rest
	}
	return "/"
}

// underRoot reports whether abs is root or below it, as a path: /root2 is
// not under /root.
func underRoot(root, abs string) bool {
	if root == "/" {
		return path.IsAbs(abs)
	}
	return abs == root || strings.HasPrefix(abs, root+"/")
}
