package syslog

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/leodido/go-syslog/v4/rfc5424"
)

// FuzzFormat: whatever a parameter's name and value and the MSG hold, the
// message parses as RFC 5424 with the library's parser and gives the value
// back unchanged (valid UTF-8 values, as JSON gives them).
func FuzzFormat(f *testing.F) {
	for _, s := range [][3]string{{"path", `a "b" \c ]d`, `{"x":1}`}, {"site", `["RECFM=FB"]`, ""}, {"a=b c", "]]]", "msg"}, {"", "", ""}} {
		f.Add(s[0], s[1], s[2])
	}
	w := New(Options{Facility: 16, AppName: "socksd", SDID: "socksd@32473", Hostname: "h"})
	f.Fuzz(func(t *testing.T, name, value, text string) {
		if !utf8.ValidString(value) || !utf8.ValidString(text) {
			return
		}
		r := Record{Severity: Info, MsgID: "transfer", Params: map[string]string{name: value}, Msg: text}
		s := w.Format(r)
		if strings.ContainsAny(s[:strings.Index(s, "[")], "\n") {
			t.Fatalf("header holds a newline: %q", s)
		}
		m, err := rfc5424.NewParser().Parse([]byte(s))
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		sm := m.(*rfc5424.SyslogMessage)
		got, ok := (*sm.StructuredData)["socksd@32473"][paramName(name)]
		if !ok || got != value {
			t.Fatalf("%q: param %q = %q (%v), want %q", s, paramName(name), got, ok, value)
		}
	})
}

// FuzzParseAddress: an address that parses gives itself back through
// String.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"local", "unix:/dev/log", "udp://h", "tcp://[::1]:601", "tcp://h:0", "udp://:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			return
		}
		b, err := ParseAddress(a.String())
		if err != nil || a != b {
			t.Fatalf("%q gives %v; its String %q gives %v, %v", s, a, a.String(), b, err)
		}
	})
}
