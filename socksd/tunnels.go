package socksd

import (
	"fmt"

	"socksd/console"
)

// Tunnels lists the open SSH connections.
func (d *Daemon) Tunnels() []console.TunnelInfo { return nil }

// DropTunnel closes an SSH connection and the sessions it carries.
func (d *Daemon) DropTunnel(id string) error {
	return fmt.Errorf("socksd: no SSH connection %s", id)
}
