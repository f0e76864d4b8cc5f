package jcl

import "strings"

// ddStmt validates a DD statement.
func (c *checker) ddStmt(st *stmt) {
	switch {
	case c.proc != nil:
	case c.kind == memberProc && !c.procSeen:
	case c.job != nil && !c.job.sawExec && st.name != "JOBLIB" && st.name != "JOBCAT":
		c.errorf(st.opAt, "DD statement before the first EXEC of the job")
	}
	if st.name == "" && !c.prevDD {
		c.errorf(st.opAt, "DD statement without a name must follow another DD (a concatenation)")
	}
	override := strings.Contains(st.name, ".")
	resolved := c.symbols(st)
	keys := map[string]param{}
	mode := ""
	seenKey := false
	for i, p := range st.params {
		if p.key == "" {
			v := p.value()
			switch {
			case len(p.val) == 0 && i == 0 && len(st.params) > 1:
				c.errorf(p.start, "empty positional parameter on DD")
			case seenKey:
				// reported by checkOrder
			case i > 0 && len(p.val) > 0:
				c.errorf(p.start, "DD takes one positional parameter (*, DATA, DUMMY or DYNAM) and it must come first")
			case i == 0 && !oneOf(v, "*", "DATA", "DUMMY", "DYNAM"):
				c.errorf(p.start, "unknown positional parameter %q on DD (want *, DATA, DUMMY or DYNAM)", v)
			case i == 0:
				mode = v
			}
			continue
		}
		seenKey = true
		if !isDDKeyword(p.key) {
			c.errorf(p.keyAt, "unknown DD keyword %s", p.key)
			continue
		}
		name := p.key
		if name == "DSNAME" {
			name = "DSN"
		}
		if name == "VOLUME" {
			name = "VOL"
		}
		if _, dup := keys[name]; dup {
			c.errorf(p.keyAt, "keyword %s coded twice", p.key)
			continue
		}
		keys[name] = p
		if len(p.val) == 0 {
			if !override {
				c.errorf(p.valAt(), "missing value for %s", p.key)
			}
			continue
		}
		v, known := resolved[i]
		if known {
			c.ddValue(p, name, v)
		}
	}
	if p, ok := keys["DLM"]; ok && mode != "*" && mode != "DATA" {
		c.errorf(p.keyAt, "DLM is only valid with DD * or DD DATA")
	}
	for _, pair := range [][2]string{{"DSN", "SYSOUT"}, {"DSN", "PATH"}, {"PATH", "SYSOUT"}, {"DDNAME", "DSN"}} {
		a, okA := keys[pair[0]]
		b, okB := keys[pair[1]]
		if okA && okB {
			later := b
			if a.keyAt.line > b.keyAt.line || a.keyAt.line == b.keyAt.line && a.keyAt.col > b.keyAt.col {
				later = a
			}
			c.errorf(later.keyAt, "%s and %s cannot be coded on the same DD statement", pair[0], pair[1])
		}
	}
	if mode == "*" || mode == "DATA" {
		for _, k := range []string{"DSN", "PATH", "SYSOUT"} {
			if p, ok := keys[k]; ok {
				c.errorf(p.keyAt, "%s cannot be coded with DD %s (in-stream data)", k, mode)
			}
		}
	}
	for _, k := range []string{"PATHOPTS", "PATHMODE", "PATHDISP", "FILEDATA"} {
		if p, ok := keys[k]; ok {
			if _, path := keys["PATH"]; !path {
				c.errorf(p.keyAt, "%s is only valid with PATH", k)
			}
		}
	}
}

