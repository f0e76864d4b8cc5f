// Package ftp is the FTP-aware session of socksd: it stands in for the FTP
// server towards a batch job, captures the job's USER and PASS to open an SSH
// tunnel, logs in to the real server through that tunnel, and relays the
// control connection line by line while it carries the data connections
// through the same SSH connection.
//
// # Session
//
// [Serve] greets the job with 220 (in the job's code page; with encoding
// "auto" in ASCII, and the job's code page is then detected from its first
// command), answers USER with 331 itself and, on PASS, calls the [Opener]
// with the user and password. Anonymous users ("anonymous", "ftp") and an
// empty password open the tunnel with an empty password, that is with the
// profile's public key; the FTP server still gets the job's PASS.
//
// If the opener fails, the job gets "530 SSH login to HOST failed: reason"
// and the session closes: the opener is called exactly once per session and
// the same password is never tried again (a job that wants another try
// connects again, which is what z/OS FTP does). Before login, NOOP, FEAT and
// QUIT are answered locally and other commands get 530.
//
// Once the tunnel is open, socksd dials the server through it, reads the
// greeting (single or multi-line; it sets the server's code page), sends
// USER and PASS translated to the server's code page and relays the
// server's real final reply (230, 332 for ACCT, or 530) to the job. The
// password is kept in byte slices, passed to the Opener as one, and wiped
// once the login is done. PASS (and ACCT, and a PASS the job sends again
// later) is followed by a NOOP padded with spaces to the same length, whose
// reply the session drops: it overwrites the secret in the SSH channel's
// reused packet buffer. A password never reaches a log line, a reply or an
// error text.
//
// # Control relay
//
// After login, both directions are relayed line by line: commands are
// parsed and checked, replies are read whole (multi-line replies "ddd-" ...
// "ddd ") and matched in order to the commands that caused them. Lines are
// bounded (Options.MaxLine, default 4096 bytes): an oversized line from the
// job gets 500, one from the server 421, the session closes and SOX0305E is
// logged. When the job's and the server's code pages are equal, lines go
// through byte for byte; otherwise each line is translated, and gets the
// receiver's line end. Every line socksd writes itself is in the receiver's
// code page, with the receiver's line end (for the job: the one it used
// last). Data connections are never translated.
//
// # Passive data connections
//
// The data channel for a 227/229 reply is always dialed to the control host
// (the host the job named) with the reply's port, through the same SSH
// connection: a 227 address of 0.0.0.0, a private address the SSH server
// may not reach, or any third host is never dialed. What the job gets
// depends on Options.Data:
//
//   - "socks": the reply is relayed unchanged and the job's data connection
//     must come back through SOCKS ([Broker.Claim]) to the 227 address or
//     to the control host with the reply's port (curl's default).
//   - "rewrite": the reply is rewritten to a listener of socksd on
//     LocalAddr (227 with LocalAddr when it is IPv4, 229 with the port);
//     the job connects there, directly or through SOCKS to exactly that
//     address. Only connections from the job's address are accepted.
//   - "auto" (the default): rewritten as for "rewrite", and the broker also
//     accepts a SOCKS CONNECT to the control host or the 227 address with
//     the listener's port. Whichever comes first is the data connection, so
//     clients that use SOCKS for data and clients that do not both work,
//     and none reaches the server outside the tunnel.
//
// A 227 cannot carry an IPv6 LocalAddr; then the reply is left unchanged
// and the session behaves as in "socks" mode.
//
// # Active data connections
//
// PORT and EPRT are never sent to the server. If the address is that of a
// waiting SOCKS BIND of this session ([Broker.Claim]; the z/OS client's
// BIND, then PORT naming the BIND address), or the job's own address with
// a port of 1024 or more (curl --ftp-port, without BIND), socksd sends PASV (EPSV for
// EPRT; the other as a fallback) to the server, opens the data channel
// through the tunnel, joins it to the BIND socket or connects to the job's
// PORT address itself, and only then answers "200 PORT command
// successful". Any other address is refused with 504 and SOX0304W (RFC 2577
// bounce protection); with Options.Active "refuse" the answer is 502 (and
// SOX0312W). LPRT and LPSV get 502.
//
// # Data connections and the broker
//
// Each data connection has one state at a time and only moves forward:
// waiting (prepared by a 227/229 reply or a BIND, not yet paired), bound
// (paired with exactly one job connection; the tunnel channel is being
// opened or is open), open (relaying), done (the outcome is final). It
// gets from its session only what it needs (the tunnel's dial, the
// session's life, the job's address, counters and a logger), never the
// session itself.
//
// The daemon hands every SOCKS CONNECT and BIND to [Broker.Claim], which
// says whether a live session takes it; [DataLink.Serve] then answers the
// request and carries the data. How sessions pair their data connections
// (passive replies, BIND addresses and the PORT/EPRT that name them) stays
// inside the broker.
//
// When the session's tunnel is a [Splicer] (the daemon's tunnels are; with
// the openssh engine the ssh master then carries the bytes and socksd never
// touches them), an ftp-tunnel data connection is handed to it instead of
// dialed and relayed: the SOCKS success reply (a CONNECT's, or a BIND's
// second) goes out in [SpliceOptions].Ready, just before the bytes flow; a
// PORT/EPRT gets 200 only once the splice carries the bytes; and the
// transfer's outcome is [Spliced].Wait's, so a cut forward gives 426, never
// 226. The counters below are then the Splicer's (exact once it ends).
// ftp-sftp sessions and every control connection are never spliced.
//
// Bytes count once per socksd session: a data connection that came as its
// own SOCKS request counts on that request's [DataJob].Counters;
// SessionConfig.Counters counts the control connection and the data
// connections socksd accepts or dials for the session itself (rewrite
// listener, plain PORT). SessionConfig.DataCounters counts all the
// session's data connections, whichever session carried them.
//
// # Policy
//
// Options.Deny lists command patterns refused with "550 <verb>: refused by
// policy." and SOX0302W. A pattern is a command as the job would send it,
// compared case-insensitively with runs of blanks as one blank. The verb
// must equal the command's verb (a z/OS "QUOTE" or "LITERAL" prefix is
// removed first). For SITE, every parameter of the pattern must appear among
// the command's parameters in any order ("SITE FILETYPE=JES" refuses "SITE
// RECFM=FB FILETYPE=JES"; a key without "=" matches any value; a SITE that
// cannot be parsed is refused by any SITE pattern with parameters). For
// other verbs the pattern's arguments must be a prefix of the command's
// ("DELE" refuses every DELE, "RETR 'SYS1." refuses RETR 'SYS1.PARMLIB').
//
// AUTH (TLS, SSL, ...) is refused with 534 and SOX0306W unless
// Options.AllowAuthTLS. When allowed, AUTH is relayed; once the server
// accepts it with 234 the session relays raw bytes both ways without
// inspection (no policy, no data brokering, no audit from then on). An
// allowed AUTH before login opens the tunnel with an empty user and
// password: the profile's user and key.
//
// # Audit
//
// Each RETR, STOR, STOU, APPE, LIST, NLST and MLSD produces one
// [Transfer], passed to SessionConfig.Audit and logged as SOX0303I when its
// final reply arrives (or with code 0 and an error note when the session
// ends first). A 2xx final reply is passed on only if the data connection
// through socksd ended cleanly; if it failed (the job's side broke, the
// tunnel died, an idle timeout), the job gets 426 instead, and if the
// server's control connection is lost during a transfer the job gets 426,
// so that a job never takes a short file for a complete one.
//
// # ftp-sftp
//
// With SessionConfig.SFTP set, no FTP server is involved: socksd is the
// job's FTP server and carries each command out as SFTP operations
// (github.com/pkg/sftp) on the "sftp" subsystem of the SSH connection the
// Opener returns, which must be a [Subsystems]. Greeting, USER/PASS
// capture, pre-login limits, AUTH refusal, policy, data connections and
// audit are the ones described above. After the SSH login socksd opens
// SFTPOptions.Streams sftp channels (a refused subsystem: 421 and
// SOX0320E), answers 230 and logs SOX0319I. Commands are served one at a
// time (RFC 959/3659 replies; anything else gets 502). Paths are relative
// to the SSH login directory or confined to SFTPOptions.Root; quoted z/OS
// names follow SFTPOptions.Datasets. TYPE A converts line ends to
// SFTPOptions.LineEnd; SIZE and REST are refused in TYPE A. SITE CHMOD
// changes the mode; other SITE parameters get 200 and go into the next
// transfer's audit record ([Transfer].Site).
//
// A data connection is the same as in ftp-tunnel (passive listener on
// LocalAddr that the broker also offers to SOCKS CONNECTs, SOCKS BIND,
// PORT/EPRT to the job's own host), except that its far end is one end of
// a local socket pair whose other end the transfer reads or writes. STOR
// writes to a temporary name and renames it into place only when the
// job's data connection ended cleanly and every byte is on the server;
// APPE, STOR after REST and data set names write in place. The job gets
// 226 only when the data relay to or from it ended without error: a
// broken data connection gets 426, a server error its mapped reply, and a
// lost SFTP connection ends the session (421, or 426 in a transfer; SOX0321W).
//
// When the Opener returns a [FallbackError] (fallback_to_plain, the SSH
// server unreachable), an ftp-tunnel or ftp-sftp session logs SOX0318W and
// logs in at the job's FTP server through FallbackError.Plain, sending the
// job's password in clear, and relays as ftp-tunnel does.
//
// # Parsers
//
// [ParseCommand], [ParseReply] and [ReplyReader], [ParsePORT], [ParseEPRT],
// [Parse227], [Parse229] and their Format counterparts follow RFC 959 and
// RFC 2428, with typed errors ([CommandError], [ReplyError], [AddrError]).
// z/OS forms are understood: quoted data set names ('HLQ.DATA(MEMBER)',
// [DatasetName]), SITE parameters ([ParseSite]), TYPE A/E/I/L
// ([ParseType]), STRU and MODE.
//
// # Trust
//
// The broker matches data connections by the job's IP address, the host
// and the port. Jobs on one host share its address, so a local process that
// races the job to a passive port could take its data connection; the
// window is one reply, and every claim is single-use.
package ftp
