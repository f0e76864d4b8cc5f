package ftp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"sync"

	"github.com/pkg/sftp"
)

// Transfers of an ftp-sftp session on pkg/sftp clients. Every transfer
// keeps many SFTP requests in flight; with several clients (streams, each
// its own SSH session channel) one large transfer is spread over them, so
// that no single channel's window bounds it.

// sftpRequestsPerFile is how many requests one file handle keeps in
// flight: 64 of 32 KiB fill an OpenSSH channel window of 2 MiB.
const sftpRequestsPerFile = 64

// streamChunk is the piece of a file one stream reads or writes at a time.
// Each client has streamWorkers chunks in flight at once, so that its
// channel always has the next chunk's requests queued while the last acks
// of a chunk come back (one chunk at a time leaves the channel idle for a
// round trip per chunk). streamBuffers per client (one more than the
// workers, for the chunk being read from or written to the job) bounds the
// memory of a transfer over several clients (chunk × buffers × clients).
const (
	streamChunk   = 2 << 20
	streamWorkers = 2
	streamBuffers = streamWorkers + 1
)

// jobIOSize is the buffer between a single-stream transfer and the job's
// data connection.
const jobIOSize = 256 << 10

// minStreamed is the smallest RETR that is spread over several clients.
const minStreamed = 16 << 20

// newSFTPClient starts an SFTP client on rwc (an "sftp" subsystem
// channel) with the options every ftp-sftp transfer relies on: concurrent
// reads and writes, and sftpRequestsPerFile requests in flight per file.
// Closing the client closes rwc.
func newSFTPClient(rwc io.ReadWriteCloser) (*sftp.Client, error) {
	cl, err := sftp.NewClientPipe(rwc, rwc,
		sftp.UseConcurrentReads(true),
		sftp.UseConcurrentWrites(true),
		sftp.MaxConcurrentRequestsPerFile(sftpRequestsPerFile))
	if err != nil {
		return nil, fmt.Errorf("ftp: start SFTP client: %w", err)
	}
	return cl, nil
}

// storeSpec says how a STOR/APPE/STOU writes.
type storeSpec struct {
	Target  string // absolute server path (from resolve)
	InPlace bool   // data set names (a datasets prefix), APPE, REST+STOR: write the target itself
	Append  bool   // APPE: write at the end
	Offset  int64  // REST+STOR: start here (in place, no truncation before Offset)
}

// storeFile writes r to the server; n is the bytes taken from r.
//
// Unless spec.InPlace, it writes a temporary file in the target's
// directory (".socksd-<base>-<random>.part") and renames it over the
// target only once every byte is written and every handle closed without
// error: with posix-rename@openssh.com where the server has it, else by
// rename, and where that fails (the target exists) by removing the target
// and renaming. On any failure it removes the temporary file (best effort)
// and returns the error; the target is then untouched. A replaced target's
// permission bits are copied to the new file (best effort).
//
// In place, it writes the target itself through cls[0]: from spec.Offset
// (truncating what lies beyond the written end, as a resumed upload
// needs), or from the target's end with spec.Append, or from the start
// (truncating) otherwise. A failure then leaves what was written.
//
// With several clients (streams) and not in place, it reads r in chunks
// of streamChunk and spreads them over the clients, each with its own
// handle on the temporary file writing at the chunks' offsets; at most
// streamBuffers chunks per client are in memory.
func storeFile(cls []*sftp.Client, spec storeSpec, r io.Reader) (n int64, err error) {
	if len(cls) == 0 {
		return 0, errors.New("ftp: store: no SFTP client")
	}
	if spec.InPlace || spec.Append || spec.Offset > 0 {
		return storeInPlace(cls[0], spec, r)
	}
	cl := cls[0]
	dir, base := path.Split(spec.Target)
	if len(base) > 100 {
		base = base[:100]
	}
	tmp := path.Join(dir, fmt.Sprintf(".socksd-%s-%016x.part", base, rand.Uint64()))
	f, err := cl.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return 0, fmt.Errorf("ftp: store %s: create temporary file: %w", spec.Target, err)
	}
	if len(cls) > 1 {
		n, err = storeStreams(cls, f, tmp, r)
	} else {
		// ReadFromWithConcurrency reads one SFTP packet (32 KiB) at a
		// time: take the job's data in fewer, larger reads.
		n, err = f.ReadFromWithConcurrency(bufio.NewReaderSize(r, jobIOSize), 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		if fi, serr := cl.Stat(spec.Target); serr == nil && fi.Mode().IsRegular() {
			_ = cl.Chmod(tmp, fi.Mode().Perm())
		}
		err = renameInto(cl, tmp, spec.Target, hasPosixRename(cl))
	}
	if err != nil {
		err = markNoSpace(cl, dir, err)
		removeTemp(cls, tmp)
		return n, fmt.Errorf("ftp: store %s: %w", spec.Target, err)
	}
	return n, nil
}

