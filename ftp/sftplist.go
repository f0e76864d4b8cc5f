package ftp

import (
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/sftp"
)

// Listing lines of an ftp-sftp session, built from the attributes an SFTP
// server sends (os.FileInfo from pkg/sftp). SFTP version 3 carries user
// and group ids but no names and no link count: the lines show the ids as
// owner and group, as many servers do, and a link count of 1. Times are in
// UTC, as vsftpd shows them by default and as MLSD requires.
//
// A file name holding CR, LF or NUL would break a listing line (or end
// it early), so each such byte is shown as '?', as ls -q does. The name is
// then not the real one; nothing else is changed.

// listLine is the LIST line of fi in ls -l form, e.g.
//
//	-rw-r--r--    1 1000     1000         1234 Mar  5 14:03 name
//
// The time shows hour and minute for a time within the six months before
// now, and the year (Mar  5  2023) for an older or a future time.
func listLine(fi os.FileInfo, now time.Time) string {
	uid, gid := fileIDs(fi)
	mtime := fi.ModTime().UTC()
	when := mtime.Format("Jan _2 15:04")
	if mtime.After(now) || mtime.Before(now.AddDate(0, -6, 0)) {
		when = mtime.Format("Jan _2  2006")
	}
	return fmt.Sprintf("%s %4d %-8s %-8s %8d %s %s", modeString(fi.Mode()), 1, uid, gid, fi.Size(), when, listName(fi.Name()))
}

// nlstLine is the NLST line of fi: its name alone (CR, LF and NUL as '?').
func nlstLine(fi os.FileInfo) string { return listName(fi.Name()) }

// mlsxLine is the MLSD/MLST line of fi under name (RFC 3659 7): facts
// type, size (not for directories), modify (UTC), perm (from the mode bits
// as the owner sees them), UNIX.mode, UNIX.owner and UNIX.group, then a
// space and the name, e.g.
//
//	type=file;size=1234;modify=20230305140300;perm=adfrw;UNIX.mode=0644;UNIX.owner=1000;UNIX.group=1000; name
func mlsxLine(fi os.FileInfo, name string) string {
	m := fi.Mode()
	var b strings.Builder
	b.WriteString("type=")
	b.WriteString(mlsxType(m))
	if !m.IsDir() {
		b.WriteString(";size=")
		b.WriteString(strconv.FormatInt(fi.Size(), 10))
	}
	b.WriteString(";modify=")
	b.WriteString(fi.ModTime().UTC().Format("20060102150405"))
	b.WriteString(";perm=")
	b.WriteString(mlsxPerm(m))
	fmt.Fprintf(&b, ";UNIX.mode=%04o", unixMode(m))
	uid, gid := fileIDs(fi)
	b.WriteString(";UNIX.owner=")
	b.WriteString(uid)
	b.WriteString(";UNIX.group=")
	b.WriteString(gid)
	b.WriteString("; ")
	b.WriteString(listName(name))
	return b.String()
}

// listName shows CR, LF and NUL in a name as '?'.
func listName(name string) string {
	if !strings.ContainsAny(name, "\r\n\x00") {
		return name
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return '?'
		}
		return r
	}, name)
}

// fileIDs are the owner and group ids of fi as decimal strings, "0" when
// the server sent none.
func fileIDs(fi os.FileInfo) (uid, gid string) {
	if st, ok := fi.Sys().(*sftp.FileStat); ok && st != nil {
		return strconv.FormatUint(uint64(st.UID), 10), strconv.FormatUint(uint64(st.GID), 10)
	}
	return "0", "0"
}

// modeString is m in ls -l form: a type letter and nine permission
// letters, with s/S for setuid and setgid and t/T for the sticky bit.
func modeString(m fs.FileMode) string {
	var b [10]byte
	switch {
	case m.IsDir():
		b[0] = 'd'
	case m&fs.ModeSymlink != 0:
		b[0] = 'l'
	case m&fs.ModeNamedPipe != 0:
		b[0] = 'p'
	case m&fs.ModeSocket != 0:
		b[0] = 's'
	case m&fs.ModeCharDevice != 0:
		b[0] = 'c'
	case m&fs.ModeDevice != 0:
		b[0] = 'b'
	default:
		b[0] = '-'
	}
	const rwx = "rwxrwxrwx"
	for i := range 9 {
		if m&(1<<(8-i)) != 0 {
			b[1+i] = rwx[i]
		} else {
			b[1+i] = '-'
		}
	}
	special := func(i int, set bool, lower, upper byte) {
		if !set {
			return
		}
		if b[i] == 'x' {
			b[i] = lower
		} else {
			b[i] = upper
		}
	}
	special(3, m&fs.ModeSetuid != 0, 's', 'S')
	special(6, m&fs.ModeSetgid != 0, 's', 'S')
	special(9, m&fs.ModeSticky != 0, 't', 'T')
	return string(b[:])
}

// unixMode is the permission bits of m as a Unix mode (with 04000 setuid,
// 02000 setgid, 01000 sticky).
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// mlsxType is the RFC 3659 type fact of m.
func mlsxType(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "dir"
	case m.IsRegular():
		return "file"
	case m&fs.ModeSymlink != 0:
		return "OS.unix=symlink"
	case m&fs.ModeNamedPipe != 0:
		return "OS.unix=fifo"
	case m&fs.ModeSocket != 0:
		return "OS.unix=socket"
	case m&fs.ModeCharDevice != 0:
		return "OS.unix=chr"
	case m&fs.ModeDevice != 0:
		return "OS.unix=blk"
	}
	return "OS.unix=other"
}

// mlsxPerm is the RFC 3659 perm fact (7.5.5) of m from the owner's bits:
// for a file r gives "r" and w gives "adfw"; for a directory r gives "l",
// w gives "cdfmp" and x gives "e". Whether the parent directory allows
// delete and rename is not known here; the owner's w stands for it.
func mlsxPerm(m fs.FileMode) string {
	r, w, x := m&0o400 != 0, m&0o200 != 0, m&0o100 != 0
	var b []byte
	add := func(on bool, s string) {
		if on {
			b = append(b, s...)
		}
	}
	if m.IsDir() {
		add(w, "cdf")
		add(x, "e")
		add(r, "l")
		add(w, "mp")
	} else {
		add(w, "adf")
		add(r, "r")
		add(w, "w")
	}
	return string(b)
}
