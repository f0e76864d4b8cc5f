package ftp

// TEMPORARY: minimal stand-ins for the building blocks that branch
// h-sftputil provides (sftplist.go, sftppath.go, lineend.go, sftperr.go),
// so that the server side compiles and its tests run before that branch
// lands. This file is deleted when h-sftputil is merged.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/pkg/sftp"
)

func newWireToServer(r io.Reader, lineEnd string) io.Reader {
	if lineEnd == LineEndCRLF {
		return r
	}
	pr, pw := io.Pipe()
	go func() {
		br := bufio.NewReader(r)
		bw := bufio.NewWriter(pw)
		var err error
		for {
			var b byte
			b, err = br.ReadByte()
			if err != nil {
				break
			}
			if b == '\r' {
				nb, perr := br.Peek(1)
				if perr == nil && nb[0] == '\n' {
					continue
				}
			}
			if err = bw.WriteByte(b); err != nil {
				break
			}
		}
		if err == io.EOF {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	return pr
}

type stubToWire struct {
	w      *bufio.Writer
	lineCR bool
	prevCR bool
}

func newServerToWire(w io.Writer, lineEnd string) io.WriteCloser {
	return &stubToWire{w: bufio.NewWriter(w), lineCR: lineEnd == LineEndCRLF}
}

func (c *stubToWire) Write(p []byte) (int, error) {
	for _, b := range p {
		if b == '\n' && !c.lineCR && !c.prevCR {
			if err := c.w.WriteByte('\r'); err != nil {
				return 0, err
			}
		}
		if err := c.w.WriteByte(b); err != nil {
			return 0, err
		}
		c.prevCR = b == '\r'
	}
	return len(p), nil
}

func (c *stubToWire) Close() error { return c.w.Flush() }

type sftpPaths struct {
	root     string
	cwd      string
	datasets string
}

func newSFTPPaths(home, root, datasets string) (*sftpPaths, error) {
	r := "/"
	if root != "" {
		r = root
		if !path.IsAbs(r) {
			r = path.Join(home, r)
		}
	}
	p := &sftpPaths{root: path.Clean(r), datasets: datasets}
	p.cwd = p.root
	if root == "" {
		p.cwd = path.Clean(home)
	}
	return p, nil
}

func (p *sftpPaths) resolve(arg string) (string, bool, error) {
	if arg == "" {
		return p.cwd, false, nil
	}
	if len(arg) >= 2 && arg[0] == '\'' && arg[len(arg)-1] == '\'' {
		name := arg[1 : len(arg)-1]
		if p.datasets != "" && p.datasets != StripQuotes {
			return p.datasets + name, true, nil
		}
		arg = name
	}
	var abs string
	if path.IsAbs(arg) {
		abs = path.Join(p.root, arg)
	} else {
		abs = path.Join(p.cwd, arg)
	}
	if p.root != "/" && abs != p.root && !strings.HasPrefix(abs, p.root+"/") {
		return "", false, fmt.Errorf("ftp: %q is outside the root", arg)
	}
	return abs, false, nil
}

func (p *sftpPaths) pwd() string       { return p.display(p.cwd) }
func (p *sftpPaths) setCwd(abs string) { p.cwd = abs }
func (p *sftpPaths) display(abs string) string {
	if p.root == "/" {
		return abs
	}
	return "/" + strings.TrimPrefix(strings.TrimPrefix(abs, p.root), "/")
}

func listLine(fi os.FileInfo, now time.Time) string {
	t := fi.ModTime().Format("Jan _2 15:04")
	if now.Sub(fi.ModTime()) > 180*24*time.Hour {
		t = fi.ModTime().Format("Jan _2  2006")
	}
	return fmt.Sprintf("%s 1 owner group %12d %s %s", fi.Mode().String(), fi.Size(), t, fi.Name())
}

func mlsxLine(fi os.FileInfo, name string) string {
	typ := "file"
	if fi.IsDir() {
		typ = "dir"
	}
	return fmt.Sprintf("type=%s;size=%d;modify=%s; %s", typ, fi.Size(), fi.ModTime().UTC().Format("20060102150405"), name)
}

func sftpReply(err error, transfer bool) (int, string) {
	var se *sftp.StatusError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return 550, "No such file or directory."
	case errors.Is(err, fs.ErrPermission):
		return 550, "Permission denied."
	case errors.As(err, &se):
		return 451, sanitize(se.Error(), nil)
	case errors.Is(err, sftp.ErrSSHFxConnectionLost), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return 421, "SFTP connection lost."
	}
	if transfer {
		return 426, sanitize(err.Error(), nil)
	}
	return 451, sanitize(err.Error(), nil)
}

func diskFull(cl *sftp.Client, dir string) bool { return false }

type storeSpec struct {
	Target  string
	InPlace bool
	Append  bool
	Offset  int64
}

func storeFile(cls []*sftp.Client, spec storeSpec, r io.Reader) (int64, error) {
	cl := cls[0]
	name := spec.Target
	if !spec.InPlace {
		name = path.Join(path.Dir(spec.Target), ".socksd-"+path.Base(spec.Target)+".part")
	}
	flags := os.O_WRONLY | os.O_CREATE
	switch {
	case spec.Append:
		flags |= os.O_APPEND
	case spec.Offset == 0:
		flags |= os.O_TRUNC
	}
	f, err := cl.OpenFile(name, flags)
	if err != nil {
		return 0, err
	}
	if spec.Offset > 0 && !spec.Append {
		if _, err := f.Seek(spec.Offset, io.SeekStart); err != nil {
			f.Close()
			return 0, err
		}
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if !spec.InPlace {
			_ = cl.Remove(name)
		}
		return n, err
	}
	if !spec.InPlace {
		if err := cl.PosixRename(name, spec.Target); err != nil {
			_ = cl.Remove(name)
			return n, err
		}
	}
	return n, nil
}

func retrieveFile(cls []*sftp.Client, p string, offset int64, w io.Writer) (int64, error) {
	f, err := cls[0].Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			return 0, err
		}
	}
	return io.Copy(w, f)
}

func newSFTPClient(rwc io.ReadWriteCloser) (*sftp.Client, error) {
	return sftp.NewClientPipe(rwc, rwc)
}
