package ftp

import (
	"io"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkg/sftp"

	"socksd/internal/testing/wait"
)

// pipeEnd is one end of an SFTP connection made of two os.Pipe pairs.
// n, where set, counts the bytes read and written.
type pipeEnd struct {
	r *os.File
	w *os.File
	n *atomic.Int64
}

func (p pipeEnd) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if p.n != nil {
		p.n.Add(int64(n))
	}
	return n, err
}

func (p pipeEnd) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	if p.n != nil {
		p.n.Add(int64(n))
	}
	return n, err
}
func (p pipeEnd) Close() error {
	werr := p.w.Close()
	if err := p.r.Close(); err != nil {
		return err
	}
	return werr
}

// pipePair is two connected pipeEnds.
func pipePair(t testing.TB) (client, server pipeEnd) {
	t.Helper()
	cr, sw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	sr, cw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	return pipeEnd{r: cr, w: cw}, pipeEnd{r: sr, w: sw}
}

// testSFTPClients starts n in-process SFTP servers (sftp.NewServer, the
// real file system; use absolute paths under a t.TempDir) and a client of
// newSFTPClient on each, all closed at the end of the test. kill closes
// the server ends at once, as a dying SSH connection would.
func testSFTPClients(t testing.TB, n int) (cls []*sftp.Client, kill func()) {
	t.Helper()
	cls, kill, _ = testSFTPClientsCounted(t, n)
	return cls, kill
}

// testSFTPClientsCounted is testSFTPClients with counters of the bytes
// each server read and wrote.
func testSFTPClientsCounted(t testing.TB, n int) (cls []*sftp.Client, kill func(), counts []*atomic.Int64) {
	t.Helper()
	var ends []pipeEnd
	var done []chan struct{}
	for range n {
		c, s := pipePair(t)
		s.n = new(atomic.Int64)
		counts = append(counts, s.n)
		srv, err := sftp.NewServer(s)
		if err != nil {
			t.Fatal(err)
		}
		ch := make(chan struct{})
		go func() { _ = srv.Serve(); _ = srv.Close(); close(ch) }()
		cl, err := newSFTPClient(c)
		if err != nil {
			t.Fatal(err)
		}
		cls = append(cls, cl)
		ends = append(ends, s)
		done = append(done, ch)
	}
	kill = func() {
		for _, s := range ends {
			_ = s.Close()
		}
	}
	t.Cleanup(func() {
		for _, cl := range cls {
			_ = cl.Close()
		}
		kill()
		for _, ch := range done {
			wait.Until(t, "SFTP server ended", 30*time.Second, func() bool {
				select {
				case <-ch:
					return true
				default:
					return false
				}
			})
		}
	})
	return cls, kill, counts
}

// statVFSHandlers is an in-memory request server whose StatVFS reports
// st, for diskFull.
type statVFSHandlers struct {
	sftp.FileCmder
	st sftp.StatVFS
}

func (h statVFSHandlers) StatVFS(*sftp.Request) (*sftp.StatVFS, error) {
	st := h.st
	return &st, nil
}

// testStatVFSClient is a client of an in-memory server whose statvfs
// reports st.
func testStatVFSClient(t testing.TB, st sftp.StatVFS) *sftp.Client {
	t.Helper()
	c, s := pipePair(t)
	h := sftp.InMemHandler()
	h.FileCmd = statVFSHandlers{h.FileCmd, st}
	srv := sftp.NewRequestServer(s, h)
	go func() { _ = srv.Serve(); _ = srv.Close() }()
	cl, err := newSFTPClient(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close(); _ = s.Close() })
	return cl
}

var _ io.ReadWriteCloser = pipeEnd{}
