package jcl

// isSystemSymbol reports whether name is a z/OS system symbol (static or
// dynamic) that JCL may use without defining it.
func isSystemSymbol(name string) bool {
	switch name {
	case "SYSUID", "SYSNAME", "SYSCLONE", "SYSPLEX", "SYSR1", "SYSALVL", "SYSOSLVL",
		"SYSSMFID", "SYSSTATE", "SYSSMS", "SYSJOBNM", "SYSJOBID", "JOBNAME",
		"DAY", "HHMMSS", "HR", "JDAY", "JOBNM", "MIN", "MON", "SEC", "SEQ",
		"WDAY", "YR2", "YR4", "YYMMDD", "LDAY", "LHHMMSS", "LHR", "LJDAY",
		"LMIN", "LMON", "LSEC", "LWDAY", "LYR2", "LYR4", "LYYMMDD":
		return true
	}
	return false
}

// symRef is one reference to a symbol, &NAME or &NAME., in operand text.
type symRef struct {
	name       string
	at         pos
	start, end int // rune range of the reference in the text, period included
	quoted     bool
}

// findSymbols returns the symbol references in text. && (a temporary data
// set name or a literal ampersand) is skipped. Malformed references outside
// apostrophes are reported through bad.
func findSymbols(text []rune, at []pos, bad func(pos, string)) []symRef {
	var refs []symRef
	inQ := false
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '\'':
			inQ = !inQ
			continue
		case '&':
		default:
			continue
		}
		if i+1 < len(text) && text[i+1] == '&' {
			i++
			continue
		}
		j := i + 1
		for j < len(text) && isNameChar(text[j]) {
			j++
		}
		n := j - i - 1
		switch {
		case n == 0 || !isNameStart(text[i+1]):
			if !inQ {
				bad(at[i], "& must be followed by a symbol name (code && for a literal ampersand)")
			}
			continue
		case n > 8:
			if !inQ {
				bad(at[i], "symbol name is longer than 8 characters")
			}
			i = j - 1
			continue
		}
		end := j
		if end < len(text) && text[end] == '.' {
			end++
		}
		refs = append(refs, symRef{name: string(text[i+1 : j]), at: at[i], start: i, end: end, quoted: inQ})
		i = end - 1
	}
	return refs
}

// symValue is what is known about a symbol: whether it is defined and, if
// its substitution text is known, that text.
type symValue struct {
	defined bool
	known   bool
	text    string
}

// substitute replaces the references in text whose values are known. It
// reports false if any reference that would be substituted has no known value.
func substitute(text []rune, refs []symRef, lookup func(string) symValue, inQuotes bool) (string, bool) {
	var out []rune
	ok := true
	last := 0
	for _, r := range refs {
		if r.quoted && !inQuotes {
			continue
		}
		v := lookup(r.name)
		if !v.known {
			ok = false
			continue
		}
		out = append(out, text[last:r.start]...)
		out = append(out, []rune(v.text)...)
		last = r.end
	}
	out = append(out, text[last:]...)
	return string(out), ok
}
