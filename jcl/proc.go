package jcl

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
