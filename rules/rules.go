package rules

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Spec is one rule as written in the configuration.
type Spec struct {
	Name            string
	To              []string // exact name, *.domain, re:regexp, IP, CIDR; empty = any
	Ports           []string // "21", "2100-2199"; empty = any
	From            []string // client IPs and CIDRs; empty = any
	Users           []string // SOCKS user ids (exact, or re:regexp); empty = any
	Commands        []string // connect, bind, udp-associate; empty = any
	Versions        []int    // 4, 5; empty = any
	Action          string
	Profile         string
	FallbackToPlain bool
}

// Request is what a rule decides on.
type Request struct {
	Client  netip.Addr // the client's address
	Version int        // SOCKS version, 4 or 5
	Command string     // connect, bind, udp-associate
	User    string     // SOCKS user id, "" if none
	Host    string     // destination: an IP literal or an unresolved name
	Port    uint16     // destination port
}

// Rule is one compiled rule.
type Rule struct {
	Index           int // position in the set, from 0
	Name            string
	Action          Action
	Profile         string
	FallbackToPlain bool

	hosts    []hostMatcher
	ports    []portRange
	from     []netip.Prefix
	users    []userMatcher
	commands []string
	versions []int
}

// Set is an ordered, immutable rule set; the first matching rule wins.
type Set struct {
	rules []*Rule
}

// Error reports one rule setting that does not compile. Rule is the
// rule's index (from 0) and Field the configuration key at fault, such as
// "to" or "action", so that a caller can point at the place in its file.
// Err says what is wrong in the user's terms and never quotes Go internals.
type Error struct {
	Rule  int
	Name  string
	Field string
	Err   error
}

