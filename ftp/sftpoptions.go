package ftp

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// SFTPOptions are the settings of an ftp-sftp rule ([rules.sftp]): socksd
// serves the job's FTP itself from the partner's SFTP server.
type SFTPOptions struct {
	// Root confines the job: "" = the SSH login's directory (and the job
	// may leave it as the server allows); otherwise an absolute or
	// login-relative directory the job can never leave.
	Root string
	// LineEnd is what TYPE A text becomes on the server: "lf" (default)
	// or "crlf".
	LineEnd string
	// Datasets says what a quoted z/OS name ('HLQ.DATA.SET') becomes:
	// "strip-quotes" (default: a file name) or a prefix such as "//".
	Datasets string
	// Streams is how many SFTP channels one large TYPE I transfer may
	// use; 0 or 1 = one.
	Streams int
}

// Values of SFTPOptions.LineEnd and SFTPOptions.Datasets.
const (
	LineEndLF   = "lf"
	LineEndCRLF = "crlf"
	StripQuotes = "strip-quotes"
)

// maxStreams bounds SFTPOptions.Streams: sshd's default MaxSessions is 10.
const maxStreams = 16

// normalize fills in defaults.
func (o SFTPOptions) normalize() SFTPOptions {
	if o.LineEnd == "" {
		o.LineEnd = LineEndLF
	}
	o.LineEnd = strings.ToLower(o.LineEnd)
	if o.Datasets == "" || strings.EqualFold(o.Datasets, StripQuotes) {
		o.Datasets = StripQuotes
	}
	if o.Streams < 1 {
		o.Streams = 1
	}
	return o
}

// Check reports every invalid setting of o, each an *OptionError (Field
// is the key in [rules.sftp]) joined with errors.Join, or nil.
func (o SFTPOptions) Check() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &OptionError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	switch strings.ToLower(o.LineEnd) {
	case "", LineEndLF, LineEndCRLF:
	default:
		bad("line_end", "unknown line end %q (want lf or crlf)", o.LineEnd)
	}
	switch {
	case o.Datasets == "" || strings.EqualFold(o.Datasets, StripQuotes):
	case strings.ContainsAny(o.Datasets, "'\x00\r\n") || strings.TrimSpace(o.Datasets) != o.Datasets:
		bad("datasets", "prefix %q may not hold quotes, spaces or control characters (want strip-quotes or a prefix such as \"//\")", o.Datasets)
	case !strings.Contains(o.Datasets, "/"):
		// A prefix is the start of a path ("//", "/u/data/"); a word
		// without a slash is more likely a misspelt strip-quotes.
		bad("datasets", "%q is neither strip-quotes nor a path prefix (want strip-quotes or a prefix with a slash, such as \"//\")", o.Datasets)
	}
	if o.Streams < 0 || o.Streams > maxStreams {
		bad("streams", "%d is out of range (want 1 to %d)", o.Streams, maxStreams)
	}
	if strings.ContainsAny(o.Root, "\x00\r\n") {
		bad("root", "the directory holds a control character")
	} else if o.Root != "" && path.Clean(o.Root) != strings.TrimSuffix(o.Root, "/") && o.Root != "/" {
		bad("root", "%q is not a clean path (want it without . or .. parts, e.g. %q)", o.Root, path.Clean(o.Root))
	}
	return errors.Join(errs...)
}
