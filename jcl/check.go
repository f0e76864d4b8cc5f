package jcl

// Check validates the member data, reading it as ASCII or IBM-1047 as
// detected, and returns its problems in line order (nil if there are none).
// name is used as the File of each Error.
//
// A member in which no line starts with // or /* is not JCL (an STDENV
// member, a TOML file, FTP.DATA, a SOCKS configuration file): for it Check
// only reports lines too long for an 80-byte record.
func Check(name string, data []byte) []Error {
	errs, err := CheckEncoding(name, data, EncodingAuto)
	if err != nil {
		// Unreachable: auto is always a valid encoding.
		return []Error{{File: name, Msg: err.Error()}}
	}
	return errs
}

// CheckEncoding is [Check] with a named encoding (auto, ascii, ibm-1047 or
// ibm-037). It fails only for an unknown encoding name.
func CheckEncoding(name string, data []byte, enc string) ([]Error, error) {
	lines, _, err := decodeLines(data, enc)
	if err != nil {
		return nil, err
	}
	rl := runeLines(lines)
	s := &scanner{file: name, lines: rl}
	if !isJCL(rl) {
		for i := range rl {
			s.checkLength(i)
		}
		return s.errs, nil
	}
	stmts := s.scan()
	newChecker(s, stmts).run()
	return sortErrors(s.errs), nil
}

// IsJCL reports whether data (in encoding enc, or detected for auto) is a
// JCL member: whether any line starts with // or /*.
func IsJCL(data []byte, enc string) (bool, error) {
	lines, _, err := decodeLines(data, enc)
	if err != nil {
		return false, err
	}
	return isJCL(runeLines(lines)), nil
}

func runeLines(lines []string) [][]rune {
	out := make([][]rune, len(lines))
	for i, l := range lines {
		out[i] = []rune(l)
	}
	return out
}

func isJCL(lines [][]rune) bool {
	for _, l := range lines {
		if hasPrefix(l, "//") || hasPrefix(l, "/*") {
			return true
		}
	}
	return false
}

// statements parses member data into statements without validating them
// beyond what parsing needs. Problems found while parsing are returned too.
func statements(name string, data []byte, enc string) ([]*stmt, []Error, error) {
	lines, _, err := decodeLines(data, enc)
	if err != nil {
		return nil, nil, err
	}
	s := &scanner{file: name, lines: runeLines(lines)}
	stmts := s.scan()
	return stmts, s.errs, nil
}
