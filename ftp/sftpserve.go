package ftp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"

	"socksd/ebcdic"
	"socksd/msg"
)

// An ftp-sftp session (SessionConfig.SFTP set) shares the greeting, the
// login capture, the pre-login limits, the broker, the data connections,
// policy and audit with ftp-tunnel. After PASS, instead of dialing an FTP
// server through the tunnel, it opens the "sftp" subsystem on the SSH
// connection and serves each command itself (serveSFTP).

// sftpState is the ftp-sftp part of a logged-in session. Its fields other
// than the streams are touched only by the goroutine running Serve.
type sftpState struct {
	opt     SFTPOptions
	streams []io.ReadWriteCloser // the sftp subsystem channels
	cls     []*sftp.Client       // one per stream; cls[0] serves everything but parallel TYPE I transfers
	paths   *sftpPaths
	pairs   *pairHub

	typ  TransferType
	rest int64    // REST offset for the next transfer
	rnfr string   // RNFR's path for the next RNTO
	site []string // SITE parameters for the next transfer's audit record
	// epsvAll: after EPSV ALL only EPSV may set up data connections
	// (RFC 2428 4).
	epsvAll bool

	lost      chan struct{} // closed when an SFTP connection has ended
	lostOnce  sync.Once
	closeOnce sync.Once
}

// maxSiteParams bounds the SITE parameters kept for one transfer.
const maxSiteParams = 64

// sftpSide returns the ftp-sftp state once logged in, else nil.
func (s *session) sftpSide() *sftpState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sftp
}

// closeStreams ends the SFTP clients and their channels and the data
// connection pairs nobody took (once).
func (st *sftpState) closeStreams() {
	st.closeOnce.Do(func() {
		for _, cl := range st.cls {
			cl.Close()
		}
		for _, c := range st.streams {
			c.Close()
		}
		if st.pairs != nil {
			st.pairs.releaseAll()
		}
	})
}

// ascii reports TYPE A: line ends are converted.
func (st *sftpState) ascii() bool { return st.typ.Code == 'A' }

func (st *sftpState) typeName() string {
	if st.ascii() {
		return "ASCII"
	}
	return "BINARY"
}

// replyError is a failure whose reply is already decided.
type replyError struct {
	code int
	text string
}

func (e *replyError) Error() string { return fmt.Sprintf("ftp: %d %s", e.code, e.text) }

// pathError turns a path resolution error into a 550.
func pathError(err error) error {
	return &replyError{550, strings.TrimPrefix(sanitize(err.Error(), nil), "ftp: ")}
}

// sftpLogin opens the sftp subsystem (SFTPOptions.Streams channels) on the
// connection of tun, which the Opener returned for the job's credentials,
// and answers the job's PASS: 230, or 421 when the subsystem cannot be
// started.
func (s *session) sftpLogin(tun Tunnel, user string) error {
	s.tun = tun
	s.sshServer = tun.Server()
	st := &sftpState{opt: s.cfg.SFTP.normalize(), pairs: newPairHub(), typ: TransferType{Code: 'A'}, lost: make(chan struct{})}
	if err := st.open(s.ctx, tun); err != nil {
		st.closeStreams()
		reason := sanitize(err.Error(), nil)
		msg.Log(&s.log, "SOX0320E", s.cfg.ID, s.sshServer, reason).Str("user", user).Str("ssh_server", s.sshServer).Str("reason", reason).Send()
		_ = s.job.writeReply(421, "SFTP is not available at "+s.sshServer+": "+reason)
		return fmt.Errorf("ftp: sftp subsystem at %s: %w", s.sshServer, err)
	}
	s.user = user
	s.mu.Lock()
	s.sftp = st
	s.mu.Unlock()
	msg.Log(&s.log, "SOX0319I", s.cfg.ID, user, s.sshServer).Str("user", user).Str("ssh_server", s.sshServer).
		Str("ssh_conn", tun.ID()).Int("streams", len(st.cls)).Str("home", st.paths.pwd()).Send()
	return s.job.writeReply(230, "User "+user+" logged in; files are served by SFTP from "+s.sshServer+".")
}

