package jcl

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxDeck is the largest INPUT deck ReadDeck accepts, in bytes.
const MaxDeck = 1 << 20

// Errors of ExtractInstream, for errors.Is.
var (
	ErrDDNotFound  = errors.New("jcl: no DD statement with that name")
	ErrNotInstream = errors.New("jcl: DD statement has no in-stream data (not DD * or DD DATA)")
)

// ReadDeck reads an FTP INPUT deck: ASCII lines, or IBM-1047 (or IBM-037)
// as 80-byte records or newline-delimited, detected when enc is "auto". It
// returns the lines with leading and trailing blanks removed; blank lines at
// the end are dropped, blank lines between commands are kept (the FTP client
// reads them as empty answers).
func ReadDeck(r io.Reader, enc string) ([]string, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxDeck+1))
	if err != nil {
		return nil, fmt.Errorf("jcl: read deck: %w", err)
	}
	if len(data) > MaxDeck {
		return nil, fmt.Errorf("jcl: read deck: larger than %d bytes", MaxDeck)
	}
	lines, _, err := decodeLines(data, enc)
	if err != nil {
		return nil, err
	}
	return trimDeck(lines), nil
}

func trimDeck(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimSpace(l)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// ExtractInstream returns the in-stream data of the DD statement named
// ddname (DD * or DD DATA) in a JCL member, ASCII or EBCDIC as detected,
// trimmed like [ReadDeck]. Data of unnamed DD * statements concatenated to
// it follows its own. ddname may be qualified by a step name (FTP.INPUT);
// unqualified, the first DD of that name in any step matches. For the
// FTPJOB sample, ExtractInstream(member, "INPUT") returns the FTP
// subcommands: user, password, then site, put, get, dir and quit.
func ExtractInstream(member []byte, ddname string) ([]string, error) {
	stmts, _, err := statements("member", member, EncodingAuto)
	if err != nil {
		return nil, err
	}
	want := strings.ToUpper(strings.TrimSpace(ddname))
	wantStep, wantDD, qualified := strings.Cut(want, ".")
	if !qualified {
		wantDD, wantStep = wantStep, ""
	}
	step := ""
	for i, st := range stmts {
		switch {
		case st.null:
			continue
		case st.op == "EXEC":
			step = st.name
			continue
		case st.op != "DD" || st.name != wantDD || (qualified && step != wantStep):
			continue
		}
		if !st.instream {
			return nil, fmt.Errorf("%w: %s", ErrNotInstream, want)
		}
		lines := append([]string(nil), st.data...)
		for _, next := range stmts[i+1:] {
			if next.null || next.op != "DD" || next.name != "" || !next.instream {
				break
			}
			lines = append(lines, next.data...)
		}
		return trimDeck(lines), nil
	}
	return nil, fmt.Errorf("%w: %s", ErrDDNotFound, want)
}
