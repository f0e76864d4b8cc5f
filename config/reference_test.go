package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// referenceFile is the configuration reference that must name every key.
const referenceFile = "../docs/CONFIG.md"

// refNameWord stands for the name of one table of a map of tables
// ([profiles.NAME]) in key paths and headings.
const refNameWord = "NAME"

// refSampleProfile is the profile name the sample configurations use for NAME.
const refSampleProfile = "partner"

// refKey is one key the loader accepts.
type refKey struct {
	path  []string // e.g. server, listen; profiles, NAME, host; rules, ftp, data
	table string   // heading of its table: [server], [profiles.NAME], [[rules]], [rules.ftp]
}

func (k refKey) String() string { return strings.Join(k.path, ".") }

func refDeref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// refIsValue reports whether the decoder reads t from one TOML value (a
// string, number, boolean or array) rather than from a table.
func refIsValue(t reflect.Type) bool {
	return t.Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) ||
		refDeref(t).Kind() != reflect.Struct
}

// refSchema walks a configuration struct type through the keys the decoder
// itself accepts (tomlFields): nested structs are tables, maps of structs
// are tables named by their key (NAME), slices of structs are arrays of
// tables. It returns every table heading and every key, in declaration
// order.
func refSchema(root reflect.Type) (tables []string, keys []refKey) {
	var walk func(t reflect.Type, prefix []string, table string)
	walk = func(t reflect.Type, prefix []string, table string) {
		fields := tomlFields(t)
		names := make([]string, 0, len(fields))
		for name := range fields {
			names = append(names, name)
		}
		// Declaration order, as the reference is written.
		slices.SortFunc(names, func(a, b string) int { return slices.Compare(fields[a], fields[b]) })
		for _, name := range names {
			ft := refDeref(t.FieldByIndex(fields[name]).Type)
			path := append(slices.Clone(prefix), name)
			switch {
			case !refIsValue(ft):
				h := "[" + strings.Join(path, ".") + "]"
				tables = append(tables, h)
				walk(ft, path, h)
			case ft.Kind() == reflect.Map && !refIsValue(ft.Elem()):
				path = append(path, refNameWord)
				h := "[" + strings.Join(path, ".") + "]"
				tables = append(tables, h)
				walk(refDeref(ft.Elem()), path, h)
			case ft.Kind() == reflect.Slice && !refIsValue(ft.Elem()):
				h := "[[" + strings.Join(path, ".") + "]]"
				tables = append(tables, h)
				walk(refDeref(ft.Elem()), path, h)
			default:
				keys = append(keys, refKey{path, table})
			}
		}
	}
	walk(root, nil, "")
	return tables, keys
}

// refSection is the text under one key heading of the reference.
type refSection struct {
	line  int
	table string // the table heading it stands under, "" if none
	body  []string
}

