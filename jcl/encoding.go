package jcl

import (
	"bytes"
	"errors"
	"fmt"
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
const RecordLength = ebcdic.RecordLength

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
// Detection (ebcdic.DetectText) and framing (ebcdic.TextLines: line ends
// or 80-byte records) are ebcdic's.
func decodeLines(data []byte, enc string) ([]string, string, error) {
	enc, err := NormalizeEncoding(enc)
	if err != nil {
		return nil, "", err
	}
	var cp ebcdic.CodePage
	if enc == EncodingAuto {
		cp = ebcdic.DetectText(data)
	} else {
		cp, _ = ebcdic.ParseCodePage(enc)
	}
	return ebcdic.TextLines(data, cp), cp.String(), nil
}

// LineTooLongError reports a line that does not fit a card-image record.
type LineTooLongError struct {
	Line   int // 1-based
	Length int // in characters
}

func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("jcl: line %d is %d characters long, more than %d", e.Line, e.Length, RecordLength)
}

// outputEncoding normalises the name of an encoding to write in: a code
// page, never auto (detection is for reading).
func outputEncoding(enc string) (string, error) {
	norm, err := NormalizeEncoding(enc)
	if err != nil {
		return "", err
	}
	if norm == EncodingAuto {
		return "", fmt.Errorf("jcl: output encoding must be ascii, ibm-1047 or ibm-037, not auto")
	}
	return norm, nil
}

// encodeLines turns lines into bytes: newline-terminated lines for ASCII, or
// fixed 80-byte blank-padded records without line ends for an EBCDIC code
// page. Lines longer than 80 characters are an error in both cases.
func encodeLines(lines []string, enc string) ([]byte, error) {
	enc, err := outputEncoding(enc)
	if err != nil {
		return nil, err
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
