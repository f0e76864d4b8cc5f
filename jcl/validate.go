package jcl

import "strings"

// memberKind is what a member holds, decided by its first statement.
type memberKind int

const (
	memberFragment memberKind = iota // statements for INCLUDE, or a job without a JOB card
	memberJob                        // a job stream: starts with JOB
	memberProc                       // a cataloged procedure: starts with PROC
)

// maxIfNesting is the deepest IF/THEN/ELSE/ENDIF nesting JCL allows.
const maxIfNesting = 15

// maxParm is the longest PARM value an EXEC statement may pass.
const maxParm = 100

type ifFrame struct {
	at      pos
	sawElse bool
}

type jobState struct {
	sawExec bool
	jcllib  bool
	steps   map[string]pos
}

type procState struct {
	name     string
	at       pos
	instream bool
	syms     map[string]symValue
	steps    map[string]pos
	ifBase   int
}

// checker validates the statements of one member.
type checker struct {
	*scanner
	stmts    []*stmt
	kind     memberKind
	job      *jobState
	proc     *procState
	procs    map[string]pos             // in-stream procedures seen
	calls    map[string]map[string]bool // symbols that EXEC statements pass to procedures
	set      map[string]symValue
	ifs      []ifFrame
	ended    bool           // a null statement ended the job
	prevDD   bool           // the previous statement was a DD
	stepDDs  map[string]pos // DD names of the current step
	procSeen bool           // a member of kind memberProc had its PROC
}

func newChecker(s *scanner, stmts []*stmt) *checker {
	c := &checker{
		scanner: s,
		stmts:   stmts,
		procs:   map[string]pos{},
		calls:   map[string]map[string]bool{},
		set:     map[string]symValue{},
	}
	for _, st := range stmts {
		if st.null {
			continue
		}
		switch st.op {
		case "JOB":
			c.kind = memberJob
		case "PROC":
			c.kind = memberProc
		}
		break
	}
	c.collectCalls()
	return c
}

// collectCalls records, for every procedure an EXEC statement calls, the
// symbols it passes, so that an in-stream procedure may use them.
func (c *checker) collectCalls() {
	for _, st := range c.stmts {
		if st.op != "EXEC" || len(st.params) == 0 {
			continue
		}
		first := st.params[0]
		name := ""
		switch first.key {
		case "":
			name = first.value()
		case "PROC":
			name = first.value()
		default:
			continue
		}
		for _, p := range st.params[1:] {
			if p.key != "" && !strings.Contains(p.key, ".") && !isExecKeyword(p.key) {
				if c.calls[name] == nil {
					c.calls[name] = map[string]bool{}
				}
				c.calls[name][p.key] = true
			}
		}
	}
}

// lookup returns what is known about a symbol at the current statement.
func (c *checker) lookup(name string) symValue {
	if c.proc != nil {
		if v, ok := c.proc.syms[name]; ok {
			return v
		}
		if c.calls[c.proc.name][name] {
			return symValue{defined: true}
		}
	}
	if v, ok := c.set[name]; ok {
		return v
	}
	if isSystemSymbol(name) {
		return symValue{defined: true}
	}
	return symValue{}
}

func (c *checker) run() {
	for _, st := range c.stmts {
		c.statement(st)
		c.prevDD = st.op == "DD" && !st.null
	}
	c.closeAll()
}

