package config

import (
	"encoding"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// decoder copies a TOML document, as parsed by github.com/BurntSushi/toml
// into maps and lists, into the schema structs key by key. Unlike
// toml.Decode, which stops at the first value of the wrong type, it goes
// on and records a problem for every key it cannot place: an unknown key
// (with the index of its array table, rules[2].bogus) or a value of the
// wrong type, said in the configuration's terms.
type decoder struct {
	c      *Config
	errs   ErrorList
	set    map[string]bool // key paths written in the file: "server.listen", "rules.0.ftp.data"
	failed map[string]bool // key paths whose value could not be decoded
}

func newDecoder(c *Config) *decoder {
	return &decoder{c: c, set: map[string]bool{}, failed: map[string]bool{}}
}

// isSet reports whether the file wrote the key path (or a key below it).
func (d *decoder) isSet(path ...string) bool { return d.set[strings.Join(path, ".")] }

// hasFailed reports whether decoding the key path gave an error already,
// so that validation does not report the same key twice.
func (d *decoder) hasFailed(path []string) bool { return d.failed[strings.Join(path, ".")] }

func (d *decoder) fail(path []string, format string, args ...any) {
	d.failed[strings.Join(path, ".")] = true
	d.errs = append(d.errs, d.c.errAt(path, format, args...))
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType    = reflect.TypeFor[Duration]()
)

// table copies a TOML table into the struct rv.
func (d *decoder) table(path []string, tbl map[string]any, rv reflect.Value) {
	fields := tomlFields(rv.Type())
	keys := make([]string, 0, len(tbl))
	for k := range tbl {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := append(slices.Clone(path), k)
		idx, ok := fields[k]
		if !ok {
			if near := nearest(k, fields); near != "" {
				d.fail(p, "unknown key (did you mean %s?)", near)
			} else {
				d.fail(p, "unknown key")
			}
			continue
		}
		d.set[strings.Join(p, ".")] = true
		d.value(p, "", tbl[k], rv.FieldByIndex(idx))
	}
}

// tomlFields maps the toml tag of each field of struct type t to its index.
// Fields without a tag or tagged "-" are not keys.
func tomlFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		out[name] = f.Index
	}
	return out
}

// value copies v into rv. item is "" for a key's own value, or "item N: "
// for an element of a list of plain values.
func (d *decoder) value(path []string, item string, v any, rv reflect.Value) {
	t := rv.Type()
	wrong := func() { d.fail(path, "%smust be %s, not %s", item, want(t), describe(v)) }
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		s, ok := v.(string)
		if !ok {
			wrong()
			return
		}
		if err := rv.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.fail(path, "%s%v", item, err)
		}
		return
	}
	switch t.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			wrong()
			return
		}
		rv.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			wrong()
			return
		}
		rv.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(int64)
		if !ok {
			wrong()
			return
		}
		if rv.OverflowInt(n) {
			d.fail(path, "%s%d is too large", item, n)
			return
		}
		rv.SetInt(n)
	case reflect.Slice:
		list := reflect.ValueOf(v)
		if v == nil || list.Kind() != reflect.Slice {
			wrong()
			return
		}
		out := reflect.MakeSlice(t, list.Len(), list.Len())
		for i := range list.Len() {
			e := list.Index(i).Interface()
			if isTable(t.Elem()) {
				p := append(slices.Clone(path), strconv.Itoa(i))
				d.set[strings.Join(p, ".")] = true
				d.value(p, "", e, out.Index(i))
				continue
			}
			d.value(path, fmt.Sprintf("item %d ", i+1), e, out.Index(i))
		}
		rv.Set(out)
	case reflect.Map:
		tbl, ok := v.(map[string]any)
		if !ok || t.Key().Kind() != reflect.String {
			wrong()
			return
		}
		if rv.IsNil() {
			rv.Set(reflect.MakeMap(t))
		}
		for k, e := range tbl {
			p := append(slices.Clone(path), k)
			d.set[strings.Join(p, ".")] = true
			elem := reflect.New(t.Elem()).Elem()
			d.value(p, "", e, elem)
			rv.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), elem)
		}
	case reflect.Struct:
		tbl, ok := v.(map[string]any)
		if !ok {
			wrong()
			return
		}
		d.table(path, tbl, rv)
	case reflect.Pointer:
		if rv.IsNil() {
			rv.Set(reflect.New(t.Elem()))
		}
		d.value(path, item, v, rv.Elem())
	default:
		wrong()
	}
}

func isTable(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct && t != durationType
}

// want says what a Go type is in the configuration's terms.
func want(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType:
		return `a duration in quotes, such as "10s" or "5m"`
	case t.Kind() == reflect.String:
		return "a string in quotes"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "a whole number"
	case t.Kind() == reflect.Slice && isTable(t.Elem()):
		return "a list of tables"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "a list of strings in quotes"
	case t.Kind() == reflect.Slice && t.Elem().Kind() >= reflect.Int && t.Elem().Kind() <= reflect.Int64:
		return "a list of whole numbers"
	case t.Kind() == reflect.Slice:
		return "a list"
	case t.Kind() == reflect.Map, t.Kind() == reflect.Struct:
		return "a table"
	}
	return "something else"
}

// describe names the type of a TOML value as the file wrote it.
func describe(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "a whole number"
	case float64:
		return "a decimal number"
	case bool:
		return "true or false"
	case time.Time:
		return "a date or time"
	case map[string]any:
		return "a table"
	}
	if v != nil && reflect.TypeOf(v).Kind() == reflect.Slice {
		return "a list"
	}
	return "another kind of value"
}

// nearest returns the key of fields closest to k, when it is at most two
// edits away, or "".
func nearest(k string, fields map[string][]int) string {
	best, bestD := "", 3
	for f := range fields {
		if d := editDistance(k, f); d < bestD || d == bestD && f < best {
			best, bestD = f, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
