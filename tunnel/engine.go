package tunnel

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

// Engine names: how a profile's SSH connections are made.
const (
	// EngineBuiltin is socksd's own SSH client (golang.org/x/crypto/ssh).
	EngineBuiltin = "builtin"
	// EngineOpenSSH drives the system's ssh as a ControlMaster per
	// connection (package tunnel/openssh); relayed sockets are handed to
	// it, so their bytes bypass socksd.
	EngineOpenSSH = "openssh"
	// EngineAuto is openssh when a suitable ssh is installed (OpenSSH
	// MinOpenSSH or later; an older one for key-only profiles), else
	// builtin.
	EngineAuto = "auto"
)

// DefaultEngine is the engine of a configuration in which neither [ssh]
// nor the profile names one. A Pool whose Options name none uses
// EngineBuiltin.
const DefaultEngine = EngineAuto

// MinOpenSSH is the oldest OpenSSH the openssh engine works with: 8.4
// brought SSH_ASKPASS_REQUIRE, through which the password goes in once.
var MinOpenSSH = [2]int{8, 4}

// ParseEngine checks an engine name; "" stands for "use the default" and
// is returned as it is. It is the one check of the setting: the
// configuration loader and NewPool both use it.
func ParseEngine(s string) (string, error) {
	switch s {
	case "", EngineBuiltin, EngineOpenSSH, EngineAuto:
		return s, nil
	}
	return "", fmt.Errorf("tunnel: unknown ssh engine %q (want builtin, openssh or auto)", s)
}

// OpenSSHVersion is what `ssh -V` said.
type OpenSSHVersion struct {
	Path         string // the program run
	Text         string // its first line, e.g. "OpenSSH_9.2p1 Debian-2, OpenSSL 3.0.15"
	Major, Minor int    // 0.0 when the text names no OpenSSH version
}

// Suitable reports whether the openssh engine can use this ssh.
func (v OpenSSHVersion) Suitable() bool {
	return v.Major > MinOpenSSH[0] || (v.Major == MinOpenSSH[0] && v.Minor >= MinOpenSSH[1])
}

var openSSHVersionRE = regexp.MustCompile(`OpenSSH_(?:for_Windows_)?([0-9]+)\.([0-9]+)`)

// ParseOpenSSHVersion reads the version from `ssh -V` output.
func ParseOpenSSHVersion(out string) (major, minor int, ok bool) {
	m := openSSHVersionRE.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, false
	}
	major, _ = strconv.Atoi(m[1])
	minor, _ = strconv.Atoi(m[2])
	return major, minor, true
}

// DetectOpenSSH runs `ssh -V` (program: a name looked up in PATH or a
// path; "" = "ssh") and parses its version. The error says why no version
// could be read (not installed, did not run, not OpenSSH).
func DetectOpenSSH(ctx context.Context, program string) (OpenSSHVersion, error) {
	if program == "" {
		program = "ssh"
	}
	path, err := exec.LookPath(program)
	if err != nil {
		return OpenSSHVersion{Path: program}, fmt.Errorf("tunnel: openssh: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "-V").CombinedOutput()
	v := OpenSSHVersion{Path: path, Text: string(bytes.TrimSpace(firstLine(out)))}
	if err != nil {
		return v, fmt.Errorf("tunnel: openssh: %s -V: %w", path, err)
	}
	maj, min, ok := ParseOpenSSHVersion(v.Text)
	if !ok {
		return v, fmt.Errorf("tunnel: openssh: %s -V said %q, not an OpenSSH version", path, v.Text)
	}
	v.Major, v.Minor = maj, min
	return v, nil
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}
