package ebcdic

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// CodePage names the character set of a control connection.
type CodePage int

// The supported code pages. ASCII means 7-bit ASCII text whose other bytes
// pass through unchanged (in practice UTF-8 or Latin-1 file names).
const (
	ASCII   CodePage = iota // US-ASCII (bytes above 0x7F pass through)
	IBM1047                 // EBCDIC Latin-1/Open Systems, the z/OS UNIX default
	IBM037                  // EBCDIC US/Canada, the classic MVS default
)

// ErrUnknownCodePage reports a code page name that ParseCodePage does not
// know; the error itself is a *CodePageError.
var ErrUnknownCodePage = errors.New("ebcdic: unknown code page")

// AutoName is the setting that asks for detection instead of a code page.
const AutoName = "auto"

// codePageNames is the one list of code-page names socksd accepts, in
// every setting and flag that names a code page: the canonical name first,
// then its aliases. Names are compared case-insensitively.
var codePageNames = []struct {
	cp    CodePage
	names []string
}{
	{ASCII, []string{"ascii", "us-ascii", "utf-8", "utf8", "iso8859-1", "iso-8859-1", "latin1"}},
	{IBM1047, []string{"ibm-1047", "ibm1047", "cp1047", "1047", "ebcdic"}},
	{IBM037, []string{"ibm-037", "ibm037", "cp037", "037", "ibm-37", "cp37"}},
}

// CodePageError reports a code page name that is not known. Auto tells
// whether the setting also accepts "auto".
type CodePageError struct {
	Name string
	Auto bool
}

// Reason says what is wrong and what is accepted, without a package prefix,
// for callers that name the setting themselves.
func (e *CodePageError) Reason() string {
	want := "ascii, ibm-1047 or ibm-037"
	if e.Auto {
		want = "auto, " + want
	}
	return fmt.Sprintf("unknown code page %q (want %s)", e.Name, want)
}

func (e *CodePageError) Error() string { return "ebcdic: " + e.Reason() }

// Is makes errors.Is(err, ErrUnknownCodePage) true.
func (e *CodePageError) Is(target error) bool { return target == ErrUnknownCodePage }

// String returns the canonical name of cp: "ascii", "ibm-1047" or "ibm-037".
func (cp CodePage) String() string {
	switch cp {
	case ASCII:
		return "ascii"
	case IBM1047:
		return "ibm-1047"
	case IBM037:
		return "ibm-037"
	}
	return fmt.Sprintf("codepage(%d)", int(cp))
}

// IsEBCDIC reports whether cp is one of the EBCDIC code pages.
func (cp CodePage) IsEBCDIC() bool { return cp == IBM1047 || cp == IBM037 }

// ParseCodePage parses a code page name, case-insensitively: "ascii"
// (also "us-ascii", "utf-8", "latin1", ...), "ibm-1047" (also "ibm1047",
// "cp1047", "1047", "ebcdic") or "ibm-037" (also "ibm037", "cp037", "037").
// The name "auto" is not a code page: see ParseCodePageOrAuto. The error is
// a *CodePageError.
func ParseCodePage(name string) (CodePage, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, e := range codePageNames {
		for _, alias := range e.names {
			if n == alias {
				return e.cp, nil
			}
		}
	}
	return 0, &CodePageError{Name: name}
}

// ParseCodePageOrAuto parses a setting that names a code page or asks for
// detection: "auto" or "" give auto = true. The error is a *CodePageError.
func ParseCodePageOrAuto(name string) (cp CodePage, auto bool, err error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" || n == AutoName {
		return ASCII, true, nil
	}
	cp, err = ParseCodePage(name)
	if err != nil {
		return 0, false, &CodePageError{Name: name, Auto: true}
	}
	return cp, false, nil
}

// Charmap returns the table of an EBCDIC code page, nil for ASCII.
func (cp CodePage) Charmap() *charmap.Charmap { return charmapOf(cp) }

// charmapOf returns the table of an EBCDIC code page, nil for ASCII.
func charmapOf(cp CodePage) *charmap.Charmap {
	switch cp {
	case IBM1047:
		return charmap.CodePage1047
	case IBM037:
		return charmap.CodePage037
	}
	return nil
}

// sub is the EBCDIC substitute character, written for a rune the code page
// cannot represent.
const sub = 0x3F

// Encode converts s to the bytes of code page cp. For ASCII the bytes of s
// are returned unchanged; for EBCDIC a rune without a code point becomes the
// substitute character X'3F'.
func Encode(cp CodePage, s string) []byte {
	m := charmapOf(cp)
	if m == nil {
		return []byte(s)
	}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		b, ok := m.EncodeRune(r)
		if !ok {
			b = sub
		}
		out = append(out, b)
	}
	return out
}

// Decode converts bytes of code page cp to a string. For ASCII the bytes are
// returned as they are. Every EBCDIC byte decodes to exactly one rune, so
// Encode(cp, Decode(cp, b)) == b for the EBCDIC code pages.
func Decode(cp CodePage, b []byte) string {
	m := charmapOf(cp)
	if m == nil {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		sb.WriteRune(m.DecodeByte(c))
	}
	return sb.String()
}

// Translate appends src, read in code page from, to dst in code page to and
// returns the extended slice. It never makes an intermediate string, so it
// suits secrets that the caller wipes afterwards. From ASCII, bytes that are
// not valid UTF-8 are taken as Latin-1.
func Translate(dst []byte, from, to CodePage, src []byte) []byte {
	if from == to {
		return append(dst, src...)
	}
	fm, tm := charmapOf(from), charmapOf(to)
	for i := 0; i < len(src); {
		var r rune
		if fm != nil {
			r = fm.DecodeByte(src[i])
			i++
		} else {
			var n int
			r, n = utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && n <= 1 {
				r = rune(src[i])
				n = 1
			}
			i += n
		}
		if tm == nil {
			dst = utf8.AppendRune(dst, r)
			continue
		}
		b, ok := tm.EncodeRune(r)
		if !ok {
			b = sub
		}
		dst = append(dst, b)
	}
	return dst
}