// hasPosixRename reports whether the server has posix-rename@openssh.com.
func hasPosixRename(cl *sftp.Client) bool {
	_, ok := cl.HasExtension("posix-rename@openssh.com")
	return ok
}

// renameInto renames tmp over target: with posix-rename@openssh.com when
// posix, else by a plain rename (SFTP v3, which fails on an existing
// target) and, where that fails while tmp exists and target is a file or
// link, by removing target and renaming again.
func renameInto(cl *sftp.Client, tmp, target string, posix bool) error {
	if posix {
		return cl.PosixRename(tmp, target)
	}
	err := cl.Rename(tmp, target)
	if err == nil {
		return nil
	}
	// Remove the target only when it is what stands in the way: tmp is
	// there and the target is a file.
	if _, serr := cl.Lstat(tmp); serr != nil {
		return err
	}
	if fi, serr := cl.Lstat(target); serr != nil || fi.IsDir() {
		return err
	}
	if rerr := cl.Remove(target); rerr != nil {
		return err
	}
	return cl.Rename(tmp, target)
}

// removeTemp removes a temporary file through the first client that can.
func removeTemp(cls []*sftp.Client, tmp string) {
	for _, cl := range cls {
		if err := cl.Remove(tmp); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
	}
}

// storeInPlace writes the target itself (see storeFile).
func storeInPlace(cl *sftp.Client, spec storeSpec, r io.Reader) (int64, error) {
	flags := os.O_WRONLY | os.O_CREATE
	if !spec.Append && spec.Offset <= 0 {
		flags |= os.O_TRUNC
	}
	f, err := cl.OpenFile(spec.Target, flags)
	if err != nil {
		return 0, fmt.Errorf("ftp: store %s: %w", spec.Target, err)
	}
	start := max(spec.Offset, 0)
	if spec.Append {
		fi, err := f.Stat()
		if err != nil {
			_ = f.Close()
			return 0, fmt.Errorf("ftp: store %s: stat: %w", spec.Target, err)
		}
		start = fi.Size()
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		_ = f.Close()
		return 0, fmt.Errorf("ftp: store %s: %w", spec.Target, err)
	}
	n, err := f.ReadFromWithConcurrency(r, 0)
	if err == nil && !spec.Append && spec.Offset > 0 {
		// A resumed upload ends where the data ends.
		if fi, serr := f.Stat(); serr == nil && fi.Size() > start+n {
			err = f.Truncate(start + n)
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("ftp: store %s: %w", spec.Target, markNoSpace(cl, path.Dir(spec.Target), err))
	}
	return n, nil
}

// storeStreams writes r to the open temporary file tmp (f, of cls[0])
// through every client, and closes every handle. It returns the bytes
// taken from r and the first error.
func storeStreams(cls []*sftp.Client, f *sftp.File, tmp string, r io.Reader) (int64, error) {
	more, err := openAll(cls[1:], tmp, os.O_WRONLY)
	files := append([]*sftp.File{f}, more...)
	closeAll := func(err error) error {
		if cerr := closeFiles(files); err == nil {
			err = cerr
		}
		return err
	}
	if err != nil {
		return 0, closeAll(err)
	}

	type chunk struct {
		buf []byte
		off int64
	}
	free := make(chan []byte, streamBuffers*len(files))
	for range cap(free) {
		free <- make([]byte, streamChunk)
	}
	jobs := make(chan chunk)
	failed := make(chan struct{})
	var (
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err; close(failed) })
	}
	for _, g := range files {
		for range streamWorkers {
			wg.Go(func() {
				for c := range jobs {
					if _, err := g.WriteAt(c.buf, c.off); err != nil {
						fail(err)
					}
					free <- c.buf[:cap(c.buf)]
				}
			})
		}
	}
	var n int64
read:
	for {
		var buf []byte
		select {
		case buf = <-free:
		case <-failed:
			break read
		}
		m, rerr := io.ReadFull(r, buf)
		if m > 0 {
			select {
			case jobs <- chunk{buf[:m], n}:
			case <-failed:
				n += int64(m)
				break read
			}
			n += int64(m)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			fail(rerr)
			break
		}
	}
	close(jobs)
	wg.Wait()
	return n, closeAll(firstErr)
}

