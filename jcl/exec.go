package jcl

import "strings"

// execStructure records a step: the job has begun its steps, and step
// names are unique in a job or procedure.
func (c *checker) execStructure(st *stmt) {
	if c.job != nil && c.proc == nil {
		c.job.sawExec = true
	}
	if steps := c.steps(); steps != nil && st.name != "" {
		if first, dup := steps[st.name]; dup {
			c.errorf(st.nameAt, "step name %s is already used at line %d", st.name, first.line)
		} else {
			steps[st.name] = st.nameAt
		}
	}
}

func (c *checker) execStmt(st *stmt) {
	c.execStructure(st)
	resolved := c.symbols(st)
	if len(st.params) == 0 {
		c.errorf(st.end, "EXEC needs PGM=, PROC= or a procedure name")
		return
	}
	first := st.params[0]
	callsProc := true
	switch first.key {
	case "PGM":
		callsProc = false
		if v, ok := resolved[0]; ok && !validProgram(v) {
			c.errorf(first.valAt(), "PGM=%s is not a program name (1-8 characters) or a *.step.ddname reference", v)
		}
	case "PROC", "":
		if v, ok := resolved[0]; ok && !validName(v) {
			c.errorf(first.valAt(), "procedure name %q %s", v, nameProblem(v))
		}
	default:
		c.errorf(first.start, "EXEC must start with PGM=, PROC= or a procedure name")
		return
	}
	program := ""
	if !callsProc {
		program = resolved[0]
	}
	seen := map[string]bool{}
	for i, p := range st.params[1:] {
		i++
		if p.key == "" {
			if len(p.val) > 0 {
				c.errorf(p.start, "EXEC takes only one positional parameter (the procedure name)")
			}
			continue
		}
		base, step, qualified := strings.Cut(p.key, ".")
		switch {
		case base == "PGM" || base == "PROC":
			c.errorf(p.keyAt, "%s must be the first parameter of EXEC", base)
		case qualified && !callsProc:
			c.errorf(p.keyAt, "%s.%s: a procedure step qualifier is only valid when EXEC calls a procedure", base, step)
		case !isExecKeyword(base) && (!callsProc || qualified):
			c.errorf(p.keyAt, "unknown EXEC keyword %s", base)
		case !isExecKeyword(base):
			// A symbolic parameter passed to the procedure.
		case base == "PARM":
			if v, ok := resolved[i]; ok {
				if n := parmLength(v); n > maxParm {
					c.errorf(p.valAt(), "PARM is %d characters long after substitution; the limit is %d", n, maxParm)
				}
				if why := bpxbatchParmProblem(program, v); why != "" {
					c.errorf(p.valAt(), "%s", why)
				}
			}
		case base == "COND":
			if v, ok := resolved[i]; ok && len(v) > 0 {
				if why := condProblem(v, true); why != "" {
					c.errorf(p.valAt(), "%s", why)
				}
			}
		case base == "REGION" || base == "TIME":
			if v, ok := resolved[i]; ok && len(v) > 0 {
				why := regionProblem(v)
				if base == "TIME" {
					why = timeProblem(v)
				}
				if why != "" {
					c.errorf(p.valAt(), "%s", why)
				}
			}
		}
		if seen[p.key] {
			c.errorf(p.keyAt, "keyword %s coded twice", p.key)
		}
		seen[p.key] = true
	}
	if seen["PARM"] && seen["PARMDD"] {
		c.errorf(st.opAt, "PARM and PARMDD cannot both be coded")
	}
}

// bpxbatchParmProblem checks the PARM of the BPXBATCH programs, which must
// start with SH or PGM.
func bpxbatchParmProblem(program, parm string) string {
	switch program {
	case "BPXBATCH", "BPXBATSL", "BPXBATA2", "BPXBATA8":
	default:
		return ""
	}
	text := unquote(parm)
	word, rest, _ := strings.Cut(text, " ")
	switch {
	case word != "SH" && word != "PGM":
		return program + " PARM must start with SH or PGM"
	case word == "PGM" && strings.TrimSpace(rest) == "":
		return program + " PARM='PGM ...' must name the program to run"
	}
	return ""
}

// parmLength is the length of the PARM text a program receives.
func parmLength(v string) int {
	r := []rune(v)
	if len(r) > 0 && r[0] == '(' && matchingParen(r) == len(r)-1 {
		subs := subparams(r, make([]pos, len(r)), pos{})
		n := 0
		for i, s := range subs {
			if i > 0 {
				n++
			}
			n += len([]rune(unquote(string(s.val))))
		}
		return n
	}
	return len([]rune(unquote(v)))
}

func validProgram(v string) bool {
	if strings.HasPrefix(v, "*.") {
		parts := strings.Split(v[2:], ".")
		if len(parts) < 1 || len(parts) > 3 {
			return false
		}
		for _, p := range parts {
			if !validName(p) {
				return false
			}
		}
		return true
	}
	return validName(v)
}
