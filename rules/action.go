package rules

import "fmt"

// Action is what socksd does with a matching request.
type Action int

// The actions a rule can take.
const (
	Block     Action = iota // refuse with "not allowed"
	Direct                  // connect straight to the destination
	Tunnel                  // carry the connection through an SSH tunnel
	FTPTunnel               // FTP-aware tunnel: login capture, data brokering, policy
	FTPSFTP                 // socksd serves the job's FTP from the partner's SFTP server
)

var actionNames = [...]string{"block", "direct", "tunnel", "ftp-tunnel", "ftp-sftp"}

// String returns the configuration name of the action.
func (a Action) String() string {
	if a >= 0 && int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// ParseAction parses a configuration action name.
func ParseAction(s string) (Action, error) {
	a, err := parseAction(s)
	if err != nil {
		return 0, fmt.Errorf("rules: %w", err)
	}
	return a, nil
}

func parseAction(s string) (Action, error) {
	for i, n := range actionNames {
		if s == n {
			return Action(i), nil
		}
	}
	if s == "" {
		return 0, fmt.Errorf("every rule needs an action (block, direct, tunnel, ftp-tunnel or ftp-sftp)")
	}
	return 0, fmt.Errorf("unknown action %q (want block, direct, tunnel, ftp-tunnel or ftp-sftp)", s)
}

// UsesTunnel reports whether the action needs an SSH profile.
func (a Action) UsesTunnel() bool { return a == Tunnel || a == FTPTunnel || a == FTPSFTP }

// IsFTP reports whether the action runs an FTP session in socksd.
func (a Action) IsFTP() bool { return a == FTPTunnel || a == FTPSFTP }
