// Package console is the operator interface of socksd: the command
// language (DISPLAY, RELOAD, TRACE, CANCEL, QUIESCE, STOP, ...), the
// dispatcher that runs a command against a [Target], the catalogue of
// operator messages (SOXnnnnS), and the transports that carry commands
// to the dispatcher: a Unix control socket, standard input, signals and,
// on z/OS, the MODIFY and STOP operator commands.
//
// The same command text is accepted everywhere: `socksd cmd 'D SESSIONS'`
// on the control socket, a line on stdin, and `F SOCKSD,APPL=D SESSIONS`
// on a z/OS console.
package console
