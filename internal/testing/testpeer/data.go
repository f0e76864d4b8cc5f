package testpeer

import "math/rand/v2"

// Data returns n bytes from a PRNG seeded with seed: the same file every
// time for the same arguments, so a transfer can be checked byte for byte.
func Data(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}
