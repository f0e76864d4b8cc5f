// Package ftp is the FTP-aware session of socksd: it stands in for the FTP
// server towards a batch job, captures the job's USER and PASS to open an SSH
// tunnel, logs in to the real server through that tunnel, and relays the
// control connection line by line while it carries the data connections
// through the same SSH connection.
//
// The parsers (ParseCommand, ParseReply and ReplyReader, ParsePORT,
// ParseEPRT, Parse227, Parse229 and their Format counterparts) follow RFC 959
// and RFC 2428 and accept the z/OS forms: quoted data set names
// ('HLQ.DATA(MEMBER)'), SITE parameters, TYPE A/E/I/L, STRU and MODE.
package ftp
