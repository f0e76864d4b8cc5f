package ftp

// TEMPORARY: minimal stand-ins for the building blocks that branch
// h-sftputil provides (sftperr.go and the transfer helpers),
// so that the server side compiles and its tests run before that branch
// lands. This file is deleted when h-sftputil is merged.

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"

	"github.com/pkg/sftp"
)

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
