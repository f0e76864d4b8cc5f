package jcl

import (
	"fmt"
	"strings"
)

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
