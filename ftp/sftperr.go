package ftp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/pkg/sftp"

	"socksd/msg"
)

// SFTP status codes beyond the seven of SFTP version 3 that pkg/sftp
// names (draft-ietf-secsh-filexfer-13 9.1). Some servers send them.
const (
	fxNoSuchFile      = 2
	fxPermission      = 3
	fxFailure         = 4
	fxBadMessage      = 5
	fxNoConnection    = 6
	fxConnectionLost  = 7
	fxOpUnsupported   = 8
	fxInvalidHandle   = 9
	fxNoSuchPath      = 10
	fxAlreadyExists   = 11
	fxWriteProtect    = 12
	fxNoMedia         = 13
	fxNoSpace         = 14
	fxQuotaExceeded   = 15
	fxUnknownPrinc    = 16
	fxLockConflict    = 17
	fxDirNotEmpty     = 18
	fxNotADirectory   = 19
	fxInvalidFilename = 20
	fxLinkLoop        = 21
	fxCannotDelete    = 22
	fxInvalidParam    = 23
	fxIsADirectory    = 24
	fxRangeConflict   = 25
	fxRangeRefused    = 26
	fxDeletePending   = 27
)

// maxReplyText bounds the server's text in a reply.
const maxReplyText = 200

// sftpReply maps an error of an SFTP operation to an FTP reply code and
// text. transfer says whether a data transfer was under way (a lost
// connection is then 426, else 421):
//
//	no such file, permission denied, exists, not a directory …  550
//	no space on the file system, quota exceeded                  552
//	bad file name                                                553
//	lock conflict, delete pending                                450
//	operation unsupported                                        502
//	bad message, invalid parameter                               504
//	connection lost or closed (EOF, net errors, closed pipes)    426 / 421
//	failure and anything else                                    451
//
// text is the server's message (cleaned with msg.Clean) where the server
// sent one, else a fixed text for the code. It never holds err.Error(),
// which may name server paths outside the job's root.
func sftpReply(err error, transfer bool) (code int, text string) {
	lost := func() (int, string) {
		if transfer {
			return 426, "Connection to the SFTP server lost; transfer aborted."
		}
		return 421, "Connection to the SFTP server lost; closing control connection."
	}
	if err == nil {
		return 451, "Requested action aborted: local error in processing."
	}
	if errors.Is(err, errNoSpace) {
		return 552, "Requested file action aborted: no space left on the server."
	}
	var se *sftp.StatusError
	if errors.As(err, &se) {
		code, text := statusReply(se.Code)
		if code == 0 {
			return lost()
		}
		if m := statusMessage(se); m != "" {
			text = msg.Clean(m, maxReplyText)
		}
		return code, text
	}
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return 552, "Requested file action aborted: no space left on the server."
	case errors.Is(err, sftp.ErrSSHFxConnectionLost), errors.Is(err, sftp.ErrSSHFxNoConnection),
		connectionLost(err):
		return lost()
	case errors.Is(err, os.ErrNotExist), errors.Is(err, sftp.ErrSSHFxNoSuchFile):
		return 550, "No such file or directory."
	case errors.Is(err, os.ErrPermission), errors.Is(err, sftp.ErrSSHFxPermissionDenied):
		return 550, "Permission denied."
	case errors.Is(err, os.ErrExist):
		return 550, "File exists."
	case errors.Is(err, sftp.ErrSSHFxOpUnsupported):
		return 502, "Operation not supported by the SFTP server."
	case errors.Is(err, sftp.ErrSSHFxBadMessage):
		return 504, "The SFTP server did not understand the request."
	}
	return 451, "Requested action aborted: local error in processing."
}

// statusReply is the reply of an SFTP status code, 0 for a lost
// connection.
func statusReply(c uint32) (int, string) {
	switch c {
	case fxNoSuchFile, fxNoSuchPath:
		return 550, "No such file or directory."
	case fxPermission, fxWriteProtect, fxCannotDelete:
		return 550, "Permission denied."
	case fxAlreadyExists:
		return 550, "File exists."
	case fxDirNotEmpty:
		return 550, "Directory not empty."
	case fxNotADirectory:
		return 550, "Not a directory."
	case fxIsADirectory:
		return 550, "Is a directory."
	case fxLinkLoop:
		return 550, "Too many levels of symbolic links."
	case fxUnknownPrinc:
		return 550, "Unknown owner or group."
	case fxNoSpace, fxQuotaExceeded:
		return 552, "Requested file action aborted: no space left on the server."
	case fxInvalidFilename:
		return 553, "File name not allowed."
	case fxLockConflict, fxRangeConflict, fxRangeRefused, fxDeletePending:
		return 450, "File busy."
	case fxOpUnsupported:
		return 502, "Operation not supported by the SFTP server."
	case fxBadMessage, fxInvalidParam:
		return 504, "The SFTP server did not understand the request."
	case fxNoConnection, fxConnectionLost:
		return 0, ""
	case fxNoMedia:
		return 450, "No media."
	}
	// fxFailure, fxInvalidHandle, EOF and codes unknown.
	return 451, "Requested action aborted: the SFTP server reported a failure."
}

// statusMessage is the text the server sent with a status, which pkg/sftp
// keeps only in Error(): `sftp: "text" (SSH_FX_...)`.
func statusMessage(se *sftp.StatusError) string {
	s, ok := strings.CutPrefix(se.Error(), "sftp: ")
	if !ok {
		return ""
	}
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return ""
	}
	m, err := strconv.Unquote(q)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(m)
}

// connectionLost reports whether err means that the SFTP channel or the
// SSH connection under it is gone.
func connectionLost(err error) bool {
	var oe *net.OpError
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.ErrClosedPipe) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, os.ErrClosed) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &oe)
}

// errNoSpace marks a write that failed on a full file system (see
// markNoSpace); sftpReply answers it with 552.
var errNoSpace = errors.New("ftp: no space left on the server")

// markNoSpace returns err marked with errNoSpace when it is the server's
// bare failure status and the file system of dir is full. It must run
// before a failed upload's temporary file is removed, which frees the
// space again.
func markNoSpace(cl *sftp.Client, dir string, err error) error {
	var se *sftp.StatusError
	if err == nil || !errors.As(err, &se) || se.Code != fxFailure || !diskFull(cl, dir) {
		return err
	}
	return fmt.Errorf("%w: %w", errNoSpace, err)
}

// diskFull reports whether the file system of dir on the server has no
// block left for the user: OpenSSH's sftp-server answers a write that
// failed with ENOSPC with a bare SSH_FX_FAILURE "Failure", so after a
// failed write the session asks (statvfs@openssh.com) and answers 552
// when this is true. A server without the extension gives false.
func diskFull(cl *sftp.Client, dir string) bool {
	if cl == nil {
		return false
	}
	if _, ok := cl.HasExtension("statvfs@openssh.com"); !ok {
		return false
	}
	st, err := cl.StatVFS(dir)
	if err != nil {
		return false
	}
	bsize := st.Frsize
	if bsize == 0 {
		bsize = st.Bsize
	}
	return st.Bavail == 0 || (st.Bsize > 0 && st.Bavail*bsize < st.Bsize)
}
