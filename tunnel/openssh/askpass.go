package openssh

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The askpass helper. ssh runs SSH_ASKPASS with the prompt as its only
// argument and reads the answer from its stdout; it closes every inherited
// descriptor above 2 first, so the helper finds the daemon through its
// environment: the path of a private Unix socket and a one-time token (not
// the password). The daemon checks the caller's credentials (SO_PEERCRED:
// same uid, a descendant of the master) and the token, answers the password
// once, and refuses every later request. A second password or
// keyboard-interactive prompt means the server rejected the first answer:
// the daemon then ends the master before it answers, so that sshd logs one
// failure only.
const (
	// AskpassName is the name under which ssh runs the socksd binary as
	// its askpass helper (a symbolic link in the master's directory).
	// cmd/socksd runs AskpassMain when its argv[0] has this base name.
	AskpassName = "socksd-askpass"
	// EnvAskpassSocket names the askpass socket in the helper's environment.
	EnvAskpassSocket = "SOCKSD_ASKPASS_SOCKET"
	// EnvAskpassToken holds the one-time token in the helper's environment.
	EnvAskpassToken = "SOCKSD_ASKPASS_TOKEN"
)

// askpassTimeout bounds one helper's exchange with the daemon.
const askpassTimeout = 10 * time.Second

// Askpass refusal reasons, as the server records them.
const (
	refusedUID     = "uid"
	refusedPID     = "pid"
	refusedToken   = "token"
	refusedConfirm = "confirm"
	refusedAgain   = "second prompt"
	refusedNone    = "no secret"
	refusedUsed    = "used"
)

// askpassServer answers the askpass helper of one master.
type askpassServer struct {
	path  string
	token string
	ln    *net.UnixListener

	// endMaster ends the master and returns once it is gone.
	endMaster func()
	// allowPID decides whether a peer process may ask (nil: a descendant
	// of the master).
	allowPID func(pid int) bool

	mu         sync.Mutex
	masterPID  int
	pidSet     chan struct{}
	password   []byte
	passphrase []byte
	answered   bool            // the password was given
	keys       map[string]bool // passphrase prompts answered
	refusals   []string
	prompts    []string // every prompt asked, in order (prompts hold no secret)
	closed     bool
	wg         sync.WaitGroup
}

// newAskpassServer listens on path (mode 0600) with a fresh token and keeps
// copies of the secrets. endMaster ends the master at a second password
// prompt; allowPID decides which peer processes may ask (nil: descendants
// of the master, see setMasterPID).
func newAskpassServer(path string, password, passphrase []byte, endMaster func(), allowPID func(int) bool) (*askpassServer, error) {
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return nil, fmt.Errorf("openssh: askpass token: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("openssh: askpass socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("openssh: askpass socket: %w", err)
	}
	s := &askpassServer{
		path:      path,
		token:     hex.EncodeToString(tok),
		ln:        ln,
		pidSet:    make(chan struct{}),
		keys:      map[string]bool{},
		endMaster: endMaster,
		allowPID:  allowPID,
	}
	if password != nil {
		s.password = bytes.Clone(password)
	}
	if passphrase != nil {
		s.passphrase = bytes.Clone(passphrase)
	}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *askpassServer) setMasterPID(pid int) {
	s.mu.Lock()
	s.masterPID = pid
	s.mu.Unlock()
	close(s.pidSet)
}

// close stops listening, waits for running exchanges and erases the
// secrets.
func (s *askpassServer) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
	s.mu.Lock()
	clear(s.password)
	clear(s.passphrase)
	s.password, s.passphrase = nil, nil
	s.mu.Unlock()
}

// asked returns the prompts so far.
func (s *askpassServer) asked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.prompts...)
}

// refused returns the reasons of the refusals so far (for tests).
func (s *askpassServer) refused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refusals...)
}

func (s *askpassServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.handle(c)
		}()
	}
}

// handle serves one helper: check who it is, read token and prompt,
// decide, answer.
func (s *askpassServer) handle(c *net.UnixConn) {
	c.SetDeadline(time.Now().Add(askpassTimeout)) //nolint:errcheck
	refuse := func(why string) {
		s.mu.Lock()
		s.refusals = append(s.refusals, why)
		s.mu.Unlock()
		var p packet
		p.u32(1)
		p.str("")
		writePacket(c, p) //nolint:errcheck
	}
	uid, pid, err := peerCred(c)
	if err != nil || uid != os.Getuid() {
		refuse(refusedUID)
		return
	}
	if !s.peerAllowed(pid) {
		refuse(refusedPID)
		return
	}
	p, err := readPacket(c)
	if err != nil {
		return
	}
	token, hint, prompt := p.str(), p.str(), p.str()
	if p.err != nil || subtle.ConstantTimeCompare([]byte(token), []byte(s.token)) != 1 {
		refuse(refusedToken)
		return
	}
	secret, why := s.decide(hint, prompt)
	if secret == nil {
		refuse(why)
		return
	}
	var out packet
	out.u32(0)
	out.bytes(secret)
	clear(secret)
	writePacket(c, out) //nolint:errcheck
	clear(out.b)
}