// open starts the SFTP channels and clients and finds the home directory.
// A channel after the first that cannot be opened leaves the session with
// fewer streams.
func (st *sftpState) open(ctx context.Context, tun Tunnel) error {
	sub, ok := tun.(Subsystems)
	if !ok {
		return errors.New("ftp: the SSH connection cannot start subsystems")
	}
	for i := 0; i < st.opt.Streams; i++ {
		cl, err := st.openStream(ctx, sub)
		if err != nil {
			if i > 0 {
				break
			}
			return err
		}
		st.cls = append(st.cls, cl)
		go func() {
			_ = cl.Wait()
			st.lostOnce.Do(func() { close(st.lost) })
		}()
	}
	home, err := st.cls[0].Getwd()
	if err != nil {
		return fmt.Errorf("ftp: SFTP home directory: %w", err)
	}
	st.paths, err = newSFTPPaths(home, st.opt.Root, st.opt.Datasets)
	if err != nil {
		return err
	}
	if st.opt.Root != "" {
		// The root must exist: a job confined to nothing cannot work.
		root, _, err := st.paths.resolve("")
		if err == nil {
			_, err = st.cls[0].Stat(root)
		}
		if err != nil {
			return fmt.Errorf("ftp: root %s: %w", st.opt.Root, err)
		}
	}
	return nil
}

