//go:build zos

package main

import (
	"context"
	"sync"

	"socksd/console"
)

// startOperatorConsole serves MODIFY (F SOCKSD,APPL=...) and STOP
// (P SOCKSD) from the z/OS operator console.
func startOperatorConsole(ctx context.Context, c *console.Console, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.RunOperatorConsole(ctx, console.NewZOSConsole())
	}()
}
