package jcl

import "fmt"

// Column limits of a card-image JCL record.
const (
	lastTextColumn  = 71 // statement text ends here
	continueColumn  = 16 // a continuation starts no later than this column
	quotedResumeCol = 16 // a continued apostrophe string resumes here
)

// pos is a 1-based line and column.
type pos struct{ line, col int }

// stmt is one logical JCL statement: the name, operation and operand fields
// of its first line and the operand text of its continuations.
type stmt struct {
	line   int // first line
	null   bool
	name   string
	nameAt pos
	op     string
	opAt   pos
	text   []rune // the operand field (for IF, the expression up to THEN)
	at     []pos  // position of each rune of text
	end    pos    // the first column after the operation or operand field
	params []param
	// syntaxErr is set when the operands have unbalanced parentheses or
	// apostrophes; their values are then not checked further.
	syntaxErr bool

	// In-stream data that follows a DD * or DD DATA statement.
	instream bool
	data     []string
}

// scanner turns the lines of a member into statements. It handles comments,
// continuation and in-stream data, and reports line-level problems.
type scanner struct {
	file  string
	lines [][]rune
	errs  []Error
}

func (s *scanner) errorf(p pos, format string, args ...any) {
	s.errs = append(s.errs, Error{File: s.file, Line: p.line, Column: p.col, Msg: fmt.Sprintf(format, args...)})
}

func hasPrefix(l []rune, p string) bool {
	if len(l) < len(p) {
		return false
	}
	for i, r := range p {
		if l[i] != r {
			return false
		}
	}
	return true
}

// field returns the statement part of a line: columns 1 to 71.
func field(l []rune) []rune {
	if len(l) > lastTextColumn {
		return l[:lastTextColumn]
	}
	return l
}

// at returns the rune at index i of f, or a blank past its end.
func runeAt(f []rune, i int) rune {
	if i < len(f) {
		return f[i]
	}
	return ' '
}

// blankFrom reports whether the statement field of l is blank from index i.
func blankFrom(l []rune, i int) bool {
	f := field(l)
	for ; i < len(f); i++ {
		if f[i] != ' ' {
			return false
		}
	}
	return true
}

func firstNonBlank(f []rune, i int) int {
	for ; i < len(f); i++ {
		if f[i] != ' ' {
			return i
		}
	}
	return len(f)
}

func isComment(l []rune) bool { return hasPrefix(l, "//*") }

// isContinuation reports whether l can continue a statement: // in columns
// 1-2, a blank in column 3 and some text after it.
func isContinuation(l []rune) bool {
	return hasPrefix(l, "// ") && !blankFrom(l, 3)
}

// checkLength reports a line longer than a card image.
func (s *scanner) checkLength(i int) {
	if len(s.lines[i]) > RecordLength {
		s.errorf(pos{i + 1, RecordLength + 1}, "line is longer than %d columns", RecordLength)
	}
}

// checkStatementLine reports line-level problems of a statement line: its
// length, tab characters and text in column 72.
func (s *scanner) checkStatementLine(i int) {
	l := s.lines[i]
	s.checkLength(i)
	for j, r := range field(l) {
		if r == '\t' {
			s.errorf(pos{i + 1, j + 1}, "tab character in a JCL statement (use blanks)")
			break
		}
		if r < ' ' || r == 0x7f {
			s.errorf(pos{i + 1, j + 1}, "control character U+%04X in a JCL statement", r)
			break
		}
	}
}

// col72 looks at column 72 of statement line i. When the statement's text
// runs to column 71 (full), a character there is text past the limit;
// otherwise it marks a comment continued on the next line, and col72
// reports true.
func (s *scanner) col72(i int, full bool) bool {
	l := s.lines[i]
	if len(l) <= lastTextColumn || l[lastTextColumn] == ' ' {
		return false
	}
	if full {
		s.errorf(pos{i + 1, lastTextColumn + 1}, "text in column 72: statement text must end by column 71")
		return false
	}
	return true
}

