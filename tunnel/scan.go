package tunnel

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Fingerprint returns the key's SHA256 fingerprint ("SHA256:...").
func Fingerprint(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) }

// scanAlgorithms lists one signature algorithm per key type a server may hold.
var scanAlgorithms = []string{
	ssh.KeyAlgoED25519,
	ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSASHA512,
}

// errScanned ends a scan handshake once the host key is known.
var errScanned = errors.New("tunnel: host key recorded")

// ErrNoSSHBanner means the peer of a scan did not identify itself as an
// SSH server: it sent no "SSH-" version line.
var ErrNoSSHBanner = errors.New("no SSH banner")

// scanVersion is the version line a scan sends (RFC 4253 section 4.2: no
// minus sign in the software version).
const scanVersion = "SSH-2.0-socksd_hostkey_scan"

// Bounds on what a server may send before its version line: RFC 4253
// allows other lines first (x/crypto/ssh takes up to 1024). shownBytes is
// how much of it an error quotes.
const (
	maxPreVersionLines = 1024
	maxPreVersionBytes = 64 << 10
	shownBytes         = 72
)

// ScanHostKeys connects to hostport once per host-key algorithm and returns
// the distinct keys the server offers. timeout bounds the whole scan
// (DefaultConnectTimeout when not positive); ctx may end it sooner. A peer
// that is not an SSH server ends the scan at once when it says so, else at
// the timeout, with an error that wraps ErrNoSSHBanner and quotes
// (shortened, in printable ASCII) what the peer sent instead.
func ScanHostKeys(ctx context.Context, hostport string, timeout time.Duration) ([]ssh.PublicKey, error) {
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		hostport = net.JoinHostPort(hostport, "22")
	}
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var keys []ssh.PublicKey
	var lastErr error
	for _, alg := range scanAlgorithms {
		k, err := scanOne(ctx, hostport, alg, timeout)
		if err != nil {
			// Only a server without a key of this type is worth the
			// next algorithm; anything else would fail the same way.
			if ctx.Err() != nil || errors.Is(err, ErrServerUnreachable) || errors.Is(err, ErrNoSSHBanner) {
				return nil, fmt.Errorf("tunnel: scan %s: %w", hostport, err)
			}
			lastErr = err
			continue
		}
		dup := false
		for _, have := range keys {
			if string(have.Marshal()) == string(k.Marshal()) {
				dup = true
			}
		}
		if !dup {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("tunnel: scan %s: no host key: %w", hostport, lastErr)
	}
	return keys, nil
}

// scanOne runs one handshake offering only alg and returns the host key.
// timeout is the scan's, for messages; ctx carries its deadline.
func scanOne(ctx context.Context, hostport, alg string, timeout time.Duration) (ssh.PublicKey, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrServerUnreachable, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	sc, err := checkBanner(ctx, c, timeout)
	if err != nil {
		return nil, err
	}
	var got ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User:              "socksd-hostkey-scan",
		ClientVersion:     scanVersion,
		HostKeyAlgorithms: []string{alg},
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			got = key
			return errScanned
		},
	}
	_, _, _, err = ssh.NewClientConn(sc, hostport, cfg)
	switch {
	case got != nil:
		return got, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("key exchange did not finish within %s", timeout)
	case err == nil:
		return nil, errors.New("no key offered")
	}
	return nil, err
}

// checkBanner sends the scan's version line and reads what the server
// sends up to its own version line. It returns the connection for the SSH
// handshake, which reads those bytes again and does not send the version
// line twice; or an error wrapping ErrNoSSHBanner.
func checkBanner(ctx context.Context, c net.Conn, timeout time.Duration) (net.Conn, error) {
	line := []byte(scanVersion + "\r\n")
	if _, err := c.Write(line); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrServerUnreachable, err)
	}
	br := bufio.NewReaderSize(c, 512)
	var seen []byte
	lineStart := true
	for lines := 0; lines < maxPreVersionLines && len(seen) < maxPreVersionBytes; {
		chunk, err := br.ReadSlice('\n')
		seen = append(seen, chunk...)
		if lineStart && bytes.HasPrefix(chunk, []byte("SSH-")) {
			return &scanConn{Conn: c, r: io.MultiReader(bytes.NewReader(seen), br), sent: line}, nil
		}
		switch {
		case err == nil:
			lineStart = true
			lines++
		case errors.Is(err, bufio.ErrBufferFull):
			lineStart = false
		default:
			return nil, noBanner(ctx, seen, err, timeout)
		}
	}
	return nil, noBanner(ctx, seen, nil, timeout)
}

// noBanner is the error for a peer that sent seen and then failed with err
// (nil: it sent too much) without an SSH version line.
func noBanner(ctx context.Context, seen []byte, err error, timeout time.Duration) error {
	var ne net.Error
	switch {
	case len(seen) > 0:
		return fmt.Errorf("%w: the peer sent %s instead", ErrNoSSHBanner, shown(seen))
	case ctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()):
		return fmt.Errorf("%w: the peer sent nothing within %s", ErrNoSSHBanner, timeout)
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		// A reset is the same close: the kernel sends one when the peer
		// closes with our version line unread.
		return fmt.Errorf("%w: the peer closed the connection without sending anything", ErrNoSSHBanner)
	}
	return fmt.Errorf("%w: %w", ErrNoSSHBanner, err)
}

// shown quotes the start of b in printable ASCII, for an error message.
func shown(b []byte) string {
	b = bytes.TrimRight(b, "\r\n")
	if len(b) <= shownBytes {
		return strconv.QuoteToASCII(string(b))
	}
	return strconv.QuoteToASCII(string(b[:shownBytes])) + "..."
}

// scanConn is the connection a scan's SSH handshake runs on, after
// checkBanner: reads start with what checkBanner read, and the library's
// version line, already sent, is not sent again.
type scanConn struct {
	net.Conn
	r    io.Reader
	sent []byte // the version line checkBanner sent; nil once skipped
}

// Read reads what checkBanner read, then the connection.
func (c *scanConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// Write drops the first write when it is the version line already sent.
func (c *scanConn) Write(b []byte) (int, error) {
	if c.sent != nil {
		sent := c.sent
		c.sent = nil
		if bytes.Equal(b, sent) {
			return len(b), nil
		}
		return 0, errors.New("tunnel: scan: the SSH library did not start with its version line")
	}
	return c.Conn.Write(b)
}

// AddKnownHosts appends the keys to file in known_hosts format under the
// name hostport ("[host]:port" when the port is not 22), skipping keys the
// file already holds for it. The file is locked while it is written.
func AddKnownHosts(file string, hostport string, keys []ssh.PublicKey) error {
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		hostport = net.JoinHostPort(hostport, "22")
	}
	_, err := appendKnownHosts(file, hostport, keys, nil)
	return err
}

// KnownKeys returns the plain keys the known_hosts files hold for hostport
// (not @cert-authority or @revoked lines). Missing files count as empty.
func KnownKeys(files []string, hostport string) ([]ssh.PublicKey, error) {
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		hostport = net.JoinHostPort(hostport, "22")
	}
	h := &hostKeys{files: files}
	cb, err := h.load()
	if err != nil {
		return nil, err
	}
	var out []ssh.PublicKey
	for _, k := range known(cb, hostport) {
		out = append(out, k.Key)
	}
	return out, nil
}
