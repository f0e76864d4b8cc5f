package jcl

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem found in a JCL member, at a 1-based line and column.
// Line and Column are 0 when the problem concerns the file as a whole.
type Error struct {
	File   string
	Line   int
	Column int
	Msg    string
}

// Error formats e as FILE:LINE:COLUMN: msg.
func (e Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// ErrorList is a list of problems, sorted by position. It is returned as an
// error by functions that validate what they produce.
type ErrorList []Error

// Error joins the problems one per line.
func (l ErrorList) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// sortErrors orders errors by line, then column, then message, and drops
// exact duplicates.
func sortErrors(errs []Error) []Error {
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i], errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Msg < b.Msg
	})
	out := errs[:0]
	for i, e := range errs {
		if i > 0 && e == errs[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}
