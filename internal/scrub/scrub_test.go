package scrub

import (
	"bytes"
	"os"
	"runtime"
	"testing"
	"unsafe"
)

// pattern is what the test allocations hold; built at run time so that the
// test binary's data does not contain it.
func pattern() []byte {
	p := make([]byte, 0, 32)
	for i := range 32 {
		p = append(p, byte('a'+i%26))
	}
	return p
}

// fill allocates an n-byte heap buffer (n is not a constant, so the buffer
// cannot live on the stack) holding the pattern and returns only its
// address, so the buffer is garbage when fill returns.
//
//go:noinline
func fill(p []byte, n int) uintptr {
	b := make([]byte, n)
	copy(b[1000:], p)
	return uintptr(unsafe.Pointer(&b[0]))
}

// peek reads n bytes at addr through /proc/self/mem, which works whether or
// not the Go heap still uses them. Its buffer is small, so it does not
// reuse the freed 4 KiB slots it looks at.
func peek(t *testing.T, addr uintptr, n int) []byte {
	t.Helper()
	f, err := os.Open("/proc/self/mem")
	if err != nil {
		t.Skipf("cannot read this process's memory: %v", err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, int64(addr)); err != nil {
		t.Fatalf("read memory at %#x: %v", addr, err)
	}
	return b
}

func TestDoCallsF(t *testing.T) {
	called := false
	Do(func() { called = true })
	if !called {
		t.Fatal("Do did not call f")
	}
}

// TestReleaseErasesGarbage checks the point of the package: buffers
// allocated under Do no longer hold their contents once they are garbage
// and Release has run, while buffers allocated outside Do still do (which
// shows the check can see a copy). Live anchors between the buffers keep
// their spans in use, so the runtime does not hand the pages back or reuse
// them for other sizes; with 64 of each, reuse of a freed slot cannot hide
// them all.
func TestReleaseErasesGarbage(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self/mem")
	}
	const n = 64
	p := pattern()
	var plain, scrubbed [n]uintptr
	anchors := make([][]byte, 0, 2*n)
	size := 4096
	for i := range n {
		plain[i] = fill(p, size)
		anchors = append(anchors, make([]byte, size))
		Do(func() { scrubbed[i] = fill(p, size) })
		anchors = append(anchors, make([]byte, size))
	}
	Release()
	runtime.GC() // Release is a no-op when not Enabled
	left := func(addrs [n]uintptr) int {
		k := 0
		for _, a := range addrs {
			if bytes.Equal(peek(t, a+1000, len(p)), p) {
				k++
			}
		}
		return k
	}
	leftPlain, leftScrubbed := left(plain), left(scrubbed)
	runtime.KeepAlive(anchors)
	t.Logf("Enabled=%v; of %d freed buffers each, still holding the pattern: %d allocated outside Do, %d under Do", Enabled, n, leftPlain, leftScrubbed)
	if leftPlain == 0 {
		t.Fatal("every buffer allocated outside Do was overwritten; the check cannot tell erasure from reuse")
	}
	if Enabled && leftScrubbed > 0 {
		t.Fatalf("%d buffers allocated under Do still hold their contents after Release", leftScrubbed)
	}
	if !Enabled && os.Getenv("CI") == "true" {
		t.Fatal("built without GOEXPERIMENT=runtimesecret: secrets cannot be erased (make test sets it)")
	}
}