// openStream opens one sftp channel and its client, bounded by
// dialTimeout (a server that never answers the SFTP handshake included).
func (st *sftpState) openStream(ctx context.Context, sub Subsystems) (*sftp.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	rwc, err := sub.Subsystem(ctx, "sftp")
	if err != nil {
		return nil, err
	}
	st.streams = append(st.streams, rwc)
	stop := context.AfterFunc(ctx, func() { rwc.Close() })
	cl, err := newSFTPClient(rwc)
	if !stop() {
		if cl != nil {
			cl.Close()
		}
		return nil, fmt.Errorf("ftp: SFTP handshake: %w", ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("ftp: SFTP handshake: %w", err)
	}
	return cl, nil
}

// serveSFTP is the command loop of a logged-in ftp-sftp session: one
// command at a time, each answered before the next is read.
func (s *session) serveSFTP() error {
	s.joinBroker()
	for {
		// socksd is the server here, so it applies the idle timeout
		// between commands, as an FTP server would; a transfer runs
		// inside one command and is not cut by it.
		if idle := s.opt.IdleTimeout; idle > 0 {
			s.cfg.Client.SetReadDeadline(time.Now().Add(idle))
		}
		line, term, err := s.job.lr.ReadLine()
		if err != nil {
			if isTooLong(err) {
				return s.jobTooLong()
			}
			if errors.Is(err, os.ErrDeadlineExceeded) && s.ctx.Err() == nil {
				msg.Log(&s.log, "SOX0322I", s.cfg.ID, s.opt.IdleTimeout).Dur("idle", s.opt.IdleTimeout).Send()
				_ = s.reply(421, fmt.Sprintf("No command for %v; closing the control connection.", s.opt.IdleTimeout))
				return errJobGone
			}
			if jobGone(err) || s.ctx.Err() != nil {
				return errJobGone
			}
			return fmt.Errorf("ftp: read from job: %w", err)
		}
		if term != ebcdic.TermNone {
			s.job.term = term
		}
		if err := s.sftpLine(line); err != nil {
			return err
		}
	}
}

func (s *session) reply(code int, lines ...string) error { return s.job.writeReply(code, lines...) }

// sftpLine serves one command line.
func (s *session) sftpLine(line []byte) error {
	st := s.sftp
	if verb, _ := splitVerb(s.job.cp, line); verb == "PASS" || verb == "ACCT" {
		clear(line)
		s.job.lr.Wipe()
		if verb == "ACCT" {
			return s.reply(202, "ACCT not needed.")
		}
		return s.reply(503, "Already logged in.")
	}
	cmd, err := ParseCommand(ebcdic.Decode(s.job.cp, line))
	if err != nil {
		return s.reply(500, "Syntax error, command unrecognized.")
	}
	// REST holds until the next transfer (clients send PASV or EPSV
	// between REST and RETR); RNTO must follow RNFR directly.
	rest, rnfr := st.rest, st.rnfr
	st.rnfr = ""
	if cmd.IsTransfer() {
		st.rest = 0
	}
	if pattern, denied := s.policy.match(cmd); denied {
		msg.Log(&s.log, "SOX0302W", s.cfg.ID, cmd.String()).Str("command", cmd.String()).Str("pattern", pattern).Send()
		return s.reply(550, cmd.Verb+": refused by policy.")
	}
	switch cmd.Verb {
	case "QUIT":
		_ = s.reply(221, "Goodbye.")
		return errQuit
	case "USER":
		return s.reply(530, "Already logged in as "+s.user+"; connect again to log in as another user.")
	case "AUTH":
		return s.refuseAuth(cmd)
	case "NOOP":
		return s.reply(200, "NOOP ok.")
	case "SYST":
		return s.reply(215, "UNIX Type: L8")
	case "FEAT":
		return s.reply(211, sftpFeatures...)
	case "HELP":
		return s.reply(214, "The following commands are recognized:", sftpHelp, "Help OK.")
	case "OPTS":
		return s.sftpOpts(cmd)
	case "STAT":
		return s.sftpStat(cmd)
	case "ABOR":
		return s.reply(225, "No transfer to abort.")
	case "MODE":
		return s.sftpMode(cmd)
	case "STRU":
		return s.sftpStru(cmd)
	case "TYPE":
		return s.sftpType(cmd)
	case "PWD", "XPWD":
		return s.reply(257, quotePath(st.paths.pwd())+" is the current directory.")
	case "CWD", "XCWD":
		return s.sftpCwd(cmd.Args)
	case "CDUP", "XCUP":
		return s.sftpCwd("..")
	case "MKD", "XMKD":
		return s.sftpMkd(cmd)
	case "RMD", "XRMD", "DELE":
		return s.sftpRemove(cmd)
	case "RNFR":
		return s.sftpRnfr(cmd)
	case "RNTO":
		return s.sftpRnto(cmd, rnfr)
	case "SIZE", "MDTM":
		return s.sftpSizeMdtm(cmd)
	case "REST":
		return s.sftpRest(cmd)
	case "SITE":
		return s.sftpSite(cmd)
	case "PASV", "EPSV":
		return s.sftpPassive(cmd)
	case "PORT", "EPRT":
		return s.sftpActive(cmd)
	case "RETR":
		return s.sftpRetr(cmd, rest)
	case "STOR", "APPE", "STOU":
		return s.sftpStore(cmd, rest)
	case "LIST", "NLST", "MLSD":
		return s.sftpList(cmd)
	case "MLST":
		return s.sftpMlst(cmd)
	}
	return s.reply(502, cmd.Verb+" not implemented.")
}

// sftpFeatures is the FEAT reply.
var sftpFeatures = []string{
	"Features:",
	"EPRT",
	"EPSV",
	"MDTM",
	"MLST type*;size*;modify*;perm*;UNIX.mode*;UNIX.owner*;UNIX.group*;",
	"REST STREAM",
	"SIZE",
	"TVFS",
	"UTF8",
	"End",
}

const sftpHelp = "ABOR ACCT APPE CDUP CWD DELE EPRT EPSV FEAT HELP LIST MDTM MKD MLSD MLST MODE NLST NOOP OPTS PASS PASV " +
	"PORT PWD QUIT REST RETR RMD RNFR RNTO SITE SIZE STAT STOR STOU STRU SYST TYPE USER XCUP XCWD XMKD XPWD XRMD"

// quotePath quotes a path for a 257 reply, doubling its quotes (RFC 959).
func quotePath(p string) string { return `"` + strings.ReplaceAll(p, `"`, `""`) + `"` }

// fail answers a command that failed with err: its decided reply, or the
// reply for an SFTP error. A lost SFTP connection (421) ends the session.
func (s *session) fail(err error) error {
	var re *replyError
	if errors.As(err, &re) {
		return s.reply(re.code, re.text)
	}
	code, text := sftpReply(err, false)
	lost := code == 421 || code != 550 && code != 552 && s.sftp.gone()
	if lost {
		code, text = 421, "SFTP connection to "+s.sshServer+" lost; closing."
	}
	if werr := s.reply(code, text); werr != nil {
		return werr
	}
	if lost {
		return s.sftpLost(err)
	}
	return nil
}

// probeTimeout bounds the check that the SFTP server still answers after
// an operation failed.
const probeTimeout = 15 * time.Second

// gone reports, after an SFTP operation failed, whether the SFTP
// connection has ended (or no longer answers): then the session cannot go
// on.
func (st *sftpState) gone() bool {
	select {
	case <-st.lost:
		return true
	default:
	}
	probe := make(chan error, 1)
	go func() {
		_, err := st.cls[0].RealPath(".")
		probe <- err
	}()
	timer := time.NewTimer(probeTimeout)
	defer timer.Stop()
	select {
	case err := <-probe:
		var se *sftp.StatusError
		return err != nil && !errors.As(err, &se)
	case <-st.lost:
		return true
	case <-timer.C:
		return true
	}
}

// sftpLost logs the end of the SFTP connection and returns the session's
// error.
func (s *session) sftpLost(err error) error {
	reason := sanitize(err.Error(), nil)
	msg.Log(&s.log, "SOX0321W", s.cfg.ID, s.sshServer, reason).Str("ssh_server", s.sshServer).Str("reason", reason).Send()
	return fmt.Errorf("ftp: SFTP connection to %s lost: %w", s.sshServer, err)
}

func (s *session) sftpOpts(cmd Command) error {
	f := strings.Fields(strings.ToUpper(cmd.Args))
	switch {
	case len(f) >= 1 && f[0] == "UTF8" && (len(f) == 1 || f[1] == "ON"):
		return s.reply(200, "UTF8 is always on.")
	case len(f) >= 1 && f[0] == "MLST":
		return s.reply(200, "MLST OPTS type;size;modify;perm;UNIX.mode;UNIX.owner;UNIX.group;")
	}
	return s.reply(501, "Option not understood.")
}

func (s *session) sftpMode(cmd Command) error {
	m, err := ParseMode(cmd.Args)
	switch {
	case err != nil:
		return s.reply(501, "Syntax error in MODE parameter.")
	case m != 'S':
		return s.reply(504, "Only MODE S (stream) is supported.")
	}
	return s.reply(200, "Mode set to S.")
}

func (s *session) sftpStru(cmd Command) error {
	f, err := ParseStru(cmd.Args)
	switch {
	case err != nil:
		return s.reply(501, "Syntax error in STRU parameter.")
	case f != 'F':
		return s.reply(504, "Only STRU F (file) is supported.")
	}
	return s.reply(200, "Structure set to F.")
}

func (s *session) sftpType(cmd Command) error {
	t, err := ParseType(cmd.Args)
	if err != nil {
		return s.reply(501, "Syntax error in TYPE parameter.")
	}
	switch {
	case t.Code == 'A' && (t.Format == 0 || t.Format == 'N'):
		s.sftp.typ = TransferType{Code: 'A'}
		s.sftp.rest = 0 // offsets mean nothing in TYPE A
		return s.reply(200, "Type set to A.")
	case t.Code == 'I', t.Code == 'L' && t.Size == 8:
		s.sftp.typ = TransferType{Code: 'I'}
		return s.reply(200, "Type set to "+t.String()+".")
	}
	return s.reply(504, "TYPE "+t.String()+" not supported; use A or I.")
}

func (s *session) sftpCwd(arg string) error {
	st := s.sftp
	target, _, err := st.paths.resolve(arg)
	if err != nil {
		return s.fail(pathError(err))
	}
	fi, err := st.cls[0].Stat(target)
	if err != nil {
		return s.fail(err)
	}
	if !fi.IsDir() {
		return s.reply(550, arg+": not a directory.")
	}
	st.paths.setCwd(target)
	return s.reply(250, "Directory changed to "+quotePath(st.paths.pwd())+".")
}

func (s *session) sftpMkd(cmd Command) error {
	st := s.sftp
	target, _, err := st.paths.resolve(cmd.Args)
	if err != nil {
		return s.fail(pathError(err))
	}
	if err := st.cls[0].Mkdir(target); err != nil {
		return s.fail(err)
	}
	return s.reply(257, quotePath(st.paths.display(target))+" created.")
}

// sftpRemove serves DELE (files only) and RMD (directories only).
func (s *session) sftpRemove(cmd Command) error {
	st := s.sftp
	target, _, err := st.paths.resolve(cmd.Args)
	if err != nil {
		return s.fail(pathError(err))
	}
	cl := st.cls[0]
	fi, err := cl.Lstat(target)
	if err != nil {
		return s.fail(err)
	}
	if cmd.Verb == "DELE" {
		if fi.IsDir() {
			return s.reply(550, cmd.Args+": is a directory; use RMD.")
		}
		err = cl.Remove(target)
	} else {
		if root, _, _ := st.paths.resolve("/"); target == root {
			return s.reply(550, "The root directory cannot be removed.")
		}
		if !fi.IsDir() {
			return s.reply(550, cmd.Args+": not a directory; use DELE.")
		}
		err = cl.RemoveDirectory(target)
	}
	if err != nil {
		return s.fail(err)
	}
	return s.reply(250, cmd.Verb+" command successful.")
}

func (s *session) sftpRnfr(cmd Command) error {
	st := s.sftp
	target, _, err := st.paths.resolve(cmd.Args)
	if err != nil {
		return s.fail(pathError(err))
	}
	if _, err := st.cls[0].Lstat(target); err != nil {
		return s.fail(err)
	}
	st.rnfr = target
	return s.reply(350, "File exists, ready for destination name.")
}

// sftpRnto renames with posix-rename@openssh.com where the server has it
// (it replaces an existing target), else with the SFTP rename.
func (s *session) sftpRnto(cmd Command, from string) error {
	st := s.sftp
	if from == "" {
		return s.reply(503, "RNFR first.")
	}
	target, _, err := st.paths.resolve(cmd.Args)
	if err != nil {
		return s.fail(pathError(err))
	}
	cl := st.cls[0]
	if _, ok := cl.HasExtension("posix-rename@openssh.com"); ok {
		err = cl.PosixRename(from, target)
	} else {
		err = cl.Rename(from, target)
	}
	if err != nil {
		return s.fail(err)
	}
	return s.reply(250, "Rename successful.")
}

func (s *session) sftpSizeMdtm(cmd Command) error {
	st := s.sftp
	if cmd.Verb == "SIZE" && st.ascii() {
		return s.reply(550, "SIZE not available in ASCII mode: line ends are converted; use TYPE I.")
	}
	target, _, err := st.paths.resolve(cmd.Args)
	if err != nil {
		return s.fail(pathError(err))
	}
	fi, err := st.cls[0].Stat(target)
	if err != nil {
		return s.fail(err)
	}
	if !fi.Mode().IsRegular() {
		return s.reply(550, cmd.Args+": not a plain file.")
	}
	if cmd.Verb == "SIZE" {
		return s.reply(213, strconv.FormatInt(fi.Size(), 10))
	}
	return s.reply(213, fi.ModTime().UTC().Format("20060102150405"))
}

func (s *session) sftpRest(cmd Command) error {
	st := s.sftp
	if st.ascii() {
		return s.reply(504, "REST not available in ASCII mode: line ends are converted; use TYPE I.")
	}
	n, err := strconv.ParseInt(strings.TrimSpace(cmd.Args), 10, 64)
	if err != nil || n < 0 {
		return s.reply(501, "REST needs a byte offset.")
	}
	st.rest = n
	return s.reply(350, "Restarting at "+strconv.FormatInt(n, 10)+". Send STOR or RETR.")
}

// sftpSite serves SITE CHMOD, and accepts the z/OS client's data set
// parameters (RECFM=FB LRECL=80 ...), which an SFTP server has no use
// for: they are recorded for the next transfer's audit record.
func (s *session) sftpSite(cmd Command) error {
	st := s.sftp
	params, err := ParseSite(cmd.Args)
	if err != nil || len(params) == 0 {
		return s.reply(501, "Syntax error in SITE parameters.")
	}
	if params[0].Key == "CHMOD" && params[0].Flag {
		_, rest, _ := strings.Cut(strings.TrimSpace(cmd.Args), " ")
		mode, name, _ := strings.Cut(strings.TrimLeft(rest, " "), " ")
		m, err := strconv.ParseUint(mode, 8, 32)
		name = strings.TrimLeft(name, " ")
		if err != nil || m > 0o7777 || name == "" {
			return s.reply(501, "Use SITE CHMOD mode file, the mode in octal.")
		}
		target, _, err := st.paths.resolve(name)
		if err != nil {
			return s.fail(pathError(err))
		}
		if err := st.cls[0].Chmod(target, chmodMode(m)); err != nil {
			return s.fail(err)
		}
		return s.reply(200, "SITE CHMOD command successful.")
	}
	for _, p := range params {
		if len(st.site) >= maxSiteParams {
			break
		}
		v := p.Key
		if !p.Flag {
			v += "=" + p.Value
		}
		st.site = append(st.site, msg.Clean(v, 200))
	}
	return s.reply(200, "SITE parameters accepted (recorded; the SFTP server has no use for them).")
}

// chmodMode turns an octal mode with setuid, setgid and sticky bits into
// an fs.FileMode.
func chmodMode(m uint64) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// sftpStat serves STAT: the session's status, or with an argument a
// listing over the control connection.
func (s *session) sftpStat(cmd Command) error {
	st := s.sftp
	if strings.TrimSpace(cmd.Args) == "" {
		return s.reply(211, "socksd ftp-sftp status:",
			"Connected from "+s.cfg.ClientAddr.Addr().String()+", logged in as "+s.user,
			"Files served by SFTP from "+s.sshServer,
			"TYPE: "+st.typeName()+"; STRUcture: File; transfer MODE: Stream",
			"End of status.")
	}
	lines, err := s.listing("LIST", cmd.Path())
	if err != nil {
		return s.fail(err)
	}
	out := append([]string{"Status of " + cmd.Path() + ":"}, lines...)
	return s.reply(213, append(out, "End of status.")...)
}

func (s *session) sftpMlst(cmd Command) error {
	st := s.sftp
	target, _, err := st.paths.resolve(cmd.Args)
	if err != nil {
		return s.fail(pathError(err))
	}
	fi, err := st.cls[0].Stat(target)
	if err != nil {
		return s.fail(err)
	}
	name := st.paths.display(target)
	return s.reply(250, "Listing "+name, mlsxLine(fi, name), "End")
}

// listing returns the lines of LIST, NLST or MLSD for arg.
func (s *session) listing(verb, arg string) ([]string, error) {
	st := s.sftp
	target, _, err := st.paths.resolve(arg)
	if err != nil {
		return nil, pathError(err)
	}
	cl := st.cls[0]
	fi, err := cl.Stat(target)
	if errors.Is(err, fs.ErrNotExist) && strings.ContainsAny(path.Base(target), "*?[") {
		// A pattern in the last element, as z/OS MGET sends in NLST.
		return s.globListing(verb, target)
	}
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if !fi.IsDir() {
		switch verb {
		case "MLSD":
			return nil, &replyError{501, arg + ": not a directory."}
		case "NLST":
			return []string{arg}, nil
		}
		return []string{listLine(fi, now)}, nil
	}
	fis, err := cl.ReadDir(target)
	if err != nil {
		return nil, err
	}
	sort.Slice(fis, func(i, j int) bool { return fis[i].Name() < fis[j].Name() })
	lines := make([]string, 0, len(fis))
	for _, fi := range fis {
		lines = append(lines, listEntry(verb, fi, now))
	}
	return lines, nil
}

// listEntry is the line of fi in a LIST, NLST or MLSD listing.
func listEntry(verb string, fi fs.FileInfo, now time.Time) string {
	switch verb {
	case "LIST":
		return listLine(fi, now)
	case "NLST":
		return nlstLine(fi)
	}
	return mlsxLine(fi, fi.Name())
}

// globListing lists the entries of target's directory whose names match
// its last element (path.Match).
func (s *session) globListing(verb, target string) ([]string, error) {
	dir, pattern := path.Split(target)
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, &replyError{501, "Bad pattern " + pattern + "."}
	}
	fis, err := s.sftp.cls[0].ReadDir(dir)
	if err != nil {
		return nil, err
	}
	sort.Slice(fis, func(i, j int) bool { return fis[i].Name() < fis[j].Name() })
	now := time.Now()
	var lines []string
	for _, fi := range fis {
		if ok, _ := path.Match(pattern, fi.Name()); !ok {
			continue
		}
		lines = append(lines, listEntry(verb, fi, now))
	}
	if len(lines) == 0 {
		return nil, &replyError{550, "No files found matching " + pattern + "."}
	}
	return lines, nil
}

