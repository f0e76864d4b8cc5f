package ebcdic

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// RecordLength is the length of a card-image record, as in a member of an
// FB 80 data set.
const RecordLength = 80

// detectTextLimit is how much of a file DetectText looks at.
const detectTextLimit = 4096

// DetectText guesses the code page of a whole text file, such as a
// configuration file or a JCL member, from its first 4096 bytes with the
// scoring of [Detect]. Text that Detect finds to be EBCDIC is IBM-1047, the
// z/OS UNIX default: in a file the two EBCDIC code pages differ only in
// rarely used characters (¬ in JCL, for one, is X'5F' in IBM-037 and X'B0'
// in IBM-1047, where IBM-037 has ^), so a file in IBM-037 must be named as
// such. Undecided text, and empty data, is ASCII.
func DetectText(data []byte) CodePage {
	if len(data) > detectTextLimit {
		data = data[:detectTextLimit]
	}
	if cp, ok := Detect(data); ok && cp.IsEBCDIC() {
		return IBM1047
	}
	return ASCII
}

// TextLines splits a text file in code page cp into its lines, decoded and
// without their line ends. It is the framing of files; [LineReader] is the
// framing of control connections.
//
// ASCII data is split at LF (a CR before it is dropped; a UTF-8 byte order
// mark at the start too) and decoded as UTF-8, or as Latin-1 when a line
// is not valid UTF-8. ASCII data without any LF whose length is a multiple
// of 80 (and more than one record) is cut into 80-byte records. EBCDIC data
// is split at NL (X'15') or LF (X'25'), a CR (X'0D') before either dropped;
// EBCDIC data without any line end is cut into 80-byte records, as uploaded
// in binary from an FB 80 data set. A short last record is kept. The empty
// piece after a final line end is not a line.
func TextLines(data []byte, cp CodePage) []string {
	var raw [][]byte
	switch {
	case !cp.IsEBCDIC():
		data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		switch {
		case bytes.IndexByte(data, '\n') >= 0:
			raw = splitLines(data, func(b byte) bool { return b == '\n' }, '\r')
		case len(data) > RecordLength && len(data)%RecordLength == 0:
			raw = records(data)
		case len(data) > 0:
			raw = [][]byte{bytes.TrimSuffix(data, []byte{'\r'})}
		}
	case bytes.IndexByte(data, 0x15) >= 0 || bytes.IndexByte(data, 0x25) >= 0:
		raw = splitLines(data, func(b byte) bool { return b == 0x15 || b == 0x25 }, 0x0D)
	default:
		raw = records(data)
	}
	lines := make([]string, len(raw))
	for i, r := range raw {
		lines[i] = decodeLine(cp, r)
	}
	return lines
}

// splitLines splits data at bytes for which isEnd is true, dropping one cr
// byte before each end and the empty piece after a final line end.
func splitLines(data []byte, isEnd func(byte) bool, cr byte) [][]byte {
	var out [][]byte
	start := 0
	for i, b := range data {
		if !isEnd(b) {
			continue
		}
		out = append(out, bytes.TrimSuffix(data[start:i], []byte{cr}))
		start = i + 1
	}
	if start < len(data) {
		out = append(out, bytes.TrimSuffix(data[start:], []byte{cr}))
	}
	return out
}

// records cuts data into 80-byte records; a short last record is kept.
func records(data []byte) [][]byte {
	out := make([][]byte, 0, (len(data)+RecordLength-1)/RecordLength)
	for len(data) > 0 {
		n := min(RecordLength, len(data))
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}

// decodeLine decodes one line of a file: EBCDIC with the code page's table,
// ASCII as UTF-8, or as Latin-1 when it is not valid UTF-8.
func decodeLine(cp CodePage, b []byte) string {
	if cp.IsEBCDIC() || utf8.Valid(b) {
		return Decode(cp, b)
	}
	var sb strings.Builder
	sb.Grow(2 * len(b))
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}
