package tunnel

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"socksd/internal/testing/testpeer"

	"golang.org/x/crypto/ssh"
)

// drain reads c until the client hangs up, as a server that waits does.
func drain(c net.Conn) { io.Copy(io.Discard, c) }

// TestScanNotSSH: a peer that is not an SSH server ends the scan with an
// error that says what it sent, never a transport error.
func TestScanNotSSH(t *testing.T) {
	tests := []struct {
		name  string
		serve func(c net.Conn)
		want  string
	}{
		{"silent", drain, `no SSH banner: the peer sent nothing within 500ms`},
		{"ftp greeting", func(c net.Conn) {
			io.WriteString(c, "220 (vsFTPd 3.0.3)\r\n")
			drain(c)
		}, `no SSH banner: the peer sent "220 (vsFTPd 3.0.3)" instead`},
		{"http answer", func(c net.Conn) {
			bufio.NewReader(c).ReadString('\n')
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request")
		}, `no SSH banner: the peer sent "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConne"... instead`},
		{"closes at once", func(net.Conn) {}, `no SSH banner: the peer closed the connection without sending anything`},
		{"terminal escapes", func(c net.Conn) {
			io.WriteString(c, "\x1b[2Jhi\x00\xff\n")
			drain(c)
		}, `no SSH banner: the peer sent "\x1b[2Jhi\x00\xff" instead`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := testpeer.ServeTCP(t, tt.serve)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			keys, err := ScanHostKeys(ctx, addr, 500*time.Millisecond)
			if err == nil {
				t.Fatalf("scan found %d keys", len(keys))
			}
			if ctx.Err() != nil {
				t.Fatalf("the scan outlived its timeout: %v", err)
			}
			if !errors.Is(err, ErrNoSSHBanner) || !strings.HasSuffix(err.Error(), tt.want) ||
				!strings.HasPrefix(err.Error(), "tunnel: scan "+addr+": ") {
				t.Errorf("error %q, want one ending %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "closed network connection") {
				t.Errorf("error %q names a transport detail", err)
			}
		})
	}
}

// TestScanLinesBeforeVersion: RFC 4253 lets a server send other lines
// before its version line; the scan reads past them and finds the key.
func TestScanLinesBeforeVersion(t *testing.T) {
	signer := newSigner(t)
	cfg := &ssh.ServerConfig{NoClientAuth: true}
	cfg.AddHostKey(signer)
	addr := testpeer.ServeTCP(t, func(c net.Conn) {
		io.WriteString(c, "welcome\r\nto the scan test\r\n")
		ssh.NewServerConn(c, cfg) // ends when the scanner hangs up
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys, err := ScanHostKeys(ctx, addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || Fingerprint(keys[0]) != Fingerprint(signer.PublicKey()) {
		t.Fatalf("scan found %v", keys)
	}
}

func TestShown(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"220 ready\r\n", `"220 ready"`},
		{"\x1b]0;x\a", `"\x1b]0;x\a"`},
		{strings.Repeat("a", 100), `"` + strings.Repeat("a", shownBytes) + `"...`},
		{"é", `"\u00e9"`},
	} {
		if got := shown([]byte(tt.in)); got != tt.want {
			t.Errorf("shown(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
