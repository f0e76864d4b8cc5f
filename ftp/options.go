package ftp

import (
	"errors"
	"fmt"
	"strings"

	"socksd/ebcdic"
)

// OptionError is one invalid FTP setting. Field is its key in a rule's
// [rules.ftp] table ("data", "active", "encoding" or "deny"); Reason says
// what is wrong in the configuration's terms.
type OptionError struct {
	Field  string
	Reason string
}

func (e *OptionError) Error() string { return fmt.Sprintf("ftp: %s: %s", e.Field, e.Reason) }

// Check reports every invalid setting of o, each an *OptionError joined
// with errors.Join, or nil. Empty settings take their defaults and are
// valid; names are compared case-insensitively. A deny pattern must parse
// as the command it refuses. Serve checks its options the same way, so a
// configuration that passes Check cannot fail a session on its options.
func (o Options) Check() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &OptionError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	switch strings.ToLower(o.Data) {
	case "", DataAuto, DataSocks, DataRewrite:
	default:
		bad("data", "unknown mode %q (want auto, socks or rewrite)", o.Data)
	}
	switch strings.ToLower(o.Active) {
	case "", ActiveConvert, ActiveRefuse:
	default:
		bad("active", "unknown mode %q (want convert or refuse)", o.Active)
	}
	if _, _, err := ebcdic.ParseCodePageOrAuto(o.Encoding); err != nil {
		var ce *ebcdic.CodePageError
		if errors.As(err, &ce) {
			bad("encoding", "%s", ce.Reason())
		} else {
			bad("encoding", "%v", err)
		}
	}
	for _, pat := range o.Deny {
		if strings.TrimSpace(pat) == "" {
			bad("deny", "an empty pattern would refuse nothing (want a command such as DELE or SITE FILETYPE=JES)")
			continue
		}
		if _, err := compilePolicy([]string{pat}); err != nil {
			var ce *CommandError
			if errors.As(err, &ce) {
				bad("deny", "%q is not an FTP command pattern: %s", pat, ce.Reason)
			} else {
				bad("deny", "%q is not an FTP command pattern", pat)
			}
		}
	}
	return errors.Join(errs...)
}