// endStatement finishes a statement whose last line is i: it consumes the
// lines of a comment continued by column 72 and returns the index of the
// line after the statement.
func (s *scanner) endStatement(i int, full bool) int {
	for s.col72(i, full) {
		next := i + 1
		if next >= len(s.lines) || !hasPrefix(s.lines[next], "// ") {
			s.errorf(pos{i + 1, lastTextColumn + 1}, "column 72 continues the comment, but the next line is not // and a blank")
			return next
		}
		s.checkStatementLine(next)
		i, full = next, false
	}
	return i + 1
}

// scan reads all lines and returns the statements in order.
func (s *scanner) scan() []*stmt {
	var out []*stmt
	last := len(s.lines)
	for last > 0 && blankFrom(s.lines[last-1], 0) && len(s.lines[last-1]) <= RecordLength {
		last-- // trailing blank lines are ignored
	}
	for i := 0; i < last; {
		l := s.lines[i]
		switch {
		case isComment(l):
			s.checkLength(i)
			i++
		case hasPrefix(l, "//") && blankFrom(l, 2):
			s.checkStatementLine(i)
			out = append(out, &stmt{line: i + 1, null: true})
			i = s.endStatement(i, false)
		case hasPrefix(l, "//"):
			st, next := s.readStatement(i)
			out = append(out, st)
			i = next
			if st.op != "IF" && st.op != "" {
				st.params = s.parseParams(st)
			}
			if st.op == "DD" {
				i = s.readInstream(st, i, last)
			}
		case hasPrefix(l, "/*") && runeAt(l, 2) == ' ':
			s.checkLength(i)
			s.errorf(pos{i + 1, 1}, "delimiter /* outside in-stream data")
			i++
		case hasPrefix(l, "/*"):
			s.checkLength(i) // a JES2 control statement such as /*JOBPARM
			i++
		case blankFrom(l, 0):
			s.checkLength(i)
			s.errorf(pos{i + 1, 1}, "blank line in JCL (JES would read it as in-stream data)")
			i++
		default:
			s.checkLength(i)
			s.errorf(pos{i + 1, 1}, "line does not start with // or /*: not a JCL statement (in-stream data needs a DD * or DD DATA statement)")
			i++
		}
	}
	return out
}

// readStatement reads the statement that begins on line i and its
// continuations, returning it and the index of the line after it.
func (s *scanner) readStatement(i int) (*stmt, int) {
	s.checkStatementLine(i)
	f := field(s.lines[i])
	st := &stmt{line: i + 1}
	k := 2
	if runeAt(f, k) != ' ' {
		j := k
		for j < len(f) && f[j] != ' ' {
			j++
		}
		st.name, st.nameAt = string(f[k:j]), pos{i + 1, k + 1}
		k = j
	}
	afterName := k
	k = firstNonBlank(f, k)
	if k >= len(f) {
		st.end = pos{i + 1, afterName + 1}
		s.errorf(pos{i + 1, min(afterName+2, lastTextColumn+1)}, "missing operation after the name field")
		return st, s.endStatement(i, afterName >= lastTextColumn)
	}
	j := k
	for j < len(f) && f[j] != ' ' {
		j++
	}
	st.op, st.opAt = string(f[k:j]), pos{i + 1, k + 1}
	st.end = pos{i + 1, j + 1}
	switch st.op {
	case "PEND", "ELSE", "ENDIF":
		// Anything after the operation is a comment.
		return st, s.endStatement(i, j >= lastTextColumn)
	case "IF":
		return s.readIf(st, i, j)
	}
	return s.readOperands(st, i, firstNonBlank(f, j))
}

