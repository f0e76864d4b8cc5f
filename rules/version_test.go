package rules

import "testing"

func TestCheckVersion(t *testing.T) {
	for v, ok := range map[int]bool{4: true, 5: true, 0: false, 3: false, 6: false, -5: false} {
		if err := CheckVersion(v); (err == nil) != ok {
			t.Errorf("%d: got %v", v, err)
		}
	}
	if err := CheckVersion(6); err == nil || err.Error() != "unknown SOCKS version 6 (want 4 or 5)" {
		t.Errorf("error text: %v", err)
	}
}
