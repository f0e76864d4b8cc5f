// Package msg is the operator message catalogue: every message an operator
// reads has an ID SOXnnnnS, a text, an explanation and a response, and is
// written through this package only. It imports nothing of the project.
package msg

import (
	"fmt"
	"sort"
	"strings"
)

// Message is one entry of the operator message catalogue.
type Message struct {
	// ID is SOX, four digits and a severity letter: I (information),
	// W (warning), E (error) or A (action needed).
	ID string
	// Text is the fmt format of the message text, without the ID.
	Text string
	// Explanation says what happened.
	Explanation string
	// Response says what the operator should do.
	Response string
}

// catalogue is the message catalogue. It is the only global state of the
// project and is never modified after initialisation.
//
// Ranges: SOX00xx daemon lifecycle, SOX01xx sessions and SOCKS, SOX02xx SSH
// tunnels, SOX03xx FTP, SOX04xx console and commands, SOX05xx
// configuration, SOX06xx JCL, SOX07xx capture and forwards, SOX08xx fleet
// operation (metrics, systemd, log files, syslog, packaging).
var catalogue = []Message{
	// Daemon lifecycle.
	{"SOX0001I", "socksd %s starting, configuration %s",
		"The daemon of the named version is starting with the named configuration file (or the embedded default).",
		"None."},
	{"SOX0002I", "socksd ready, listening on %s",
		"All SOCKS listeners are open and the daemon accepts sessions.",
		"None."},
	{"SOX0003I", "configuration reloaded from %s, %d rules",
		"A RELOAD command or SIGHUP read the configuration again. New sessions use the new rules; running sessions keep the rules they started with.",
		"None."},
	{"SOX0004E", "configuration rejected, old rules stay: %s",
		"A RELOAD found an error in the configuration file. The message names the file and line. The daemon keeps running with the rules it had.",
		"Correct the file at the line named, check it with socksd check -c FILE, and enter RELOAD again."},
	{"SOX0005I", "quiesce: new sessions are refused, %d sessions running",
		"The QUIESCE command took effect. New SOCKS requests get a failure reply; running sessions continue.",
		"Enter RESUME to accept sessions again, or STOP to end the daemon once the running sessions are done."},
	{"SOX0006I", "resume: accepting new sessions",
		"The RESUME command ended a quiesce. New sessions are accepted again.",
		"None."},
	{"SOX0007I", "stop requested, draining %d sessions for up to %s",
		"A STOP command or SIGTERM was received. The daemon accepts no new sessions and waits for running sessions to end, at most for the drain timeout shown.",
		"None. To end at once, enter STOP IMMEDIATE."},
	{"SOX0008I", "socksd ended",
		"The daemon has closed its listeners and sessions and ends with return code 0.",
		"None."},
	{"SOX0009W", "drain timeout reached, %d sessions ended",
		"A STOP waited for the drain timeout and then ended the sessions that were still running. Their transfers are incomplete.",
		"Check the jobs whose sessions were ended and rerun their transfers. Raise drain_timeout if transfers regularly need longer."},
	{"SOX0010E", "cannot listen on %s: %s",
		"The daemon could not open a listener on the address shown. It ends with return code 1.",
		"Make sure no other program uses the address and that the daemon's user may bind it, then start the daemon again."},
	{"SOX0011I", "log level set to %s",
		"The LOGLEVEL command changed the level of the daemon log.",
		"None."},
	{"SOX0012W", "%s is readable by other users; it holds secrets",
		"A file that holds a password, passphrase or private key can be read by users other than the daemon's user.",
		"Restrict the file, for example with chmod 600, and make the daemon's user its owner."},
	{"SOX0013W", "this build cannot erase passwords from memory after a login",
		"The binary was built without GOEXPERIMENT=runtimesecret, or for a platform other than linux/amd64 or linux/arm64. socksd still wipes its own copies of a job's password, but copies made inside the SSH library stay in freed memory until it is reused.",
		"Build with make build, which sets GOEXPERIMENT=runtimesecret, on a supported platform. socksd version shows whether erasure is on."},
	{"SOX0014W", "sessions still running %s after the stop; their end is not logged",
		"After the drain, socksd ended every session and waited the time shown for their handlers to finish, but some did not. The process ends without their session_end records.",
		"None for this stop. If it recurs, report it with the log: a session handler did not notice that its connection was closed."},
	{"SOX0015W", "accepting on %s failed, retrying: %s",
		"A SOCKS listener could not accept a connection, for example because the process has run out of file descriptors. socksd waits a little (up to one second) and tries again; clients may see delays or refused connections meanwhile.",
		"Check the open files with D STATS and the process's file descriptor limit (ulimit -n, LimitNOFILE). Raise the limit or lower max_sessions."},
	{"SOX0016W", "listen addresses changed to %s; they take effect at the next start",
		"A RELOAD read a configuration whose [server] listen list differs from the one in use. The new rules are in use, but socksd keeps listening on the old addresses until it is restarted.",
		"Restart the daemon when convenient, or put the old listen list back."},
	{"SOX0017E", "audit record not written to %s: %s",
		"socksd could not write a transfer's record to the audit_file, for the reason shown. The transfer itself is still in the daemon log (SOX0303I or SOX0308W), but the audit file is incomplete.",
		"Check the audit file's file system (space, permissions); if the file was removed, send RELOAD (or SIGHUP) to create it again. Recover the missing records from the daemon log."},

	// Sessions and SOCKS.
	{"SOX0101I", "session %d start (details in fields)",
		"A SOCKS session began. The log fields name the client, SOCKS user, destination, rule, action and SSH server.",
		"None."},
	{"SOX0102I", "session %d end",
		"A SOCKS session ended. The log fields give the bytes each way (bytes_up: client to destination, bytes_down: back), duration_ms and the result: ok, blocked, refused or cancelled. A session that failed ends with SOX0111W instead.",
		"None."},
	{"SOX0103W", "client %s refused by allow_clients",
		"A connection came from an address that allow_clients does not list. It was closed before the SOCKS handshake.",
		"If the client is legitimate, add its address to allow_clients and enter RELOAD."},
	{"SOX0104W", "session limit %d reached, client %s refused",
		"The number of running sessions reached max_sessions, so a new connection was refused.",
		"Check for stuck sessions with D SESSIONS. Raise max_sessions if the load is expected."},
	{"SOX0105I", "session %d blocked by rule %s",
		"The request matched a rule whose action is block. The client got a SOCKS not-allowed reply.",
		"None, unless the destination should be reachable: then change the rules and enter RELOAD."},
	{"SOX0107I", "session %d cancelled by operator",
		"A CANCEL command ended the session. Its transfer is incomplete.",
		"Rerun the job's transfer if needed."},
	{"SOX0108W", "session %d handshake failed: %s",
		"The client did not complete a valid SOCKS handshake in time, or sent a malformed request.",
		"Check the client's SOCKS settings (version, address, port)."},
	{"SOX0109W", "session %d refused while quiesced",
		"A new session arrived while the daemon was quiesced. The client got a SOCKS failure reply.",
		"Enter RESUME when new sessions may run again."},
	{"SOX0110I", "session %d trace: %s %d bytes, %d in all",
		"TRACE ON is in effect for the session: each block the relay moves is logged with its direction (up: client to destination, down: back) and size, and the bytes moved that way so far. With the openssh engine, whose ssh process carries a tunnel session's or FTP data connection's bytes itself, each line gives the bytes the kernel counted since the last line (about once a second). The data itself is never logged. Trace lines show at log level info or below.",
		"Enter TRACE OFF SESSION=n when done; tracing makes the log large."},
	{"SOX0111W", "session %d ended in failure: %s",
		"A SOCKS session ended because a step failed: the destination could not be reached, the SSH tunnel could not be built (host key, login, SSH server), the FTP login failed, or the relay broke off. The log fields are those of SOX0102I with result=failed; an earlier message of the same session often names the cause.",
		"Read the error and any earlier message of the session (for example SOX0203E, SOX0205E, SOX0211W). Correct the cause and rerun the job's transfer."},
	{"SOX0112W", "session %d: BIND peer %s is not the expected host %s; closed",
		"A connection reached a SOCKS BIND listener from an address other than the one the BIND request named (RFC 1928). It was closed and the BIND goes on waiting for the expected peer.",
		"None, unless it recurs: then find out who connects to the BIND ports, and check that the job names the right server."},

	// SSH tunnels.
	{"SOX0201I", "SSH connection %s to %s opened for user %s",
		"An SSH connection to the server was authenticated and can carry tunnels.",
		"None."},
	{"SOX0202I", "SSH connection %s to %s closed: %s",
		"An SSH connection was closed, for example because it was idle for idle_close.",
		"None."},
	{"SOX0203E", "host key for %s has changed: known %s, offered %s",
		"The SSH server offered a host key that differs from the one recorded in known_hosts. This may be an attack or a reinstalled server. No connection was made.",
		"Verify the new key with the server's administrator over a separate channel. If it is genuine, replace the entry in known_hosts with socksd hostkey add."},
	{"SOX0204A", "host key for %s is unknown: %s; record it with socksd hostkey add",
		"The SSH server's host key is not in known_hosts and host_key_policy is strict. No connection was made.",
		"Verify the fingerprint shown with the server's administrator, then record it with socksd hostkey add HOST --known-hosts FILE."},
	{"SOX0205E", "SSH authentication failed for user %s at %s",
		"The SSH server rejected every authentication method that the profile allows.",
		"Check the user's password or key at the SSH server and the profile's auth list."},
	{"SOX0206W", "password for user %s at %s was rejected recently; not tried again",
		"The same password was rejected a short time ago, so socksd did not send it again to avoid locking the account.",
		"Correct the password the job sends, then rerun the job."},
	{"SOX0207W", "SSH connection %s to %s lost: %d keepalives unanswered",
		"The SSH server stopped answering keepalives. The connection and its tunnels were closed.",
		"Check the network path and the SSH server. Affected jobs must rerun their transfers."},
	{"SOX0208W", "tunnel to %s failed, connecting directly (fallback_to_plain): %s",
		"The SSH tunnel could not be opened and the rule allows a direct, unencrypted connection instead.",
		"Find out why the tunnel failed. Turn fallback_to_plain off if data must never travel unencrypted."},
	{"SOX0209I", "SSH connection %s dropped by operator",
		"A DROP TUNNEL command closed the SSH connection and the sessions it carried.",
		"None."},
	{"SOX0210I", "host key for %s recorded in %s (accept-new): %s",
		"host_key_policy is accept-new and the server was not yet known, so its key was recorded.",
		"Verify the fingerprint shown with the server's administrator."},
	{"SOX0211W", "SSH connection to %s failed: %s",
		"socksd could not open or use an SSH connection to the server named, for the reason shown (for example the server cannot be reached, refused the connection, or did not answer in connect_timeout). The session that needed it got a failure reply.",
		"Check that the SSH server is running and reachable from this host on the profile's port, and that any via proxy works."},
	{"SOX0212W", "password for user %s at %s was rejected; logged in by %s instead",
		"The SSH server rejected the password the job sent, but another method of the profile (for example a public key) logged in. The session goes on. socksd does not send the same password to that server again for a while, so that the account is not locked.",
		"Correct the password the job sends, or stop sending one if the other method is meant to be used."},
	{"SOX0213W", "SSH connection to %s for user %s lost after the password was sent; outcome unknown",
		"The SSH server closed the connection after socksd sent the password and before it answered. Some servers do this after a wrong password. socksd does not know whether the password was right, so it does not treat it as rejected. The session that needed the connection got a failure reply.",
		"Check the SSH server's log for this user and whether the password is right, then rerun the job."},
	{"SOX0214W", "ssh-agent not usable: %s",
		"A profile has agent = true, but socksd could not reach an ssh-agent for the reason shown. The profile's other methods are still tried.",
		"Set SSH_AUTH_SOCK in the daemon's environment to a running ssh-agent that holds the keys, or set agent = false in the profile."},
	{"SOX0215W", "identity file %s skipped: %s",
		"An identity file named in a profile's identity_files could not be used as a private key, for the reason shown. The profile's other keys and methods are still tried. A passphrase is never shown.",
		"Make the file a readable private key of the daemon's user; for an encrypted key set passphrase_file to a file holding its passphrase."},
	{"SOX0216E", "FTP session %d: SSH server %s refused the %s subsystem for user %s: %s",
		"An ftp-sftp rule logged in to the SSH server with the job's credentials, but the server refused the subsystem socksd serves the job from (sshd_config has no Subsystem line for it), or refused every session channel. The job got 421.",
		"Ask the partner to enable SFTP (for OpenSSH: Subsystem sftp internal-sftp) and to allow session channels for the user, or route the partner with another action."},
	{"SOX0217W", "SSH connection %s to %s refused a session channel with %d open; opening another connection for user %s",
		"The SSH server limits the session channels of one connection (OpenSSH: MaxSessions, default 10). socksd opens another SSH connection with the same login for the SFTP channels that did not fit, and later sessions prefer connections with room.",
		"None needed. If this happens often, raise MaxSessions on the server or lower rules.sftp.streams."},
	{"SOX0230I", "profile %s uses the %s SSH engine (%s)",
		"At start and after a reload: the SSH engine that carries the profile's connections, from the profile's engine or ssh.engine, with auto resolved. openssh names the ssh program and its version; builtin is socksd's own SSH client.",
		"None. To change it, set engine in [ssh] or in the profile."},
	{"SOX0231E", "profile %s asks for the openssh SSH engine, which cannot run: %s",
		"The profile's engine (or ssh.engine) is openssh, but the program in ssh.openssh was not found, did not run, or is older than OpenSSH 8.4 (which brought SSH_ASKPASS_REQUIRE, through which the job's password goes in once). Sessions that use the profile fail as for an unreachable SSH server.",
		"Install OpenSSH 8.4 or later and name it in ssh.openssh, or set the profile's engine to builtin (or auto, which falls back to builtin)."},

	// FTP.
	{"SOX0301I", "FTP session %d logged in as %s at %s through %s",
		"The job's FTP login succeeded at the server through the SSH tunnel named.",
		"None."},
	{"SOX0302W", "FTP session %d command refused by policy: %s",
		"The job sent an FTP command that the rule's deny list forbids. It got reply 550.",
		"None, unless the command should be allowed: then change the rule's ftp.deny and enter RELOAD."},
	{"SOX0303I", "FTP session %d transfer %s ended with reply %d",
		"A file transfer ended successfully. The log fields name the user, command, file, mode, bytes, duration_ms and reply code. With an audit_file, the same transfer is also written there as a JSON record.",
		"None."},
	{"SOX0304W", "FTP session %d PORT/EPRT to %s refused (bounce)",
		"The job asked the server to connect to a host other than the job's own (an FTP bounce, RFC 2577).",
		"Check the job's FTP client settings."},
	{"SOX0305E", "FTP session %d control line too long, session closed",
		"A control line exceeded the limit, so the session was ended.",
		"Check the FTP client or server that sent the line."},
	{"SOX0306W", "FTP session %d AUTH TLS refused",
		"The job asked for TLS on the control connection, which the rule does not allow: socksd must read the control connection.",
		"Turn off TLS in the job's FTP client; the SSH tunnel already encrypts the traffic."},
	{"SOX0307E", "FTP session %d SSH login failed for user %s: %s",
		"The SSH server rejected the credentials that the job sent (or the profile's key, for a job without a password). The job got reply 530 and the session ended. When the SSH connection cannot be made at all (server unreachable, host key refused), the job gets 421 instead and this message is not written: the SSH message (SOX0203E, SOX0204A, SOX0211W) names the cause.",
		"Check the user's password or key at the SSH server."},
	{"SOX0308W", "FTP session %d transfer %s failed with reply %d",
		"A file transfer did not complete: the job got the failure reply shown (0 means the session ended before a final reply). The log fields name the user, command, file, bytes moved, duration_ms and the error.",
		"Check the error field. Rerun the job's transfer once the cause is corrected; the data at the destination is incomplete."},
	{"SOX0309W", "FTP session %d data connection from %s refused: not the job's address",
		"A connection reached the listener that socksd opened for the job's passive data connection (data mode rewrite or auto), but from another address than the job's. socksd closed it and keeps waiting for the job.",
		"None if it does not recur. Otherwise find the process at the address shown: it may be trying to take other jobs' data."},
	{"SOX0310W", "FTP session %d cannot parse the server's passive reply, relayed unchanged: %s",
		"The FTP server answered PASV or EPSV with a reply socksd could not read. The job got the reply as it was; its data connection will probably fail.",
		"Check the FTP server's passive mode settings."},
	{"SOX0311W", "FTP session %d no listener for the passive data connection, expecting it through SOCKS: %s",
		"socksd could not open the listener to which it rewrites a passive reply, for the reason shown. The job got the server's reply unchanged and must send its data connection through SOCKS.",
		"Check the reason shown (for example the number of open files). Jobs that do not use SOCKS for data fail until it is corrected."},
	{"SOX0312W", "FTP session %d %s refused: the rule does not allow active mode",
		"The job asked for an active data connection (PORT or EPRT), which the rule's ftp.active = \"refuse\" forbids. The job got reply 502.",
		"Set the job's FTP client to passive mode, or set ftp.active = \"convert\" in the rule and enter RELOAD."},
	{"SOX0313W", "FTP session %d transfer %s completed without a data connection through socksd",
		"The FTP server reported a transfer complete, but no data connection for it passed through socksd: the job reached the server's data port some other way, outside the SSH tunnel.",
		"Check the job's network path and its SOCKS settings for data connections."},
	{"SOX0314W", "FTP session %d control connection to the FTP server ended: %s",
		"The FTP server's control connection, through the SSH tunnel, ended unexpectedly. The job got reply 426 if a transfer was running, else 421, and the session ended.",
		"Check the FTP server and the SSH connection (SOX02xx messages) at that time. Rerun a transfer that was running."},
	{"SOX0315W", "FTP session %d login of %s rejected by the FTP server with reply %d",
		"The SSH login succeeded, but the FTP server through the tunnel refused the job's FTP login. The job got the server's reply.",
		"Check the user's FTP account and password at the FTP server."},
	{"SOX0316E", "FTP session %d FTP server %s not reachable through SSH server %s: %s",
		"The SSH login succeeded, but the SSH server could not open a connection to the FTP server for the reason shown. The job got reply 421.",
		"Check that the FTP server runs and that the SSH server may forward to it (AllowTcpForwarding, PermitOpen)."},
	{"SOX0317I", "FTP session %d AUTH accepted by the server, control connection relayed without inspection",
		"The rule allows AUTH TLS (ftp.allow_auth_tls) and the FTP server accepted it. From now on socksd relays the session's bytes untouched: no command policy, no data brokering and no transfer audit for this session.",
		"None, if TLS inside the tunnel is wanted. Otherwise set ftp.allow_auth_tls = false in the rule and enter RELOAD."},
	{"SOX0318W", "FTP session %d SSH server not reachable (%s): fallback_to_plain sends the job's password to FTP server %s in clear",
		"The rule has fallback_to_plain, and its SSH server could not be reached at all. socksd connected the job directly to the FTP server it named and relays the session as ftp-tunnel does, but without SSH: the job's USER and PASS, and its data, cross the network unencrypted.",
		"Find out why the SSH server is unreachable (the reason shown). If clear-text passwords are not acceptable, remove fallback_to_plain from the rule and enter RELOAD."},
	{"SOX0319I", "FTP session %d logged in as %s at SSH server %s; SFTP serves the session",
		"An ftp-sftp session logged in to the SSH server with the job's credentials and started the sftp subsystem. socksd now answers the job's FTP commands itself, from the SFTP server; no FTP server is involved. The streams field gives the number of SFTP channels.",
		"None."},
	{"SOX0320E", "FTP session %d SFTP not available at SSH server %s: %s",
		"The SSH login succeeded, but the sftp subsystem could not be started for the reason shown (the server refused the subsystem, the SFTP handshake failed, or the rule's sftp.root does not exist there). The job got reply 421.",
		"Check that the SSH server enables SFTP (Subsystem sftp in sshd_config, not disabled for this user by ForceCommand or a Match block) and that sftp.root exists for the user."},
	{"SOX0321W", "FTP session %d SFTP connection to SSH server %s lost: %s",
		"The SSH connection or the SFTP channel that served an ftp-sftp session ended while the session was open. The job got reply 421 (or 426 during a transfer) and the session ended; an upload that was under way was not put in place under its name.",
		"Check the SSH server and the network to it. The job can run again."},
	{"SOX0322I", "FTP session %d closed: no command from the job for %v",
		"An ftp-sftp session, where socksd itself is the job's FTP server, received no command for the server's idle_timeout between commands. socksd answered 421 and closed the session, as an FTP server closes an idle control connection. A transfer in progress is never cut this way.",
		"None, if the job was finished or hung. If jobs wait longer between commands, raise [server] idle_timeout."},

	// Console and commands.
	{"SOX0401I", "command from %s: %s",
		"An operator command arrived on the transport named. Its reply follows.",
		"None."},
	{"SOX0402E", "unknown or malformed command: %s",
		"The command text is not a valid operator command. The lines after this message name the valid forms.",
		"Enter the command again in one of the forms shown, or enter HELP."},
	{"SOX0403E", "command failed: %s",
		"The command was understood but could not be carried out, for the reason shown.",
		"Correct the cause shown and enter the command again."},
	{"SOX0404I", "command accepted: %s",
		"The command was carried out.",
		"None."},
	{"SOX0405I", "trace %s for %s",
		"The TRACE command switched detailed tracing on or off.",
		"Switch tracing off when done; it makes the log large."},
	{"SOX0406I", "session %d cancelled",
		"The CANCEL command ended the session.",
		"None."},
	{"SOX0407I", "tunnel %s dropped",
		"The DROP command closed the SSH connection and the sessions it carried.",
		"None."},
	{"SOX0408I", "signal %s received: %s",
		"The daemon received a signal and runs the command it stands for: SIGHUP reloads, SIGTERM and SIGINT stop, SIGUSR1 writes statistics to the log.",
		"None."},
	{"SOX0409W", "command from uid %d refused: only root or uid %d may command",
		"A user other than root or the daemon's own user sent a command on the control socket. It was not run.",
		"Send commands as root or as the daemon's user."},
	{"SOX0410I", "DISPLAY SESSIONS: %d active",
		"The reply to D SESSIONS: one line per running session.",
		"None."},
	{"SOX0411I", "DISPLAY SESSION %d",
		"The reply to D SESSION=n: the details of one session.",
		"None."},
	{"SOX0412I", "DISPLAY TUNNELS: %d open",
		"The reply to D TUNNELS: one line per open SSH connection: its id, server, user, profile, SSH engine (builtin or openssh), the openssh master's process id (- for builtin), channels open now and in all, age and idle time.",
		"None."},
	{"SOX0413I", "DISPLAY RULES: %d defined",
		"The reply to D RULES: the rules in the order they are matched, with their hit counts.",
		"None."},
	{"SOX0414I", "DISPLAY STATS",
		"The reply to D STATS: counters since the daemon started.",
		"None."},
	{"SOX0415I", "DISPLAY CONFIG",
		"The reply to D CONFIG: a summary of the configuration in use. Secrets are never shown.",
		"None."},
	{"SOX0416I", "socksd version %s",
		"The reply to D VERSION.",
		"None."},
	{"SOX0417I", "HELP: operator commands",
		"The reply to HELP: the valid command forms and their abbreviations.",
		"None."},
	{"SOX0418I", "control socket listening on %s",
		"The daemon accepts operator commands on the Unix socket named, for example from socksd cmd.",
		"None."},
	{"SOX0419W", "operator command input ended: %s",
		"The transport that carried operator commands (stdin or the z/OS console) ended. Other transports still work.",
		"None, unless commands are expected there: then restart the daemon."},
	{"SOX0420E", "control socket %s: %s",
		"The control socket could not be created, served or reached, for the reason shown. The daemon creates the socket's directory (mode 0750) only when that directory's parent exists, never a longer path. A daemon that cannot create its socket goes on without it; signals, and stdin when configured, still carry commands.",
		"If another daemon already answers on the socket, stop it or choose another socket path. If a directory is missing, create it or correct console.socket, then restart the daemon. Otherwise correct the cause shown."},
	{"SOX0421E", "operator console: %s",
		"The z/OS operator console interface failed, for the reason shown. MODIFY and STOP commands no longer reach the daemon.",
		"Use the control socket, or restart the started task."},

	// Configuration.
	{"SOX0501E", "configuration error: %s",
		"The configuration file has an error at the file and line named.",
		"Correct the file and check it with socksd check -c FILE."},

	// JCL.
	{"SOX0601E", "JCL error: %s",
		"A JCL member is not valid, for the reason shown.",
		"Correct the member and check it with socksd jcl check."},

	// Transparent capture: redirect and TPROXY listeners.
	{"SOX0700I", "%s listener ready on %s",
		"A listener for connections that the kernel redirected to socksd is open: REDIRECT (server.redirect_listen; nftables redirect or iptables REDIRECT) or TPROXY (server.tproxy_listen). Its connections are served as SOCKS CONNECT requests to where they were going, without a SOCKS handshake.",
		"None. The nftables or iptables rules that send connections here are the system's; docs/CAPTURE.md shows tested ones."},
	{"SOX0701W", "session %d: redirected connection from %s closed, its original destination is unknown: %s",
		"A connection reached a REDIRECT listener, but the kernel knows of no redirection for it (no SO_ORIGINAL_DST), so socksd cannot tell where it was going. The connection was closed.",
		"Send only redirected connections to this listener: check the nftables or iptables rule (redirect or DNAT, not TPROXY, which needs server.tproxy_listen), and that connection tracking is active."},
	{"SOX0702W", "session %d: redirected connection from %s to %s closed: that is a listener of socksd itself (nothing was redirected, or the redirect loops)",
		"A connection on a redirect listener was going to one of socksd's own listeners: either a client connected to the redirect listener directly, or a rule redirected a connection to socksd back to it. It was closed at once, so that nothing loops.",
		"Connect to socksd's SOCKS listener to use SOCKS. Exclude socksd's own addresses and ports (for example local destinations: fib daddr type local) from the redirect rules."},
	{"SOX0703I", "session %d blocked by rule %s: redirected connection to %s closed",
		"A redirected connection matched a rule whose action is block (or no rule). It had no SOCKS handshake, so it was closed without a reply: the application sees the connection reset or closed.",
		"None, unless the destination should be reachable: then change the rules (by address: redirected connections carry no host name) and enter RELOAD."},
	{"SOX0704W", "session %d: redirected connection from %s to %s closed: it is a connection of socksd itself, redirected back to it (a redirect loop)",
		"A rule redirected one of socksd's own outgoing connections (to a destination, or to an SSH server) back to its redirect listener. socksd closed it at once; otherwise every pass would open another connection. The session whose connection this was fails.",
		"Change the nftables or iptables rules so that they never match socksd's own connections: match only the users or cgroups to capture (meta skuid, socket cgroupv2), or exclude socksd's user (meta skuid socksd return)."},
	{"SOX0705W", "redirect and TPROXY listen addresses changed to %s; they take effect at the next start",
		"A RELOAD read a configuration whose server.redirect_listen or server.tproxy_listen differs from the one in use. The new rules are in use, but socksd keeps its redirect listeners on the old addresses until it is restarted.",
		"Restart the daemon when convenient (and change the nftables or iptables rules to match), or put the old lists back."},

	// Transparent capture (socksd capture).
	{"SOX0720I", "DISPLAY LISTENERS: %d open",
		"The reply to D LISTENERS: the addresses the daemon listens on, by kind: socks (SOCKS listeners), redirect (connections redirected by the kernel, the target of socksd capture), rewrite (FTP passive data listeners, one ephemeral port per transfer, shown as host:*) and forward (fixed local tunnels).",
		"None."},
	{"SOX0721I", "capture: %s (pid %d) runs with its TCP connections redirected to %s; cgroup %s, nftables table inet %s",
		"socksd capture started the command (its program is named; its arguments are not shown, since they may hold a password) in a cgroup of its own. An nftables rule redirects the TCP connections of every process in that cgroup to the daemon's redirect listener, where the rules decide each one as for a SOCKS CONNECT. Connections to the daemon's own listeners are left alone.",
		"None."},
	{"SOX0722W", "capture: %d processes still in cgroup %s after the command ended: %s; sending SIGTERM",
		"The command ended but processes it started were still running in the capture's cgroup. They would run on uncaptured once the capture ends, so socksd capture ends them: SIGTERM now, SIGKILL if they are still there after a few seconds.",
		"None, unless those processes were meant to keep running: then run them under their own capture, or start them outside it."},
	{"SOX0723W", "capture: %d processes did not end within %s of SIGTERM: %s; sending SIGKILL",
		"Processes of the capture's cgroup were still running a few seconds after SIGTERM (after the command ended, or after socksd capture itself was asked to end), so they are killed.",
		"None. If the command needs longer to end cleanly, end it yourself before the capture does."},
	{"SOX0724E", "capture: processes remain in cgroup %s after SIGKILL: %s",
		"Processes of the capture's cgroup did not disappear after SIGKILL within a few seconds (for example a process in uninterruptible sleep). The cgroup cannot be removed while they are there.",
		"Look at the processes named. When they are gone, remove the cgroup directory with rmdir, or run socksd capture again, which removes leftovers."},
	{"SOX0725I", "capture: removed leftover %s of capture %d, which is no longer running",
		"A capture that ended without cleaning up (it was killed with SIGKILL, or the system failed) left its cgroup or nftables table behind. The next socksd capture removed it.",
		"None."},
	{"SOX0726E", "capture: %s",
		"socksd capture could not set up the capture or start the command, for the reason shown. The command did not run, and anything set up so far was removed.",
		"Correct the cause: socksd capture must run as root on Linux with cgroup v2 and nf_tables; the daemon must have a redirect listener (server.redirect_listen) or --redirect must name one."},
	{"SOX0727E", "capture: clean-up failed: %s",
		"socksd capture could not remove its nftables table or its cgroup, for the reason shown.",
		"Remove the table (nft delete table inet NAME) or the cgroup directory (rmdir) by hand, or run socksd capture again, which removes leftovers of captures no longer running."},
	{"SOX0728I", "capture: signal %s passed to the command (pid %d)",
		"socksd capture received a signal and passed it on to the command. After SIGINT, SIGTERM or SIGHUP, a command still running a few seconds later is killed, and the capture is removed.",
		"None."},
	{"SOX0729W", "capture: no redirect listener for IPv%d: the command's IPv%d TCP connections are refused",
		"The daemon has no redirect listener of this address family, so the command's TCP connections of this family could not be captured. They are refused (TCP reset) instead of going out uncaptured.",
		"Add a redirect listener of that family to server.redirect_listen (for example \"[::1]:PORT\") and reload, or give it with --redirect."},
	{"SOX0730W", "capture: could not read the daemon's listeners from %s (%s): only the redirect listener is left alone",
		"socksd capture was given --redirect but could not ask the daemon, over its control socket, for its other listeners. Connections of the command to the SOCKS or FTP rewrite listeners would be redirected too.",
		"Give --socket with the daemon's control socket, or ignore this when the command never connects to the daemon's listeners."},
	{"SOX0731E", "capture: the daemon at %s has no redirect listener; set server.redirect_listen or give --redirect",
		"Without --redirect, socksd capture asks the daemon for its redirect listener, and the daemon reported none.",
		"Add server.redirect_listen to the daemon's configuration and restart it, or give the listener with --redirect HOST:PORT."},
	{"SOX0732W", "capture: killed %d processes left in the cgroup of capture %d: %s",
		"A capture that ended without cleaning up left processes running in its cgroup. The next socksd capture killed them before removing the cgroup.",
		"None."},

	// Fixed local tunnels ([[forwards]]).
	{"SOX0740I", "forward %s listening on %s, to %s through profile %s",
		"A [[forwards]] listener is open, at the start or after a RELOAD that added it. Each connection to it is carried through the profile's SSH server to the destination shown; allow_clients applies, the rules do not.",
		"None."},
	{"SOX0741I", "forward %s on %s closed; %d running sessions go on",
		"A RELOAD removed the forward, or the daemon is stopping: the listener no longer accepts connections. Sessions that came in by it run until they end (at a stop, they drain as every session does).",
		"None."},
	{"SOX0742E", "forward %s cannot listen on %s: %s",
		"The forward's listen address could not be opened, for the reason shown (often: another program has the port, or the address is not one of this host's). At the start the daemon does not start; after a RELOAD the rest of the new configuration is in use without this forward.",
		"Free the port or correct forwards.listen, then enter RELOAD (or start the daemon again)."},
	{"SOX0743I", "DISPLAY FORWARDS: %d defined",
		"The reply to D FORWARDS: one line per [[forwards]] table: its name, listen address, destination, SSH profile, whether it listens, sessions running now and sessions since the daemon started.",
		"None."},
	{"SOX0744W", "forward %s: connection from %s closed, the forward was removed",
		"A connection reached a forward's listener just as a RELOAD removed the forward. It was closed without a session.",
		"None; the client connects elsewhere or the forward is put back and RELOAD entered."},
	{"SOX0745I", "forward %s changed: to %s through profile %s",
		"A RELOAD kept the forward's listen address but changed its destination or profile. New connections use the new settings; running sessions keep theirs.",
		"None."},
	// Metrics and health endpoints.
	{"SOX0800I", "metrics listening on %s",
		"The [metrics] listener is open: Prometheus can scrape /metrics, and /healthz and /readyz answer a load balancer or an orchestrator.",
		"None."},
	{"SOX0801E", "metrics listener %s cannot be opened: %s",
		"socksd could not listen on the address of metrics.listen, for example because another process uses the port. socksd does not start.",
		"Free the port or change metrics.listen, then start socksd again."},
	{"SOX0802E", "metrics listener %s stopped: %s",
		"The [metrics] HTTP listener failed while socksd ran. Sessions go on, but /metrics, /healthz and /readyz no longer answer.",
		"Restart socksd at a convenient time; tell the people who run the load balancer or Prometheus, which will see the host as down."},
	// systemd, log files and syslog.
	{"SOX0820W", "systemd notification %s not sent: %s",
		"socksd runs under systemd (NOTIFY_SOCKET is set) but could not send the notification named to it, for the reason shown. It is said once, not for every later failure. With Type=notify, systemd may consider the daemon not started, not reloaded or, with WatchdogSec, hung, and stop it.",
		"Check that the unit's NotifyAccess allows the main process (the default for Type=notify) and that the notify socket exists. The daemon itself goes on serving."},
	{"SOX0821I", "systemd watchdog on: WATCHDOG=1 every %s",
		"systemd asked for a watchdog (WatchdogSec in the unit). socksd tells systemd it is alive at half of that interval.",
		"None."},
	{"SOX0822E", "log file %s not reopened, still writing to the old file: %s",
		"A RELOAD (or SIGHUP, as logrotate sends) could not open the log or audit file named again, for the reason shown. socksd keeps writing to the file it had open, which may have been moved or removed by a rotation.",
		"Correct the cause (a missing directory, permissions, space), then send RELOAD or SIGHUP again."},
	{"SOX0823I", "log file %s reopened",
		"A RELOAD (or SIGHUP, as logrotate sends) opened the log or audit file named again; lines from now on go to the file that has that path now.",
		"None."},
	{"SOX0824E", "audit record not sent to syslog: %s",
		"socksd could not send a transfer's audit record to the syslog receiver of log.audit_syslog, for the reason shown: even one more try on a new connection failed, or too many records were already waiting for a slow receiver. The record is dropped from syslog; the transfer itself is still in the daemon log (SOX0303I or SOX0308W) and in the audit_file, if there is one.",
		"Check that the syslog receiver runs and can be reached, and correct log.audit_syslog if needed. socksd connects again at the next record."},
}

