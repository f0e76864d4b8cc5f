// Package scrub keeps secrets (the passwords a job sends) from outliving
// the login that needs them.
//
// Code that handles a password wipes its own byte slices with clear. What
// it cannot reach are the copies made inside libraries: the SSH library
// marshals the password into a packet, encrypts it from a buffer of its
// own and drops both for the garbage collector, and Go does not zero freed
// memory. Do runs such code under runtime/secret, which has the runtime
// erase every allocation made there once it is garbage, and its stack
// before Do returns; Release then asks for the garbage collection that
// finds that garbage, so the erasure happens at once rather than at the
// next natural cycle.
//
// runtime/secret is a Go experiment: it is compiled in only when building
// with GOEXPERIMENT=runtimesecret (the Makefile sets it), and it works on
// linux/amd64 and linux/arm64. Elsewhere Do just calls f, Release does
// nothing, and Enabled is false.
package scrub

import "runtime"

// Release runs a garbage collection when Enabled, so that the runtime
// erases the allocations Do made which are now garbage. Call it once the
// secret is no longer needed (after the login), from a goroutine that may
// wait: it blocks until the collection ends. Concurrent calls share a
// collection where they can.
func Release() {
	if Enabled {
		runtime.GC()
	}
}
