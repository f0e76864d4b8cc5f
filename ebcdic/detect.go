package ebcdic

// Detect guesses whether b — an FTP command line, reply or other short text,
// with or without its line end — is ASCII or EBCDIC.
//
// The heuristic: every byte is scored twice, once as ASCII and once as
// IBM-1047. A byte counts for ASCII when it is printable ASCII (0x20-0x7E)
// or TAB, CR or LF; it counts for EBCDIC when it decodes to printable ASCII
// or is one of the EBCDIC controls of a line end (X'0D', X'15', X'25') or
// TAB (X'05'). Letters and digits — most of any FTP line — are 0x30-0x7A in
// ASCII but 0x81-0xF9 in EBCDIC, where they are not printable ASCII, so
// real text scores high on one side only. The side with the higher score
// wins if at least three quarters of the bytes count for it; otherwise, and
// for empty input, ok is false.
//
// For EBCDIC, IBM-1047 and IBM-037 differ only in the code points of
// [ ] ^ ¬ Ý ¨ (X'5F' X'AD' X'B0' X'BA' X'BB' X'BD'). IBM-037 is chosen only
// when more bytes decode to printable ASCII under IBM-037 than under
// IBM-1047 — that is, when the text uses 037's brackets or caret; otherwise
// the answer is IBM-1047.
func Detect(b []byte) (cp CodePage, ok bool) {
	if len(b) == 0 {
		return ASCII, false
	}
	var asc, e1047, e037 int
	for _, c := range b {
		if isASCIIText(c) {
			asc++
		}
		if isEBCDICText(IBM1047, c) {
			e1047++
		}
		if isEBCDICText(IBM037, c) {
			e037++
		}
	}
	ebc, ecp := e1047, IBM1047
	if e037 > e1047 {
		ebc, ecp = e037, IBM037
	}
	n := len(b)
	switch {
	case asc >= ebc && asc*4 >= n*3:
		return ASCII, true
	case ebc > asc && ebc*4 >= n*3:
		return ecp, true
	}
	return ASCII, false
}

func isASCIIText(c byte) bool {
	return (c >= 0x20 && c <= 0x7E) || c == '\t' || c == '\r' || c == '\n'
}

func isEBCDICText(cp CodePage, c byte) bool {
	switch c {
	case 0x0D, 0x15, 0x25, 0x05:
		return true
	}
	r := charmapOf(cp).DecodeByte(c)
	return r >= 0x20 && r <= 0x7E
}
