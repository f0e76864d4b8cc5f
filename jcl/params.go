package jcl

import "strings"

// param is one operand of a statement: a positional value or KEY=value.
type param struct {
	key   string // "" for a positional parameter
	keyAt pos
	val   []rune
	at    []pos // position of each rune of val
	start pos   // where the parameter starts (or where it is missing)
	eqAt  pos   // the = of a keyword parameter
}

// valAt returns the position of the value, or of the place it is missing.
func (p param) valAt() pos {
	switch {
	case len(p.at) > 0:
		return p.at[0]
	case p.key != "":
		return p.eqAt
	}
	return p.start
}

func (p param) value() string { return string(p.val) }

// isNameStart reports whether r may begin a JCL name: A-Z or a national
// character (@ # $).
func isNameStart(r rune) bool {
	return r >= 'A' && r <= 'Z' || r == '@' || r == '#' || r == '$'
}

func isNameChar(r rune) bool { return isNameStart(r) || r >= '0' && r <= '9' }

// validName reports whether s is a JCL name: 1-8 characters from A-Z, 0-9
// and @ # $, the first not a digit.
func validName(s string) bool {
	if len(s) < 1 || len(s) > 8 {
		return false
	}
	for i, r := range s {
		if i == 0 && !isNameStart(r) || !isNameChar(r) {
			return false
		}
	}
	return true
}

// nameProblem explains why s is not a valid name, or returns "".
func nameProblem(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len([]rune(s)) > 8:
		return "is longer than 8 characters"
	}
	for i, r := range s {
		if i == 0 && !isNameStart(r) {
			return "must start with A-Z, @, # or $"
		}
		if !isNameChar(r) {
			return "may contain only A-Z, 0-9, @, # and $"
		}
	}
	return ""
}

// validKeyword reports whether s can be a keyword: a name, optionally
// qualified by a procedure step name (PARM.STEP1) for EXEC overrides.
func validKeyword(s string) bool {
	k, step, ok := strings.Cut(s, ".")
	if !ok {
		return isKeywordName(k)
	}
	return isKeywordName(k) && validName(step)
}

func isKeywordName(s string) bool {
	if s == "" || len(s) > 8 {
		return false
	}
	for i, r := range s {
		if i == 0 && !isNameStart(r) || !isNameChar(r) {
			return false
		}
	}
	return true
}

// parseParams splits the operand text of st into parameters at top-level
// commas, reporting unbalanced parentheses and apostrophes.
func (s *scanner) parseParams(st *stmt) []param {
	text, at := st.text, st.at
	if len(text) == 0 {
		return nil
	}
	var out []param
	depth, inQ := 0, false
	var opens []pos
	var qAt pos
	start := 0
	sep := st.opAt
	for i := 0; i <= len(text); i++ {
		if i == len(text) || !inQ && depth == 0 && text[i] == ',' {
			out = append(out, s.makeParam(text[start:i], at[start:i], sep))
			if i < len(text) {
				sep = at[i]
			}
			start = i + 1
			continue
		}
		r := text[i]
		if inQ {
			if r == '\'' {
				if i+1 < len(text) && text[i+1] == '\'' {
					i++
				} else {
					inQ = false
				}
			}
			continue
		}
		switch r {
		case '\'':
			inQ, qAt = true, at[i]
		case '(':
			depth++
			opens = append(opens, at[i])
		case ')':
			if depth == 0 {
				s.errorf(at[i], "unmatched )")
				st.syntaxErr = true
				continue
			}
			depth--
			opens = opens[:len(opens)-1]
		}
	}
	if inQ {
		s.errorf(qAt, "unmatched apostrophe")
		st.syntaxErr = true
	}
	if depth > 0 {
		s.errorf(opens[len(opens)-1], "unmatched ( : no closing parenthesis")
		st.syntaxErr = true
	}
	return out
}

// makeParam builds one parameter from its text; sep is the position of the
// comma before it (used when the parameter is empty).
func (s *scanner) makeParam(text []rune, at []pos, sep pos) param {
	if len(text) == 0 {
		return param{start: sep}
	}
	eq := topLevelIndex(text, '=')
	if eq < 0 {
		return param{val: text, at: at, start: at[0]}
	}
	key := string(text[:eq])
	p := param{key: key, keyAt: at[0], val: text[eq+1:], at: at[eq+1:], start: at[0], eqAt: at[eq]}
	switch {
	case eq == 0:
		s.errorf(at[0], "missing keyword before =")
	case !validKeyword(key):
		s.errorf(at[0], "invalid keyword %q", key)
	}
	return p
}

// topLevelIndex returns the index of the first r in text outside
// apostrophes and parentheses, or -1.
func topLevelIndex(text []rune, r rune) int {
	depth, inQ := 0, false
	for i, c := range text {
		switch {
		case c == '\'':
			inQ = !inQ
		case inQ:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == r && depth == 0:
			return i
		}
	}
	return -1
}

// unquote removes enclosing apostrophes and undoubles inner ones.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	}
	return s
}

// sub is a subparameter of a parenthesized value.
type sub struct {
	val []rune
	at  pos
}

// subparams splits a value of the form (a,b,...) into its subparameters; a
// value without enclosing parentheses is its own single subparameter.
func subparams(val []rune, at []pos, fallback pos) []sub {
	if len(val) == 0 {
		return []sub{{at: fallback}}
	}
	if val[0] != '(' || matchingParen(val) != len(val)-1 {
		return []sub{{val: val, at: at[0]}}
	}
	inner, iat := val[1:len(val)-1], at[1:len(at)-1]
	var out []sub
	start := 0
	depth, inQ := 0, false
	for i := 0; i <= len(inner); i++ {
		if i == len(inner) || !inQ && depth == 0 && inner[i] == ',' {
			p := at[0]
			if start < len(inner) {
				p = iat[start]
			} else if len(iat) > 0 {
				p = iat[len(iat)-1]
			}
			out = append(out, sub{val: inner[start:i], at: p})
			start = i + 1
			continue
		}
		switch c := inner[i]; {
		case c == '\'':
			inQ = !inQ
		case inQ:
		case c == '(':
			depth++
		case c == ')':
			depth--
		}
	}
	return out
}

// matchingParen returns the index of the parenthesis that closes val[0],
// or -1.
func matchingParen(val []rune) int {
	depth, inQ := 0, false
	for i, c := range val {
		switch {
		case c == '\'':
			inQ = !inQ
		case inQ:
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}
