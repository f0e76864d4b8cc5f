package testpeer

import (
	"bytes"
	"fmt"
	"os/exec"
	"time"
)

// RunBounded runs cmd with its standard output and error collected, kills
// it if it has not exited after limit, and returns the output.
func RunBounded(cmd *exec.Cmd, limit time.Duration) ([]byte, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testpeer: start %s: %w", cmd.Path, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.Bytes(), err
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		return out.Bytes(), fmt.Errorf("testpeer: %s did not exit within %v", cmd.Path, limit)
	}
}
