package main

import (
	"os"
	"testing"

	"socksd/tunnel"
)

// TestMain lets the test binary serve as ssh's helpers when a daemon run
// in process (the demo) uses the openssh engine, which gives ssh its own
// executable.
func TestMain(m *testing.M) {
	if code, ok := tunnel.HelperMain(os.Args, os.Stdin, os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}