// field returns the rest of the body line that starts with label, such as
// "Default:", without the Markdown line break.
func (s *refSection) field(label string) (string, bool) {
	for _, l := range s.body {
		if rest, ok := strings.CutPrefix(l, label); ok {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}

// reference is docs/CONFIG.md as the check reads it. A table is a level-2
// heading that is one code span naming it (## `[server]`); a key is a
// level-3 heading that is one code span naming its full path
// (### `server.listen`), and belongs to the table heading above it. Any
// other level-2 heading ends the table.
type reference struct {
	tables   map[string]int // heading -> line
	keys     map[string]*refSection
	problems []string
}

var (
	refTableHeadingRE = regexp.MustCompile("^## `(\\[\\[?[A-Za-z0-9_.-]+\\]\\]?)`$")
	refKeyHeadingRE   = regexp.MustCompile("^### `([A-Za-z0-9_.-]+)`$")
)

func parseReference(text string) *reference {
	r := &reference{tables: map[string]int{}, keys: map[string]*refSection{}}
	table := ""
	var cur *refSection
	fenced := false
	for i, l := range strings.Split(text, "\n") {
		n := i + 1
		if strings.HasPrefix(l, "```") {
			fenced = !fenced
		}
		heading := !fenced && strings.HasPrefix(l, "#")
		level := len(l) - len(strings.TrimLeft(l, "#"))
		if !heading || level > 3 {
			if cur != nil {
				cur.body = append(cur.body, l)
			}
			continue
		}
		cur = nil
		switch level {
		case 1:
			table = ""
		case 2:
			table = ""
			if m := refTableHeadingRE.FindStringSubmatch(l); m != nil {
				table = m[1]
				if prev, dup := r.tables[table]; dup {
					r.problems = append(r.problems, fmt.Sprintf("line %d: table %s is documented twice (also line %d)", n, table, prev))
				}
				r.tables[table] = n
			} else if strings.Contains(l, "`") {
				r.problems = append(r.problems, fmt.Sprintf("line %d: %q: a table heading is ## `[table]` and nothing else", n, l))
			}
		case 3:
			m := refKeyHeadingRE.FindStringSubmatch(l)
			if m == nil {
				if strings.Contains(l, "`") {
					r.problems = append(r.problems, fmt.Sprintf("line %d: %q: a key heading is ### `table.key` and nothing else", n, l))
				}
				continue
			}
			if prev, dup := r.keys[m[1]]; dup {
				r.problems = append(r.problems, fmt.Sprintf("line %d: key %s is documented twice (also line %d)", n, m[1], prev.line))
			}
			cur = &refSection{line: n, table: table}
			r.keys[m[1]] = cur
		}
	}
	return r
}

// checkReference compares the reference with the keys of the struct type
// root and returns every difference.
func checkReference(doc string, root reflect.Type) []string {
	tables, keys := refSchema(root)
	ref := parseReference(doc)
	problems := slices.Clone(ref.problems)
	for _, h := range tables {
		if _, ok := ref.tables[h]; !ok {
			problems = append(problems, fmt.Sprintf("table %s is not documented: add a heading ## `%s`", h, h))
		}
	}
	for h, n := range ref.tables {
		if !slices.Contains(tables, h) {
			problems = append(problems, fmt.Sprintf("line %d: table %s is documented, but the loader does not accept it", n, h))
		}
	}
	accepted := map[string]bool{}
	for _, k := range keys {
		name := k.String()
		accepted[name] = true
		sec, ok := ref.keys[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("key %s is not documented: add a heading ### `%s` under ## `%s`", name, name, k.table))
			continue
		}
		if sec.table != k.table {
			problems = append(problems, fmt.Sprintf("line %d: key %s stands under table %q, want %q", sec.line, name, sec.table, k.table))
		}
		for _, label := range []string{"Type:", "Default:", "Example:"} {
			if v, ok := sec.field(label); !ok || v == "" {
				problems = append(problems, fmt.Sprintf("line %d: key %s has no %q line", sec.line, name, label))
			}
		}
	}
	for name, sec := range ref.keys {
		if !accepted[name] {
			problems = append(problems, fmt.Sprintf("line %d: key %s is documented, but the loader does not accept it", sec.line, name))
		}
	}
	sort.Strings(problems)
	return problems
}

func readReference(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(referenceFile)
	if err != nil {
		t.Fatalf("the configuration reference: %v", err)
	}
	return string(b)
}

// TestReferenceNamesEveryKey fails when a key or table that the loader
// accepts is missing from docs/CONFIG.md, or the reference names one the
// loader does not accept, or a key lacks its Type, Default or Example.
func TestReferenceNamesEveryKey(t *testing.T) {
	for _, p := range checkReference(readReference(t), reflect.TypeFor[Config]()) {
		t.Errorf("%s: %s", referenceFile, p)
	}
}

// TestReferenceCheckFindsGaps shows that the check fails for each kind of
// gap, so that TestReferenceNamesEveryKey cannot pass by accident.
func TestReferenceCheckFindsGaps(t *testing.T) {
	doc := readReference(t)
	type extra struct {
		Foo string `toml:"foo"`
	}
	type extended struct {
		Config
		Extra extra `toml:"extra"`
	}
	replace := func(old, new string) string {
		if !strings.Contains(doc, old) {
			t.Fatalf("the reference no longer contains %q; update this test", old)
		}
		return strings.Replace(doc, old, new, 1)
	}
	cases := []struct {
		name string
		doc  string
		root reflect.Type
		want []string // each must be in some problem
	}{
		{"a key and table the reference lacks", doc, reflect.TypeFor[extended](),
			[]string{"key extra.foo is not documented", "table [extra] is not documented"}},
		{"a key the loader lacks", replace("### `server.listen`", "### `server.listen`\n\n### `server.bogus`\n\nType: x  \nDefault: x  \nExample: x\n"),
			reflect.TypeFor[Config](), []string{"key server.bogus is documented, but the loader does not accept it"}},
		{"a key under the wrong table", replace("## `[server]`", "## Server"),
			reflect.TypeFor[Config](), []string{"table [server] is not documented", `key server.listen stands under table ""`}},
		{"a key without its default", replace("Default: `[\"127.0.0.1:1080\"]`", ""),
			reflect.TypeFor[Config](), []string{`key server.listen has no "Default:" line`}},
		{"a key documented twice", replace("### `log.level`", "### `log.format`"),
			reflect.TypeFor[Config](), []string{"key log.format is documented twice", "key log.level is not documented"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := checkReference(tc.doc, tc.root)
			for _, w := range tc.want {
				if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, w) }) {
					t.Errorf("no problem says %q; got:\n%s", w, strings.Join(got, "\n"))
				}
			}
		})
	}
}

