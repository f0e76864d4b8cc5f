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

// condProblem explains why v is not a COND value, or "". onExec allows the
// step names and EVEN/ONLY of the EXEC form.
func condProblem(v string, onExec bool) string {
	if onExec && (v == "EVEN" || v == "ONLY") {
		return ""
	}
	r := []rune(v)
	if len(r) < 2 || r[0] != '(' || matchingParen(r) != len(r)-1 {
		return "COND must be (code,operator) or a list of such tests"
	}
	subs := subparams(r, make([]pos, len(r)), pos{})
	tests := [][]rune{r}
	if len(subs) > 0 && len(subs[0].val) > 0 && (subs[0].val[0] == '(' || onExec && isEvenOnly(subs[0].val)) {
		tests = tests[:0]
		for _, s := range subs {
			tests = append(tests, s.val)
		}
	}
	if len(tests) > 8 {
		return "COND takes at most 8 tests"
	}
	for _, t := range tests {
		if onExec && isEvenOnly(t) {
			continue
		}
		if len(t) < 2 || t[0] != '(' || matchingParen(t) != len(t)-1 {
			return condForm(onExec)
		}
		parts := subparams(t, make([]pos, len(t)), pos{})
		max := 2
		if onExec {
			max = 3
		}
		if len(parts) < 2 || len(parts) > max {
			return condForm(onExec)
		}
		code := string(parts[0].val)
		if n := len(code); !isDigits(code) || n > 4 || code > "4095" && n == 4 {
			return "COND return code must be a number from 0 to 4095"
		}
		if !oneOf(string(parts[1].val), "GT", "GE", "EQ", "LT", "LE", "NE") {
			return "COND operator must be GT, GE, EQ, LT, LE or NE"
		}
		if len(parts) == 3 {
			for _, n := range strings.Split(string(parts[2].val), ".") {
				if !validName(n) {
					return "COND step name must be step or step.procstep"
				}
			}
		}
	}
	return ""
}

func condForm(onExec bool) string {
	if onExec {
		return "each COND test must be (code,operator[,step])"
	}
	return "each COND test must be (code,operator)"
}

func isEvenOnly(r []rune) bool {
	s := string(r)
	return s == "EVEN" || s == "ONLY"
}

// isDCBSubparameter reports whether k is a keyword of the DCB parameter.
func isDCBSubparameter(k string) bool {
	switch k {
	case "BFALN", "BFTEK", "BLKSIZE", "BUFIN", "BUFL", "BUFMAX", "BUFNO", "BUFOFF",
		"BUFOUT", "BUFSIZE", "CPRI", "CYLOFL", "DEN", "DIAGNS", "DSORG", "EROPT",
		"FUNC", "GNCP", "INTVL", "IPLTXID", "KEYLEN", "LIMCT", "LRECL", "MODE",
		"NCP", "NTM", "OPTCD", "PCI", "PRTSP", "RECFM", "RESERVE", "RKP", "STACK",
		"THRESH", "TRTCH":
		return true
	}
	return false
}
