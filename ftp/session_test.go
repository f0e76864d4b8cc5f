package ftp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"socksd/internal/relay"
	"socksd/internal/testing/testpeer"
)

func dialJob(t *testing.T, h *harness, ctx context.Context, direct bool, opts ...ftp.DialOption) *ftp.ServerConn {
	t.Helper()
	opts = append([]ftp.DialOption{ftp.DialWithDialFunc(h.socksDial(ctx, direct)), ftp.DialWithTimeout(20 * time.Second)}, opts...)
	c, err := ftp.Dial(h.v.Addr, opts...)
	if err != nil {
		t.Fatalf("dial: %v\nlog: %s", err, h.logBuf.String())
	}
	return c
}

func TestPassiveSocks(t *testing.T) {
	for _, epsv := range []bool{true, false} {
		t.Run("epsv="+map[bool]string{true: "on", false: "off"}[epsv], func(t *testing.T) {
			h := newHarness(t, testpeer.VSFTPDConfig{WriteEnable: true}, Options{Data: DataSocks})
			want := testpeer.Data(1<<20, 1)
			h.v.WriteFile(t, "in.bin", want)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := dialJob(t, h, ctx, false, ftp.DialWithDisabledEPSV(!epsv))
			if err := c.Login(h.v.User, h.v.Password); err != nil {
				t.Fatalf("login: %v\n%s", err, h.logBuf.String())
			}
			r, err := c.Retr("in.bin")
			if err != nil {
				t.Fatalf("retr: %v", err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("retr: %d bytes, %v", len(got), err)
			}
			if err := c.Stor("out.bin", bytes.NewReader(want)); err != nil {
				t.Fatalf("stor: %v", err)
			}
			if err := c.Quit(); err != nil {
				t.Fatal(err)
			}
			if err := h.waitServe(); err != nil {
				t.Fatalf("Serve: %v", err)
			}
			stored, err := os.ReadFile(filepath.Join(h.v.Root, "out.bin"))
			if err != nil || !bytes.Equal(stored, want) {
				t.Fatalf("stored file: %d bytes, %v", len(stored), err)
			}
			if n := h.tunnel(0).dials.Load(); n != 3 {
				t.Errorf("tunnel dials = %d, want 3 (control + 2 data)", n)
			}
			a := h.auditList()
			if len(a) != 2 || a[0].Command != "RETR" || a[0].Code != 226 || a[0].Bytes != int64(len(want)) ||
				a[1].Command != "STOR" || a[1].Code != 226 || a[1].Bytes != int64(len(want)) || a[0].Mode != "passive" ||
				a[0].Path != "in.bin" || a[0].User != h.v.User || a[0].SSHServer != "127.0.0.1:22" {
				t.Errorf("audit = %+v", a)
			}
			if strings.Contains(h.logBuf.String(), h.v.Password) {
				t.Error("password in the log")
			}
			// Each byte counts once: on the data connection's own
			// session; the control session has it in its data totals.
			n := int64(len(want))
			h.mu.Lock()
			sess := append([]*relay.Counters(nil), h.dataSess...)
			h.mu.Unlock()
			if len(sess) != 2 || sess[0].Down.Load() != n || sess[0].Up.Load() != 0 || sess[1].Up.Load() != n || sess[1].Down.Load() != 0 {
				t.Errorf("data sessions: %d, want RETR down %d then STOR up %d", len(sess), n, n)
			}
			if up, down := h.dataCtr.Up.Load(), h.dataCtr.Down.Load(); up != n || down != n {
				t.Errorf("control session data totals up=%d down=%d, want %d each", up, down, n)
			}
			if up, down := h.counters.Up.Load(), h.counters.Down.Load(); up >= n || down >= n {
				t.Errorf("control session's own counters up=%d down=%d include the data", up, down)
			}
		})
	}
}

// TestLargeBinaryBothWays moves 64 MiB each way through the rewrite
// listener and compares SHA-256 sums.
func TestLargeBinaryBothWays(t *testing.T) {
	const size = 64 << 20
	h := newHarness(t, testpeer.VSFTPDConfig{WriteEnable: true}, Options{Data: DataRewrite})
	f, err := os.Create(filepath.Join(h.v.Root, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, want), newSeededReader(size, 7)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.Chmod(f.Name(), 0o644)
	wantSum := want.Sum(nil)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := dialJob(t, h, ctx, true)
	if err := c.Login(h.v.User, h.v.Password); err != nil {
		t.Fatalf("login: %v", err)
	}
	r, err := c.Retr("big.bin")
	if err != nil {
		t.Fatalf("retr: %v", err)
	}
	got := sha256.New()
	n, err := io.Copy(got, r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil || n != size || !bytes.Equal(got.Sum(nil), wantSum) {
		t.Fatalf("retr: %d bytes, %v, sha256 equal %v", n, err, bytes.Equal(got.Sum(nil), wantSum))
	}
	if err := c.Stor("big.out", newSeededReader(size, 7)); err != nil {
		t.Fatalf("stor: %v", err)
	}
	c.Quit()
	if err := h.waitServe(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	sf, err := os.Open(filepath.Join(h.v.Root, "big.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	stored := sha256.New()
	if n, err := io.Copy(stored, sf); err != nil || n != size || !bytes.Equal(stored.Sum(nil), wantSum) {
		t.Fatalf("stored: %d bytes, %v", n, err)
	}
	a := h.auditList()
	if len(a) != 2 || a[0].Bytes != size || a[1].Bytes != size || a[0].Code != 226 || a[1].Code != 226 {
		t.Errorf("audit = %+v", a)
	}
	// The rewrite listener's connections have no session of their own:
	// they count on the control session, and in its data totals.
	if up, down := h.counters.Up.Load(), h.counters.Down.Load(); up < size || down < size {
		t.Errorf("session counters up=%d down=%d", up, down)
	}
	if up, down := h.dataCtr.Up.Load(), h.dataCtr.Down.Load(); up != size || down != size {
		t.Errorf("session data totals up=%d down=%d, want %d each", up, down, size)
	}
	if n := h.tunnel(0).dials.Load(); n != 3 {
		t.Errorf("tunnel dials = %d, want 3: data must go through the rewrite listener and the tunnel", n)
	}
}
