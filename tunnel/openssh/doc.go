// Package openssh drives the system's OpenSSH client as a second SSH engine
// for socksd: one `ssh -M -N` ControlMaster per identity (master.go), started
// with a generated ssh_config (config.go) and a password that goes in once
// through an askpass helper (askpass.go). Client sockets are handed to the
// master over its control socket with MUX_C_NEW_STDIO_FWD and SCM_RIGHTS
// (mux.go, forward.go), so that bulk bytes never pass through socksd; their
// counts come from the kernel's TCP_INFO (tcpinfo.go). Streams that socksd
// must read itself (an FTP control connection, SFTP) use the mux protocol's
// proxy mode through golang.org/x/crypto/ssh (Master.Client).
//
// It needs OpenSSH 8.4 or later (SSH_ASKPASS_REQUIRE=force) and Linux
// (SO_PEERCRED, TCP_INFO, Pdeathsig). It imports nothing of socksd; the
// tunnel package maps its errors and options onto its own.
//
// Where OpenSSH's PROTOCOL.mux and mux.c differ, this package follows
// mux.c: MUX_C_NEW_STDIO_FWD carries the port as a u32 (the text says
// string); the master's hello may carry extensions (OpenSSH 10.3 and later
// send "info"; they are skipped); a stdio forward
// gets no MUX_S_EXIT_MESSAGE, the master closes the control connection when
// the channel closes; each descriptor goes in its own sendmsg with one data
// byte; a refused channel is reported as MUX_S_FAILURE "Session open refused
// by peer" without the server's reason code; MUX_C_PROXY (0x1000000f) is
// not in the text's number list.
package openssh
