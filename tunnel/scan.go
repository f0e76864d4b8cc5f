package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
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

// ScanHostKeys connects to hostport once per host-key algorithm and returns
// the distinct keys the server offers. timeout bounds each handshake.
func ScanHostKeys(ctx context.Context, hostport string, timeout time.Duration) ([]ssh.PublicKey, error) {
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		hostport = net.JoinHostPort(hostport, "22")
	}
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	var keys []ssh.PublicKey
	var lastErr error
	for _, alg := range scanAlgorithms {
		k, err := scanOne(ctx, hostport, alg, timeout)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("tunnel: scan %s: %w", hostport, ctx.Err())
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
func scanOne(ctx context.Context, hostport, alg string, timeout time.Duration) (ssh.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
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
	var got ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User:              "socksd-hostkey-scan",
		HostKeyAlgorithms: []string{alg},
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			got = key
			return errScanned
		},
	}
	_, _, _, err = ssh.NewClientConn(c, hostport, cfg)
	if got != nil {
		return got, nil
	}
	if err == nil {
		err = errors.New("no key offered")
	}
	return nil, err
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
