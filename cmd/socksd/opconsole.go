//go:build !zos

package main

import (
	"context"
	"sync"

	"socksd/console"
)

// startOperatorConsole starts the system operator console transport. Only
// z/OS has one (MODIFY and STOP); elsewhere operators use the control
// socket, stdin and signals.
func startOperatorConsole(context.Context, *console.Console, *sync.WaitGroup) {}
