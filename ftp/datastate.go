package ftp

// dataState is where one data connection is in its life. It only moves
// forward, along the transitions canMove allows:
//
//	waiting ──▶ bound ──▶ open ──▶ done
//	   │          │                 ▲
//	   └──────────┴─────────────────┘
type dataState uint8

const (
	// dataWaiting: prepared by the session, not yet paired with a job
	// connection. Passive: waiting for the job to connect (through SOCKS
	// or to the rewrite listener). Active with BIND: waiting for the
	// PORT/EPRT that names the BIND's address.
	dataWaiting dataState = iota
	// dataBound: paired with exactly one job connection; the tunnel
	// channel is being opened or is open, and no byte has moved yet.
	dataBound
	// dataOpen: the relay between the job and the tunnel channel runs.
	dataOpen
	// dataDone: ended; the outcome (nil, or why it failed or was not
	// used) is final.
	dataDone
)

// String names the state, for logs and errors.
func (s dataState) String() string {
	switch s {
	case dataWaiting:
		return "waiting"
	case dataBound:
		return "bound"
	case dataOpen:
		return "open"
	case dataDone:
		return "done"
	}
	return "invalid"
}

// canMove reports whether a data connection may go from one state to the
// other: only forward, never back, never twice into the same state, and
// open only from bound.
func canMove(from, to dataState) bool {
	switch from {
	case dataWaiting:
		return to == dataBound || to == dataDone
	case dataBound:
		return to == dataOpen || to == dataDone
	case dataOpen:
		return to == dataDone
	}
	return false
}
