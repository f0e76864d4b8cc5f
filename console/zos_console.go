//go:build zos

package console

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"
)

var _ OperatorConsole = (*ZOSConsole)(nil)

// maxWTO is the longest single console line.
const maxWTO = 126

// ZOSConsole is the z/OS operator console, over the __console2 service
// (golang.org/x/sys/unix.Console2). It delivers F jobname,APPL=text and
// P jobname to RunOperatorConsole and writes replies as console messages.
type ZOSConsole struct{}

// NewZOSConsole returns the console of the running job or started task.
func NewZOSConsole() *ZOSConsole { return &ZOSConsole{} }

// Next waits in __console2 for a MODIFY or STOP command. The wait cannot
// be interrupted; ctx is not consulted.
func (z *ZOSConsole) Next(ctx context.Context) (string, bool, error) {
	var modstr [128]byte
	var concmd uint32
	// No message: only wait for a MODIFY or STOP.
	if err := unix.Console2(nil, &modstr[0], &concmd); err != nil {
		return "", false, fmt.Errorf("console: __console2 wait: %w", err)
	}
	switch concmd {
	case unix.CC_stop:
		return "", true, nil
	case unix.CC_modify:
		return unix.ZosEbcdicBytesToString(modstr[:], true), false, nil
	}
	return "", false, fmt.Errorf("console: __console2 returned unknown command type %d", concmd)
}

// Reply writes each line as a console message, wrapping lines longer
// than a console line.
func (z *ZOSConsole) Reply(lines []string) error {
	for _, l := range lines {
		for first := true; first || l != ""; first = false {
			part := l
			if len(part) > maxWTO {
				part = part[:maxWTO]
			}
			l = l[len(part):]
			if l != "" {
				l = "  " + l // continuation
			}
			if err := wto(part); err != nil {
				return err
			}
		}
	}
	return nil
}

// wto writes one message to the console without waiting for a command.
// Routing code 2 is operator information, descriptor code 5 an immediate
// command response, each in the zero-terminated list that __console2 reads.
func wto(text string) error {
	routing := [2]uint32{2, 0}
	descr := [2]uint32{5, 0}
	msg := unix.ZosStringToEbcdicBytes(text, true)
	var concmd uint32
	cmsg := unix.ConsMsg2{
		Cm2Format:    unix.CONSOLE_FORMAT_2,
		Cm2Msglength: uint32(len(text)),
		Cm2Msg:       &msg[0],
		Cm2Routcde:   &routing[0],
		Cm2Descr:     &descr[0],
	}
	if err := unix.Console2(&cmsg, nil, &concmd); err != nil {
		return fmt.Errorf("console: __console2 write: %w", err)
	}
	return nil
}
