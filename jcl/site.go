package jcl

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path"
	"strconv"
	"strings"

	"socksd/internal/hostport"
)

// Site holds one installation's values for rendering the samples. It is the
// [jcl] table of the socksd configuration file. Port and ListenHost come
// from [server] listen and FTPPassword is never read from a file: the
// rendered FTPJOB carries a placeholder unless a program sets it.
type Site struct {
	HLQ           string   `toml:"hlq"`            // high-level qualifier of the data sets, e.g. SOCKSD
	JobCard       []string `toml:"job_card"`       // JOB statement lines for the sample jobs
	InstallDir    string   `toml:"install_dir"`    // z/OS UNIX directory holding bin/socksd
	ConfigPath    string   `toml:"config_path"`    // the socksd TOML file
	EnvPath       string   `toml:"env_path"`       // the STDENV file made from SOCKSENV
	ConsoleSocket string   `toml:"console_socket"` // operator command socket
	HomeDir       string   `toml:"home_dir"`       // the started task user's home and work directory
	KeyDir        string   `toml:"key_dir"`        // SSH private keys
	KnownHosts    string   `toml:"known_hosts"`    // SSH known_hosts file
	FTPSocksConf  string   `toml:"ftp_socks_conf"` // the FTP client's SOCKS configuration file
	UploadDir     string   `toml:"upload_dir"`     // where the socksd binary is uploaded before INSTALL
	ProcName      string   `toml:"proc_name"`      // started task procedure name
	User          string   `toml:"user"`           // started task user id
	Group         string   `toml:"group"`          // its default group
	UID           int      `toml:"uid"`            // OMVS UID; 0 means AUTOUID
	GID           int      `toml:"gid"`            // OMVS GID; 0 means AUTOGID
	FTPHost       string   `toml:"ftp_host"`       // the partner FTP server
	FTPAddresses  []string `toml:"ftp_addresses"`  // its IP addresses or networks (CIDR)
	FTPPort       int      `toml:"ftp_port"`       // its port
	SSHHost       string   `toml:"ssh_host"`       // the SSH server; "" = the FTP host
	SSHPort       int      `toml:"ssh_port"`       // its port
	FTPUser       string   `toml:"ftp_user"`       // user id in the FTPJOB INPUT deck

	// FTPPassword is the password line of the FTPJOB INPUT deck. It is not
	// read from configuration files; the default is a placeholder.
	FTPPassword string `toml:"-"`
	// ListenHost and Port are the socksd listener the FTP client uses
	// (from [server] listen).
	ListenHost string `toml:"-"`
	Port       int    `toml:"-"`
}

// DefaultSite returns the values the shipped samples are rendered with.
func DefaultSite() Site {
	return Site{
		HLQ:           "SOCKSD",
		JobCard:       []string{"//SOCKSFTP JOB (ACCT),'SOCKSD FTP',CLASS=A,MSGCLASS=X"},
		InstallDir:    "/usr/lpp/socksd",
		ConfigPath:    "/etc/socksd/socksd.toml",
		EnvPath:       "/etc/socksd/socksd.env",
		ConsoleSocket: "/var/socksd/console.sock",
		HomeDir:       "/var/socksd",
		KeyDir:        "/etc/socksd/keys",
		KnownHosts:    "/etc/socksd/known_hosts",
		FTPSocksConf:  "/etc/socksd/ftpsocks.conf",
		UploadDir:     "/tmp/socksd",
		ProcName:      "SOCKSD",
		User:          "SOCKSD",
		Group:         "SOCKSGRP",
		FTPHost:       "ftp.partner.example",
		FTPAddresses:  []string{"192.0.2.10"},
		FTPPort:       21,
		SSHPort:       22,
		FTPUser:       "FTPUSER",
		FTPPassword:   "PASSWORD",
		ListenHost:    "127.0.0.1",
		Port:          1080,
	}
}