// index maps an ID to its position in catalogue; built once, never modified.
var index = func() map[string]int {
	idx := make(map[string]int, len(catalogue))
	for i, m := range catalogue {
		idx[m.ID] = i
	}
	return idx
}()

// Lookup returns the message with the given ID. The ID is matched without
// regard to case; "SOX0203" (without the severity letter) also matches.
func Lookup(id string) (Message, bool) {
	id = strings.ToUpper(strings.TrimSpace(id))
	if i, ok := index[id]; ok {
		return catalogue[i], true
	}
	if len(id) == 7 {
		for _, m := range catalogue {
			if m.ID[:7] == id {
				return m, true
			}
		}
	}
	return Message{}, false
}

// Messages returns a copy of the catalogue, sorted by ID.
func Messages() []Message {
	out := append([]Message(nil), catalogue...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Format returns the message text with its ID in front, for example
// Format("SOX0002I", "127.0.0.1:1080") is
// "SOX0002I socksd ready, listening on 127.0.0.1:1080". An unknown ID gives
// an obviously wrong text that still carries the arguments; a test makes
// sure every ID used in the project exists.
func Format(id string, args ...any) string {
	i, ok := index[id]
	if !ok {
		return fmt.Sprintf("SOX9999E unknown message ID %q %v", id, args)
	}
	return id + " " + fmt.Sprintf(catalogue[i].Text, args...)
}
