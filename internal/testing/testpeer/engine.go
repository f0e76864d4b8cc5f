package testpeer

import (
	"fmt"
	"os"
	"regexp"
)

// EnvEngine names the environment variable that chooses the SSH engine of
// the daemons the end-to-end tests start: "builtin" (the Makefile's second
// pass) or "openssh"; unset, the configuration's default ("auto") applies.
const EnvEngine = "SOCKSD_TEST_ENGINE"

// Engine is the SSH engine the end-to-end tests run with: the value of
// SOCKSD_TEST_ENGINE, "auto" when it is unset.
func Engine() string {
	if e := os.Getenv(EnvEngine); e != "" {
		return e
	}
	return "auto"
}

var (
	sshTableRE  = regexp.MustCompile(`(?m)^\[ssh\][ \t]*\r?\n`)
	engineKeyRE = regexp.MustCompile(`(?m)^[ \t]*engine[ \t]*=`)
	runtimeRE   = regexp.MustCompile(`(?m)^[ \t]*runtime_dir[ \t]*=`)
)

// WithEngine returns configTOML with `[ssh] engine` set to
// SOCKSD_TEST_ENGINE when that is set, and `[ssh] runtime_dir` to
// runtimeDir unless the text sets one (when runtimeDir is not ""). The
// text is unchanged when it chooses an engine itself (a test that compares
// the engines or is about one of them).
func WithEngine(configTOML, runtimeDir string) string {
	if engineKeyRE.MatchString(configTOML) {
		return configTOML
	}
	keys := ""
	if e := os.Getenv(EnvEngine); e != "" {
		keys = fmt.Sprintf("engine = %q\n", e)
	}
	if runtimeDir != "" && !runtimeRE.MatchString(configTOML) {
		keys += fmt.Sprintf("runtime_dir = %q\n", runtimeDir)
	}
	if keys == "" {
		return configTOML
	}
	if loc := sshTableRE.FindStringIndex(configTOML); loc != nil {
		return configTOML[:loc[1]] + keys + configTOML[loc[1]:]
	}
	return configTOML + "\n[ssh]\n" + keys
}