// WithDefaults returns s with every empty field (and every zero port) set
// from DefaultSite, for a [jcl] table that names only some keys. UID and
// GID stay 0 (AUTOUID, AUTOGID).
func (s Site) WithDefaults() Site {
	d := DefaultSite()
	str := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	num := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	str(&s.HLQ, d.HLQ)
	if len(s.JobCard) == 0 {
		s.JobCard = d.JobCard
	}
	str(&s.InstallDir, d.InstallDir)
	str(&s.ConfigPath, d.ConfigPath)
	str(&s.EnvPath, d.EnvPath)
	str(&s.ConsoleSocket, d.ConsoleSocket)
	str(&s.HomeDir, d.HomeDir)
	str(&s.KeyDir, d.KeyDir)
	str(&s.KnownHosts, d.KnownHosts)
	str(&s.FTPSocksConf, d.FTPSocksConf)
	str(&s.UploadDir, d.UploadDir)
	str(&s.ProcName, d.ProcName)
	str(&s.User, d.User)
	str(&s.Group, d.Group)
	str(&s.FTPHost, d.FTPHost)
	if s.FTPAddresses == nil {
		s.FTPAddresses = d.FTPAddresses
	}
	num(&s.FTPPort, d.FTPPort)
	num(&s.SSHPort, d.SSHPort)
	str(&s.FTPUser, d.FTPUser)
	str(&s.FTPPassword, d.FTPPassword)
	str(&s.ListenHost, d.ListenHost)
	num(&s.Port, d.Port)
	return s
}

// SiteError is one invalid Site field. Msg never contains the password.
type SiteError struct {
	Field string // the TOML key, e.g. install_dir
	Msg   string
}

func (e *SiteError) Error() string {
	return fmt.Sprintf("jcl: [jcl] %s: %s", e.Field, e.Msg)
}

// maxPath is the longest z/OS UNIX path a Site may name; longer paths do
// not fit the samples' JCL statements.
const maxPath = 44

// Validate checks every field and returns all problems joined (each a
// *SiteError), or nil.
func (s Site) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &SiteError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if why := hlqProblem(s.HLQ); why != "" {
		bad("hlq", "%s", why)
	}
	for _, e := range jobCardProblems(s.JobCard) {
		bad("job_card", "%s", e)
	}
	for _, f := range []struct{ key, val string }{
		{"install_dir", s.InstallDir}, {"config_path", s.ConfigPath}, {"env_path", s.EnvPath},
		{"console_socket", s.ConsoleSocket}, {"home_dir", s.HomeDir}, {"key_dir", s.KeyDir},
		{"known_hosts", s.KnownHosts}, {"ftp_socks_conf", s.FTPSocksConf}, {"upload_dir", s.UploadDir},
	} {
		if why := pathProblem(f.val); why != "" {
			bad(f.key, "%s", why)
		}
	}
	for _, f := range []struct{ key, val string }{
		{"proc_name", s.ProcName}, {"user", s.User}, {"group", s.Group},
	} {
		if why := nameProblem(f.val); why != "" {
			bad(f.key, "%q %s", f.val, why)
		}
	}
	if s.User != "" && s.User == s.Group {
		bad("group", "must differ from user: RACF user and group names share one name space")
	}
	if s.UID < 0 || s.UID > 2147483647 {
		bad("uid", "must be 1-2147483647, or 0 for AUTOUID")
	}
	if s.GID < 0 || s.GID > 2147483647 {
		bad("gid", "must be 1-2147483647, or 0 for AUTOGID")
	}
	if why := hostProblem(s.FTPHost); why != "" {
		bad("ftp_host", "%s", why)
	}
	for _, a := range s.FTPAddresses {
		if _, err := netip.ParsePrefix(a); err != nil {
			if _, err := netip.ParseAddr(a); err != nil {
				bad("ftp_addresses", "%q is not an IP address or CIDR network", a)
			}
		}
	}
	if s.SSHHost != "" {
		if why := hostProblem(s.SSHHost); why != "" {
			bad("ssh_host", "%s", why)
		}
	}
	for _, f := range []struct {
		key string
		val int
	}{{"ftp_port", s.FTPPort}, {"ssh_port", s.SSHPort}, {"port (from [server] listen)", s.Port}} {
		if f.val < 1 || f.val > 65535 {
			bad(f.key, "must be 1-65535")
		}
	}
	if ip := net.ParseIP(s.ListenHost); ip == nil || ip.To4() == nil {
		bad("listen host (from [server] listen)", "%q must be an IPv4 address: the z/OS FTP client uses SOCKS only over IPv4", s.ListenHost)
	}
	if why := wordProblem(s.FTPUser, 32); why != "" {
		bad("ftp_user", "%s", why)
	}
	if why := wordProblem(s.FTPPassword, 64); why != "" {
		bad("ftp_password", "%s", why) // never the value
	}
	return errors.Join(errs...)
}

func hlqProblem(h string) string {
	if h == "" {
		return "is empty"
	}
	if len(h) > 30 {
		return fmt.Sprintf("%q is longer than 30 characters", h)
	}
	for _, q := range strings.Split(h, ".") {
		if !validName(q) {
			return fmt.Sprintf("%q: each qualifier must be 1-8 characters (A-Z, 0-9, @ # $), the first not a digit", h)
		}
	}
	return ""
}

