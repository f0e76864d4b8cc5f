package openssh

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"

	"socksd/internal/testing/testpeer"
)

// helperLink copies the test binary into a directory that any user may
// enter and links it as AskpassName, so that it runs as the helper (also
// as another user).
func helperLink(t *testing.T) string {
	t.Helper()
	dir := publicDir(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, "helper.test")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, AskpassName)
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	return link
}

func publicDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "oshpub")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runHelper runs the helper with a prompt and returns its stdout and
// whether it exited 0.
func runHelper(t *testing.T, link string, s *askpassServer, token, hint, prompt string, cred *syscall.Credential) (string, bool) {
	t.Helper()
	cmd := exec.Command(link, prompt)
	cmd.Env = []string{EnvAskpassSocket + "=" + s.path, EnvAskpassToken + "=" + token}
	if hint != "" {
		cmd.Env = append(cmd.Env, "SSH_ASKPASS_PROMPT="+hint)
	}
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("helper: %v", err)
		}
	}
	return out.String(), err == nil
}

// TestAskpassHelper runs the real helper process against the server: the
// password goes out once, to the right token and the right user only;
// confirmations are refused; a second password prompt ends the master
// first.
func TestAskpassHelper(t *testing.T) {
	if os.Geteuid() != 0 {
		testpeer.Missing(t, "openssh: running the helper as nobody needs root")
	}
	link := helperLink(t)
	dir := publicDir(t)
	var ended atomic.Int32
	s, err := newAskpassServer(filepath.Join(dir, "ask"), []byte("s3cret"), []byte("phrase"),
		func() { ended.Add(1) }, func(int) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if err := os.Chmod(s.path, 0o666); err != nil { // let nobody reach the uid check
		t.Fatal(err)
	}
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}

	steps := []struct {
		name, token, hint, prompt string
		cred                      *syscall.Credential
		want                      string // "" = refused
		refusal                   string
	}{
		{"wrong token", "00" + s.token[2:], "", "u@h's password: ", nil, "", refusedToken},
		{"empty token: the helper does not ask", "", "", "u@h's password: ", nil, "", ""},
		{"other uid", s.token, "", "u@h's password: ", nobody, "", refusedUID},
		{"host key confirmation", s.token, "confirm", "Are you sure you want to continue connecting (yes/no/[fingerprint])? ", nil, "", refusedConfirm},
		{"host key question without hint", s.token, "", "Are you sure you want to continue connecting (yes/no)? ", nil, "", refusedConfirm},
		{"passphrase", s.token, "", "Enter passphrase for key '/k/id': ", nil, "phrase\n", ""},
		{"same passphrase again", s.token, "", "Enter passphrase for key '/k/id': ", nil, "", refusedUsed},
		{"password", s.token, "", "u@h's password: ", nil, "s3cret\n", ""},
		{"second prompt", s.token, "", "(u@h) Password: ", nil, "", refusedAgain},
	}
	var wantRefusals []string
	for _, st := range steps {
		out, ok := runHelper(t, link, s, st.token, st.hint, st.prompt, st.cred)
		if out != st.want || ok != (st.want != "") {
			t.Fatalf("%s: helper printed %q (exit ok %v), want %q", st.name, out, ok, st.want)
		}
		if st.refusal != "" {
			wantRefusals = append(wantRefusals, st.refusal)
		}
		if got := s.refused(); !slices.Equal(got, wantRefusals) {
			t.Fatalf("%s: refusals %q, want %q", st.name, got, wantRefusals)
		}
	}
	if n := ended.Load(); n != 1 {
		t.Fatalf("master ended %d times, want once (at the second prompt)", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.password != nil {
		t.Fatal("password kept after use")
	}
}

// TestAskpassPeerPID: by default only a descendant of the master may ask.
func TestAskpassPeerPID(t *testing.T) {
	link := helperLink(t)
	s, err := newAskpassServer(filepath.Join(privateDir(t), "ask"), []byte("pw"), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	s.setMasterPID(1 << 30) // no such process: the helper descends from the test
	if out, ok := runHelper(t, link, s, s.token, "", "pw: ", nil); ok || out != "" {
		t.Fatalf("helper got %q", out)
	}
	if got := s.refused(); !slices.Equal(got, []string{refusedPID}) {
		t.Fatalf("refusals %q", got)
	}
	if !isDescendant(os.Getpid(), os.Getppid()) || isDescendant(os.Getppid(), os.Getpid()) {
		t.Fatal("isDescendant")
	}
}

// TestAskpassMainWithoutEnvironment: the helper refuses to run outside ssh.
func TestAskpassMainWithoutEnvironment(t *testing.T) {
	t.Setenv(EnvAskpassSocket, "")
	var out bytes.Buffer
	if AskpassMain([]string{"pw: "}, &out) != 1 || out.Len() != 0 {
		t.Fatalf("helper without environment printed %q", out.String())
	}
}
