package ftp

import (
	"errors"
	"net/netip"
	"testing"
)

func TestParsePORT(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"127,0,0,1,4,1", "127.0.0.1:1025", false},
		{" 10,20,0,5,255,255 ", "10.20.0.5:65535", false},
		{"127,0,0,1,4", "", true},
		{"127,0,0,1,4,256", "", true},
		{"127,0,0,1,4,-1", "", true},
		{"127,0,0,1,4,+1", "", true},
		{"127,0,0,1,4,0001", "", true},
		{"a,b,c,d,e,f", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := ParsePORT(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParsePORT(%q) err = %v", tt.in, err)
			continue
		}
		if err != nil {
			var ae *AddrError
			if !errors.Is(err, ErrBadAddress) || !errors.As(err, &ae) || ae.Kind != "PORT" {
				t.Errorf("ParsePORT(%q) error %v", tt.in, err)
			}
			continue
		}
		if got.String() != tt.want {
			t.Errorf("ParsePORT(%q) = %v, want %v", tt.in, got, tt.want)
		}
		s, err := FormatPORT(got)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := ParsePORT(s); err != nil || back != got {
			t.Errorf("FormatPORT round trip %q -> %v %v", s, back, err)
		}
	}
	if _, err := FormatPORT(netip.MustParseAddrPort("[::1]:21")); err == nil {
		t.Error("FormatPORT accepted IPv6")
	}
	if s, err := FormatPORT(netip.MustParseAddrPort("[::ffff:127.0.0.1]:258")); err != nil || s != "127,0,0,1,1,2" {
		t.Errorf("FormatPORT mapped = %q %v", s, err)
	}
}

func TestParseEPRT(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"|1|132.235.1.2|6275|", "132.235.1.2:6275", false},
		{"|2|1080::8:800:200C:417A|5282|", "[1080::8:800:200c:417a]:5282", false},
		{"!1!127.0.0.1!21!", "127.0.0.1:21", false},
		{"|1|::1|21|", "", true},
		{"|2|127.0.0.1|21|", "", true},
		{"|3|127.0.0.1|21|", "", true},
		{"|1|127.0.0.1|0|", "", true},
		{"|1|127.0.0.1|65536|", "", true},
		{"|1|127.0.0.1|21", "", true},
		{"|1|127.0.0.1|21|x|", "", true},
		{"|2|fe80::1%eth0|21|", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := ParseEPRT(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseEPRT(%q) err = %v", tt.in, err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrBadAddress) {
				t.Errorf("ParseEPRT(%q) error %v", tt.in, err)
			}
			continue
		}
		if got.String() != tt.want {
			t.Errorf("ParseEPRT(%q) = %v, want %v", tt.in, got, tt.want)
		}
		if back, err := ParseEPRT(FormatEPRT(got)); err != nil || back != got {
			t.Errorf("FormatEPRT round trip %v -> %v %v", got, back, err)
		}
	}
}

func TestParse227(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"227 Entering Passive Mode (127,0,0,1,39,16).", "127.0.0.1:10000", false},
		{"Entering Passive Mode (127,0,0,1,39,16)", "127.0.0.1:10000", false},
		{"227 Entering Passive Mode 10,1,2,3,4,5", "10.1.2.3:1029", false},
		{"227 =0,0,0,0,200,1", "0.0.0.0:51201", false},
		{"227 (1,2,3) then 9,9,9,9,0,21.", "9.9.9.9:21", false},
		{"229 Entering Extended Passive Mode (|||6446|)", "", true},
		{"227 Entering Passive Mode", "", true},
		{"227 (1,2,3,4,5,6,7)", "", true},
		{"227 (300,0,0,1,1,1)", "", true},
	}
	for _, tt := range tests {
		got, err := Parse227(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && got.String() != tt.want) {
			t.Errorf("Parse227(%q) = %v, %v", tt.in, got, err)
		}
		if err == nil {
			s, err := Format227(got)
			if err != nil {
				t.Fatal(err)
			}
			if back, err := Parse227(s); err != nil || back != got {
				t.Errorf("Format227 round trip %q -> %v %v", s, back, err)
			}
		}
	}
}

func TestParse229(t *testing.T) {
	tests := []struct {
		in      string
		want    uint16
		wantErr bool
	}{
		{"229 Entering Extended Passive Mode (|||6446|)", 6446, false},
		{"Entering Extended Passive Mode (!!!21!).", 21, false},
		{"229 (|||0|)", 0, true},
		{"229 (||1|2|)", 0, true},
		{"229 (|||x|)", 0, true},
		{"229 |||21|", 0, true},
		{"229 (|||21|", 0, true},
		{"227 (|||21|)", 0, true},
	}
	for _, tt := range tests {
		got, err := Parse229(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Parse229(%q) = %v, %v", tt.in, got, err)
		}
		if err == nil {
			if back, err := Parse229(Format229(got)); err != nil || back != got {
				t.Errorf("Format229 round trip %v -> %v %v", got, back, err)
			}
		}
	}
}

func FuzzParsePORT(f *testing.F) {
	f.Add("127,0,0,1,4,1")
	f.Add("1,2,3,4,5,6,7")
	f.Fuzz(func(t *testing.T, s string) {
		ap, err := ParsePORT(s)
		if err != nil {
			if !errors.Is(err, ErrBadAddress) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if !ap.Addr().Is4() {
			t.Fatalf("PORT gave %v", ap)
		}
		out, err := FormatPORT(ap)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := ParsePORT(out); err != nil || back != ap {
			t.Fatalf("round trip %q: %v %v", out, back, err)
		}
	})
}

func FuzzParseEPRT(f *testing.F) {
	f.Add("|1|127.0.0.1|21|")
	f.Add("|2|::1|2121|")
	f.Fuzz(func(t *testing.T, s string) {
		ap, err := ParseEPRT(s)
		if err != nil {
			if !errors.Is(err, ErrBadAddress) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if ap.Port() == 0 || ap.Addr().Zone() != "" {
			t.Fatalf("EPRT gave %v", ap)
		}
		if back, err := ParseEPRT(FormatEPRT(ap)); err != nil || back != ap {
			t.Fatalf("round trip %q: %v %v", FormatEPRT(ap), back, err)
		}
	})
}

func FuzzParse227(f *testing.F) {
	f.Add("227 Entering Passive Mode (127,0,0,1,39,16).")
	f.Add("227 =1,2,3,4,5,6")
	f.Fuzz(func(t *testing.T, s string) {
		ap, err := Parse227(s)
		if err != nil {
			if !errors.Is(err, ErrBadAddress) {
				t.Fatalf("error %v", err)
			}
			return
		}
		text, err := Format227(ap)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := Parse227("227 " + text); err != nil || back != ap {
			t.Fatalf("round trip %q: %v %v", text, back, err)
		}
	})
}

func FuzzParse229(f *testing.F) {
	f.Add("229 Entering Extended Passive Mode (|||6446|)")
	f.Add("229 (!!!1!)")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse229(s)
		if err != nil {
			if !errors.Is(err, ErrBadAddress) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if p == 0 {
			t.Fatal("port 0 accepted")
		}
		if back, err := Parse229("229 " + Format229(p)); err != nil || back != p {
			t.Fatalf("round trip %d: %v %v", p, back, err)
		}
	})
}
