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

// URLError reports a proxy URL that cannot be used. Reason says why in the
// terms of the URL's syntax; it never contains the URL, its user name or
// its password, so a caller may show it whatever the input was.
type URLError struct {
	Reason string
}

func (e *URLError) Error() string { return "socks: proxy URL: " + e.Reason }

func urlErr(format string, args ...any) error {
	return &URLError{Reason: fmt.Sprintf(format, args...)}
}

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
// It is the one parser of proxy URLs in socksd. An error is a *URLError,
// which never contains the password.
func ParseProxyURL(s string) (version int, hostport, user, pass string, err error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return 0, "", "", "", urlErr("want scheme://host:port with scheme socks4, socks4a, socks5 or socks5h")
	}
	switch strings.ToLower(scheme) {
	case "socks4", "socks4a":
		version = 4
	case "socks5", "socks5h":
		version = 5
	default:
		return 0, "", "", "", urlErr("the scheme is not socks4, socks4a, socks5 or socks5h")
	}
	// Parse only the authority with net/url, and never return its error
	// text, which would quote the password.
	u, perr := url.Parse("socks://" + rest)
	if perr != nil {
		return 0, "", "", "", urlErr("malformed URL (want %s://[user[:password]@]host[:port], with %%-escapes for special characters)", strings.ToLower(scheme))
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return 0, "", "", "", urlErr("a proxy URL must not have a path, query or fragment")
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return 0, "", "", "", urlErr("the URL has no host")
	}
	if strings.Contains(host, "%") {
		return 0, "", "", "", urlErr("an IPv6 zone in the host is not supported")
	}
	if _, err := checkHost([]byte(host)); err != nil {
		return 0, "", "", "", urlErr("the host is not a valid host name or IP address")
	}
	if port == "" {
		port = strconv.Itoa(DefaultPort)
	} else if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return 0, "", "", "", urlErr("the port is not a number from 1 to 65535")
	}
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	if version == 4 && pass != "" {
		return 0, "", "", "", urlErr("socks4 has no password (only a user id)")
	}
	if pass != "" && user == "" {
		return 0, "", "", "", urlErr("password without a user name")
	}
	if len(user) > 255 || len(pass) > 255 {
		return 0, "", "", "", urlErr("user name or password longer than 255 bytes")
	}
	if version == 4 && strings.IndexByte(user, 0) >= 0 {
		return 0, "", "", "", urlErr("user id contains a NUL byte")
	}
	return version, net.JoinHostPort(host, port), user, pass, nil
}

// ProxyURL is a proxy URL as a setting holds it, such as a profile's via.
// Printing it (String, GoString, %v of a struct that holds it, MarshalText)
// never shows the password: "socks5://JOB1:***@proxy:1080". Dialer parses
// it with ParseProxyURL.
type ProxyURL string

// String returns the URL with its password hidden, "" for an empty URL.
// A URL that does not parse is hidden whole: where its password ends
// cannot be known.
func (u ProxyURL) String() string {
	if u == "" {
		return ""
	}
	d, err := NewDialer(string(u))
	if err != nil {
		return "(a proxy URL that does not parse)"
	}
	return d.String()
}

// GoString is String, so %#v hides the password too.
func (u ProxyURL) GoString() string { return u.String() }

// MarshalText is String, so encoders never see the password.
func (u ProxyURL) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// HasPassword reports whether the URL carries a password. A URL that does
// not parse is taken to carry one when it has a user part with a colon.
func (u ProxyURL) HasPassword() bool {
	_, _, _, pass, err := ParseProxyURL(string(u))
	if err != nil {
		_, rest, _ := strings.Cut(string(u), "://")
		at := strings.LastIndex(rest, "@")
		return at >= 0 && strings.Contains(rest[:at], ":")
	}
	return pass != ""
}

// Dialer parses the URL into a Dialer (see NewDialer).
func (u ProxyURL) Dialer() (*Dialer, error) { return NewDialer(string(u)) }