// refCodeSpan returns the text of the first `code span` of s.
func refCodeSpan(s string) (string, bool) {
	_, rest, ok := strings.Cut(s, "`")
	if !ok {
		return "", false
	}
	span, _, ok := strings.Cut(rest, "`")
	return span, ok
}

// refSampleConfig writes a configuration with every table of the schema in
// order, each with its base lines, and with line ("key = value") set in
// table (replacing a base line of the same key).
func refSampleConfig(tables []string, base map[string][]string, table, line string) string {
	key, _, _ := strings.Cut(line, "=")
	key = strings.TrimSpace(key)
	var b strings.Builder
	for _, h := range tables {
		b.WriteString(strings.ReplaceAll(h, refNameWord, refSampleProfile) + "\n")
		lines := base[h]
		if h == table {
			lines = slices.DeleteFunc(slices.Clone(lines), func(l string) bool {
				k, _, _ := strings.Cut(l, "=")
				return strings.TrimSpace(k) == key
			})
			lines = append(lines, line)
		}
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// refValueAt returns the value of a key path in c (NAME is refSampleProfile, an
// array of tables its first element).
func refValueAt(c *Config, path []string) (reflect.Value, error) {
	v := reflect.ValueOf(c)
	for _, p := range path {
		for v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		switch v.Kind() {
		case reflect.Struct:
			f, ok := refFieldByTag(v, p)
			if !ok {
				return reflect.Value{}, fmt.Errorf("no field %q", p)
			}
			v = f
		case reflect.Map:
			v = v.MapIndex(reflect.ValueOf(refSampleProfile))
		case reflect.Slice:
			if v.Len() == 0 {
				return reflect.Value{}, fmt.Errorf("empty array of tables at %q", p)
			}
			v = v.Index(0)
			f, ok := refFieldByTag(reflect.Indirect(v), p)
			if !ok {
				return reflect.Value{}, fmt.Errorf("no field %q", p)
			}
			v = f
		}
		if !v.IsValid() {
			return reflect.Value{}, fmt.Errorf("nothing at %q", p)
		}
	}
	return v, nil
}

func refFieldByTag(v reflect.Value, name string) (reflect.Value, bool) {
	idx, ok := tomlFields(v.Type())[name]
	if !ok {
		return reflect.Value{}, false
	}
	return v.FieldByIndex(idx), true
}

// refSameValue compares two configuration values; nil and empty slices are
// the same.
func refSameValue(a, b reflect.Value) bool {
	if a.Kind() == reflect.Slice && b.Kind() == reflect.Slice && a.Len() == 0 && b.Len() == 0 {
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

// refShow writes a configuration value for a test message.
func refShow(v reflect.Value) string {
	if v.Kind() == reflect.String {
		return fmt.Sprintf("%q", v.String())
	}
	return fmt.Sprintf("%v", v.Interface())
}

// TestReferenceDefaultsAndExamples checks the reference against the loader:
// writing a key's documented default gives the same configuration as
// leaving the key out, and each documented example loads.
func TestReferenceDefaultsAndExamples(t *testing.T) {
	t.Setenv("HOME", t.TempDir()) // the same ~/ expansion on both sides
	ref := parseReference(readReference(t))
	tables, keys := refSchema(reflect.TypeFor[Config]())

	blockRule := map[string][]string{"[[rules]]": {`name = "r"`, `action = "block"`}}
	tunnelRule := map[string][]string{"[[rules]]": {`name = "r"`, `action = "tunnel"`, `profile = "` + refSampleProfile + `"`}}
	// Only an ftp-sftp rule may set [rules.sftp] keys.
	sftpRule := map[string][]string{"[[rules]]": {`name = "r"`, `action = "ftp-sftp"`, `profile = "` + refSampleProfile + `"`}}
	// A [[forwards]] table needs its three keys.
	for _, m := range []map[string][]string{blockRule, tunnelRule, sftpRule} {
		m["[[forwards]]"] = []string{`listen = "127.0.0.1:2525"`, `to = "mail.internal:25"`, `profile = "` + refSampleProfile + `"`}
	}
	ruleFor := func(table string, other map[string][]string) map[string][]string {
		if table == "[rules.sftp]" {
			return sftpRule
		}
		return other
	}
	plain, err := Parse("defaults.toml", []byte(refSampleConfig(tables, blockRule, "", "")))
	if err != nil {
		t.Fatalf("the sample without values does not load: %v", err)
	}
	for _, k := range keys {
		sec := ref.keys[k.String()]
		if sec == nil {
			continue // TestReferenceNamesEveryKey reports it
		}
		last := k.path[len(k.path)-1]
		at := fmt.Sprintf("%s:%d: %s", referenceFile, sec.line, k)

		def, _ := sec.field("Default:")
		if v, ok := refCodeSpan(def); ok && strings.HasPrefix(def, "`") {
			text := refSampleConfig(tables, ruleFor(k.table, blockRule), k.table, last+" = "+v)
			c, err := Parse("default.toml", []byte(text))
			if err != nil {
				t.Errorf("%s: the documented default `%s` does not load: %v", at, v, err)
			} else {
				want, err1 := refValueAt(plain, k.path)
				got, err2 := refValueAt(c, k.path)
				switch {
				case err1 != nil || err2 != nil:
					t.Errorf("%s: %v %v", at, err1, err2)
				case !refSameValue(want, got):
					t.Errorf("%s: the documented default `%s` gives %s, but the loader's default is %s", at, v, refShow(got), refShow(want))
				}
			}
		} else if !strings.HasPrefix(def, "none") {
			t.Errorf("%s: Default: must start with a `value` or with \"none\", not %q", at, def)
		}

		ex, _ := sec.field("Example:")
		line, ok := refCodeSpan(ex)
		if name, _, _ := strings.Cut(line, "="); !ok || strings.TrimSpace(name) != last {
			t.Errorf("%s: Example: must be a code span `%s = ...`, not %q", at, last, ex)
			continue
		}
		if _, err := Parse("example.toml", []byte(refSampleConfig(tables, ruleFor(k.table, tunnelRule), k.table, line))); err != nil {
			t.Errorf("%s: the example `%s` does not load: %v", at, line, err)
		}
	}
}

// TestReferenceSampleFilesLoad loads every ```toml block of the reference:
// each is a whole configuration file.
func TestReferenceSampleFilesLoad(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	n := 0
	var block []string
	in := false
	for i, l := range strings.Split(readReference(t), "\n") {
		switch {
		case !in && l == "```toml":
			in, block = true, nil
		case in && l == "```":
			in = false
			n++
			name := fmt.Sprintf("%s:%d", referenceFile, i+1-len(block))
			if _, err := Parse(name, []byte(strings.Join(block, "\n"))); err != nil {
				t.Errorf("the TOML block at %s does not load: %v", name, err)
			}
		case in:
			block = append(block, l)
		}
	}
	if n == 0 {
		t.Errorf("%s has no ```toml block", referenceFile)
	}
}
