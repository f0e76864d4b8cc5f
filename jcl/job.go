package jcl

func (c *checker) jobStmt(st *stmt) {
	switch c.kind {
	case memberProc:
		c.errorf(st.opAt, "JOB statement in a procedure member")
		return
	case memberFragment:
		c.errorf(st.opAt, "JOB statement must be the first statement of a job")
		return
	}
	if c.job != nil || c.proc != nil {
		c.endJob()
	}
	c.ended = false
	c.job = &jobState{steps: map[string]pos{}}
	c.symbols(st)
	positional := 0
	for _, p := range st.params {
		if p.key == "" {
			positional++
			switch positional {
			case 2:
				if n := len([]rune(unquote(p.value()))); n > 20 {
					c.errorf(p.valAt(), "programmer name is %d characters long; the limit is 20", n)
				}
			case 3:
				c.errorf(p.start, "JOB takes at most two positional parameters (accounting information, programmer name)")
			}
			continue
		}
		if !isJobKeyword(p.key) {
			c.errorf(p.keyAt, "unknown JOB keyword %s", p.key)
			continue
		}
		v := p.value()
		switch p.key {
		case "CLASS", "MSGCLASS":
			if len(v) != 1 || !(v[0] >= 'A' && v[0] <= 'Z' || v[0] >= '0' && v[0] <= '9') {
				c.errorf(p.valAt(), "%s must be one character A-Z or 0-9", p.key)
			}
		case "MSGLEVEL":
			subs := subparams(p.val, p.at, p.start)
			if len(subs) > 2 || !oneOf(string(subs[0].val), "", "0", "1", "2") ||
				len(subs) == 2 && !oneOf(string(subs[1].val), "", "0", "1") {
				c.errorf(p.valAt(), "MSGLEVEL must be (statements,messages) with statements 0-2 and messages 0-1")
			}
		case "REGION":
			if why := regionProblem(v); why != "" {
				c.errorf(p.valAt(), "%s", why)
			}
		case "TIME":
			if why := timeProblem(v); why != "" {
				c.errorf(p.valAt(), "%s", why)
			}
		case "COND":
			if why := condProblem(v, false); why != "" {
				c.errorf(p.valAt(), "%s", why)
			}
		case "TYPRUN":
			if !oneOf(v, "HOLD", "JCLHOLD", "SCAN", "COPY") {
				c.errorf(p.valAt(), "TYPRUN must be HOLD, JCLHOLD, SCAN or COPY")
			}
		case "NOTIFY", "USER", "GROUP":
			if v != "&SYSUID" && !validName(v) {
				c.errorf(p.valAt(), "%s must be a user or group id of 1-8 characters", p.key)
			}
		}
	}
}

func oneOf(s string, set ...string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}