// sftpPassive serves PASV and EPSV: a listener of socksd on LocalAddr,
// which the job reaches directly or by a SOCKS CONNECT (to that address
// or the control host with its port) that the broker claims.
func (s *session) sftpPassive(cmd Command) error {
	if cmd.Verb == "EPSV" {
		switch a := strings.ToUpper(strings.TrimSpace(cmd.Args)); a {
		case "":
		case "ALL":
			s.sftp.epsvAll = true
			return s.reply(200, "EPSV ALL ok.")
		case "1", "2":
		default:
			return s.reply(522, "Network protocol not supported, use (1,2)")
		}
	}
	if cmd.Verb == "PASV" && s.sftp.epsvAll {
		return s.reply(501, "PASV not allowed after EPSV ALL.")
	}
	local := s.cfg.LocalAddr.Unmap()
	if !local.IsValid() || (cmd.Verb == "PASV" && !local.Is4()) {
		return s.reply(425, "Cannot enter passive mode on this address; use EPSV.")
	}
	d := s.newData("passive", s.sftp.pairs.add())
	ap, err := d.listen(local)
	if err != nil {
		s.setData(nil)
		return s.reply(425, "Cannot open a data listener: "+sanitize(err.Error(), nil))
	}
	s.broker.expect(s.ctl, d, []string{s.controlHost, local.String()}, ap.Port())
	if cmd.Verb == "PASV" {
		text, _ := Format227(ap)
		return s.reply(227, text)
	}
	return s.reply(229, Format229(ap.Port()))
}

