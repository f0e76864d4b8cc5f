package demo

import (
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net"
	"time"
)

// progressReader hashes what passes through it and calls step each time
// another tenth of total has passed.
type progressReader struct {
	r     io.Reader
	h     hash.Hash
	total int64
	n     int64
	next  int64 // tenths reported so far
	step  func(n int64, tenth int64)
}

func newProgressReader(r io.Reader, total int64, step func(n, tenth int64)) *progressReader {
	return &progressReader{r: r, h: sha256.New(), total: total, step: step}
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.h.Write(b[:n])
		p.n += int64(n)
		for p.total > 0 && p.next < 10 && p.n*10 >= (p.next+1)*p.total {
			p.next++
			p.step(p.n, p.next)
		}
	}
	return n, err
}

// sum is the SHA-256 of what was read so far.
func (p *progressReader) sum() [32]byte {
	var s [32]byte
	copy(s[:], p.h.Sum(nil))
	return s
}

// patternSeed makes the long transfer's data: a fixed pseudo-random
// stream, incompressible and the same in every run.
var patternSeed = [32]byte{'s', 'o', 'c', 'k', 's', 'd', '-', 'd', 'e', 'm', 'o'}

// dialLoopback dials a loopback address with ctx's deadline on the
// connection.
func dialLoopback(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	bindConn(ctx, c)
	return c, nil
}

// longTransfer stores a large file in passive mode and reads it back,
// with progress lines, and takes the console snapshot halfway through the
// upload.
func (e *env) longTransfer(ctx context.Context) {
	total := int64(e.opt.SizeMiB) << 20
	remote := "longrun.bin"
	e.out.Section(fmt.Sprintf("Long transfer: %s up and back down (passive, jlaffaye/ftp)", size(total)))
	pc, err := dialPassive(ctx, e.socks, e.ftp.Addr().String())
	if err != nil {
		e.out.Check("long: connect through socksd", false, "%v", err)
		return
	}
	defer pc.Close()
	if err := pc.Login(demoUser, e.password); err != nil {
		e.out.Check("long: login", false, "%v", err)
		return
	}

	start := time.Now()
	progress := func(verb string) func(n, tenth int64) {
		return func(n, tenth int64) {
			el := time.Since(start)
			e.out.Detailf("%s %-12s %3d%%  %10s  %7v  %s", verb, remote, tenth*10, size(n), el.Round(time.Millisecond), rate(n, el))
		}
	}
	up := newProgressReader(io.LimitReader(rand.NewChaCha8(patternSeed), total), total, progress("STOR"))
	snap := up.step
	up.step = func(n, tenth int64) {
		snap(n, tenth)
		if tenth == 5 {
			e.takeSnapshot()
		}
	}
	err = pc.c.Stor(remote, up)
	upTook := time.Since(start)
	if err != nil || up.n != total {
		e.out.Check("long: STOR", false, "%d of %d bytes: %v", up.n, total, err)
		return
	}
	local := up.sum()
	srvSum, srvN, err := e.ftp.Sum(remote)
	ok := err == nil && srvSum == local && srvN == total
	e.out.Transfer("long STOR "+remote, total, upTook, ok)
	e.out.Check("long: STOR "+size(total)+", server copy identical", ok,
		"%v, %s, SHA-256 local %s server %s", upTook.Round(time.Millisecond), rate(total, upTook), short(local), short(srvSum))

	start = time.Now()
	r, err := pc.c.Retr(remote)
	if err != nil {
		e.out.Check("long: RETR", false, "%v", err)
		return
	}
	down := newProgressReader(r, total, progress("RETR"))
	n, err := io.Copy(io.Discard, down)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	downTook := time.Since(start)
	back := down.sum()
	ok = err == nil && n == total && back == local
	e.out.Transfer("long RETR "+remote, n, downTook, ok)
	e.out.Check("long: RETR "+size(total)+", round trip identical", ok,
		"%v, %s, SHA-256 sent %s received %s", downTook.Round(time.Millisecond), rate(n, downTook), short(local), short(back))
	if err := pc.Quit(); err != nil {
		e.out.Check("long: QUIT", false, "%v", err)
	}
}
