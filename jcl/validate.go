package jcl

import (
	"fmt"
	"strings"
)

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

func (c *checker) procStmt(st *stmt) {
	switch {
	case c.kind == memberFragment:
		c.errorf(st.opAt, "PROC statement in a member that is neither a job nor a procedure")
		return
	case c.kind == memberProc && c.procSeen:
		c.errorf(st.opAt, "second PROC statement in a procedure member")
		return
	case c.proc != nil:
		c.errorf(st.opAt, "PROC inside PROC %s (missing PEND)", c.proc.name)
		return
	}
	c.procSeen = true
	p := &procState{
		name:     st.name,
		at:       st.opAt,
		instream: c.kind == memberJob,
		syms:     map[string]symValue{},
		steps:    map[string]pos{},
		ifBase:   len(c.ifs),
	}
	if p.instream {
		if first, dup := c.procs[st.name]; dup && st.name != "" {
			c.errorf(st.nameAt, "procedure %s is already defined at line %d", st.name, first.line)
		}
		c.procs[st.name] = st.nameAt
	}
	c.proc = p
	for _, prm := range st.params {
		if prm.key == "" {
			if len(prm.val) > 0 {
				c.errorf(prm.start, "PROC takes only symbolic parameter defaults of the form NAME=value")
			}
			continue
		}
		if !validName(prm.key) {
			c.errorf(prm.keyAt, "symbolic parameter name %q %s", prm.key, nameProblem(prm.key))
			continue
		}
		if _, dup := p.syms[prm.key]; dup {
			c.errorf(prm.keyAt, "symbolic parameter %s defined twice", prm.key)
			continue
		}
		refs := findSymbols(prm.val, prm.at, func(at pos, msg string) { c.errorf(at, "%s", msg) })
		for _, r := range refs {
			if !r.quoted && !c.lookup(r.name).defined {
				c.errorf(r.at, "symbol &%s is not defined before this PROC default", r.name)
			}
		}
		v, known := substitute(prm.val, refs, c.lookup, false)
		p.syms[prm.key] = symValue{defined: true, known: known, text: unquote(v)}
	}
}

func (c *checker) pendStmt(st *stmt) {
	if c.proc == nil {
		c.errorf(st.opAt, "PEND without PROC")
		return
	}
	for _, f := range c.ifs[c.proc.ifBase:] {
		c.errorf(f.at, "IF has no ENDIF before PEND")
	}
	c.ifs = c.ifs[:c.proc.ifBase]
	c.proc = nil
}

func (c *checker) setStmt(st *stmt) {
	if len(st.params) == 0 {
		c.errorf(st.end, "SET needs at least one NAME=value")
		return
	}
	for _, p := range st.params {
		if p.key == "" {
			c.errorf(p.start, "SET takes only NAME=value parameters")
			continue
		}
		if !validName(p.key) {
			c.errorf(p.keyAt, "symbol name %q %s", p.key, nameProblem(p.key))
			continue
		}
		refs := findSymbols(p.val, p.at, func(at pos, msg string) { c.errorf(at, "%s", msg) })
		for _, r := range refs {
			if !r.quoted && !c.lookup(r.name).defined && !(c.kind == memberFragment && c.proc == nil) {
				c.errorf(r.at, "symbol &%s is not defined", r.name)
			}
		}
		v, known := substitute(p.val, refs, c.lookup, false)
		c.set[p.key] = symValue{defined: true, known: known, text: unquote(v)}
	}
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

// dsnProblem explains why s is not a valid data set name, or returns "".
func dsnProblem(s string) string {
	if s == "NULLFILE" {
		return ""
	}
	if strings.HasPrefix(s, "*.") {
		if !validProgram(s) {
			return fmt.Sprintf("%q is not a valid *.step.ddname reference", s)
		}
		return ""
	}
	base, member, hasMember := strings.Cut(s, "(")
	if hasMember {
		if !strings.HasSuffix(member, ")") {
			return fmt.Sprintf("%q has an unclosed member name", s)
		}
		member = strings.TrimSuffix(member, ")")
		if !validName(member) && !validGeneration(member) {
			return fmt.Sprintf("%q: member %q must be 1-8 characters (A-Z, 0-9, @ # $) or a relative generation", s, member)
		}
	}
	if t, ok := strings.CutPrefix(base, "&&"); ok {
		if !validName(t) {
			return fmt.Sprintf("%q: temporary data set name must be && and 1-8 characters", s)
		}
		return ""
	}
	if base == "" {
		return "is empty"
	}
	if len(base) > 44 {
		return fmt.Sprintf("%q is longer than 44 characters", base)
	}
	for _, q := range strings.Split(base, ".") {
		if !validQualifier(q) {
			return fmt.Sprintf("%q: qualifier %q must be 1-8 characters (A-Z, 0-9, @ # $ -), the first not a digit", s, q)
		}
	}
	return ""
}

func validQualifier(q string) bool {
	if len(q) < 1 || len(q) > 8 || !isNameStart(rune(q[0])) {
		return false
	}
	for _, r := range q {
		if !isNameChar(r) && r != '-' {
			return false
		}
	}
	return true
}

func validGeneration(g string) bool {
	if g == "0" {
		return true
	}
	if len(g) < 2 || (g[0] != '+' && g[0] != '-') || len(g) > 4 {
		return false
	}
	for _, r := range g[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
