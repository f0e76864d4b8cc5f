package tunnel

import (
	"errors"
	"testing"

	"socksd/socks"
)

func TestProfileCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prof   Profile
		fields []string
	}{
		{"zero values are defaults", Profile{}, nil},
		{"valid", Profile{Port: 2222, Auth: []string{AuthPublicKey, AuthPassword}, Via: "socks5://u:pw@h:1"}, nil},
		{"port", Profile{Port: 70000}, []string{"port"}},
		{"auth", Profile{Auth: []string{"telepathy", AuthPassword, AuthPassword}}, []string{"auth", "auth"}},
		{"via", Profile{Via: socks.ProxyURL("http://u:pw@h:1")}, []string{"via"}},
		{"every field", Profile{Port: -1, Auth: []string{"x"}, Via: "socks9://h"}, []string{"port", "auth", "via"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.prof.Check()
			var got []string
			if err != nil {
				for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
					var pe *ProfileError
					if !errors.As(e, &pe) {
						t.Fatalf("%v is not a *ProfileError", e)
					}
					got = append(got, pe.Field)
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
			if verr := tc.prof.Validate(); (verr == nil) != (err == nil) || verr != nil && !errors.Is(verr, ErrBadProfile) {
				t.Errorf("Validate() = %v, Check() = %v", verr, err)
			}
		})
	}
}