func (c *checker) statement(st *stmt) {
	if st.op != "DD" {
		if st.op != "" && st.op != "IF" && st.op != "ELSE" && st.op != "ENDIF" && st.op != "SET" && st.op != "INCLUDE" && st.op != "OUTPUT" {
			c.stepDDs = map[string]pos{}
		}
	} else if st.name != "" {
		if c.stepDDs == nil {
			c.stepDDs = map[string]pos{}
		}
		if first, dup := c.stepDDs[st.name]; dup {
			c.errorf(st.nameAt, "DD name %s is already used in this step at line %d", st.name, first.line)
		} else {
			c.stepDDs[st.name] = st.nameAt
		}
	}
	if st.null {
		c.endJob()
		c.ended = true
		return
	}
	if st.op == "" {
		return // already reported: no operation
	}
	if c.ended && st.op != "JOB" {
		c.errorf(st.opAt, "statement after the null statement (//) that ended the job")
		return
	}
	if !knownOperation(st.op) {
		if knownOperation(strings.ToUpper(st.op)) {
			c.errorf(st.opAt, "operation %q must be in capitals: %s", st.op, strings.ToUpper(st.op))
			return
		}
		if st.name == "" && validName(st.op) && knownOperation(string(st.text)) {
			c.errorf(st.opAt, "%s looks like a name: the name field must start in column 3, right after //", st.op)
			return
		}
		if st.name == "" && strings.ContainsAny(st.op, "=,(") {
			c.errorf(st.opAt, "%q is not an operation: if this line continues the statement before, end that line with a comma", st.op)
			return
		}
		c.errorf(st.opAt, "unknown operation %q (want JOB, EXEC, DD, PROC, PEND, SET, JCLLIB, INCLUDE, IF, ELSE, ENDIF or OUTPUT)", st.op)
		return
	}
	c.checkName(st)
	c.checkOrder(st)
	if st.syntaxErr {
		// Keep the structure (jobs, steps, procedures) without looking
		// at the parameters, which are not reliable.
		saved := st.params
		st.params = nil
		switch st.op {
		case "JOB":
			c.jobStmt(st)
		case "EXEC":
			c.execStructure(st)
		case "DD":
			c.ddStmt(st)
		case "PROC":
			c.procStmt(st)
		case "PEND":
			c.pendStmt(st)
		}
		st.params = saved
		return
	}
	switch st.op {
	case "JOB":
		c.jobStmt(st)
	case "EXEC":
		c.execStmt(st)
	case "DD":
		c.ddStmt(st)
	case "PROC":
		c.procStmt(st)
	case "PEND":
		c.pendStmt(st)
	case "SET":
		c.setStmt(st)
	case "JCLLIB":
		c.jcllibStmt(st)
	case "INCLUDE":
		c.includeStmt(st)
	case "IF":
		c.ifStmt(st)
	case "ELSE", "ENDIF":
		c.elseEndif(st)
	case "OUTPUT":
		c.symbols(st)
	}
}

// checkName validates the name field for the statement's operation.
func (c *checker) checkName(st *stmt) {
	if st.name == "" {
		switch st.op {
		case "JOB":
			c.errorf(st.opAt, "JOB statement needs a job name in column 3")
		case "OUTPUT":
			c.errorf(st.opAt, "OUTPUT statement needs a name in column 3")
		case "PROC":
			if c.kind == memberJob {
				c.errorf(st.opAt, "in-stream PROC statement needs a procedure name in column 3")
			}
		}
		return
	}
	names := []string{st.name}
	if st.op == "DD" {
		names = strings.Split(st.name, ".")
		if len(names) > 2 {
			c.errorf(st.nameAt, "DD name %q has more than one qualifier", st.name)
			return
		}
	}
	for _, n := range names {
		if why := nameProblem(n); why != "" {
			c.errorf(st.nameAt, "name %q %s", st.name, why)
			return
		}
	}
}

// checkOrder reports positional parameters coded after keyword parameters.
func (c *checker) checkOrder(st *stmt) {
	seenKey := false
	for _, p := range st.params {
		if p.key != "" {
			seenKey = true
			continue
		}
		if seenKey && len(p.val) > 0 {
			c.errorf(p.start, "positional parameter after keyword parameters")
			return
		}
	}
}

// symbols checks every symbol reference in st's parameters and returns the
// parameters' values after substitution (only those whose symbols are all
// known), by parameter index.
func (c *checker) symbols(st *stmt) map[int]string {
	resolved := map[int]string{}
	for i, p := range st.params {
		base, _, _ := strings.Cut(p.key, ".")
		inQuotes := symbolsInQuotes(base)
		refs := findSymbols(p.val, p.at, func(at pos, msg string) { c.errorf(at, "%s", msg) })
		for _, r := range refs {
			if r.quoted && !inQuotes {
				continue
			}
			if r.quoted && p.at[r.start].line != p.at[r.end-1].line {
				c.errorf(r.at, "symbol &%s in apostrophes is split across lines: the system would not substitute it", r.name)
				continue
			}
			if c.lookup(r.name).defined {
				continue
			}
			switch {
			case c.kind == memberFragment && c.proc == nil:
				// An INCLUDE member: the including job defines its symbols.
			case c.proc != nil:
				c.errorf(r.at, "symbol &%s is not defined (no PROC default, SET or EXEC override)", r.name)
			case r.quoted:
				// Outside a procedure an undefined symbol in apostrophes is text.
			case st.op == "DD" && (base == "DSN" || base == "DSNAME"):
				// &NAME in DSN outside a procedure names a temporary data set.
			default:
				c.errorf(r.at, "symbol &%s is not defined (no SET before it)", r.name)
			}
		}
		for _, r := range refs {
			if v := c.lookup(r.name); !r.quoted && v.known && strings.ContainsRune(v.text, ' ') {
				c.errorf(r.at, "the value of &%s contains a blank: after substitution the rest of the statement would be a comment", r.name)
			}
		}
		if v, ok := substitute(p.val, refs, c.lookup, inQuotes); ok {
			resolved[i] = v
		}
	}
	return resolved
}

