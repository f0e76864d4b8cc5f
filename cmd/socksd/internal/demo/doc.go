// Package demo is `socksd demo`: the main job of socksd on one machine,
// with nothing to install. It starts, in-process and on free loopback
// ports, an SSH server (golang.org/x/crypto/ssh: password and public-key
// login, direct-tcpip channels), an FTP server
// (github.com/fclairamb/ftpserverlib) and socksd with the embedded default
// rules (FTP is ftp-tunnel through SSH on the FTP host, everything else is
// blocked). It then runs the FTPJOB sample's INPUT deck through socksd in
// passive mode (github.com/jlaffaye/ftp over SOCKS5) and in active mode
// (SOCKS BIND, as the z/OS FTP client does), a long transfer with progress
// lines, and a request the rules block; it shows the operator console, the
// daemon's log and the audit records, and checks every transfer with
// SHA-256. [Run] returns the checks; the demo passed when all passed.
package demo
