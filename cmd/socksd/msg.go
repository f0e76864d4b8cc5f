package main

import (
	"fmt"
	"io"
	"strings"

	"socksd/msg"
)

const msgUsage = `usage: socksd msg ID...    explain operator messages, for example socksd msg SOX0203E
       socksd msg --all     list every message
`

// runMsg implements `socksd msg ID`: it prints each message's text,
// explanation and operator response. The severity letter may be left
// out and case does not matter. Exit 1 when an ID is unknown.
func runMsg(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, msgUsage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "-help":
		fmt.Fprint(stdout, msgUsage)
		return exitOK
	case "-a", "--all", "-all":
		if len(args) != 1 {
			fmt.Fprint(stderr, msgUsage)
			return exitUsage
		}
		for _, m := range msg.Messages() {
			fmt.Fprintf(stdout, "%s  %s\n", m.ID, m.Text)
		}
		return exitOK
	}
	code := exitOK
	for i, id := range args {
		if strings.HasPrefix(id, "-") {
			fmt.Fprintf(stderr, "socksd msg: unknown flag %s\n%s", id, msgUsage)
			return exitUsage
		}
		m, ok := msg.Lookup(id)
		if !ok {
			fmt.Fprintf(stderr, "socksd msg: no message %s; socksd msg --all lists them\n", strings.ToUpper(id))
			code = exitFail
			continue
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "%s  %s\n\n", m.ID, m.Text)
		fmt.Fprintf(stdout, "Explanation:\n%s\n", wrap(m.Explanation, "  ", 76))
		fmt.Fprintf(stdout, "Operator response:\n%s\n", wrap(m.Response, "  ", 76))
	}
	return code
}

// wrap breaks text into lines of at most width columns (longer words stay
// whole), each starting with indent.
func wrap(text, indent string, width int) string {
	var lines []string
	line := indent
	for _, w := range strings.Fields(text) {
		if line != indent && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += w
	}
	return strings.Join(append(lines, line), "\n")
}
