// Package ebcdic handles the code pages of FTP control connections: ASCII
// and the EBCDIC code pages IBM-1047 and IBM-037 spoken by z/OS jobs and
// servers.
//
// It converts text ([Encode], [Decode], [Translate]), guesses the code page
// of a control line ([Detect]) and frames control lines ([LineReader]) with
// any of the line ends seen on such connections: CRLF, X'0D25' (EBCDIC CR
// LF), X'15' (EBCDIC NL) and a bare LF. For whole text files (the
// configuration, JCL members) it guesses the code page ([DetectText]) and
// splits lines or 80-byte records ([TextLines]). The tables come from
// golang.org/x/text/encoding/charmap.
package ebcdic
