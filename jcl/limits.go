package jcl

import "strings"

// regionProblem explains why v is not a REGION value (nK or nM), or "".
func regionProblem(v string) string {
	if len(v) >= 2 && (strings.HasSuffix(v, "K") || strings.HasSuffix(v, "M")) && isDigits(v[:len(v)-1]) {
		return ""
	}
	return "REGION must be a number followed by K or M, such as 0M or 4096K"
}

// timeProblem explains why v is not a TIME value, or "".
func timeProblem(v string) string {
	switch v {
	case "NOLIMIT", "MAXIMUM", "1440":
		return ""
	}
	if isDigits(v) {
		return ""
	}
	r := []rune(v)
	if len(r) > 2 && r[0] == '(' && r[len(r)-1] == ')' {
		subs := subparams(r, make([]pos, len(r)), pos{})
		if len(subs) <= 2 {
			ok := true
			for _, s := range subs {
				if x := string(s.val); x != "" && !isDigits(x) {
					ok = false
				}
			}
			if ok {
				return ""
			}
		}
	}
	return "TIME must be minutes, (minutes,seconds), NOLIMIT, MAXIMUM or 1440"
}

// spaceProblem explains why v is not a SPACE value, or "".
func spaceProblem(v string) string {
	r := []rune(v)
	if len(r) < 2 || r[0] != '(' || matchingParen(r) != len(r)-1 {
		return "SPACE must be (unit,(primary,secondary,directory),...)"
	}
	subs := subparams(r, make([]pos, len(r)), pos{})
	unit := string(subs[0].val)
	if unit != "TRK" && unit != "CYL" && !isDigits(unit) {
		return "SPACE unit must be TRK, CYL or a block length"
	}
	if len(subs) < 2 || len(subs[1].val) == 0 {
		return "SPACE needs a primary quantity"
	}
	for _, q := range subparams(subs[1].val, make([]pos, len(subs[1].val)), pos{}) {
		if x := string(q.val); x != "" && !isDigits(x) {
			return "SPACE quantities must be numbers"
		}
	}
	return ""
}