// sftpActive serves PORT and EPRT: to a SOCKS BIND of the job (its data
// connection is paired), or socksd connects to the job's own address.
func (s *session) sftpActive(cmd Command) error {
	if s.sftp.epsvAll {
		return s.reply(501, cmd.Verb+" not allowed after EPSV ALL.")
	}
	ap, bind, handled, err := s.activeAddress(cmd)
	if handled {
		return err
	}
	s.setData(bind)
	key := s.sftp.pairs.add()
	d := bind
	if d == nil {
		d = s.newData("active", key)
	}
	// The BIND's second reply names a plausible server data address.
	ip := s.controlIP
	if !ip.IsValid() {
		ip = s.cfg.LocalAddr.Unmap()
	}
	return s.connectActive(cmd, ap, bind, d, key, netip.AddrPortFrom(ip, 20))
}

// startTransfer starts the audit of a transfer, which takes the prepared
// data connection and the SITE parameters given before it.
func (s *session) startTransfer(cmd Command) *transfer {
	t := s.newTransfer(cmd)
	t.site, s.sftp.site = s.sftp.site, nil
	return t
}

// endTransfer ends the data connection, answers the job and audits.
func (s *session) endTransfer(t *transfer, code int, text, note string) error {
	if d := t.data; d != nil {
		key := d.key()
		d.close()
		s.sftp.pairs.release(key)
	}
	s.finishTransfer(t, code, note)
	return s.reply(code, text)
}

