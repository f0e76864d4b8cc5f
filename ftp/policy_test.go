package ftp

import (
	"context"
	"strings"
	"testing"

	"socksd/ebcdic"
	"socksd/internal/testing/testpeer"
)

func TestPolicyMatch(t *testing.T) {
	p, err := compilePolicy([]string{"SITE FILETYPE=JES", "DELE", "RETR 'SYS1.", "site trailing"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		line   string
		denied bool
	}{
		{"SITE FILETYPE=JES", true},
		{"site filetype=jes", true},
		{"QUOTE SITE RECFM=FB  FILETYPE=JES", true},
		{"SITE FILETYPE=SEQ", false},
		{"SITE RECFM=FB LRECL=80 BLKSIZE=27920", false},
		{"SITE TRAILING", true},
		{"SITE JESJOBNAME='A", true}, // unparsable SITE
		{"DELE x.txt", true},
		{"dele", true},
		{"RETR 'SYS1.PARMLIB(IEASYS00)'", true},
		{"RETR 'USER.DATA'", false},
		{"RNFR a", false},
	}
	for _, tt := range tests {
		c, err := ParseCommand(tt.line)
		if err != nil {
			t.Fatal(err)
		}
		if _, denied := p.match(c); denied != tt.denied {
			t.Errorf("%q: denied = %v, want %v", tt.line, denied, tt.denied)
		}
	}
	if _, err := compilePolicy([]string{"1BAD"}); err == nil {
		t.Error("bad pattern accepted")
	}
	if _, err := compilePolicy([]string{"SITE A='B"}); err == nil {
		t.Error("bad SITE pattern accepted")
	}
}

func TestSessionDenyAndAuth(t *testing.T) {
	h := newHarness(t, testpeer.VSFTPDConfig{WriteEnable: true}, Options{Deny: []string{"SITE FILETYPE=JES", "DELE"}})
	h.v.WriteFile(t, "keep.txt", []byte("keep\n"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := newRawJob(t, h.serve(ctx), ebcdic.ASCII, ebcdic.TermCRLF, ebcdic.ASCII)
	j.cmd("AUTH TLS", 534)
	j.cmd("SYST", 530)
	j.login(h.v.User, h.v.Password)
	r := j.cmd("QUOTE SITE FILETYPE=JES", 550)
	if !strings.Contains(r.Lines[0], "refused by policy") {
		t.Errorf("reply %q", r.Lines)
	}
	j.cmd("DELE keep.txt", 550)
	j.cmd("AUTH SSL", 534)
	j.cmd("SIZE keep.txt", 213)
	// A multi-line reply from the server is relayed whole.
	if r := j.cmd("FEAT", 211); len(r.Lines) < 3 {
		t.Errorf("FEAT reply %q", r.Lines)
	}
	j.cmd("QUIT", 221)
	if err := h.waitServe(); err != nil {
		t.Fatal(err)
	}
	log := h.logBuf.String()
	if strings.Count(log, "SOX0302W") != 2 || strings.Count(log, "SOX0306W") != 2 {
		t.Errorf("log:\n%s", log)
	}
	if n := h.v.CountLog(`"DELE`) + h.v.CountLog("FILETYPE") + h.v.CountLog(`"AUTH`); n != 0 {
		t.Errorf("refused commands reached vsftpd:\n%s", h.v.Log())
	}
}
