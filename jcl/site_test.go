package jcl

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestSiteValidate(t *testing.T) {
	if err := DefaultSite().Validate(); err != nil {
		t.Fatalf("DefaultSite: %v", err)
	}
	if err := testSite().Validate(); err != nil {
		t.Fatalf("testSite: %v", err)
	}
	tests := []struct {
		field  string
		mutate func(*Site)
	}{
		{"hlq", func(s *Site) { s.HLQ = "" }},
		{"hlq", func(s *Site) { s.HLQ = "TOOLONGHLQ" }},
		{"hlq", func(s *Site) { s.HLQ = "A..B" }},
		{"job_card", func(s *Site) { s.JobCard = nil }},
		{"job_card", func(s *Site) { s.JobCard = []string{"//SOCKSFTP EXEC PGM=IEFBR14"} }},
		{"job_card", func(s *Site) { s.JobCard = []string{"//SOCKSFTP JOB (ACCT),'X',CLASS=AB"} }},
		{"job_card", func(s *Site) { s.JobCard = []string{"//SOCKSFTP JOB (ACCT),'X',"} }},
		{"job_card", func(s *Site) { s.JobCard = []string{"//SOCKSFTP JOB (ACCT)," + strings.Repeat("X", 60)} }},
		{"job_card", func(s *Site) { s.JobCard = []string{"//J JOB (A)", "//S1 EXEC PGM=X"} }},
		{"install_dir", func(s *Site) { s.InstallDir = "usr/lpp/socksd" }},
		{"install_dir", func(s *Site) { s.InstallDir = "/usr/lpp/socksd/" }},
		{"install_dir", func(s *Site) { s.InstallDir = "/usr/lpp/sock sd" }},
		{"install_dir", func(s *Site) { s.InstallDir = "/" + strings.Repeat("x", 44) }},
		{"config_path", func(s *Site) { s.ConfigPath = "/etc/'socksd'" }},
		{"known_hosts", func(s *Site) { s.KnownHosts = "" }},
		{"proc_name", func(s *Site) { s.ProcName = "SOCKSDAEMON" }},
		{"user", func(s *Site) { s.User = "socksd" }},
		{"group", func(s *Site) { s.Group = s.User }},
		{"uid", func(s *Site) { s.UID = -1 }},
		{"ftp_host", func(s *Site) { s.FTPHost = "ftp partner" }},
		{"ssh_host", func(s *Site) { s.SSHHost = "ssh/host" }},
		{"ftp_addresses", func(s *Site) { s.FTPAddresses = []string{"10.0.0.0/33"} }},
		{"ftp_addresses", func(s *Site) { s.FTPAddresses = []string{"ftp.example"} }},
		{"ftp_port", func(s *Site) { s.FTPPort = 0 }},
		{"ssh_port", func(s *Site) { s.SSHPort = 70000 }},
		{"port (from [server] listen)", func(s *Site) { s.Port = 0 }},
		{"listen host (from [server] listen)", func(s *Site) { s.ListenHost = "::1" }},
		{"ftp_user", func(s *Site) { s.FTPUser = "" }},
		{"ftp_password", func(s *Site) { s.FTPPassword = "pass word" }},
		{"ftp_password", func(s *Site) { s.FTPPassword = "pässword" }},
	}
	for _, tc := range tests {
		s := DefaultSite()
		tc.mutate(&s)
		err := s.Validate()
		var se *SiteError
		if !errors.As(err, &se) {
			t.Errorf("%s: got %v, want a SiteError", tc.field, err)
			continue
		}
		if se.Field != tc.field {
			t.Errorf("got field %q (%v), want %q", se.Field, err, tc.field)
		}
		if !strings.HasPrefix(err.Error(), "jcl: ") {
			t.Errorf("%q does not start with the package name", err)
		}
		if strings.Contains(err.Error(), s.FTPPassword) {
			t.Errorf("%s: error %q contains the password", tc.field, err)
		}
	}
}

func TestSetListener(t *testing.T) {
	tests := []struct {
		listen []string
		host   string
		port   int
		ok     bool
	}{
		{[]string{"127.0.0.1:1080"}, "127.0.0.1", 1080, true},
		{[]string{"[::1]:1080", "0.0.0.0:1081"}, "127.0.0.1", 1081, true},
		{[]string{"localhost:2000"}, "127.0.0.1", 2000, true},
		{[]string{":3000"}, "127.0.0.1", 3000, true},
		{[]string{"10.1.2.3:1080"}, "10.1.2.3", 1080, true},
		{[]string{"[::1]:1080"}, "", 0, false},
		{[]string{"127.0.0.1"}, "", 0, false},
		{[]string{"127.0.0.1:0"}, "", 0, false},
		{[]string{"[::1]:0", "127.0.0.1:1080"}, "127.0.0.1", 1080, true},
		{[]string{"nohostport", "127.0.0.1:1080"}, "", 0, false},
		{nil, "", 0, false},
	}
	for _, tc := range tests {
		s := DefaultSite()
		err := s.SetListener(tc.listen)
		if (err == nil) != tc.ok || tc.ok && (s.ListenHost != tc.host || s.Port != tc.port) {
			t.Errorf("%q: got %s:%d, %v", tc.listen, s.ListenHost, s.Port, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "jcl: ") {
			t.Errorf("%q: error %q", tc.listen, err)
		}
	}
}

func TestWithDefaults(t *testing.T) {
	if got := (Site{}).WithDefaults(); !reflect.DeepEqual(got, DefaultSite()) {
		t.Errorf("empty site: got %+v", got)
	}
	s := Site{HLQ: "PROD", FTPPort: 2121, UID: 42}.WithDefaults()
	if s.HLQ != "PROD" || s.FTPPort != 2121 || s.UID != 42 || s.InstallDir != "/usr/lpp/socksd" || s.SSHPort != 22 {
		t.Errorf("partial site: got %+v", s)
	}
	if err := s.Validate(); err != nil {
		t.Error(err)
	}
}