// retrieveFile writes the server file path, from offset, to w; n is the
// bytes written to w. Reads keep many requests in flight (File.WriteTo).
// With several clients and at least minStreamed bytes to send, the file
// is cut into chunks of streamChunk read by every client at once (ReadAt,
// each with its own handle) and written to w in order, with at most
// streamBuffers chunks per client in memory; what the file has grown by
// meanwhile is sent after them.
func retrieveFile(cls []*sftp.Client, p string, offset int64, w io.Writer) (n int64, err error) {
	if len(cls) == 0 {
		return 0, errors.New("ftp: retrieve: no SFTP client")
	}
	f, err := cls[0].Open(p)
	if err != nil {
		return 0, fmt.Errorf("ftp: retrieve %s: %w", p, err)
	}
	defer func() { _ = f.Close() }()
	offset = max(offset, 0)
	if len(cls) > 1 {
		fi, err := f.Stat()
		if err != nil {
			return 0, fmt.Errorf("ftp: retrieve %s: %w", p, err)
		}
		if fi.Mode().IsRegular() && fi.Size()-offset >= minStreamed {
			n, err = retrieveStreams(cls, f, p, offset, fi.Size(), w)
			if err != nil {
				return n, fmt.Errorf("ftp: retrieve %s: %w", p, err)
			}
			offset += n
		}
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return n, fmt.Errorf("ftp: retrieve %s: %w", p, err)
	}
	// WriteTo writes one SFTP packet (32 KiB) at a time: gather them into
	// fewer, larger writes to the job's side.
	bw := bufio.NewWriterSize(w, jobIOSize)
	m, err := f.WriteTo(bw)
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	n += m - int64(bw.Buffered())
	if err != nil {
		return n, fmt.Errorf("ftp: retrieve %s: %w", p, err)
	}
	return n, nil
}

// retrieveStreams writes [offset, end) of the file p (open as f on
// cls[0]) to w, read through every client.
func retrieveStreams(cls []*sftp.Client, f *sftp.File, p string, offset, end int64, w io.Writer) (int64, error) {
	more, err := openAll(cls[1:], p, os.O_RDONLY)
	defer func() { _ = closeFiles(more) }()
	if err != nil {
		return 0, err
	}
	files := append([]*sftp.File{f}, more...)

	type chunk struct {
		buf  []byte
		off  int64
		n    int
		err  error
		done chan struct{}
	}
	nbuf := streamBuffers * len(files)
	free := make(chan []byte, nbuf)
	for range nbuf {
		free <- make([]byte, streamChunk)
	}
	order := make(chan *chunk, nbuf) // chunks in file order, for the writer
	jobs := make(chan *chunk)        // chunks for the readers
	quit := make(chan struct{})
	var wg sync.WaitGroup
	for _, g := range files {
		for range streamWorkers {
			wg.Go(func() {
				for c := range jobs {
					c.n, c.err = g.ReadAt(c.buf, c.off)
					close(c.done)
				}
			})
		}
	}
	wg.Go(func() {
		defer close(order)
		defer close(jobs)
		for off := offset; off < end; off += streamChunk {
			var buf []byte
			select {
			case buf = <-free:
			case <-quit:
				return
			}
			c := &chunk{buf: buf[:min(streamChunk, end-off)], off: off, done: make(chan struct{})}
			order <- c // never blocks: order holds at most nbuf chunks
			select {
			case jobs <- c:
			case <-quit:
				return
			}
		}
	})
	var n int64
	for c := range order {
		if err != nil {
			// Draining after a failure: this chunk may never have been
			// handed to a reader, so do not wait for it.
			continue
		}
		// Until quit (closed only here), every chunk reaches a reader.
		<-c.done
		if c.n > 0 {
			m, werr := w.Write(c.buf[:c.n])
			n += int64(m)
			if werr != nil {
				err = werr
			}
		}
		if err == nil && c.err != nil && !(c.err == io.EOF && c.n < len(c.buf)) {
			err = c.err
		}
		if err == nil && c.n < len(c.buf) {
			// The file shrank: stop at the first short chunk.
			err = io.EOF
		}
		free <- c.buf[:cap(c.buf)]
		if err != nil {
			close(quit) // once: later chunks are only drained
		}
	}
	wg.Wait()
	if err == io.EOF {
		err = nil
	}
	return n, err
}

// openAll opens p with flags through every client at once (each open is a
// round trip, which a distant server makes long). It returns the files
// opened, also on an error, which is the first one.
func openAll(cls []*sftp.Client, p string, flags int) ([]*sftp.File, error) {
	files := make([]*sftp.File, len(cls))
	errs := make([]error, len(cls))
	var wg sync.WaitGroup
	for i, cl := range cls {
		wg.Go(func() { files[i], errs[i] = cl.OpenFile(p, flags) })
	}
	wg.Wait()
	opened := files[:0]
	for _, g := range files {
		if g != nil {
			opened = append(opened, g)
		}
	}
	for _, err := range errs {
		if err != nil {
			return opened, err
		}
	}
	return opened, nil
}

// closeFiles closes every file at once and returns the first error.
func closeFiles(files []*sftp.File) error {
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, g := range files {
		wg.Go(func() { errs[i] = g.Close() })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