func (e *Error) Error() string {
	return fmt.Sprintf("rules: rule %d (%s): %s: %v", e.Rule+1, e.Name, e.Field, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorList is every problem of a rule set, in rule and field order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap gives errors.As and errors.Is access to each *Error.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// DuplicateNameError is the Err of an *Error on the name of a rule that
// repeats an earlier rule's name.
type DuplicateNameError struct {
	Name  string
	First int // index of the rule that has the name first
}

func (e *DuplicateNameError) Error() string {
	return fmt.Sprintf("%q is already the name of rule %d", e.Name, e.First+1)
}

var validCommands = map[string]bool{"connect": true, "bind": true, "udp-associate": true}

// Compile builds a rule set. Rule names must be unique and non-empty. It
// checks every rule and every item and reports all problems at once: the
// error is then an ErrorList of *Error.
func Compile(specs []Spec) (*Set, error) {
	s := &Set{rules: make([]*Rule, 0, len(specs))}
	var errs ErrorList
	seen := map[string]int{}
	for i, sp := range specs {
		r, ruleErrs := compileOne(i, sp)
		errs = append(errs, ruleErrs...)
		if strings.TrimSpace(sp.Name) != "" {
			if j, dup := seen[sp.Name]; dup {
				errs = append(errs, &Error{i, sp.Name, "name", &DuplicateNameError{Name: sp.Name, First: j}})
			} else {
				seen[sp.Name] = i
			}
		}
		s.rules = append(s.rules, r)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

// compileOne compiles one rule and returns every problem found in it.
func compileOne(i int, sp Spec) (*Rule, ErrorList) {
	var errs ErrorList
	fail := func(field string, err error) { errs = append(errs, &Error{i, sp.Name, field, err}) }
	if strings.TrimSpace(sp.Name) == "" {
		fail("name", fmt.Errorf("every rule needs a name"))
	}
	r := &Rule{Index: i, Name: sp.Name, Profile: sp.Profile, FallbackToPlain: sp.FallbackToPlain}
	var err error
	if r.Action, err = parseAction(sp.Action); err != nil {
		fail("action", err)
	} else {
		switch {
		case r.Action.UsesTunnel() && sp.Profile == "":
			fail("profile", fmt.Errorf("action %s needs a profile", r.Action))
		case !r.Action.UsesTunnel() && sp.Profile != "":
			fail("profile", fmt.Errorf("action %s takes no profile", r.Action))
		}
		if sp.FallbackToPlain && !r.Action.UsesTunnel() {
			fail("fallback_to_plain", fmt.Errorf("only the tunnel actions (tunnel, ftp-tunnel, ftp-sftp) can fall back, not %s", r.Action))
		}
	}
	for _, h := range sp.To {
		m, err := parseHost(strings.TrimSpace(h))
		if err != nil {
			fail("to", err)
			continue
		}
		r.hosts = append(r.hosts, m)
	}
	for _, p := range sp.Ports {
		pr, err := parsePorts(p)
		if err != nil {
			fail("ports", err)
			continue
		}
		r.ports = append(r.ports, pr)
	}
	for _, f := range sp.From {
		p, err := ParsePrefix(f)
		if err != nil {
			fail("from", err)
			continue
		}
		r.from = append(r.from, p)
	}
	for _, u := range sp.Users {
		m, err := parseUser(u)
		if err != nil {
			fail("users", err)
			continue
		}
		r.users = append(r.users, m)
	}
	for _, c := range sp.Commands {
		c = strings.ToLower(c)
		if !validCommands[c] {
			fail("commands", fmt.Errorf("unknown command %q (want connect, bind or udp-associate)", c))
			continue
		}
		r.commands = append(r.commands, c)
	}
	for _, v := range sp.Versions {
		if err := CheckVersion(v); err != nil {
			fail("versions", err)
			continue
		}
		r.versions = append(r.versions, v)
	}
	return r, errs
}

// Match returns the first rule that matches req, or ok=false when none does
// (the request is then blocked).
func (s *Set) Match(req Request) (r *Rule, ok bool) {
	name := normName(req.Host)
	ip, err := netip.ParseAddr(strings.Trim(req.Host, "[]"))
	isIP := err == nil
	if isIP {
		ip = ip.Unmap()
	}
	client := req.Client.Unmap()
	for _, r := range s.rules {
		if r.matches(req, client, name, ip, isIP) {
			return r, true
		}
	}
	return nil, false
}

func (r *Rule) matches(req Request, client netip.Addr, name string, ip netip.Addr, isIP bool) bool {
	if len(r.versions) > 0 && !containsInt(r.versions, req.Version) {
		return false
	}
	if len(r.commands) > 0 && !containsStr(r.commands, strings.ToLower(req.Command)) {
		return false
	}
	if len(r.from) > 0 && !PrefixesContain(r.from, client) {
		return false
	}
	if len(r.ports) > 0 {
		hit := false
		for _, p := range r.ports {
			if req.Port >= p.lo && req.Port <= p.hi {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	if len(r.users) > 0 {
		hit := false
		for _, u := range r.users {
			if u.matchUser(req.User) {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	if len(r.hosts) > 0 {
		for _, h := range r.hosts {
			if h.matchHost(name, ip, isIP) {
				return true
			}
		}
		return false
	}
	return true
}

// Rules returns the compiled rules in order.
func (s *Set) Rules() []*Rule { return append([]*Rule(nil), s.rules...) }

// Len returns the number of rules.
func (s *Set) Len() int { return len(s.rules) }

// String describes the rule as `socksd check` prints it.
func (r *Rule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s: %s", r.Index+1, r.Name, r.Action)
	if r.Profile != "" {
		fmt.Fprintf(&b, " profile=%s", r.Profile)
	}
	if r.FallbackToPlain {
		b.WriteString(" fallback_to_plain")
	}
	b.WriteString(" when")
	n := b.Len()
	list := func(key string, items []string) {
		if len(items) > 0 {
			fmt.Fprintf(&b, " %s=%s", key, strings.Join(items, ","))
		}
	}
	list("to", stringsOf(r.hosts))
	list("ports", stringsOf(r.ports))
	list("from", stringsOf(r.from))
	list("users", stringsOf(r.users))
	list("commands", r.commands)
	var vs []string
	for _, v := range r.versions {
		vs = append(vs, strconv.Itoa(v))
	}
	list("versions", vs)
	if b.Len() == n {
		b.WriteString(" any")
	}
	return b.String()
}

func stringsOf[T fmt.Stringer](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.String()
	}
	return out
}

func containsInt(xs []int, v int) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

func containsStr(xs []string, v string) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

// CheckVersion reports a SOCKS version number other than 4 (SOCKS4 and
// SOCKS4a) or 5. It is the one check of version numbers: Compile uses it
// for a rule's versions, and the configuration loader for
// server.socks_versions. Like ParsePrefix's, its error says what is wrong
// in the configuration's terms, without a package prefix.
func CheckVersion(v int) error {
	if v != 4 && v != 5 {
		return fmt.Errorf("unknown SOCKS version %d (want 4 or 5)", v)
	}
	return nil
}
