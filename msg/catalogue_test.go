package msg

import (
	"regexp"
	"strings"
	"testing"

	"socksd/internal/testing/gosource"
)

var idRE = regexp.MustCompile(`^SOX(0[0-8])[0-9]{2}[IWEA]$`)

func TestCatalogue(t *testing.T) {
	seen := map[string]bool{}
	num := map[string]bool{}
	texts := map[string]string{} // text to the ID that has it
	for _, m := range Messages() {
		if other, ok := texts[m.Text]; ok {
			t.Errorf("%s and %s have the same text %q: an operator could not tell them apart", other, m.ID, m.Text)
		}
		texts[m.Text] = m.ID
		if !idRE.MatchString(m.ID) {
			t.Errorf("%s: ID does not match SOXnnnnS in the ranges 00xx-08xx", m.ID)
		}
		if seen[m.ID] || num[m.ID[:7]] {
			t.Errorf("%s: number used twice", m.ID)
		}
		seen[m.ID], num[m.ID[:7]] = true, true
		if m.Text == "" || m.Explanation == "" || m.Response == "" {
			t.Errorf("%s: text, explanation or operator response is empty", m.ID)
		}
		if strings.ContainsAny(m.Text+m.Explanation+m.Response, "\n\t") {
			t.Errorf("%s: contains a newline or tab", m.ID)
		}
		// Format with as many arguments as the text has verbs must give
		// no %! complaints.
		args := argsFor(m.Text)
		out := Format(m.ID, args...)
		if !strings.HasPrefix(out, m.ID+" ") || strings.Contains(out, "%!") {
			t.Errorf("%s: Format with %d arguments gives %q", m.ID, len(args), out)
		}
	}
	for _, id := range []string{"SOX0001I", "SOX0002I", "SOX0003I", "SOX0004E", "SOX0005I", "SOX0006I",
		"SOX0007I", "SOX0008I", "SOX0009W", "SOX0010E", "SOX0011I", "SOX0012W", "SOX0101I", "SOX0102I",
		"SOX0103W", "SOX0104W", "SOX0105I", "SOX0107I", "SOX0108W", "SOX0109W", "SOX0201I",
		"SOX0202I", "SOX0203E", "SOX0204A", "SOX0205E", "SOX0206W", "SOX0207W", "SOX0208W", "SOX0209I",
		"SOX0210I", "SOX0301I", "SOX0302W", "SOX0303I", "SOX0304W", "SOX0305E", "SOX0306W", "SOX0307E",
		"SOX0401I", "SOX0402E", "SOX0403E", "SOX0404I", "SOX0405I", "SOX0406I", "SOX0407I", "SOX0410I",
		"SOX0411I", "SOX0412I", "SOX0413I", "SOX0414I", "SOX0415I", "SOX0416I", "SOX0417I", "SOX0420E",
		"SOX0501E", "SOX0601E"} {
		if !seen[id] {
			t.Errorf("required message %s is missing", id)
		}
	}
}

// argsFor returns sample arguments of the right kinds for a format:
// %d gets an int, every other verb a string.
func argsFor(format string) []any {
	var args []any
	for i := 0; i < len(format)-1; i++ {
		if format[i] != '%' {
			continue
		}
		i++
		switch format[i] {
		case '%':
		case 'd':
			args = append(args, 7)
		default:
			args = append(args, "x")
		}
	}
	return args
}

func TestLookupAndFormat(t *testing.T) {
	m, ok := Lookup("sox0203e")
	if !ok || m.ID != "SOX0203E" {
		t.Fatalf("Lookup(sox0203e) = %+v, %v", m, ok)
	}
	if m, ok := Lookup(" SOX0203 "); !ok || m.ID != "SOX0203E" {
		t.Fatalf("Lookup without severity = %+v, %v", m, ok)
	}
	for _, bad := range []string{"", "SOX", "SOX0203" + "I", "SOX9", "0203E", "SOX02030E"} {
		if _, ok := Lookup(bad); ok {
			t.Errorf("Lookup(%q) found a message", bad)
		}
	}
	if got, want := Format("SOX0002I", "127.0.0.1:1080"), "SOX0002I socksd ready, listening on 127.0.0.1:1080"; got != want {
		t.Errorf("Format = %q, want %q", got, want)
	}
	if got := Format("SOX0"+"999I", "x"); !strings.HasPrefix(got, "SOX9999"+"E unknown message ID") || !strings.Contains(got, "x") {
		t.Errorf("Format of an unknown ID = %q", got)
	}
	a, b := Messages(), Messages()
	a[0].Text = "changed"
	if b[0].Text == "changed" || catalogue[index[b[0].ID]].Text == "changed" {
		t.Error("Messages does not return a copy")
	}
}

// TestEveryUsedIDExists checks that every message ID the module's Go
// files name (tests included) is in the catalogue.
func TestEveryUsedIDExists(t *testing.T) {
	for id, files := range gosource.MessageIDs(t, gosource.Root(t), true) {
		if _, ok := index[id]; !ok {
			t.Errorf("%s uses message %s, which is not in the catalogue", strings.Join(files, ", "), id)
		}
	}
}

// notEmitted lists the catalogue entries that no code emits yet, each with
// the reason it stays. TestEveryEntryIsEmitted fails on any other.
var notEmitted = map[string]string{
	"SOX0601E": "socksd jcl check prints JCL errors without an ID today",
}

// TestEveryEntryIsEmitted checks that the code (tests left out) names
// every catalogue entry, except those in notEmitted, and that each of
// those is still unused: a dead entry is removed or listed, never kept
// silently.
func TestEveryEntryIsEmitted(t *testing.T) {
	used := gosource.MessageIDs(t, gosource.Root(t), false)
	for _, m := range catalogue {
		_, listed := notEmitted[m.ID]
		switch {
		case used[m.ID] == nil && !listed:
			t.Errorf("%s is in the catalogue but no code emits it: use it, remove it, or list it in notEmitted", m.ID)
		case used[m.ID] != nil && listed:
			t.Errorf("%s is listed in notEmitted but %s emits it: remove it from the list", m.ID, strings.Join(used[m.ID], ", "))
		}
	}
	for id := range notEmitted {
		if _, ok := index[id]; !ok {
			t.Errorf("notEmitted lists %s, which is not in the catalogue", id)
		}
	}
}