// endTransferErr ends a transfer that failed with err (see fail).
func (s *session) endTransferErr(t *transfer, err error) error {
	var re *replyError
	if errors.As(err, &re) {
		return s.endTransfer(t, re.code, re.text, re.text)
	}
	code, text := sftpReply(err, true)
	lost := code == 421 || code != 550 && code != 552 && s.sftp.gone()
	if lost {
		// The job's transfer failed: 426, and the session ends.
		code, text = 426, "SFTP connection to "+s.sshServer+" lost; transfer aborted."
	}
	if werr := s.endTransfer(t, code, text, sanitize(err.Error(), nil)); werr != nil {
		return werr
	}
	if lost {
		return s.sftpLost(err)
	}
	return nil
}

// openTransfer sends the 150 and waits for the job's data connection. On
// failure the transfer has ended with 425 and conn is nil.
func (s *session) openTransfer(t *transfer, text string) (net.Conn, error) {
	if err := s.reply(150, text); err != nil {
		return nil, err
	}
	conn, err := s.waitJobConn(t.data, t.data.key())
	if err != nil {
		return nil, s.endTransfer(t, 425, "Cannot open data connection.", sanitize(err.Error(), nil))
	}
	return conn, nil
}

// finishDownload ends a transfer whose data went to the job without error
// on socksd's side: 226 only when the relay to the job ended cleanly.
func (s *session) finishDownload(t *transfer, conn net.Conn, ok string) error {
	closeWrite(conn)
	if err := waitData(s.ctx, t.data, s.grace); err != nil {
		return s.endTransfer(t, 426, "Data connection failed; transfer aborted.", sanitize(err.Error(), nil))
	}
	return s.endTransfer(t, 226, ok, "")
}

