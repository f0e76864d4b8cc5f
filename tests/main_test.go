// Package tests holds socksd's end-to-end tests: the built binary against
// real clients (curl, netcat, golang.org/x/net/proxy) and real peers
// (OpenSSH sshd, vsftpd).
package tests

import (
	"fmt"
	"os"
	"testing"

	"socksd/internal/testing/testpeer"
)

// socksdBin is the binary built once for the whole test run.
var socksdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "socksd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	socksdBin, err = testpeer.BuildSocksd(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	// Last: the summary of the failed tests, for CI's short tail.
	os.Exit(testpeer.EndRun(code))
}
