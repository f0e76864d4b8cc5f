//go:build !linux

package capture

import (
	"syscall"
)

// Run fails with ErrUnsupported.
func Run(Options) (int, error) { return 0, ErrUnsupported }

// Credential fails with ErrUnsupported.
func Credential(string, func(string) string) (*syscall.Credential, error) {
	return nil, ErrUnsupported
}
