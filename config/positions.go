package config

import (
	"strconv"
	"strings"
)

// positions maps each key path of a TOML document ("rules.2.action") to
// the line where it was written. BurntSushi/toml keeps positions private,
// so this small scanner recovers them; it understands table headers,
// arrays of tables, dotted and quoted keys, and skips multi-line values.
type positions map[string]int

func scanPositions(src string) positions {
	pos := positions{}
	arrays := map[string]int{} // array-of-tables path → count so far
	prefix := ""
	depth := 0    // open brackets of a multi-line array value
	inMulti := "" // the closing delimiter of a multi-line string
	lines := strings.Split(src, "\n")
	for i, raw := range lines {
		n := i + 1
		line := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if inMulti != "" {
			if strings.Contains(line, inMulti) {
				inMulti = ""
			}
			continue
		}
		if depth > 0 {
			depth += bracketDelta(line)
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		if strings.HasPrefix(line, "[[") {
			name := headerName(line[2:], "]]")
			path := name
			if i := strings.LastIndex(name, "."); i >= 0 {
				path = resolveArrays(name[:i], arrays) + name[i:]
			}
			arrays[path]++
			prefix = path + "." + strconv.Itoa(arrays[path]-1)
			pos[prefix] = n
			continue
		}
		if line[0] == '[' {
			name := headerName(line[1:], "]")
			prefix = resolveArrays(name, arrays)
			pos[prefix] = n
			continue
		}
		eq := keyEnd(line)
		if eq < 0 {
			continue
		}
		key := joinKey(prefix, normKey(line[:eq]))
		if _, seen := pos[key]; !seen {
			pos[key] = n
		}
		val := strings.TrimSpace(line[eq+1:])
		switch {
		case strings.HasPrefix(val, `"""`) && strings.Count(val, `"""`) == 1:
			inMulti = `"""`
		case strings.HasPrefix(val, "'''") && strings.Count(val, "'''") == 1:
			inMulti = "'''"
		case strings.HasPrefix(val, "["):
			depth = bracketDelta(val)
		}
	}
	return pos
}

// resolveArrays maps a dotted table name onto the current elements of the
// arrays of tables it passes through: "rules.ftp" → "rules.3.ftp".
func resolveArrays(name string, arrays map[string]int) string {
	parts := strings.Split(name, ".")
	out := ""
	for _, p := range parts {
		out = joinKey(out, p)
		if c, ok := arrays[out]; ok && c > 0 {
			out += "." + strconv.Itoa(c-1)
		}
	}
	return out
}

func headerName(s, closer string) string {
	if i := strings.Index(s, closer); i >= 0 {
		s = s[:i]
	}
	return normKey(s)
}

// normKey turns `a . "b" . c` into a.b.c.
func normKey(s string) string {
	parts := strings.Split(s, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}

// keyEnd finds the '=' that ends a key, outside quotes.
func keyEnd(line string) int {
	var q byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '=':
			return i
		}
	}
	return -1
}

// bracketDelta counts '[' minus ']' outside strings and comments.
func bracketDelta(s string) int {
	d := 0
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == '\\' && q == '"' {
				i++
			} else if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '#':
			return d
		case c == '[':
			d++
		case c == ']':
			d--
		}
	}
	return d
}

func joinKey(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// line finds a key path. When a key is not found, the nearest enclosing
// table's line is returned, or 0.
func (p positions) line(path []string) int {
	for len(path) > 0 {
		if n, ok := p[strings.Join(path, ".")]; ok {
			return n
		}
		path = path[:len(path)-1]
	}
	return 0
}
