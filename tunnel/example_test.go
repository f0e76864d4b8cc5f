package tunnel_test

import (
	"context"
	"fmt"
	"io"
	"time"

	"socksd/tunnel"
)

// A pool for the daemon's lifetime; each FTP session opens a lease with the
// job's credentials and dials through it.
func Example() {
	pool, err := tunnel.NewPool(tunnel.Options{
		KnownHosts:        []string{"/etc/socksd/known_hosts"},
		HostKeyPolicy:     tunnel.PolicyStrict,
		KeepaliveInterval: 15 * time.Second,
		KeepaliveMax:      3,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()

	prof := tunnel.Profile{Name: "partner", Port: 22, Share: true, IdentityFiles: []string{"/etc/socksd/keys/id_ed25519"}}
	lease, err := pool.Open(context.Background(), prof, "ftp.partner.example", tunnel.Credentials{User: "JOB1", Password: []byte("from-the-job")})
	if err != nil {
		fmt.Println(err) // e.g. a *tunnel.HostKeyError or *tunnel.AuthError
		return
	}
	defer lease.Close()
	ctrl, err := lease.Dial(context.Background(), "tcp", "ftp.partner.example:21")
	if err != nil {
		fmt.Println(err) // a *tunnel.ChannelError maps to a SOCKS reply code
		return
	}
	defer ctrl.Close()
	io.Copy(io.Discard, ctrl)
}
