package jcl

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"socksd/ebcdic"
)

// Encoding names accepted by [Check], [ReadDeck], [Render] and the
// --encoding flag of socksd jcl.
const (
	EncodingAuto    = "auto"     // detect ASCII or EBCDIC from the data
	EncodingASCII   = "ascii"    // ASCII / UTF-8 lines (ebcdic.ASCII)
	EncodingIBM1047 = "ibm-1047" // EBCDIC code page 1047, z/OS UNIX, ISPF (ebcdic.IBM1047)
	EncodingIBM037  = "ibm-037"  // EBCDIC code page 037, US/Canada (ebcdic.IBM037)
)

// RecordLength is the length of a fixed-length card-image record (FB 80).
const RecordLength = 80

// EncodingError reports an encoding name that is not known.
type EncodingError struct {
	Name string
	err  *ebcdic.CodePageError
}

func (e *EncodingError) Error() string { return "jcl: " + e.err.Reason() }

// Unwrap gives access to the ebcdic error (errors.Is ebcdic.ErrUnknownCodePage).
func (e *EncodingError) Unwrap() error { return e.err }

// NormalizeEncoding maps an encoding name, or one of the aliases that
// ebcdic.ParseCodePage knows (cp1047, 1047, ebcdic, iso8859-1, utf-8, ...),
// to one of the Encoding constants. An empty name means auto.
func NormalizeEncoding(name string) (string, error) {
	cp, auto, err := ebcdic.ParseCodePageOrAuto(name)
	if err != nil {
		var ce *ebcdic.CodePageError
		errors.As(err, &ce)
		return "", &EncodingError{Name: name, err: ce}
	}
	if auto {
		return EncodingAuto, nil
	}
	return cp.String(), nil
}

// DetectEncoding guesses whether data is ASCII or IBM-1047. Data that starts
// (after blanks) with EBCDIC "//" (X'6161') is EBCDIC, ASCII "//" is ASCII;
// anything else is decided by counting blanks and alphanumerics of each code.
func DetectEncoding(data []byte) string {
	rest := bytes.TrimLeft(data, " \t\r\n\x40\x15\x25\x05")
	switch {
	case bytes.HasPrefix(rest, []byte{0x61, 0x61}):
		return EncodingIBM1047
	case bytes.HasPrefix(rest, []byte("//")):
		return EncodingASCII
	}
	if len(data) > 4096 {
		data = data[:4096]
	}
	var e, a int
	for _, b := range data {
		if b == 0x40 || isEBCDICAlnum(b) {
			e++
		}
		if b == ' ' || b == '\n' || isASCIIAlnum(b) {
			a++
		}
	}
	if e > a {
		return EncodingIBM1047
	}
	return EncodingASCII
}

func isASCIIAlnum(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z'
}

func isEBCDICAlnum(b byte) bool {
	return b >= 0x81 && b <= 0x89 || b >= 0x91 && b <= 0x99 || b >= 0xA2 && b <= 0xA9 ||
		b >= 0xC1 && b <= 0xC9 || b >= 0xD1 && b <= 0xD9 || b >= 0xE2 && b <= 0xE9 ||
		b >= 0xF0 && b <= 0xF9
}

// charmapFor returns the table of a normalized encoding, nil for ASCII.
func charmapFor(enc string) *charmap.Charmap {
	cp, err := ebcdic.ParseCodePage(enc)
	if err != nil {
		return nil
	}
	return cp.Charmap()
}

// decodeLines splits data into lines (without terminators) in encoding enc,
// which may be auto. It returns the lines and the encoding actually used.
//
// ASCII data is split at LF (a CR before it is dropped). EBCDIC data is split
// at NL (X'15') or LF (X'25'), a CR (X'0D') before either dropped; EBCDIC data
// without any line end is cut into fixed 80-byte records. ASCII data without
// any newline whose length is a multiple of 80 is cut into records as well.
func decodeLines(data []byte, enc string) ([]string, string, error) {
	enc, err := NormalizeEncoding(enc)
	if err != nil {
		return nil, "", err
	}
	if enc == EncodingAuto {
		enc = DetectEncoding(data)
	}
	cm := charmapFor(enc)
	if cm == nil {
		data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	}
	var raw [][]byte
	switch {
	case cm == nil && bytes.IndexByte(data, '\n') >= 0:
		raw = splitKeep(data, func(b byte) bool { return b == '\n' }, '\r')
	case cm == nil && len(data) > RecordLength && len(data)%RecordLength == 0:
		raw = records(data)
	case cm == nil:
		if len(data) > 0 {
			raw = [][]byte{bytes.TrimSuffix(data, []byte{'\r'})}
		}
	case bytes.IndexByte(data, 0x15) >= 0 || bytes.IndexByte(data, 0x25) >= 0:
		raw = splitKeep(data, func(b byte) bool { return b == 0x15 || b == 0x25 }, 0x0D)
	default:
		raw = records(data)
	}
	lines := make([]string, len(raw))
	for i, r := range raw {
		lines[i] = decodeBytes(r, cm)
	}
	return lines, enc, nil
}

// splitKeep splits data at bytes for which isEnd is true, dropping one cr
// byte before each end and the empty piece after a final line end.
func splitKeep(data []byte, isEnd func(byte) bool, cr byte) [][]byte {
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

// decodeBytes decodes b with cm, or as UTF-8 (falling back to Latin-1 for
// invalid UTF-8) when cm is nil.
func decodeBytes(b []byte, cm *charmap.Charmap) string {
	if cm == nil {
		if utf8.Valid(b) {
			return string(b)
		}
		rs := make([]rune, len(b))
		for i, c := range b {
			rs[i] = rune(c)
		}
		return string(rs)
	}
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		sb.WriteRune(cm.DecodeByte(c))
	}
	return sb.String()
}

// LineTooLongError reports a line that does not fit a card-image record.
type LineTooLongError struct {
	Line   int // 1-based
	Length int // in characters
}

func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("jcl: line %d is %d characters long, more than %d", e.Line, e.Length, RecordLength)
}

// encodeLines turns lines into bytes: newline-terminated lines for ASCII, or
// fixed 80-byte blank-padded records without line ends for an EBCDIC code
// page. Lines longer than 80 characters are an error in both cases.
func encodeLines(lines []string, enc string) ([]byte, error) {
	enc, err := NormalizeEncoding(enc)
	if err != nil {
		return nil, err
	}
	if enc == EncodingAuto {
		return nil, fmt.Errorf("jcl: output encoding must be ascii, ibm-1047 or ibm-037, not auto")
	}
	cm := charmapFor(enc)
	var out bytes.Buffer
	for i, line := range lines {
		if n := utf8.RuneCountInString(line); n > RecordLength {
			return nil, &LineTooLongError{Line: i + 1, Length: n}
		}
		if cm == nil {
			out.WriteString(line)
			out.WriteByte('\n')
			continue
		}
		n := 0
		for col, r := range []rune(line) {
			b, ok := cm.EncodeRune(r)
			if !ok {
				return nil, fmt.Errorf("jcl: line %d column %d: character U+%04X has no %s code", i+1, col+1, r, enc)
			}
			out.WriteByte(b)
			n++
		}
		for ; n < RecordLength; n++ {
			out.WriteByte(0x40)
		}
	}
	return out.Bytes(), nil
}

// DecodeLines splits data into lines as [Check] reads it: ASCII or EBCDIC
// (named, or detected for "auto"), newline-delimited or fixed 80-byte
// records. It fails only for an unknown encoding name.
func DecodeLines(data []byte, enc string) ([]string, error) {
	lines, _, err := decodeLines(data, enc)
	return lines, err
}
