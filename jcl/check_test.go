package jcl

import (
	"strings"
	"testing"
)

const job = "//SOCKSFTP JOB (ACCT),'SOCKSD FTP',CLASS=A,MSGCLASS=X\n"

// TestCheckBroken feeds the validator broken JCL and wants the first
// problem at the right line and column with the right explanation.
func TestCheckBroken(t *testing.T) {
	tests := []struct {
		name      string
		jcl       string
		line, col int
		msg       string
	}{
		{"name too long", job + "//STEP12345 EXEC PGM=IEFBR14\n", 2, 3, "longer than 8"},
		{"name starts with digit", job + "//1STEP EXEC PGM=IEFBR14\n", 2, 3, "must start with"},
		{"name bad char", job + "//ST-P EXEC PGM=IEFBR14\n", 2, 3, "may contain only"},
		{"unknown operation", job + "//S1 EXCE PGM=IEFBR14\n", 2, 6, "unknown operation"},
		{"missing operation", job + "//S1\n", 2, 6, "missing operation"},
		{"text in column 72", job + "//S1 EXEC PGM=IEFBR14,PARM='" + strings.Repeat("A", 42) + "'X\n", 2, 72, "column 72"},
		{"line over 80", job + "//S1 EXEC PGM=IEFBR14" + strings.Repeat(" ", 60) + "X\n", 2, 81, "longer than 80"},
		{"tab", job + "//S1\tEXEC PGM=IEFBR14\n", 2, 5, "tab character"},
		{"comma without continuation", job + "//S1 EXEC PGM=IEFBR14,\n//DD1 DD DUMMY\n", 2, 22, "not a continuation"},
		{"continuation too far right", job + "//S1 EXEC PGM=IEFBR14,\n//                 REGION=0M\n", 3, 20, "columns 4-16"},
		{"quoted continuation not in 16", job + "//S1 EXEC PGM=IEFBR14,PARM='" + strings.Repeat("A", 43) + "\n//        B'\n", 3, 11, "column 16"},
		{"unmatched apostrophe", job + "//S1 EXEC PGM=IEFBR14,PARM='ABC\n//DD1 DD DUMMY\n", 2, 28, "unmatched apostrophe"},
		{"unmatched open paren", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=A.B,DISP=(NEW,CATLG,SPACE=(TRK,1)\n", 3, 23, "unmatched ("},
		{"unmatched close paren", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=A.B,DISP=SHR)\n", 3, 26, "unmatched )"},
		{"bad dsn qualifier", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=SYS1.TOOLONGQUAL,DISP=SHR\n", 3, 14, "qualifier"},
		{"dsn too long", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=AAAAAAAA.BBBBBBBB.CCCCCCCC.DDDDDDDD.EEEEEEEE.F,DISP=SHR\n", 3, 14, "longer than 44"},
		{"bad member", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=A.B(TOOLONGMEM),DISP=SHR\n", 3, 14, "member"},
		{"bad disp", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=A.B,DISP=(SHARE,KEEP)\n", 3, 23, "DISP status"},
		{"unknown dd keyword", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=A.B,DISPO=SHR\n", 3, 18, "unknown DD keyword"},
		{"unknown positional on dd", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DUMY\n", 3, 10, "unknown positional"},
		{"positional after keyword", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=A.B,DUMMY\n", 3, 18, "positional parameter after keyword"},
		{"dsn and sysout", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=A.B,SYSOUT=*\n", 3, 18, "cannot be coded on the same DD"},
		{"bad sysout class", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD SYSOUT=AB\n", 3, 17, "SYSOUT class"},
		{"dlm without data", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DUMMY,DLM=$$\n", 3, 16, "DLM is only valid"},
		{"dlm not found", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DATA,DLM=$$\ndata\n", 3, 19, "not ended by its delimiter"},
		{"dd data not ended", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DATA\n//data\n", 3, 7, "not ended by /*"},
		{"path relative", job + "//S1 EXEC PGM=BPXBATCH\n//STDOUT DD PATH='tmp/out'\n", 3, 18, "absolute"},
		{"bad pathopts", job + "//S1 EXEC PGM=BPXBATCH\n//STDOUT DD PATH='/tmp/out',PATHOPTS=(OWRONLY,OCREATE)\n", 3, 38, "PATHOPTS value"},
		{"pathopts without path", job + "//S1 EXEC PGM=BPXBATCH\n//STDOUT DD SYSOUT=*,PATHOPTS=ORDONLY\n", 3, 22, "only valid with PATH"},
		{"exec without pgm", job + "//S1 EXEC\n", 2, 10, "EXEC needs"},
		{"exec keyword first", job + "//S1 EXEC REGION=0M,PGM=IEFBR14\n", 2, 11, "must start with PGM="},
		{"bad program name", job + "//S1 EXEC PGM=IEFBR14XX\n", 2, 15, "not a program name"},
		{"unknown exec keyword", job + "//S1 EXEC PGM=IEFBR14,REGON=0M\n", 2, 23, "unknown EXEC keyword"},
		{"parm too long", job + "//S1 EXEC PGM=IEFBR14,PARM='" + strings.Repeat("A", 43) + "\n//" + strings.Repeat(" ", 13) + strings.Repeat("B", 56) + "\n//" + strings.Repeat(" ", 13) + "CC'\n", 2, 28, "PARM is 101 characters"},
		{"duplicate step", job + "//S1 EXEC PGM=IEFBR14\n//S1 EXEC PGM=IEFBR14\n", 3, 3, "already used at line 2"},
		{"dd before exec", job + "//DD1 DD DUMMY\n", 2, 7, "before the first EXEC"},
		{"unnamed dd not concatenation", job + "//S1 EXEC PGM=IEFBR14\n//  DD DUMMY\n", 3, 5, "must follow another DD"},
		{"job without name", "// JOB (ACCT),'X'\n", 1, 4, "needs a job name"},
		{"bad class", "//J JOB (ACCT),'X',CLASS=AB\n", 1, 26, "CLASS must be one character"},
		{"programmer name too long", "//J JOB (ACCT),'" + strings.Repeat("X", 21) + "'\n", 1, 16, "limit is 20"},
		{"unknown job keyword", "//J JOB (ACCT),'X',CLAS=A\n", 1, 20, "unknown JOB keyword"},
		{"jcllib after exec", job + "//S1 EXEC PGM=IEFBR14\n// JCLLIB ORDER=A.B\n", 3, 4, "before the first EXEC"},
		{"include without member", job + "// INCLUDE MBR=X\n", 2, 12, "only MEMBER="},
		{"set positional", job + "// SET X\n", 2, 8, "only NAME=value"},
		{"undefined symbol in job", job + "//S1 EXEC PGM=IEFBR14,REGION=&REG\n", 2, 30, "&REG is not defined"},
		{"undefined symbol in proc", job + "//P PROC A=1\n//S1 EXEC PGM=IEFBR14,PARM='&B'\n// PEND\n", 3, 29, "&B is not defined"},
		{"symbol too long", job + "//S1 EXEC PGM=IEFBR14,REGION=&ABCDEFGHI\n", 2, 30, "longer than 8"},
		{"lone ampersand", job + "//S1 EXEC PGM=IEFBR14,REGION=&\n", 2, 30, "must be followed by a symbol name"},
		{"proc without pend", job + "//P PROC\n//S1 EXEC PGM=IEFBR14\n", 2, 5, "has no PEND"},
		{"pend without proc", job + "//S1 EXEC PGM=IEFBR14\n// PEND\n", 3, 4, "PEND without PROC"},
		{"proc in proc", job + "//P PROC\n//Q PROC\n// PEND\n", 3, 5, "PROC inside PROC"},
		{"instream proc without name", job + "// PROC\n// PEND\n", 2, 4, "needs a procedure name"},
		{"proc positional", "//P PROC X\n//S1 EXEC PGM=IEFBR14\n", 1, 10, "only symbolic parameter defaults"},
		{"if without endif", job + "// IF (RC = 0) THEN\n//S1 EXEC PGM=IEFBR14\n", 2, 4, "IF has no ENDIF"},
		{"endif without if", job + "//S1 EXEC PGM=IEFBR14\n// ENDIF\n", 3, 4, "ENDIF without IF"},
		{"else without if", job + "//S1 EXEC PGM=IEFBR14\n// ELSE\n", 3, 4, "ELSE without IF"},
		{"second else", job + "// IF RC = 0 THEN\n// ELSE\n// ELSE\n// ENDIF\n", 4, 4, "second ELSE"},
		{"if without then", job + "// IF (RC = 0)\n//S1 EXEC PGM=IEFBR14\n", 2, 4, "has no THEN"},
		{"if bad rc", job + "// IF (RC = 5000) THEN\n// ENDIF\n", 2, 13, "0 to 4095"},
		{"if rc without op", job + "// IF (RC) THEN\n// ENDIF\n", 2, 8, "RC needs a comparison"},
		{"if unbalanced", job + "// IF (RC = 0 THEN\n// ENDIF\n", 2, 7, "unmatched ("},
		{"if unknown keyword", job + "// IF (RX = 0) THEN\n// ENDIF\n", 2, 8, "want RC, ABEND"},
		{"if in proc not closed", "//P PROC\n// IF RC = 0 THEN\n//S1 EXEC PGM=IEFBR14\n// PEND\n", 2, 4, "before PEND"},
		{"stray text", job + "//S1 EXEC PGM=IEFBR14\nHELLO\n", 3, 1, "not a JCL statement"},
		{"stray delimiter", job + "//S1 EXEC PGM=IEFBR14\n/*\n", 3, 1, "outside in-stream data"},
		{"statement after null", job + "//S1 EXEC PGM=IEFBR14\n//\n//S2 EXEC PGM=IEFBR14\n", 4, 6, "after the null statement"},
		{"job in proc member", "//P PROC\n//J JOB (A)\n", 2, 5, "JOB statement in a procedure member"},
		{"exec dup keyword", job + "//S1 EXEC PGM=IEFBR14,REGION=0M,REGION=4M\n", 2, 33, "coded twice"},
		{"missing dd value", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=,DISP=SHR\n", 3, 13, "missing value for DSN"},
		{"dlm wrong length", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD *,DLM=ABC\nABC\n", 3, 16, "exactly two"},
		{"lower-case operation", job + "//S1 exec PGM=IEFBR14\n", 2, 6, "must be in capitals"},
		{"symbol split in quotes", job + "// SET SYMBOL=VALUE\n//S1 EXEC PGM=IEFBR14,PARM='" + strings.Repeat("A", 39) + "&SYM\n//" + strings.Repeat(" ", 13) + "BOL'\n", 3, 68, "split across lines"},
		{"bad region", job + "//S1 EXEC PGM=IEFBR14,REGION=0G\n", 2, 30, "REGION must be"},
		{"bad time", job + "//S1 EXEC PGM=IEFBR14,TIME=FOREVER\n", 2, 28, "TIME must be"},
		{"bad job region", "//J JOB (A),'X',REGION=4\n", 1, 24, "REGION must be"},
		{"bad space unit", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=A.B,DISP=NEW,SPACE=(BLK,(1,1))\n", 3, 33, "SPACE unit"},
		{"bad space quantity", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=A.B,DISP=NEW,SPACE=(TRK,(A,1))\n", 3, 33, "SPACE quantities"},
		{"comment continuation not continued", job + "//S1 EXEC PGM=IEFBR14 A COMMENT" + strings.Repeat(" ", 40) + "X\n//S2 EXEC PGM=IEFBR14\n", 2, 72, "continues the comment"},
		{"bad job cond", "//J JOB (A),'X',COND=(4,XX)\n", 1, 22, "COND operator"},
		{"bad exec cond", job + "//S1 EXEC PGM=IEFBR14,COND=((4,LT),(5000,EQ,S0))\n", 2, 28, "0 to 4095"},
		{"bad exec cond form", job + "//S1 EXEC PGM=IEFBR14,COND=4\n", 2, 28, "COND must be"},
		{"bad dcb subparameter", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=A.B,DISP=SHR,DCB=(RECFM=FB,LREC=80)\n", 3, 31, "unknown DCB subparameter"},
		{"bad dcb recfm", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=A.B,DISP=SHR,DCB=(RECFM=XB,LRECL=80)\n", 3, 31, "RECFM"},
		{"substitution adds a blank", job + "// SET T='1 2'\n//S1 EXEC PGM=IEFBR14,REGION=&T\n", 3, 30, "contains a blank"},
		{"duplicate dd", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DUMMY\n//DD1 DD DUMMY\n", 4, 3, "already used in this step at line 3"},
		{"bpxbatch parm", job + "//S1 EXEC PGM=BPXBATCH,PARM='ls -l'\n", 2, 29, "must start with SH or PGM"},
		{"bpxbatsl parm without program", job + "//S1 EXEC PGM=BPXBATSL,PARM='PGM'\n", 2, 29, "must name the program"},
		{"continuation without comma", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=A.B\n//             DISP=SHR\n", 4, 16, "end that line with a comma"},
		{"name not in column 3", job + "// STEP1 EXEC PGM=IEFBR14\n", 2, 4, "must start in column 3"},
		{"bad recfm", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DUMMY,RECFM=FX\n", 3, 22, "RECFM"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := Check("T", []byte(tc.jcl))
			if len(errs) == 0 {
				t.Fatalf("no error for\n%s", tc.jcl)
			}
			first := errs[0]
			found := false
			for _, e := range errs {
				if e.File == "T" && e.Line == tc.line && e.Column == tc.col && strings.Contains(e.Msg, tc.msg) {
					found = true
				}
			}
			if !found || first.Line != tc.line || first.Column != tc.col {
				t.Errorf("got %v; want the first error at T:%d:%d: ...%s...", errs, tc.line, tc.col, tc.msg)
			}
		})
	}
}

// TestCheckValid wants no problem in valid JCL that uses the features the
// validator knows.
func TestCheckValid(t *testing.T) {
	seq := func(l string) string { return l + strings.Repeat(" ", 72-len(l)) + "00010000" }
	tests := []struct{ name, jcl string }{
		{"minimal job", job + "//S1 EXEC PGM=IEFBR14\n"},
		{"continued job card", "//J1 JOB (ACCT,DEPT),'A PROGRAMMER',\n//         CLASS=A,MSGCLASS=X,MSGLEVEL=(1,1),\n//         NOTIFY=&SYSUID\n//S1 EXEC PGM=IEFBR14\n"},
		{"comments between continuations", job + "//S1 EXEC PGM=IEFBR14,\n//* a comment\n//             REGION=0M  and a comment field\n"},
		{"sequence numbers", seq(strings.TrimSuffix(job, "\n")) + "\n" + seq("//S1 EXEC PGM=IEFBR14") + "\n"},
		{"quoted continuation", job + "//S1 EXEC PGM=IEFBR14,PARM='" + strings.Repeat("A", 43) + "\n//" + strings.Repeat(" ", 13) + "BBB'\n"},
		{"doubled apostrophes", job + "//S1 EXEC PGM=IEFBR14,PARM='IT''S'\n"},
		{"concatenation", job + "//S1 EXEC PGM=IEFBR14\n//SYSLIB DD DSN=SYS1.MACLIB,DISP=SHR\n//       DD DSN=SYS1.MODGEN,DISP=SHR\n"},
		{"dd star ended by //", job + "//S1 EXEC PGM=IEFBR14\n//SYSIN DD *\n data\n//S2 EXEC PGM=IEFBR14\n"},
		{"dd data with dlm", job + "//S1 EXEC PGM=IEFBR14\n//SYSIN DD DATA,DLM=$$\n//NOT A STATEMENT\n/* NOT THE END\n$$\n"},
		{"dd star with quoted dlm", job + "//S1 EXEC PGM=IEFBR14\n//SYSIN DD *,DLM='@@'\n//X\n@@\n"},
		{"dd data to delimiter", job + "//S1 EXEC PGM=IEFBR14\n//SYSIN DD DATA\n//X\n/*\n"},
		{"jcllib include set", job + "// JCLLIB ORDER=(SYS1.PROCLIB,USER.PROCLIB)\n// SET HLQ=SOCKSD\n// INCLUDE MEMBER=SOCKSINC\n//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=&HLQ..DATA,DISP=SHR\n"},
		{"temporary data sets", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=&&TEMP,DISP=(NEW,PASS),SPACE=(TRK,(1,1))\n//DD2 DD DSN=&TEMP2,DISP=(NEW,PASS)\n"},
		{"backward reference", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=A.B,DISP=SHR\n//S2 EXEC PGM=*.S1.DD1\n//DD2 DD DSN=*.S1.DD1,DISP=SHR\n"},
		{"if else endif nested", job + "//S1 EXEC PGM=IEFBR14\n// IF (S1.RC = 0 & S1.RUN) THEN\n//S2 EXEC PGM=IEFBR14\n//   IF ¬ABEND AND (RC < 4 | RC GT 8) THEN\n//S3 EXEC PGM=IEFBR14\n//   ENDIF\n// ELSE\n//S4 EXEC PGM=IEFBR14\n// ENDIF\n"},
		{"if continued", job + "//S1 EXEC PGM=IEFBR14\n//T1 IF (S1.RC = 0 |\n//        S1.ABENDCC = S0C4) THEN\n// ENDIF\n"},
		{"in-stream proc with override", job + "//P PROC A=1\n//PS EXEC PGM=IEFBR14,PARM='&A&B'\n//DD1 DD PATH='/tmp/&B',PATHOPTS=(OWRONLY,OCREAT),PATHMODE=SIRWXU\n// PEND\n//S1 EXEC P,B=X\n//S2 EXEC PROC=P,A=2,B=Y,PARM.PS='Z'\n"},
		{"cataloged proc member", "//* a procedure\n//SOCKSD PROC DIR='/usr/lpp/socksd'\n//RUN EXEC PGM=BPXBATSL,PARM='PGM &DIR./bin/socksd'\n//STDOUT DD SYSOUT=*\n"},
		{"cataloged proc with pend", "//SOCKSD PROC\n//RUN EXEC PGM=BPXBATSL\n// PEND\n"},
		{"include member fragment", "//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=&HLQ..X,DISP=SHR\n"},
		{"jes2 control statement", job + "/*JOBPARM SYSAFF=*\n//S1 EXEC PGM=IEFBR14\n"},
		{"output statement", job + "//OUT1 OUTPUT CLASS=A,DEST=LOCAL\n//S1 EXEC PGM=IEFBR14\n//SYSPRINT DD SYSOUT=(A,,STD),OUTPUT=*.OUT1\n"},
		{"null statement and second job", job + "//S1 EXEC PGM=IEFBR14\n//\n" + job + "//S1 EXEC PGM=IEFBR14\n"},
		{"joblib", job + "//JOBLIB DD DSN=USER.LOAD,DISP=SHR\n//S1 EXEC PGM=MYPGM\n"},
		{"region time space", job + "//S1 EXEC PGM=IEFBR14,REGION=4096K,TIME=(1,30)\n//DD1 DD DSN=A.B,DISP=(NEW,CATLG),SPACE=(CYL,(10,5,20),RLSE)\n//DD2 DD DSN=A.C,DISP=NEW,SPACE=(80,(100,,10))\n"},
		{"comment continued by column 72", job + "//S1 EXEC PGM=IEFBR14 A COMMENT" + strings.Repeat(" ", 40) + "X\n//             THAT GOES ON\n//S2 EXEC PGM=IEFBR14\n"},
		{"cond forms", "//J JOB (A),'X',COND=((4,LT),(8,EQ))\n//S1 EXEC PGM=IEFBR14,COND=EVEN\n//S2 EXEC PGM=IEFBR14,COND=(4,LT,S1)\n//S3 EXEC PGM=IEFBR14,COND=((0,NE,S1.PS),EVEN)\n"},
		{"dcb", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=A.B,DISP=SHR,DCB=(RECFM=FBA,LRECL=133,BLKSIZE=0)\n//DD2 DD DSN=A.C,DISP=SHR,DCB=*.DD1\n"},
		{"same dd name in two steps", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DUMMY\n//S2 EXEC PGM=IEFBR14\n//DD1 DD DUMMY\n"},
		{"bpxbatch sh", job + "//S1 EXEC PGM=BPXBATCH,PARM='SH ls -l'\n"},
		{"gdg", job + "//S1 EXEC PGM=IEFBR14\n//DD1 DD DSN=A.GDG(+1),DISP=(NEW,CATLG)\n"},
		{"trailing blank lines", job + "//S1 EXEC PGM=IEFBR14\n\n\n"},
		{"utf-8 byte order mark", "\ufeff" + job + "//S1 EXEC PGM=IEFBR14\n"},
		{"crlf", strings.ReplaceAll(job+"//S1 EXEC PGM=IEFBR14\n", "\n", "\r\n")},
		{"override nullifies", job + "//S1 EXEC P\n//PS.DD1 DD DSN=\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if errs := Check("T", []byte(tc.jcl)); len(errs) > 0 {
				t.Errorf("unexpected problems:\n%v\nin\n%s", ErrorList(errs), tc.jcl)
			}
		})
	}
}

// TestCheckNotJCL wants non-JCL members skipped except for long lines.
func TestCheckNotJCL(t *testing.T) {
	if errs := Check("ENV", []byte("_BPXK_AUTOCVT=ON\nHOME=/var/socksd\n")); len(errs) != 0 {
		t.Errorf("STDENV member: %v", errs)
	}
	errs := Check("ENV", []byte("A=1\nB="+strings.Repeat("x", 80)+"\n"))
	if len(errs) != 1 || errs[0].Line != 2 || errs[0].Column != 81 {
		t.Errorf("long line: got %v, want ENV:2:81", errs)
	}
	if ok, _ := IsJCL([]byte("# toml\n[server]\n"), "auto"); ok {
		t.Error("TOML taken for JCL")
	}
}

// TestCheckEBCDIC wants the same result for a member in ASCII, in IBM-1047
// fixed 80-byte records and in newline-delimited IBM-1047.
func TestCheckEBCDIC(t *testing.T) {
	text := job + "//S1 EXEC PGM=IEFBR14,\n//  PARM='¬X'\n//BAD DD DSN=A..B\n"
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	want := Check("T", []byte(text))
	if len(want) != 1 || want[0].Line != 4 || want[0].Column != 14 {
		t.Fatalf("ASCII: got %v, want one problem at T:4:14", want)
	}
	rec, err := encodeLines(lines, EncodingIBM1047)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec) != 80*len(lines) || rec[0] != 0x61 || rec[1] != 0x61 {
		t.Fatalf("records: %d bytes starting % X", len(rec), rec[:2])
	}
	nl := make([]byte, 0, len(rec))
	for i := 0; i < len(rec); i += 80 {
		nl = append(append(nl, rec[i:i+80]...), 0x15)
	}
	for name, data := range map[string][]byte{"records": rec, "NL-delimited": nl} {
		if got := Check("T", data); !equalErrors(got, want) {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
		got, err := CheckEncoding("T", data, "ibm-1047")
		if err != nil || !equalErrors(got, want) {
			t.Errorf("%s named ibm-1047: got %v, %v, want %v", name, got, err, want)
		}
	}
	if _, err := CheckEncoding("T", rec, "klingon"); err == nil {
		t.Error("unknown encoding accepted")
	}
}

func equalErrors(a, b []Error) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestErrorFormat(t *testing.T) {
	e := Error{File: "SOCKSD", Line: 3, Column: 16, Msg: "unmatched apostrophe"}
	if got := e.Error(); got != "SOCKSD:3:16: unmatched apostrophe" {
		t.Errorf("got %q", got)
	}
	l := ErrorList{e, {File: "X", Line: 1, Column: 2, Msg: "m"}}
	if got := l.Error(); got != "SOCKSD:3:16: unmatched apostrophe\nX:1:2: m" {
		t.Errorf("list: got %q", got)
	}
}