const noDataText = "Use PORT, EPRT, PASV or EPSV first."

func (s *session) sftpRetr(cmd Command, rest int64) error {
	st := s.sftp
	t := s.startTransfer(cmd)
	if t.data == nil {
		return s.endTransfer(t, 425, noDataText, "no data connection prepared")
	}
	target, _, err := st.paths.resolve(cmd.Args)
	if err != nil {
		return s.endTransferErr(t, pathError(err))
	}
	fi, err := st.cls[0].Stat(target)
	if err != nil {
		return s.endTransferErr(t, err)
	}
	if !fi.Mode().IsRegular() {
		return s.endTransfer(t, 550, cmd.Args+": not a plain file.", "not a plain file")
	}
	conn, err := s.openTransfer(t, fmt.Sprintf("Opening %s mode data connection for %s (%d bytes).", st.typeName(), cmd.Args, fi.Size()))
	if conn == nil {
		return err
	}
	defer conn.Close()
	jw := &jobWriter{c: conn}
	var w io.Writer = jw
	cls := st.cls
	var conv io.WriteCloser
	if st.ascii() {
		conv = newServerToWire(jw, st.opt.LineEnd)
		w, cls = conv, cls[:1]
	}
	_, err = retrieveFile(cls, target, rest, w)
	if conv != nil {
		if cerr := conv.Close(); err == nil {
			err = cerr
		}
	}
	switch {
	case jw.failed != nil:
		return s.endTransfer(t, 426, "Data connection failed; transfer aborted.", sanitize(jw.failed.Error(), nil))
	case err != nil:
		return s.endTransferErr(t, err)
	}
	return s.finishDownload(t, conn, "Transfer complete.")
}

