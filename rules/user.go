package rules

import (
	"fmt"
	"regexp"
	"strings"
)

// userMatcher matches a SOCKS user id.
type userMatcher interface {
	matchUser(string) bool
	String() string
}

type exactUser string

func (u exactUser) matchUser(s string) bool { return s == string(u) }
func (u exactUser) String() string          { return string(u) }

type regexUser struct{ re *regexp.Regexp }

func (u regexUser) matchUser(s string) bool { return u.re.MatchString(s) }
func (u regexUser) String() string          { return "re:" + u.re.String() }

func parseUser(s string) (userMatcher, error) {
	if rest, ok := strings.CutPrefix(s, "re:"); ok {
		re, err := regexp.Compile(rest)
		if err != nil {
			return nil, fmt.Errorf("%q is not a valid regular expression: %s", s, regexpReason(err, rest))
		}
		return regexUser{re}, nil
	}
	if s == "" {
		return nil, fmt.Errorf("an empty user id matches nothing (leave users out to match any user)")
	}
	return exactUser(s), nil
}
