package ftp_test

import (
	"fmt"

	"socksd/ftp"
)

func ExampleParseCommand() {
	c, err := ftp.ParseCommand("QUOTE SITE RECFM=FB LRECL=80 FILETYPE=JES")
	if err != nil {
		panic(err)
	}
	params, _ := ftp.ParseSite(c.Args)
	fmt.Println(c.Verb, c.Normalized())
	for _, p := range params {
		fmt.Println(p.Key, p.Value)
	}
	name, member, quoted, _ := ftp.DatasetName("'HLQ.DATA(MEMBER)'")
	fmt.Println(name, member, quoted)
	// Output:
	// SITE SITE RECFM=FB LRECL=80 FILETYPE=JES
	// RECFM FB
	// LRECL 80
	// FILETYPE JES
	// HLQ.DATA MEMBER true
}

func ExampleParse227() {
	ap, _ := ftp.Parse227("227 Entering Passive Mode (10,20,0,5,39,16).")
	port, _ := ftp.Parse229("229 Entering Extended Passive Mode (|||6446|)")
	s, _ := ftp.FormatPORT(ap)
	fmt.Println(ap, port, s)
	// Output: 10.20.0.5:10000 6446 10,20,0,5,39,16
}
