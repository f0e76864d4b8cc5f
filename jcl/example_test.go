package jcl_test

import (
	"fmt"

	"socksd/jcl"
)

func ExampleCheck() {
	member := []byte(`//NIGHTLY JOB (ACCT),'FTP',CLASS=A
//STEP1   EXEC PGM=FTP,PARM='partner (EXIT
//SYSPRINT DD SYSOUT=*
`)
	for _, e := range jcl.Check("NIGHTLY", member) {
		fmt.Println(e)
	}
	// Output:
	// NIGHTLY:2:29: unmatched apostrophe
}

func ExampleExtractInstream() {
	member, err := jcl.Sample("FTPJOB")
	if err != nil {
		panic(err)
	}
	deck, err := jcl.ExtractInstream(member, "INPUT")
	if err != nil {
		panic(err)
	}
	for _, line := range deck {
		fmt.Println(line)
	}
	// Output:
	// FTPUSER
	// PASSWORD
	// site umask 022
	// put 'SOCKSD.FTP.OUTBOUND' outbound.txt
	// get inbound.txt 'SOCKSD.FTP.INBOUND' (replace
	// dir
	// quit
}

func ExampleRender() {
	site := jcl.DefaultSite()
	site.HLQ = "PROD.SOCKS"
	site.FTPHost = "ftp.bank.example"
	members, err := jcl.Render(site, "ibm-1047")
	if err != nil {
		panic(err)
	}
	proc := members["SOCKSD"]
	fmt.Println(len(proc)%80 == 0, proc[0] == 0x61 && proc[1] == 0x61)
	// Output:
	// true true
}