// readOperands reads the operand field of st from index k of line i and of
// its continuation lines.
func (s *scanner) readOperands(st *stmt, i, k int) (*stmt, int) {
	inQuote := false
	var quoteAt pos
	for li := i; ; {
		f := field(s.lines[li])
		var last rune
		var lastAt pos
		j := k
		for ; j < lastTextColumn; j++ {
			r := runeAt(f, j)
			if !inQuote && r == ' ' {
				break
			}
			p := pos{li + 1, j + 1}
			if r == '\'' {
				switch {
				case !inQuote:
					inQuote, quoteAt = true, p
				case runeAt(f, j+1) == '\'' && j+1 < lastTextColumn:
					st.text, st.at = append(st.text, r), append(st.at, p)
					j++
					p = pos{li + 1, j + 1}
				default:
					inQuote = false
				}
			}
			st.text, st.at = append(st.text, r), append(st.at, p)
			last, lastAt = r, p
		}
		if j > k {
			st.end = pos{li + 1, j + 1}
		}
		full := j >= lastTextColumn
		if !inQuote && (j == k || last != ',') {
			return st, s.endStatement(li, full)
		}
		if full {
			s.col72(li, true)
		}
		next := li + 1
		for next < len(s.lines) && isComment(s.lines[next]) {
			s.checkLength(next)
			next++
		}
		if next >= len(s.lines) || !isContinuation(s.lines[next]) {
			if inQuote {
				s.errorf(quoteAt, "unmatched apostrophe")
			} else {
				s.errorf(lastAt, "statement ends with a comma but the next line is not a continuation (// and a blank)")
			}
			return st, li + 1
		}
		s.checkStatementLine(next)
		nf := field(s.lines[next])
		first := firstNonBlank(nf, 3)
		if inQuote {
			k = quotedResumeCol - 1
			if first < k {
				s.errorf(pos{next + 1, first + 1}, "a continued apostrophe string must resume in column %d", quotedResumeCol)
				k = first
			}
		} else {
			if first >= continueColumn {
				s.errorf(pos{next + 1, first + 1}, "continuation must start in columns 4-%d", continueColumn)
			}
			k = first
		}
		li = next
	}
}

// readIf reads an IF statement's expression up to THEN, from index k of line
// i and of its continuation lines.
func (s *scanner) readIf(st *stmt, i, k int) (*stmt, int) {
	for li := i; ; {
		f := field(s.lines[li])
		start := k
		for j := k; j < len(f); j++ {
			if isThenAt(f, j, start) {
				return st, s.endStatement(li, j+4 >= lastTextColumn)
			}
			st.text, st.at = append(st.text, f[j]), append(st.at, pos{li + 1, j + 1})
		}
		s.col72(li, true)
		// A line end separates tokens like a blank.
		st.text, st.at = append(st.text, ' '), append(st.at, pos{li + 1, len(f) + 1})
		next := li + 1
		for next < len(s.lines) && isComment(s.lines[next]) {
			s.checkLength(next)
			next++
		}
		if next >= len(s.lines) || !isContinuation(s.lines[next]) {
			s.errorf(st.opAt, "IF statement has no THEN")
			return st, li + 1
		}
		s.checkStatementLine(next)
		nf := field(s.lines[next])
		k = firstNonBlank(nf, 3)
		if k >= continueColumn {
			s.errorf(pos{next + 1, k + 1}, "continuation must start in columns 4-%d", continueColumn)
		}
		li = next
	}
}

// isThenAt reports whether the word THEN starts at index j of f.
func isThenAt(f []rune, j, start int) bool {
	if !hasPrefix(f[j:], "THEN") {
		return false
	}
	if j > start && f[j-1] != ' ' && f[j-1] != ')' {
		return false
	}
	return runeAt(f, j+4) == ' '
}

// readInstream, for DD * and DD DATA, consumes the
// in-stream data that follows from line i, returning the next line index.
func (s *scanner) readInstream(st *stmt, i, last int) int {
	mode := ""
	dlm := ""
	var dlmAt pos
	for n, p := range st.params {
		if p.key == "" && n == 0 {
			mode = string(p.val)
		}
		if p.key == "DLM" {
			dlm, dlmAt = unquote(string(p.val)), p.valAt()
		}
	}
	if mode != "*" && mode != "DATA" {
		return i
	}
	st.instream = true
	for ; i < last; i++ {
		l := s.lines[i]
		switch {
		case dlm != "" && hasPrefix(l, dlm):
			s.checkLength(i)
			return i + 1
		case dlm == "" && hasPrefix(l, "/*"):
			s.checkLength(i)
			return i + 1
		case dlm == "" && mode == "*" && hasPrefix(l, "//"):
			return i
		}
		s.checkLength(i)
		st.data = append(st.data, string(l))
	}
	switch {
	case dlm != "":
		s.errorf(dlmAt, "in-stream data is not ended by its delimiter %s", dlm)
	case mode == "DATA":
		s.errorf(st.opAt, "in-stream data of DD DATA is not ended by /*")
	}
	return i
}
