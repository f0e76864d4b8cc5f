package ftp

import (
	"errors"
	"testing"
)

func TestOptionsCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opt    Options
		fields []string // the fields at fault, in order
	}{
		{"defaults", Options{}, nil},
		{"all set", Options{Data: "REWRITE", Active: "refuse", Encoding: "cp1047", Deny: []string{"DELE", "SITE FILETYPE=JES", "QUOTE SITE X"}}, nil},
		{"data", Options{Data: "sideways"}, []string{"data"}},
		{"active", Options{Active: "passive"}, []string{"active"}},
		{"encoding", Options{Encoding: "ibm-500"}, []string{"encoding"}},
		{"deny", Options{Deny: []string{"", "DELE", "SITE-X", "9"}}, []string{"deny", "deny", "deny"}},
		{"every field", Options{Data: "x", Active: "y", Encoding: "z", Deny: []string{" "}}, []string{"data", "active", "encoding", "deny"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opt.Check()
			var got []string
			if err != nil {
				for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
					var oe *OptionError
					if !errors.As(e, &oe) {
						t.Fatalf("%v is not an *OptionError", e)
					}
					got = append(got, oe.Field)
				}
			}
			if len(got) != len(tc.fields) {
				t.Fatalf("Check() = %v, want errors on %v", err, tc.fields)
			}
			for i := range got {
				if got[i] != tc.fields[i] {
					t.Errorf("error %d on %s, want %s", i, got[i], tc.fields[i])
				}
			}
			if _, nerr := tc.opt.normalize(); (nerr == nil) != (err == nil) {
				t.Errorf("normalize() = %v but Check() = %v", nerr, err)
			}
		})
	}
}
