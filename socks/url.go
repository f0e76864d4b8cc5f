package socks

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// DefaultPort is the SOCKS port used when a proxy URL names none.
const DefaultPort = 1080

// ParseProxyURL parses an upstream proxy URL:
//
//	socks4://[user@]host[:port]
//	socks4a://[user@]host[:port]
//	socks5://[user[:password]@]host[:port]
//	socks5h://[user[:password]@]host[:port]
//
// It returns the protocol version (4 or 5), the proxy's host:port (port
// 1080 when absent), and the percent-decoded credentials. This package
// never resolves a destination locally, so socks4 and socks4a (and socks5
// and socks5h) behave the same: a domain name is always sent to the proxy.
// Errors never contain the password.
func ParseProxyURL(s string) (version int, hostport, user, pass string, err error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return 0, "", "", "", fmt.Errorf("socks: proxy URL: want scheme://host:port (scheme socks4, socks4a, socks5 or socks5h)")
	}
	switch strings.ToLower(scheme) {
	case "socks4", "socks4a":
		version = 4
	case "socks5", "socks5h":
		version = 5
	default:
		return 0, "", "", "", fmt.Errorf("socks: proxy URL: unknown scheme %q (want socks4, socks4a, socks5 or socks5h)", scheme)
	}
	// Parse only the authority with net/url, and never return its error
	// text, which would quote the password.
	u, perr := url.Parse("socks://" + rest)
	if perr != nil {
		return 0, "", "", "", fmt.Errorf("socks: proxy URL: malformed %s URL", scheme)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return 0, "", "", "", fmt.Errorf("socks: proxy URL: %s URL must not have a path, query or fragment", scheme)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return 0, "", "", "", fmt.Errorf("socks: proxy URL: %s URL has no host", scheme)
	}
	if strings.Contains(host, "%") {
		return 0, "", "", "", fmt.Errorf("socks: proxy URL: host %q: zones are not supported", host)
	}
	if _, err := checkHost([]byte(host)); err != nil {
		return 0, "", "", "", fmt.Errorf("socks: proxy URL: host %q: %w", host, err)
	}
	if port == "" {
		port = strconv.Itoa(DefaultPort)
	} else if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return 0, "", "", "", fmt.Errorf("socks: proxy URL: bad port %q", port)
	}
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	if version == 4 && pass != "" {
		return 0, "", "", "", fmt.Errorf("socks: proxy URL: socks4 has no password (only a user id)")
	}
	if pass != "" && user == "" {
		return 0, "", "", "", fmt.Errorf("socks: proxy URL: password without a user name")
	}
	if len(user) > 255 || len(pass) > 255 {
		return 0, "", "", "", fmt.Errorf("socks: proxy URL: user name or password longer than 255 bytes")
	}
	if version == 4 && strings.IndexByte(user, 0) >= 0 {
		return 0, "", "", "", fmt.Errorf("socks: proxy URL: user id contains a NUL byte")
	}
	return version, net.JoinHostPort(host, port), user, pass, nil
}
