package ftp

import (
	"fmt"
	"strings"
)

// policy is the compiled list of Options.Deny patterns.
//
// A pattern is a command as the job would send it: a verb, optionally
// followed by arguments, compared case-insensitively with runs of blanks
// treated as one. The verb must equal the command's verb (after removing a
// QUOTE or LITERAL prefix). For SITE, every parameter of the pattern must
// appear among the command's parameters, in any order ("SITE
// FILETYPE=JES" refuses "SITE RECFM=FB FILETYPE=JES"; a key without "="
// matches any value). For other verbs, the pattern's arguments must be a
// prefix of the command's arguments ("DELE" refuses every DELE; "RETR
// 'SYS1." refuses RETR 'SYS1.PARMLIB').
type policy struct {
	rules []denyRule
}

type denyRule struct {
	pattern string
	cmd     Command
	norm    string
	site    []SiteParam
}

func compilePolicy(patterns []string) (policy, error) {
	var p policy
	for _, pat := range patterns {
		c, err := ParseCommand(pat)
		if err != nil {
			return policy{}, fmt.Errorf("ftp: deny pattern %q: %w", pat, err)
		}
		r := denyRule{pattern: pat, cmd: c, norm: c.Normalized()}
		if c.Verb == "SITE" {
			if r.site, err = ParseSite(c.Args); err != nil {
				return policy{}, fmt.Errorf("ftp: deny pattern %q: %w", pat, err)
			}
		}
		p.rules = append(p.rules, r)
	}
	return p, nil
}

// match returns the first pattern that refuses c.
func (p policy) match(c Command) (string, bool) {
	for _, r := range p.rules {
		if r.cmd.Verb != c.Verb {
			continue
		}
		if c.Verb == "SITE" {
			params, err := ParseSite(c.Args)
			if err != nil {
				// An unparsable SITE cannot be shown harmless.
				if len(r.site) > 0 {
					return r.pattern, true
				}
			}
			if siteMatch(r.site, params) {
				return r.pattern, true
			}
			continue
		}
		if strings.HasPrefix(c.Normalized(), r.norm) {
			return r.pattern, true
		}
	}
	return "", false
}

func siteMatch(want, have []SiteParam) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h.Key == w.Key && (w.Flag || strings.EqualFold(h.Value, w.Value)) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
