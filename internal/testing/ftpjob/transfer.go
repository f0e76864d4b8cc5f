package ftpjob

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// DataConn prepares the data connection for the next transfer command: in
// active mode a SOCKS BIND and PORT with the bound address, in passive mode
// PASV and a SOCKS CONNECT to the 227 address. The function it returns
// yields the connected stream once the transfer command has been sent.
func (j *Job) DataConn(ctx context.Context, active bool) (func() (net.Conn, error), error) {
	return j.dataConn(ctx, active)
}

// Transfer runs one transfer command (RETR, STOR, APPE, STOU, LIST, NLST,
// MLSD...) on a new data connection. With send set it writes send's bytes
// and closes the connection; otherwise it reads the connection to its
// end. It returns what it read and the final reply. The error is set when
// the data connection or the dialogue broke; a final reply that came all
// the same is still returned with it. A refusal of the command is a reply,
// not an error.
func (j *Job) Transfer(ctx context.Context, cmd string, active bool, send io.Reader) (got []byte, code int, text string, err error) {
	getc, err := j.dataConn(ctx, active)
	if err != nil {
		return nil, 0, "", err
	}
	code, text, err = j.Cmd(cmd)
	if err != nil {
		return nil, code, text, err
	}
	if code/100 != 1 {
		return nil, code, text, nil
	}
	dc, err := getc()
	if err != nil {
		return nil, 0, "", err
	}
	_ = dc.SetDeadline(time.Now().Add(2 * time.Minute))
	if send != nil {
		_, err = io.Copy(dc, send)
	} else {
		got, err = io.ReadAll(dc)
	}
	dc.Close()
	dataErr := err
	code, text, err = j.Reply()
	if dataErr != nil {
		return got, code, text, fmt.Errorf("ftpjob: %s data: %w", strings.Fields(cmd + " x")[0], dataErr)
	}
	return got, code, text, err
}