// sftpStore serves STOR, APPE and STOU. STOR writes to a temporary name
// and renames it into place only when all the job's data arrived
// (storeFile); APPE, STOR after REST and data set names write in place.
func (s *session) sftpStore(cmd Command, rest int64) error {
	st := s.sftp
	t := s.startTransfer(cmd)
	if t.data == nil {
		return s.endTransfer(t, 425, noDataText, "no data connection prepared")
	}
	var target string
	var dataset bool
	var err error
	if cmd.Verb == "STOU" {
		target, err = s.uniqueName(cmd.Args)
	} else {
		target, dataset, err = st.paths.resolve(cmd.Args)
		if err != nil {
			err = pathError(err)
		}
	}
	if err != nil {
		return s.endTransferErr(t, err)
	}
	spec := storeSpec{
		Target:  target,
		InPlace: dataset || cmd.Verb == "APPE" || rest > 0,
		Append:  cmd.Verb == "APPE",
		Offset:  rest,
	}
	first := fmt.Sprintf("Opening %s mode data connection for %s.", st.typeName(), cmd.Args)
	done := "Transfer complete."
	if cmd.Verb == "STOU" {
		first = "FILE: " + path.Base(target)
		done = "Transfer complete (unique file name: " + path.Base(target) + ")."
	}
	conn, err := s.openTransfer(t, first)
	if conn == nil {
		return err
	}
	defer conn.Close()
	jr := &jobReader{ctx: s.ctx, c: conn, d: t.data, grace: s.grace}
	var r io.Reader = jr
	cls := st.cls
	if st.ascii() {
		r, cls = newWireToServer(jr, st.opt.LineEnd), cls[:1]
	}
	_, err = storeFile(cls, spec, r)
	switch {
	case jr.failed != nil:
		text := "Data connection failed; transfer aborted, nothing stored under " + cmd.Args + "."
		if spec.InPlace {
			text = "Data connection failed; transfer aborted, " + cmd.Args + " is incomplete."
		}
		return s.endTransfer(t, 426, text, sanitize(jr.failed.Error(), nil))
	case err != nil:
		return s.endTransferErr(t, err) // 552 for a full disk: storeFile marks it
	}
	// The job's data ended cleanly (jobReader waited for the relay).
	return s.endTransfer(t, 226, done, "")
}

// uniqueName returns a name that does not exist yet for STOU: arg (or
// "stou" in the current directory), else arg.1, arg.2 ...
func (s *session) uniqueName(arg string) (string, error) {
	st := s.sftp
	if strings.TrimSpace(arg) == "" {
		arg = "stou"
	}
	base, _, err := st.paths.resolve(arg)
	if err != nil {
		return "", pathError(err)
	}
	for i := 0; i < 1000; i++ {
		name := base
		if i > 0 {
			name = base + "." + strconv.Itoa(i)
		}
		_, err := st.cls[0].Lstat(name)
		if errors.Is(err, fs.ErrNotExist) {
			return name, nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", &replyError{553, "No unique file name found for " + arg + "."}
}

// sftpList serves LIST, NLST and MLSD on the data connection.
func (s *session) sftpList(cmd Command) error {
	t := s.startTransfer(cmd)
	if t.data == nil {
		return s.endTransfer(t, 425, noDataText, "no data connection prepared")
	}
	lines, err := s.listing(cmd.Verb, cmd.Path())
	if err != nil {
		return s.endTransferErr(t, err)
	}
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	conn, err := s.openTransfer(t, "Here comes the directory listing.")
	if conn == nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.Write(b.Bytes()); err != nil {
		return s.endTransfer(t, 426, "Data connection failed; transfer aborted.", sanitize(err.Error(), nil))
	}
	return s.finishDownload(t, conn, "Directory send OK.")
}
