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

// Prepare checks once, applies the defaults and builds the via dialer, so
// that Open neither checks the profile nor parses Via again.
func TestProfilePrepare(t *testing.T) {
	p, err := Profile{Name: "p", Via: "socks5://u:pw@proxy.example:1081"}.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	if !p.prepared || p.Port != DefaultPort || p.MaxChannels != DefaultMaxChannels || len(p.Auth) != 3 {
		t.Errorf("defaults not applied: %+v", p)
	}
	if p.via == nil || p.via.Version != 5 || p.via.ProxyAddr != "proxy.example:1081" || p.via.User != "u" {
		t.Errorf("via dialer: %v", p.via)
	}
	if p, err := (Profile{Name: "d"}).Prepare(); err != nil || p.via != nil {
		t.Errorf("without via: %v, %v", p.via, err)
	}
	if _, err := (Profile{Name: "bad", Port: -1}).Prepare(); !errors.Is(err, ErrBadProfile) {
		t.Errorf("bad profile: %v", err)
	}
	// A prepared profile is taken as it is: its Via string is not parsed
	// again (a prepared profile whose Via was changed keeps its dialer).
	pool := &Pool{}
	p.Via = "not a proxy URL"
	r, err := pool.resolve(p, "dest.example", Credentials{User: "u"})
	if err != nil || r.prof.via == nil || r.prof.via.ProxyAddr != "proxy.example:1081" {
		t.Errorf("resolve of a prepared profile: %v, %v", r.prof.via, err)
	}
}
