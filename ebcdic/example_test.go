package ebcdic_test

import (
	"bytes"
	"fmt"

	"socksd/ebcdic"
)

func ExampleDetect() {
	line := append(ebcdic.Encode(ebcdic.IBM1047, "USER IBMUSER"), 0x15)
	cp, ok := ebcdic.Detect(line)
	fmt.Println(cp, ok)
	cp, ok = ebcdic.Detect([]byte("USER ibmuser\r\n"))
	fmt.Println(cp, ok)
	// Output:
	// ibm-1047 true
	// ascii true
}

func ExampleLineReader() {
	in := append(ebcdic.Encode(ebcdic.IBM1047, "PWD"), 0x0D, 0x25)
	in = append(in, "NOOP\r\n"...)
	lr := ebcdic.NewLineReader(bytes.NewReader(in), 0)
	for {
		line, term, err := lr.ReadLine()
		if err != nil {
			break
		}
		cp, _ := ebcdic.Detect(line)
		fmt.Println(ebcdic.Decode(cp, line), term)
	}
	// Output:
	// PWD X'0D25'
	// NOOP CRLF
}