// endJob closes the current job: open IF constructs and in-stream
// procedures are errors.
func (c *checker) endJob() {
	if c.proc != nil && c.proc.instream {
		c.errorf(c.proc.at, "PROC %s has no PEND", c.proc.name)
		c.proc = nil
	}
	for _, f := range c.ifs {
		c.errorf(f.at, "IF has no ENDIF")
	}
	c.ifs = nil
	c.job = nil
	c.set = map[string]symValue{}
}

func (c *checker) closeAll() {
	if c.proc != nil && !c.proc.instream {
		for _, f := range c.ifs[c.proc.ifBase:] {
			c.errorf(f.at, "IF has no ENDIF")
		}
		c.ifs = c.ifs[:c.proc.ifBase]
		c.proc = nil
	}
	c.endJob()
}

// steps returns the step-name table of the current scope.
func (c *checker) steps() map[string]pos {
	if c.proc != nil {
		return c.proc.steps
	}
	if c.job != nil {
		return c.job.steps
	}
	return nil
}

func (c *checker) jcllibStmt(st *stmt) {
	switch {
	case c.proc != nil || c.kind == memberProc:
		c.errorf(st.opAt, "JCLLIB is not allowed in a procedure")
	case c.job != nil && c.job.sawExec:
		c.errorf(st.opAt, "JCLLIB must come before the first EXEC of the job")
	case c.job != nil && c.job.jcllib:
		c.errorf(st.opAt, "second JCLLIB statement in the job")
	}
	if c.job != nil {
		c.job.jcllib = true
	}
	resolved := c.symbols(st)
	order := false
	for i, p := range st.params {
		if p.key != "ORDER" {
			c.errorf(p.start, "JCLLIB takes only ORDER=")
			continue
		}
		order = true
		if v, ok := resolved[i]; ok {
			r := []rune(v)
			for _, s := range subparams(r, make([]pos, len(r)), p.valAt()) {
				if why := dsnProblem(unquote(string(s.val))); why != "" {
					c.errorf(p.valAt(), "JCLLIB ORDER library %s", why)
					break
				}
			}
		}
	}
	if !order {
		c.errorf(st.end, "JCLLIB needs ORDER=(library,...)")
	}
}

func (c *checker) includeStmt(st *stmt) {
	resolved := c.symbols(st)
	member := false
	for i, p := range st.params {
		if p.key != "MEMBER" {
			c.errorf(p.start, "INCLUDE takes only MEMBER=")
			continue
		}
		member = true
		if v, ok := resolved[i]; ok && !validName(v) {
			c.errorf(p.valAt(), "INCLUDE member name %q %s", v, nameProblem(v))
		}
	}
	if !member {
		c.errorf(st.end, "INCLUDE needs MEMBER=name")
	}
}

func (c *checker) ifStmt(st *stmt) {
	checkIfExpr(st.text, st.at, st.opAt, st.end, func(at pos, msg string) { c.errorf(at, "%s", msg) })
	if len(c.ifs) >= maxIfNesting {
		c.errorf(st.opAt, "IF nested more than %d deep", maxIfNesting)
	}
	c.ifs = append(c.ifs, ifFrame{at: st.opAt})
}

func (c *checker) elseEndif(st *stmt) {
	base := 0
	if c.proc != nil {
		base = c.proc.ifBase
	}
	if len(c.ifs) <= base {
		c.errorf(st.opAt, "%s without IF", st.op)
		return
	}
	top := &c.ifs[len(c.ifs)-1]
	if st.op == "ENDIF" {
		c.ifs = c.ifs[:len(c.ifs)-1]
		return
	}
	if top.sawElse {
		c.errorf(st.opAt, "second ELSE for the IF at line %d", top.at.line)
	}
	top.sawElse = true
}
