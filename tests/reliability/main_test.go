// Package reliability holds socksd's reliability and security tests: faults
// injected into real peers (sshd, vsftpd) in the middle of transfers, load
// (hundreds of concurrent transfers, thousands of stalled handshakes) and
// hostile input (bounce PORTs, wrong passwords, foreign clients, changed
// host keys). Each test records what it tried and what it saw; with
// SOCKSD_RELIABILITY_OUT set, TestMain writes those observations as a
// Markdown report (RELIABILITY.md, see `make reliability`).
package reliability

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"socksd/internal/testing/testpeer"
)

// outEnv names the report file to write; unset, no report is written.
const outEnv = "SOCKSD_RELIABILITY_OUT"

// fragEnv carries the fragment directory from TestMain to the tests.
const fragEnv = "SOCKSD_RELIABILITY_FRAGMENTS"

// socksdBin is the binary built once for the whole run; TestMain sets it
// before any test runs and nothing changes it afterwards.
var socksdBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		return m.Run() // only listing (make fuzz): no binary needed
	}
	// The commit is read before the binary is built from the tree.
	rev := ""
	if out := os.Getenv(outEnv); out != "" {
		rev = measured(out)
	}
	dir, err := os.MkdirTemp("", "socksd-rel-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Tests run the binary as user nobody too (control socket test).
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	socksdBin, err = testpeer.BuildSocksd(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	frags := filepath.Join(dir, "fragments")
	if err := os.Mkdir(frags, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Setenv(fragEnv, frags)
	code := m.Run()
	if out := os.Getenv(outEnv); out != "" {
		path, err := writeReport(out, frags, code, rev)
		if err != nil {
			fmt.Fprintln(os.Stderr, "reliability: report:", err)
			if code == 0 {
				code = 1
			}
		} else {
			fmt.Println("reliability: report written to", path)
		}
	}
	// Last: the summary of the failed tests, for CI's short tail.
	return testpeer.EndRun(code)
}