// ddValue checks the value v (after substitution) of DD keyword name.
func (c *checker) ddValue(p param, name, v string) {
	at := p.valAt()
	r := []rune(v)
	switch name {
	case "DSN":
		if strings.HasPrefix(v, "'") {
			return // a quoted name is taken as it is
		}
		if why := dsnProblem(v); why != "" {
			c.errorf(at, "invalid data set name: %s", why)
		}
	case "DLM":
		if n := len([]rune(unquote(v))); n != 2 {
			c.errorf(at, "DLM must be exactly two characters")
		}
	case "DISP":
		subs := subparams(r, make([]pos, len(r)), at)
		if len(subs) > 3 {
			c.errorf(at, "DISP takes at most three subparameters (status,normal,abnormal)")
			return
		}
		if s := string(subs[0].val); !oneOf(s, "", "NEW", "OLD", "SHR", "MOD") {
			c.errorf(at, "DISP status %q must be NEW, OLD, SHR or MOD", s)
		}
		if len(subs) > 1 {
			if s := string(subs[1].val); !oneOf(s, "", "DELETE", "KEEP", "PASS", "CATLG", "UNCATLG") {
				c.errorf(at, "DISP normal disposition %q must be DELETE, KEEP, PASS, CATLG or UNCATLG", s)
			}
		}
		if len(subs) > 2 {
			if s := string(subs[2].val); !oneOf(s, "", "DELETE", "KEEP", "CATLG", "UNCATLG") {
				c.errorf(at, "DISP abnormal disposition %q must be DELETE, KEEP, CATLG or UNCATLG", s)
			}
		}
	case "SYSOUT":
		class := string(subparams(r, make([]pos, len(r)), at)[0].val)
		if class != "" && class != "*" && !(len(class) == 1 && (class[0] >= 'A' && class[0] <= 'Z' || class[0] >= '0' && class[0] <= '9')) {
			c.errorf(at, "SYSOUT class %q must be *, A-Z or 0-9", class)
		}
	case "PATH":
		path := unquote(v)
		switch {
		case !strings.HasPrefix(path, "/"):
			c.errorf(at, "PATH must be an absolute z/OS UNIX path starting with /")
		case len(path) > 255:
			c.errorf(at, "PATH is longer than 255 characters")
		}
	case "PATHOPTS", "PATHMODE", "PATHDISP":
		for _, s := range subparams(r, make([]pos, len(r)), at) {
			opt := string(s.val)
			ok := name == "PATHOPTS" && isPathOption(opt) ||
				name == "PATHMODE" && isPathMode(opt) ||
				name == "PATHDISP" && oneOf(opt, "", "KEEP", "DELETE")
			if !ok {
				c.errorf(at, "%s value %q is not valid", name, opt)
				return
			}
		}
	case "DCB":
		if len(r) == 0 || r[0] != '(' {
			return // a data set name or a backward reference
		}
		for _, s := range subparams(r, make([]pos, len(r)), at) {
			k, sv, ok := strings.Cut(string(s.val), "=")
			if !ok {
				continue // a positional data set name
			}
			if !isDCBSubparameter(k) {
				c.errorf(at, "unknown DCB subparameter %s", k)
				return
			}
			if k == "RECFM" || k == "LRECL" || k == "BLKSIZE" {
				c.ddValue(p, k, sv)
			}
		}
	case "SPACE":
		if why := spaceProblem(v); why != "" {
			c.errorf(at, "%s", why)
		}
	case "FILEDATA":
		if !oneOf(v, "TEXT", "BINARY", "RECORD") {
			c.errorf(at, "FILEDATA must be TEXT, BINARY or RECORD")
		}
	case "RECFM":
		if !validRecfm(v) {
			c.errorf(at, "RECFM %q is not a record format (F, FB, V, VB, U, with A or M)", v)
		}
	case "LRECL", "BLKSIZE":
		if !isDigits(v) && !strings.HasSuffix(v, "K") {
			c.errorf(at, "%s must be a number", name)
		}
	}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func validRecfm(v string) bool {
	if v == "" {
		return false
	}
	rest := v
	switch rest[0] {
	case 'F', 'V', 'U', 'D':
		rest = rest[1:]
	default:
		return false
	}
	for _, r := range rest {
		if !strings.ContainsRune("BSTAM", r) {
			return false
		}
	}
	return true
}
