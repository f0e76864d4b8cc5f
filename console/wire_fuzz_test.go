package console

import (
	"bufio"
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// FuzzReadReply feeds arbitrary server output to the client's reply
// parser: it must not panic, and whatever it accepts must survive a
// write/read round trip unchanged.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"SOX0416I socksd version 1\n.OK\n",
		"SOX0402E bad\n valid forms:\n.FAIL\n",
		"..dot\n.OK\n",
		"x\r\n.OK\r\n",
		".OK\n",
		"x\n.WHAT\n",
		"no status\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := readReply(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "console: ") {
				t.Fatalf("error without package prefix: %v", err)
			}
			return
		}
		if len(resp.Lines) == 0 {
			t.Fatal("accepted a reply without lines")
		}
		for _, l := range resp.Lines {
			if strings.ContainsAny(l, "\n") || len(l) > maxReplyLine {
				t.Fatalf("line %q escapes the framing", l)
			}
		}
		// Lines with control characters are sanitised on the way out, so
		// compare against the sanitised reply.
		want := Response{OK: resp.OK}
		for _, l := range resp.Lines {
			want.Lines = append(want.Lines, sanitize(l))
		}
		var buf bytes.Buffer
		if err := writeReply(&buf, resp); err != nil {
			t.Fatal(err)
		}
		again, err := readReply(bufio.NewReader(&buf))
		if err != nil || !reflect.DeepEqual(again, want) {
			t.Fatalf("round trip of %+v gave %+v, %v", want, again, err)
		}
	})
}