// decide picks the answer to one prompt, or why there is none. A second
// password prompt ends the master (through endMaster) before it returns.
// The returned slice is a copy the caller erases.
func (s *askpassServer) decide(hint, prompt string) ([]byte, string) {
	s.mu.Lock()
	s.prompts = append(s.prompts, prompt)
	s.mu.Unlock()
	lp := strings.ToLower(prompt)
	switch {
	case hint == "confirm" || strings.Contains(lp, "continue connecting") || strings.Contains(lp, "(yes/no"):
		return nil, refusedConfirm // host keys are the policy's, never the prompt's
	case strings.Contains(lp, "passphrase"):
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.passphrase == nil {
			return nil, refusedNone
		}
		if s.keys[prompt] {
			return nil, refusedUsed
		}
		s.keys[prompt] = true
		return bytes.Clone(s.passphrase), ""
	}
	s.mu.Lock()
	if !s.answered && s.password != nil {
		s.answered = true
		pw := s.password
		s.password = nil
		s.mu.Unlock()
		return pw, ""
	}
	s.mu.Unlock()
	// The server asks again (or there is no password to give): end the
	// master before ssh can send anything, so no second failure is logged.
	if s.endMaster != nil {
		s.endMaster()
	}
	return nil, refusedAgain
}

// peerAllowed reports whether pid may ask: by default a descendant of the
// master (ssh forks the helper itself).
func (s *askpassServer) peerAllowed(pid int) bool {
	if s.allowPID != nil {
		return s.allowPID(pid)
	}
	select {
	case <-s.pidSet:
	case <-time.After(askpassTimeout):
		return false
	}
	s.mu.Lock()
	master := s.masterPID
	s.mu.Unlock()
	return isDescendant(pid, master)
}

// isDescendant walks pid's parents in /proc (bounded) looking for ancestor.
func isDescendant(pid, ancestor int) bool {
	for i := 0; i < 32 && pid > 1; i++ {
		ppid, err := parentPID(pid)
		if err != nil {
			return false
		}
		if ppid == ancestor {
			return true
		}
		pid = ppid
	}
	return false
}

// parentPID reads a process's parent from /proc/PID/stat.
func parentPID(pid int) (int, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("openssh: bad /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, errors.New("openssh: bad /proc stat")
	}
	return strconv.Atoi(f[1])
}

// writePacket and readPacket frame the helper's exchange like the mux
// protocol: u32 length, then the body.
func writePacket(w io.Writer, p packet) error {
	buf := make([]byte, 0, 4+len(p.b))
	buf = append(buf, byte(len(p.b)>>24), byte(len(p.b)>>16), byte(len(p.b)>>8), byte(len(p.b)))
	buf = append(buf, p.b...)
	_, err := w.Write(buf)
	clear(buf)
	return err
}

func readPacket(r io.Reader) (*reader, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(hdr[0])<<24 | int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
	if n > 64*1024 {
		return nil, errors.New("openssh: askpass packet too long")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return &reader{b: b}, nil
}

// AskpassMain is the askpass helper: cmd/socksd runs it when ssh starts
// the binary as SSH_ASKPASS (argv[0] named AskpassName) or as the hidden
// subcommand `socksd __askpass PROMPT`. It asks the daemon named in its
// environment and writes the answer to stdout. It returns the exit status:
// 0 with an answer, 1 when refused (ssh then takes it as "no answer").
func AskpassMain(args []string, stdout io.Writer) int {
	prompt := ""
	if len(args) > 0 {
		prompt = args[0]
	}
	path, token := os.Getenv(EnvAskpassSocket), os.Getenv(EnvAskpassToken)
	if path == "" || token == "" {
		return 1
	}
	c, err := net.DialTimeout("unix", path, askpassTimeout)
	if err != nil {
		return 1
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(askpassTimeout)) //nolint:errcheck
	var p packet
	p.str(token)
	p.str(os.Getenv("SSH_ASKPASS_PROMPT"))
	p.str(prompt)
	if err := writePacket(c, p); err != nil {
		return 1
	}
	r, err := readPacket(c)
	if err != nil {
		return 1
	}
	defer clear(r.b)
	status := r.u32()
	n := r.u32()
	if r.err != nil || status != 0 || uint32(len(r.b)) < n {
		return 1
	}
	secret := r.b[:n]
	out := append(secret, '\n')
	_, err = stdout.Write(out)
	clear(out)
	if err != nil {
		return 1
	}
	return 0
}
