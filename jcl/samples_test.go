package jcl

import (
	"os"
	"strings"
	"testing"
)

// stmtsOf parses a shipped sample into statements.
func stmtsOf(t *testing.T, member string) ([]*stmt, string) {
	t.Helper()
	data, err := os.ReadFile("samples/" + member)
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := statements(member, data, EncodingAuto)
	if err != nil {
		t.Fatal(err)
	}
	return st, string(data)
}

// findStmt returns the first statement with the operation and name.
func findStmt(stmts []*stmt, op, name string) *stmt {
	for _, s := range stmts {
		if s.op == op && (name == "" || s.name == name) {
			return s
		}
	}
	return nil
}

func paramValue(s *stmt, key string) string {
	for _, p := range s.params {
		if p.key == key {
			return p.value()
		}
	}
	return ""
}

// TestSampleContents checks that each member holds what issue 6 asks of
// it, by its parsed statements where it is JCL.
func TestSampleContents(t *testing.T) {
	for _, m := range Members() {
		_, text := stmtsOf(t, m)
		if !strings.Contains(text, "What to change") {
			t.Errorf("%s has no \"What to change\" comment", m)
		}
	}

	st, _ := stmtsOf(t, "SOCKSD")
	proc := findStmt(st, "PROC", "SOCKSD")
	exec := findStmt(st, "EXEC", "")
	if proc == nil || exec == nil || paramValue(exec, "PGM") != "BPXBATSL" {
		t.Fatal("SOCKSD: want a PROC and EXEC PGM=BPXBATSL")
	}
	for _, sym := range []string{"INSTDIR", "CONFIG", "ENV"} {
		if paramValue(proc, sym) == "" {
			t.Errorf("SOCKSD: PROC has no default for %s", sym)
		}
	}
	if parm := paramValue(exec, "PARM"); !strings.HasPrefix(parm, "'PGM &INSTDIR./bin/socksd serve -c &CONFIG") {
		t.Errorf("SOCKSD: PARM %s", parm)
	}
	for _, dd := range []string{"STDENV", "STDOUT", "STDERR"} {
		if findStmt(st, "DD", dd) == nil {
			t.Errorf("SOCKSD: no %s DD", dd)
		}
	}

	_, env := stmtsOf(t, "SOCKSENV")
	for _, v := range []string{"\n_BPXK_AUTOCVT=ON\n", "\n_CEE_RUNOPTS=", "\nSOCKSD_CONFIG=/etc/socksd/socksd.toml\n", "\n_BPXK_JOBLOG=STDERR\n"} {
		if !strings.Contains(env, v) {
			t.Errorf("SOCKSENV lacks %q", v)
		}
	}

	st, _ = stmtsOf(t, "FTPJOB")
	ftp := findStmt(st, "EXEC", "FTP")
	if ftp == nil || paramValue(ftp, "PGM") != "FTP" || paramValue(ftp, "PARM") != "'&HOST (EXIT'" {
		t.Error("FTPJOB: want EXEC PGM=FTP,PARM='&HOST (EXIT'")
	}
	if set := findStmt(st, "SET", ""); set == nil || paramValue(set, "HOST") != "'ftp.partner.example'" {
		t.Error("FTPJOB: want SET HOST='ftp.partner.example'")
	}
	if d := findStmt(st, "DD", "SYSFTPD"); d == nil || paramValue(d, "DSN") != "SOCKSD.SAMPLIB(FTPDATA)" {
		t.Error("FTPJOB: SYSFTPD must name the FTPDATA member")
	}
	if d := findStmt(st, "DD", "OUTPUT"); d == nil || paramValue(d, "SYSOUT") != "*" {
		t.Error("FTPJOB: want OUTPUT DD SYSOUT=*")
	}

	_, data := stmtsOf(t, "FTPDATA")
	if !strings.Contains(data, "\nSOCKSCONFIGFILE /etc/socksd/ftpsocks.conf\n") {
		t.Error("FTPDATA: no SOCKSCONFIGFILE")
	}
	_, socks := stmtsOf(t, "FTPSOCKS")
	for _, v := range []string{"\ndirect 127.0.0.0 255.0.0.0\n", "\nsockd @=127.0.0.1:1080 ", "IP Configuration Reference"} {
		if !strings.Contains(socks, v) {
			t.Errorf("FTPSOCKS lacks %q", v)
		}
	}

	instream := func(member, dd string) string {
		data, _ := os.ReadFile("samples/" + member)
		lines, err := ExtractInstream(data, dd)
		if err != nil {
			t.Fatalf("%s %s: %v", member, dd, err)
		}
		return strings.Join(lines, " ")
	}
	if cmd := instream("SOCKSCMD", "STDPARM"); !strings.HasPrefix(cmd, "SH /usr/lpp/socksd/bin/socksd cmd --socket /var/socksd/console.sock 'DISPLAY SESSIONS'") {
		t.Errorf("SOCKSCMD: %s", cmd)
	}
	if scan := instream("HOSTKEY", "SCAN.STDPARM"); scan != "SH /usr/lpp/socksd/bin/socksd hostkey scan ftp.partner.example" {
		t.Errorf("HOSTKEY scan: %s", scan)
	}
	if add := instream("HOSTKEY", "ADD.STDPARM"); add != "SH /usr/lpp/socksd/bin/socksd hostkey add ftp.partner.example --known-hosts /etc/socksd/known_hosts --yes" {
		t.Errorf("HOSTKEY add: %s", add)
	}
	install := instream("INSTALL", "STDPARM")
	for _, v := range []string{"mkdir -p /usr/lpp/socksd/bin;", "chmod 755 /usr/lpp/socksd/bin/socksd;", "chtag -b /usr/lpp/socksd/bin/socksd;", "chtag -tc ISO8859-1 /etc/socksd/socksd.toml;"} {
		if !strings.Contains(install, v) {
			t.Errorf("INSTALL lacks %q", v)
		}
	}
	racf := instream("RACF", "SYSTSIN")
	for _, v := range []string{"ADDUSER SOCKSD DFLTGRP(SOCKSGRP) NOPASSWORD", "OMVS(AUTOUID", "RDEFINE STARTED SOCKSD.* STDATA(USER(SOCKSD)", "SETROPTS RACLIST(STARTED) REFRESH"} {
		if !strings.Contains(racf, v) {
			t.Errorf("RACF lacks %q", v)
		}
	}
	perms := instream("RACF", "PERMS.STDPARM")
	for _, v := range []string{"chmod 700 /etc/socksd/keys;", "chmod 600", "chown SOCKSD:SOCKSGRP /etc/socksd/known_hosts;"} {
		if !strings.Contains(perms, v) {
			t.Errorf("RACF PERMS lacks %q", v)
		}
	}
}
