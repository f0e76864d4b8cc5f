package ftp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pkg/sftp"
)

func TestSFTPReply(t *testing.T) {
	status := func(code uint32) error { return &sftp.StatusError{Code: code} }
	pathErr := func(err error) error { return &os.PathError{Op: "open", Path: "/secret/root/x", Err: err} }
	tests := []struct {
		name     string
		err      error
		transfer bool
		code     int
	}{
		{"no such file status", status(fxNoSuchFile), false, 550},
		{"no such path status", status(fxNoSuchPath), false, 550},
		{"not exist", pathErr(os.ErrNotExist), false, 550},
		{"fx no such file", sftp.ErrSSHFxNoSuchFile, false, 550},
		{"permission status", status(fxPermission), false, 550},
		{"permission", pathErr(os.ErrPermission), true, 550},
		{"write protect", status(fxWriteProtect), false, 550},
		{"exists", status(fxAlreadyExists), false, 550},
		{"dir not empty", fmt.Errorf("ftp: rmdir: %w", status(fxDirNotEmpty)), false, 550},
		{"no space", status(fxNoSpace), true, 552},
		{"quota", pathErr(status(fxQuotaExceeded)), true, 552},
		{"ENOSPC", pathErr(syscall.ENOSPC), true, 552},
		{"bad name", status(fxInvalidFilename), false, 553},
		{"lock", status(fxLockConflict), false, 450},
		{"failure", status(fxFailure), true, 451},
		{"invalid handle", status(fxInvalidHandle), true, 451},
		{"unknown code", status(999), false, 451},
		{"other error", errors.New("something"), false, 451},
		{"nil", nil, false, 451},
		{"op unsupported status", status(fxOpUnsupported), false, 502},
		{"op unsupported", sftp.ErrSSHFxOpUnsupported, false, 502},
		{"bad message", status(fxBadMessage), false, 504},
		{"bad message fx", sftp.ErrSSHFxBadMessage, false, 504},
		{"invalid parameter", status(fxInvalidParam), false, 504},
		{"lost status transfer", status(fxConnectionLost), true, 426},
		{"lost status", status(fxConnectionLost), false, 421},
		{"no connection", status(fxNoConnection), false, 421},
		{"lost fx", fmt.Errorf("ftp: retrieve x: %w", sftp.ErrSSHFxConnectionLost), true, 426},
		{"lost fx control", sftp.ErrSSHFxConnectionLost, false, 421},
		{"EOF", io.EOF, true, 426},
		{"unexpected EOF", io.ErrUnexpectedEOF, false, 421},
		{"closed pipe", io.ErrClosedPipe, true, 426},
		{"net closed", fmt.Errorf("x: %w", net.ErrClosed), false, 421},
		{"net error", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true, 426},
		{"EPIPE", pathErr(syscall.EPIPE), true, 426},
		{"os closed", os.ErrClosed, false, 421},
	}
	for _, tt := range tests {
		code, text := sftpReply(tt.err, tt.transfer)
		if code != tt.code {
			t.Errorf("%s: sftpReply(%v, %v) = %d %q, want %d", tt.name, tt.err, tt.transfer, code, text, tt.code)
		}
		if text == "" || strings.ContainsAny(text, "\r\n") || strings.Contains(text, "secret") {
			t.Errorf("%s: text %q", tt.name, text)
		}
	}
}

// TestSFTPReplyServerText checks that the text is the server's message,
// through a real (in-process) SFTP server.
func TestSFTPReplyServerText(t *testing.T) {
	dir := t.TempDir()
	cls, kill := testSFTPClients(t, 1)
	cl := cls[0]
	if err := cl.Mkdir(filepath.Join(dir, "d")); err != nil {
		t.Fatal(err)
	}
	err := cl.Mkdir(filepath.Join(dir, "d"))
	var se *sftp.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("mkdir of an existing directory: %v (%T), want a StatusError", err, err)
	}
	code, text := sftpReply(err, false)
	// pkg/sftp's server sends the error text of mkdir(2).
	if code != 451 || !strings.Contains(text, "file exists") || strings.HasPrefix(text, "sftp:") {
		t.Errorf("sftpReply = %d %q, want 451 with the server's text", code, text)
	}
	_, err = cl.Stat(filepath.Join(dir, "missing"))
	if code, _ := sftpReply(err, false); code != 550 {
		t.Errorf("stat of a missing file: %v gives %d, want 550", err, code)
	}
	kill()
	_, err = cl.Stat(dir)
	if code, _ := sftpReply(err, true); code != 426 {
		t.Errorf("stat on a dead connection: %v gives %d, want 426", err, code)
	}
	if code, _ := sftpReply(err, false); code != 421 {
		t.Errorf("stat on a dead connection: %v gives %d, want 421", err, code)
	}
}

func TestStatusMessage(t *testing.T) {
	if m := statusMessage(&sftp.StatusError{Code: fxFailure}); m != "" {
		t.Errorf("no message: %q", m)
	}
	// A message with control characters is cleaned in the reply.
	dir := t.TempDir()
	cls, _ := testSFTPClients(t, 1)
	bad := filepath.Join(dir, "a\r\nb")
	if err := cls[0].Mkdir(bad); err != nil {
		t.Fatal(err)
	}
	_, text := sftpReply(cls[0].Mkdir(bad), false)
	if strings.ContainsAny(text, "\r\n") || len(text) > maxReplyText+3 {
		t.Errorf("text %q not cleaned", text)
	}
}

func TestDiskFull(t *testing.T) {
	tests := []struct {
		st   sftp.StatVFS
		want bool
	}{
		{sftp.StatVFS{Bsize: 4096, Frsize: 4096, Blocks: 100, Bfree: 10, Bavail: 10}, false},
		{sftp.StatVFS{Bsize: 4096, Frsize: 4096, Blocks: 100, Bfree: 10, Bavail: 0}, true},
		{sftp.StatVFS{Bsize: 4096, Frsize: 1024, Blocks: 100, Bfree: 3, Bavail: 3}, true},
		{sftp.StatVFS{Bsize: 4096, Frsize: 1024, Blocks: 100, Bfree: 4, Bavail: 4}, false},
		{sftp.StatVFS{Bsize: 4096, Frsize: 0, Blocks: 100, Bfree: 4, Bavail: 4}, false},
	}
	for _, tt := range tests {
		cl := testStatVFSClient(t, tt.st)
		if got := diskFull(cl, "/"); got != tt.want {
			t.Errorf("diskFull(%+v) = %v, want %v", tt.st, got, tt.want)
		}
	}
	// A real file system with room, and a dead connection: not full.
	cls, kill := testSFTPClients(t, 1)
	if diskFull(cls[0], t.TempDir()) {
		t.Error("diskFull of a temporary directory")
	}
	kill()
	if diskFull(cls[0], "/") || diskFull(nil, "/") {
		t.Error("diskFull without a connection")
	}
}
