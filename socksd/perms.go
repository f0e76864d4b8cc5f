package socksd

import (
	"io/fs"
	"os"
	"sort"

	"socksd/config"
	"socksd/msg"
)

// secretFiles lists the files of cfg that hold secrets: every profile's
// identity files and passphrase file, and the configuration file itself
// (configPath, "" for the embedded default) when it names a passphrase
// file or carries a password in a via URL. Each file appears once.
func secretFiles(cfg *config.Config, configPath string) []string {
	seen := map[string]bool{}
	configSecret := false
	for _, p := range cfg.Profiles {
		if p == nil {
			continue
		}
		for _, f := range p.IdentityFiles {
			seen[f] = true
		}
		if p.PassphraseFile != "" {
			seen[p.PassphraseFile] = true
			configSecret = true
		}
		if p.Via.HasPassword() {
			configSecret = true
		}
	}
	if configSecret && configPath != "" {
		seen[configPath] = true
	}
	out := make([]string, 0, len(seen))
	for f := range seen {
		if f != "" {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

// exposed reports whether group or other users may read the file at path.
// A file that does not exist (an optional default key) is not exposed.
func exposed(path string) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	return fi.Mode().Perm()&(fs.FileMode(0o044)) != 0
}

// checkSecretPerms logs SOX0012W for each secret file of cfg that users
// other than the owner can read, and returns those files.
func (d *Daemon) checkSecretPerms(cfg *config.Config, configPath string) []string {
	var bad []string
	for _, f := range secretFiles(cfg, configPath) {
		if exposed(f) {
			bad = append(bad, f)
			msg.Log(&d.log, "SOX0012W", f).Str("file", f).Send()
		}
	}
	return bad
}
