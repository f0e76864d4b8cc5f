//go:build goexperiment.runtimesecret

package scrub

import (
	"runtime"
	"runtime/secret"
)

// Enabled reports whether Do erases what it allocates: the binary was
// built with GOEXPERIMENT=runtimesecret for a platform runtime/secret
// supports.
const Enabled = runtime.GOOS == "linux" && (runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64")

// Do calls f under runtime/secret: registers and stack used by f are
// erased before Do returns, and memory f allocates is erased when it
// becomes garbage (see Release). Goroutines f starts are not covered.
func Do(f func()) { secret.Do(f) }
