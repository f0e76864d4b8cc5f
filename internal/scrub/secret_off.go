//go:build !goexperiment.runtimesecret

package scrub

// Enabled reports whether Do erases what it allocates: false, since this
// binary was built without GOEXPERIMENT=runtimesecret.
const Enabled = false

// Do calls f. Built with GOEXPERIMENT=runtimesecret, it also erases the
// memory f used; in this build it cannot.
func Do(f func()) { f() }
