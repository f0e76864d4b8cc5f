package msg

import "strings"

// Clean makes text that came from outside (a peer's reply, a job's command,
// an error that quotes either) safe to put in an operator message, a
// console reply or an FTP reply line: each control character, each byte of
// invalid UTF-8 and each character outside printable ASCII becomes '?', so
// that the text can neither forge lines or terminal sequences nor fail
// translation to an EBCDIC code page. With max > 0, text longer than max
// bytes is cut there and ends in "...".
func Clean(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		if max > 0 && b.Len() >= max {
			b.WriteString("...")
			break
		}
		if r < 0x20 || r > 0x7E {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}
