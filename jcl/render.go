package jcl

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"path"
	"sort"
	"strconv"
	"strings"
	"text/template"
)

// templateFS holds the samples as text/template files, one per member.
//
//go:embed templates/*
var templateFS embed.FS

// sampleFS holds the shipped samples: the templates rendered with
// DefaultSite (kept in sync by the tests).
//
//go:embed samples/*
var sampleFS embed.FS

// Sample returns the shipped sample member name (ASCII, rendered with
// DefaultSite), as in the samples directory.
func Sample(name string) ([]byte, error) {
	b, err := sampleFS.ReadFile("samples/" + name)
	if err != nil {
		return nil, fmt.Errorf("jcl: no sample member %q: %w", name, err)
	}
	return b, nil
}

// Members returns the names of the sample members, sorted.
func Members() []string {
	entries, err := fs.ReadDir(templateFS, "templates")
	if err != nil {
		return nil // unreachable: the directory is embedded
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// view is what the templates see: the Site and values derived from it.
type view struct {
	Site
	Lib         string // the library the members are uploaded to
	JobCardText string // the job card lines joined by newlines
	Listen      string // host:port of the socksd listener
	SSHTarget   string // HOST[:PORT] of the SSH server
	SSHHostTOML string // profile host: "" means the destination host
	UIDSpec     string // UID(n) or AUTOUID
	GIDSpec     string // GID(n) or AUTOGID
}

func newView(s Site) view {
	v := view{
		Site:        s,
		Lib:         s.HLQ + ".SAMPLIB",
		JobCardText: strings.Join(s.JobCard, "\n"),
		Listen:      net.JoinHostPort(s.ListenHost, strconv.Itoa(s.Port)),
		SSHTarget:   s.sshTarget(),
		SSHHostTOML: s.SSHHost,
		UIDSpec:     "AUTOUID",
		GIDSpec:     "AUTOGID",
	}
	if s.UID > 0 {
		v.UIDSpec = fmt.Sprintf("UID(%d)", s.UID)
	}
	if s.GID > 0 {
		v.GIDSpec = fmt.Sprintf("GID(%d)", s.GID)
	}
	return v
}

// templateFuncs are the functions the templates may call.
func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"dir":  path.Dir,
		"toml": tomlString,
		"pad":  func(n int, s string) string { return fmt.Sprintf("%-*s", n, s) },
	}
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < ' ' || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// RenderError reports a member whose rendering for a site is not valid, for
// example because a long path pushed a statement past column 71.
type RenderError struct {
	Member string
	Errs   ErrorList // problems found by Check in the rendered member
	Err    error     // another problem, such as a line longer than 80
}

func (e *RenderError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("jcl: render %s: %v", e.Member, e.Err)
	}
	return fmt.Sprintf("jcl: render %s: rendered member is not valid JCL:\n%v", e.Member, e.Errs)
}

func (e *RenderError) Unwrap() error { return e.Err }

// Render fills every sample with the site's values and returns the members
// by name. With enc "ascii" each line ends with a newline; with "ibm-1047"
// (or "ibm-037") each line becomes a fixed 80-byte EBCDIC record, blank
// padded, without line ends, ready for a binary upload to an FB 80 library.
// The site must pass [Site.Validate], and every rendered JCL member must pass
// [Check]; lines longer than 80 characters are an error.
func Render(site Site, enc string) (map[string][]byte, error) {
	norm, err := outputEncoding(enc)
	if err != nil {
		return nil, err
	}
	if err := site.Validate(); err != nil {
		return nil, err
	}
	v := newView(site)
	out := map[string][]byte{}
	var errs []error
	for _, name := range Members() {
		lines, err := renderLines(name, v)
		if err != nil {
			return nil, err
		}
		text := []byte(strings.Join(lines, "\n") + "\n")
		if isJCL(runeLines(lines)) {
			if problems := Check(name, text); len(problems) > 0 {
				errs = append(errs, &RenderError{Member: name, Errs: problems})
				continue
			}
		}
		b, err := encodeLines(lines, norm)
		if err != nil {
			errs = append(errs, &RenderError{Member: name, Err: err})
			continue
		}
		out[name] = b
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// renderLines executes one template and returns its lines, trailing blanks
// removed.
func renderLines(name string, v view) ([]string, error) {
	src, err := templateFS.ReadFile("templates/" + name)
	if err != nil {
		return nil, fmt.Errorf("jcl: render %s: %w", name, err)
	}
	t, err := template.New(name).Funcs(templateFuncs()).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("jcl: render %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("jcl: render %s: %w", name, err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return lines, nil
}
