package jcl

import (
	"strconv"
	"strings"
)

// ifToken is one token of an IF statement's relational expression.
type ifToken struct {
	s  string
	at pos
}

// tokenizeIf splits an IF expression into words, parentheses and operators.
func tokenizeIf(text []rune, at []pos) []ifToken {
	var toks []ifToken
	for i := 0; i < len(text); {
		r := text[i]
		switch {
		case r == ' ':
			i++
		case r == '(' || r == ')' || r == '&' || r == '|':
			toks = append(toks, ifToken{string(r), at[i]})
			i++
		case r == '=' || r == '>' || r == '<' || r == '¬' || r == '^':
			j := i + 1
			if j < len(text) && text[j] == '=' || (r == '¬' || r == '^') && j < len(text) && (text[j] == '>' || text[j] == '<') {
				j++
			}
			s := strings.ReplaceAll(string(text[i:j]), "^", "¬")
			toks = append(toks, ifToken{s, at[i]})
			i = j
		default:
			j := i
			for j < len(text) && (isNameChar(text[j]) || text[j] == '.') {
				j++
			}
			if j == i {
				j++ // an invalid character becomes its own token
			}
			toks = append(toks, ifToken{string(text[i:j]), at[i]})
			i = j
		}
	}
	return toks
}

// ifParser checks the grammar of an IF expression:
//
//	expr   = unary { (AND | OR | & | "|") unary }
//	unary  = (NOT | ¬) unary | "(" expr ")" | test
//	test   = [step[.procstep].]keyword [relop value]
type ifParser struct {
	toks []ifToken
	i    int
	end  pos
	err  func(pos, string)
	bad  bool
}

func (p *ifParser) peek() (ifToken, bool) {
	if p.i < len(p.toks) {
		return p.toks[p.i], true
	}
	return ifToken{at: p.end}, false
}

func (p *ifParser) fail(at pos, msg string) {
	if !p.bad {
		p.err(at, msg)
		p.bad = true
	}
}

func isRelop(s string) bool {
	switch s {
	case "=", ">", "<", ">=", "<=", "¬=", "¬>", "¬<", "EQ", "NE", "GT", "LT", "GE", "LE", "NG", "NL":
		return true
	}
	return false
}

// checkIfExpr reports the first grammar error in an IF expression.
func checkIfExpr(text []rune, at []pos, opAt, end pos, report func(pos, string)) {
	p := &ifParser{toks: tokenizeIf(text, at), end: end, err: report}
	if len(p.toks) == 0 {
		p.fail(opAt, "IF needs a relational expression before THEN")
		return
	}
	p.expr(0)
	if t, ok := p.peek(); ok && !p.bad {
		p.fail(t.at, "unexpected "+strconv.Quote(t.s)+" in IF expression")
	}
}

func (p *ifParser) expr(depth int) {
	if depth > 50 {
		t, _ := p.peek()
		p.fail(t.at, "IF expression nested too deeply")
		return
	}
	p.unary(depth)
	for !p.bad {
		t, ok := p.peek()
		if !ok || (t.s != "AND" && t.s != "OR" && t.s != "&" && t.s != "|") {
			return
		}
		p.i++
		p.unary(depth)
	}
}

func (p *ifParser) unary(depth int) {
	if p.bad {
		return
	}
	t, ok := p.peek()
	switch {
	case !ok:
		p.fail(t.at, "IF expression ends where an operand is expected")
	case t.s == "NOT" || t.s == "¬":
		p.i++
		p.unary(depth + 1)
	case t.s == "(":
		p.i++
		p.expr(depth + 1)
		if p.bad {
			return
		}
		c, ok := p.peek()
		if !ok || c.s != ")" {
			p.fail(t.at, "unmatched ( in IF expression")
			return
		}
		p.i++
	default:
		p.test()
	}
}

func (p *ifParser) test() {
	t, _ := p.peek()
	p.i++
	parts := strings.Split(t.s, ".")
	kw := parts[len(parts)-1]
	for _, step := range parts[:len(parts)-1] {
		if !validName(step) {
			p.fail(t.at, "invalid step name "+strconv.Quote(step)+" in IF expression")
			return
		}
	}
	if len(parts) > 3 {
		p.fail(t.at, "too many qualifiers in "+strconv.Quote(t.s))
		return
	}
	op, hasOp := p.peek()
	hasOp = hasOp && isRelop(op.s)
	switch kw {
	case "RC":
		if !hasOp {
			p.fail(t.at, "RC needs a comparison, such as RC = 0")
			return
		}
		p.i++
		v, ok := p.peek()
		if !ok {
			p.fail(v.at, "IF expression ends where a return code is expected")
			return
		}
		p.i++
		if n, err := strconv.Atoi(v.s); err != nil || n < 0 || n > 4095 {
			p.fail(v.at, "return code must be a number from 0 to 4095")
		}
	case "ABENDCC":
		if !hasOp || (op.s != "=" && op.s != "¬=" && op.s != "EQ" && op.s != "NE") {
			p.fail(t.at, "ABENDCC needs = or ¬= and a code such as S0C4 or U0100")
			return
		}
		p.i++
		v, ok := p.peek()
		p.i++
		if !ok || !validAbendCode(v.s) {
			p.fail(v.at, "abend code must be Sxxx (hex) or Unnnn (decimal)")
		}
	case "ABEND", "RUN":
		if !hasOp {
			return
		}
		p.i++
		v, ok := p.peek()
		p.i++
		if !ok || v.s != "TRUE" && v.s != "FALSE" {
			p.fail(v.at, kw+" can only be compared with TRUE or FALSE")
		}
	default:
		p.fail(t.at, "unexpected "+strconv.Quote(t.s)+" in IF expression (want RC, ABEND, ABENDCC or RUN)")
	}
}

func validAbendCode(s string) bool {
	if len(s) < 2 {
		return false
	}
	switch s[0] {
	case 'S':
		_, err := strconv.ParseUint(s[1:], 16, 16)
		return err == nil && len(s) <= 4
	case 'U':
		n, err := strconv.Atoi(s[1:])
		return err == nil && n >= 0 && n <= 4095 && len(s) <= 5
	}
	return false
}
