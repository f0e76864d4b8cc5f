//go:build linux

package capture

import (
	"fmt"
	"os/user"
	"strconv"
	"syscall"
)

// Credential returns the user the command runs as: name (a user name or a
// numeric uid) when set, else the user that sudo names in SUDO_UID and
// SUDO_GID (getenv reads the environment), with that user's
// supplementary groups. It returns nil when neither is set: the command
// then keeps capture's own user.
func Credential(name string, getenv func(string) string) (*syscall.Credential, error) {
	var u *user.User
	var err error
	switch {
	case name != "":
		if u, err = user.Lookup(name); err != nil {
			if _, nerr := strconv.Atoi(name); nerr != nil {
				return nil, fmt.Errorf("capture: user %s: %w", name, err)
			}
			if u, err = user.LookupId(name); err != nil {
				return nil, fmt.Errorf("capture: user %s: %w", name, err)
			}
		}
	case getenv("SUDO_UID") != "":
		uid, err := strconv.ParseUint(getenv("SUDO_UID"), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("capture: SUDO_UID %q is not a uid", getenv("SUDO_UID"))
		}
		cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}
		if g := getenv("SUDO_GID"); g != "" {
			gid, err := strconv.ParseUint(g, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("capture: SUDO_GID %q is not a gid", g)
			}
			cred.Gid = uint32(gid)
		}
		if u, err := user.LookupId(strconv.FormatUint(uid, 10)); err == nil {
			cred.Groups = groups(u)
		}
		return cred, nil
	default:
		return nil, nil
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("capture: user %s has uid %q", name, u.Uid)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("capture: user %s has gid %q", name, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups(u)}, nil
}

// groups returns u's supplementary group ids (none when they cannot be
// read).
func groups(u *user.User) []uint32 {
	ids, err := u.GroupIds()
	if err != nil {
		return nil
	}
	var out []uint32
	for _, id := range ids {
		if g, err := strconv.ParseUint(id, 10, 32); err == nil {
			out = append(out, uint32(g))
		}
	}
	return out
}