func pathProblem(p string) string {
	switch {
	case p == "":
		return "is empty"
	case !strings.HasPrefix(p, "/"):
		return fmt.Sprintf("%q must be an absolute path", p)
	case len(p) > maxPath:
		return fmt.Sprintf("%q is longer than %d characters", p, maxPath)
	case path.Clean(p) != p || p == "/":
		return fmt.Sprintf("%q must be a clean path (no //, /./, /../ or trailing /) below /", p)
	}
	for _, r := range p {
		if !(isASCIIAlnum(byte(r)) && r < 0x80 || strings.ContainsRune("/._-+", r)) {
			return fmt.Sprintf("%q may contain only letters, digits and / . _ - +", p)
		}
	}
	return ""
}

func isASCIIAlnum(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z'
}

func hostProblem(h string) string {
	if h == "" {
		return "is empty"
	}
	if len(h) > maxPath {
		return fmt.Sprintf("%q is longer than %d characters", h, maxPath)
	}
	for _, r := range h {
		if !(r < 0x80 && isASCIIAlnum(byte(r)) || r == '.' || r == '-' || r == ':') {
			return fmt.Sprintf("%q is not a host name or IP address", h)
		}
	}
	return ""
}

// wordProblem checks a value that goes on an INPUT deck line: printable
// ASCII without blanks. The value itself is never part of the message.
func wordProblem(w string, max int) string {
	if w == "" {
		return "is empty"
	}
	if len(w) > max {
		return fmt.Sprintf("is longer than %d characters", max)
	}
	for _, r := range w {
		if r <= ' ' || r >= 0x7f {
			return "may contain only printable ASCII characters without blanks"
		}
	}
	return ""
}

// jobCardProblems checks the job card lines as JCL: a JOB statement with
// its continuations and nothing else.
func jobCardProblems(card []string) []string {
	if len(card) == 0 {
		return []string{"is empty: give the JOB statement lines"}
	}
	var out []string
	for i, l := range card {
		if len([]rune(l)) > lastTextColumn {
			out = append(out, fmt.Sprintf("line %d is longer than %d columns", i+1, lastTextColumn))
		}
		if strings.ContainsAny(l, "\n\r") {
			out = append(out, fmt.Sprintf("line %d contains a line break", i+1))
		}
	}
	if len(out) > 0 {
		return out
	}
	text := strings.Join(card, "\n") + "\n//STEP1    EXEC PGM=IEFBR14\n"
	stmts, _, _ := statements("job_card", []byte(text), EncodingASCII)
	for _, e := range Check("job_card", []byte(text)) {
		out = append(out, fmt.Sprintf("line %d column %d: %s", e.Line, e.Column, e.Msg))
	}
	if len(out) == 0 && (len(stmts) != 2 || stmts[0].op != "JOB") {
		out = append(out, "must hold exactly one JOB statement (with its continuation lines)")
	}
	return out
}

// SetListener sets ListenHost and Port from the [server] listen addresses
// of the socksd configuration, each parsed by hostport.ParseListen: the
// first IPv4 listener, a wildcard or localhost address replaced by
// 127.0.0.1. The z/OS FTP client reaches SOCKS servers only over IPv4, so a
// list without one is an error, and so is port 0 on the listener picked.
func (s *Site) SetListener(listen []string) error {
	for _, l := range listen {
		host, port, err := hostport.ParseListen(l)
		if err != nil {
			return fmt.Errorf("jcl: listen address: %w", err)
		}
		switch host {
		case "", "0.0.0.0", "localhost":
			host = "127.0.0.1"
		}
		ip := net.ParseIP(host)
		if ip == nil || ip.To4() == nil {
			continue
		}
		if port == 0 {
			return fmt.Errorf("jcl: listen address %q: port 0 is chosen by the system at each start; the FTP client needs a fixed port", l)
		}
		s.ListenHost, s.Port = ip.String(), port
		return nil
	}
	return fmt.Errorf("jcl: no IPv4 listen address in %q; the z/OS FTP client reaches SOCKS servers only over IPv4", listen)
}

// sshTarget is HOST or HOST:PORT of the SSH server, as socksd hostkey takes it.
func (s Site) sshTarget() string {
	h := s.SSHHost
	if h == "" {
		h = s.FTPHost
	}
	if s.SSHPort == 22 {
		return h
	}
	return net.JoinHostPort(h, strconv.Itoa(s.SSHPort))
}
