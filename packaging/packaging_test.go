// Package packaging holds the Linux packages' sources (nfpm.yaml, the
// conffile, the maintainer scripts) and their tests: the conffile against
// the embedded default, the scripts against shellcheck, and `make package`
// installed with dpkg on this machine and removed again.
package packaging

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/BurntSushi/toml"

	"socksd/config"
	"socksd/internal/scrub"
	"socksd/internal/testing/testpeer"
)

// The system paths of the packaged configuration.
const (
	conffile      = "/etc/socksd/socksd.toml"
	knownHosts    = "/etc/socksd/known_hosts"
	keysDir       = "/etc/socksd/keys/"
	consoleSocket = "/run/socksd/console.sock"
)

// TestConffileIsTheDefaultWithSystemPaths: socksd.toml is the embedded
// default, key for key, except that known_hosts, the identity files and
// the console socket are system paths; and it compiles.
func TestConffileIsTheDefaultWithSystemPaths(t *testing.T) {
	var def, pkg map[string]any
	if _, err := toml.Decode(string(config.DefaultText()), &def); err != nil {
		t.Fatalf("default: %v", err)
	}
	pkgText, err := os.ReadFile("socksd.toml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := toml.Decode(string(pkgText), &pkg); err != nil {
		t.Fatalf("socksd.toml: %v", err)
	}
	// The default with system paths: what socksd.toml must be.
	want := def
	ssh := want["ssh"].(map[string]any)
	ssh["known_hosts"] = []any{knownHosts}
	for name, p := range want["profiles"].(map[string]any) {
		prof := p.(map[string]any)
		files, _ := prof["identity_files"].([]any)
		for i, f := range files {
			s := f.(string)
			if !strings.HasPrefix(s, "~/.ssh/") {
				t.Fatalf("default profile %s: identity file %q not under ~/.ssh/: map it here", name, s)
			}
			files[i] = keysDir + strings.TrimPrefix(s, "~/.ssh/")
		}
	}
	want["console"].(map[string]any)["socket"] = consoleSocket
	diffTOML("", pkg, want, func(key string, got, want any) {
		t.Errorf("socksd.toml%s = %v, want %v (the embedded default with system paths)", key, got, want)
	})
	// No path of a user: nothing with ~ or /home or /root.
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case []map[string]any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case string:
			if strings.HasPrefix(v, "~") || strings.HasPrefix(v, "/home/") || strings.HasPrefix(v, "/root") {
				t.Errorf("socksd.toml%s = %q: a user's path", path, v)
			}
		}
	}
	walk("", pkg)

	cfg, err := config.Load("socksd.toml")
	if err != nil {
		t.Fatalf("socksd.toml does not compile: %v", err)
	}
	if !slices.Equal(cfg.SSH.KnownHosts, []string{knownHosts}) || cfg.Console.Socket != consoleSocket {
		t.Errorf("compiled: known_hosts %q, console socket %q", cfg.SSH.KnownHosts, cfg.Console.Socket)
	}
}

// diffTOML calls report for each key where got and want (decoded TOML)
// differ: a missing key is reported as <nil>.
func diffTOML(path string, got, want any, report func(key string, got, want any)) {
	gm, gok := got.(map[string]any)
	wm, wok := want.(map[string]any)
	if gok && wok {
		keys := slices.Sorted(maps.Keys(gm))
		for k := range wm {
			if _, ok := gm[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			diffTOML(path+"."+k, gm[k], wm[k], report)
		}
		return
	}
	ga, gok := got.([]map[string]any)
	wa, wok := want.([]map[string]any)
	if gok && wok && len(ga) == len(wa) {
		for i := range ga {
			diffTOML(fmt.Sprintf("%s[%d]", path, i), ga[i], wa[i], report)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		report(path, got, want)
	}
}

// TestPkgVersion: pkgversion.sh turns `git describe` output into versions
// that dpkg orders as releases are ordered.
func TestPkgVersion(t *testing.T) {
	tests := []struct{ in, want string }{
		{"v1.2.3", "1.2.3"},
		{"v1.2.3-dirty", "1.2.3+dirty"},
		{"v1.2.3-4-gabc1234", "1.2.3+4.gabc1234"},
		{"v1.2.3-4-gabc1234-dirty", "1.2.3+4.gabc1234.dirty"},
		{"abc1234", "0.0.0~git20260102030405.abc1234"},
		{"abc1234-dirty", "0.0.0~git20260102030405.abc1234.dirty"},
		{"dev", "0.0.0~git20260102030405.dev"},
	}
	for _, tt := range tests {
		cmd := exec.Command("./pkgversion.sh", tt.in)
		cmd.Env = append(os.Environ(), "SOCKSD_PKG_DATE=20260102030405")
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("pkgversion.sh %s: %v", tt.in, err)
			continue
		}
		if got := strings.TrimSpace(string(out)); got != tt.want {
			t.Errorf("pkgversion.sh %s = %q, want %q", tt.in, got, tt.want)
		}
	}
	if out, err := exec.Command("./pkgversion.sh").CombinedOutput(); err == nil {
		t.Errorf("pkgversion.sh without VERSION succeeded: %s", out)
	}

	dpkg := testpeer.RequireTool(t, "dpkg")
	// Each lower than the next.
	order := []string{
		"0.0.0~git20260102030405.abc1234",
		"0.0.0~git20260102030405.abc1234.dirty",
		"0.0.0~git20260203000000.0aaaaaa",
		"1.2.3",
		"1.2.3+4.gabc1234",
		"1.2.3+4.gabc1234.dirty",
		"1.2.3+5.g0000000",
		"1.2.4",
	}
	for i := 1; i < len(order); i++ {
		if err := exec.Command(dpkg, "--compare-versions", order[i-1], "lt", order[i]).Run(); err != nil {
			t.Errorf("dpkg: %s is not lower than %s", order[i-1], order[i])
		}
	}
}

// TestMaintainerScriptsShellcheck: the scripts are POSIX sh that
// shellcheck passes.
func TestMaintainerScriptsShellcheck(t *testing.T) {
	sc := testpeer.RequireTool(t, "shellcheck")
	scripts := []string{"postinst", "prerm", "postrm", "pkgversion.sh"}
	for _, s := range scripts {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("#!/bin/sh\n")) {
			t.Errorf("%s does not start with #!/bin/sh", s)
		}
	}
	if out, err := exec.Command(sc, append([]string{"--shell=sh"}, scripts...)...).CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

// What the package installs or its scripts make, with mode and owner.
var installed = []struct {
	path         string
	mode         fs.FileMode
	owner, group string
}{
	{"/usr/bin/socksd", 0o755, "root", "root"},
	{"/etc/socksd", fs.ModeDir | 0o755, "root", "root"},
	{conffile, 0o644, "root", "root"},
	{"/lib/systemd/system/socksd.service", 0o644, "root", "root"},
	{"/etc/logrotate.d/socksd", 0o644, "root", "root"},
	{"/etc/socksd/keys", fs.ModeDir | 0o700, "socksd", "socksd"},
	{"/var/lib/socksd", fs.ModeDir | 0o750, "socksd", "socksd"},
	{"/var/log/socksd", fs.ModeDir | 0o750, "socksd", "socksd"},
}

// TestPackageInstall builds the packages with `make package`, lists the
// .rpm, and installs, upgrades, removes and purges the .deb on this
// machine. It refuses to run where socksd is installed already (or its
// paths exist), and purges what it installed, also on failure.
func TestPackageInstall(t *testing.T) {
	if os.Geteuid() != 0 {
		testpeer.Missing(t, "packaging: installing a package needs root")
	}
	dpkg := testpeer.RequireTool(t, "dpkg")
	dpkgDeb := testpeer.RequireTool(t, "dpkg-deb")
	dpkgQuery := testpeer.RequireTool(t, "dpkg-query")
	rpm := testpeer.RequireTool(t, "rpm")
	mk := testpeer.RequireTool(t, "make")
	userdel := testpeer.RequireTool(t, "userdel")
	groupdel := testpeer.RequireTool(t, "groupdel")

	// One run at a time on this machine (two would share /usr/bin/socksd).
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "socksd-package-test.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("lock: %v", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck

	isInstalled := func() bool {
		out, err := exec.Command(dpkgQuery, "-W", "-f=${db:Status-Status}", "socksd").Output()
		return err == nil && strings.TrimSpace(string(out)) != "not-installed"
	}
	if isInstalled() {
		t.Fatal("packaging: refusing to run: a socksd package is installed on this machine (not by this test)")
	}
	for _, f := range installed {
		if _, err := os.Lstat(f.path); err == nil {
			t.Fatalf("packaging: refusing to run: %s exists (not made by this test)", f.path)
		}
	}
	_, err = user.Lookup("socksd")
	hadUser := err == nil
	_, err = user.LookupGroup("socksd")
	hadGroup := err == nil

	// Build two versions, to install one and upgrade to the other.
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	var extra []string
	extra = append(extra, helperFile(t, root, tmp, "PKG_UNIT", "socksd.service",
		"[Unit]\nDescription=socksd (test placeholder)\n[Service]\nExecStart=/usr/bin/socksd serve -c /etc/socksd/socksd.toml\n")...)
	extra = append(extra, helperFile(t, root, tmp, "PKG_LOGROTATE", "socksd.logrotate",
		"/var/log/socksd/*.log {\n\tmissingok\n}\n")...)
	build := func(version, pkgVersion string) (string, string) {
		t.Helper()
		dist := filepath.Join(tmp, "dist-"+version)
		cmd := exec.Command(mk, append([]string{"-C", root, "package", "DIST=" + dist, "VERSION=" + version}, extra...)...)
		// Not a sub-make of a `make test`: none of its variables.
		cmd.Env = slices.DeleteFunc(os.Environ(), func(e string) bool {
			return strings.HasPrefix(e, "MAKEFLAGS=") || strings.HasPrefix(e, "MFLAGS=") || strings.HasPrefix(e, "MAKELEVEL=")
		})
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make package VERSION=%s: %v\n%s", version, err, out)
		}
		deb := filepath.Join(dist, fmt.Sprintf("socksd_%s_%s.deb", pkgVersion, runtime.GOARCH))
		if got := run(t, dpkgDeb, "-f", deb, "Package", "Version", "Architecture"); got != fmt.Sprintf("Package: socksd\nVersion: %s\nArchitecture: %s\n", pkgVersion, runtime.GOARCH) {
			t.Errorf("%s control fields:\n%s", deb, got)
		}
		rpms, _ := filepath.Glob(filepath.Join(dist, "socksd-"+pkgVersion+"-*.rpm"))
		if len(rpms) != 1 {
			t.Fatalf("want one .rpm in %s, have %q", dist, rpms)
		}
		return deb, rpms[0]
	}
	const version, pkgVersion = "v9.8.7-6-gtest-dirty", "9.8.7+6.gtest.dirty"
	const version2, pkgVersion2 = "v9.8.8", "9.8.8"
	deb, rpmFile := build(version, pkgVersion)
	deb2, _ := build(version2, pkgVersion2)

	wantRPM := "/etc/logrotate.d/socksd\n/etc/socksd\n/etc/socksd/socksd.toml\n/usr/bin/socksd\n/usr/lib/systemd/system/socksd.service\n"
	if got := run(t, rpm, "-qlp", rpmFile); got != wantRPM {
		t.Errorf("rpm -qlp %s:\n%s\nwant:\n%s", rpmFile, got, wantRPM)
	}
	if got := run(t, rpm, "-qcp", rpmFile); got != "/etc/logrotate.d/socksd\n/etc/socksd/socksd.toml\n" {
		t.Errorf("rpm -qcp (config files):\n%s", got)
	}

	// Install; from here on, purge at the end whatever happens.
	t.Cleanup(func() {
		if isInstalled() {
			if out, err := exec.Command(dpkg, "--purge", "socksd").CombinedOutput(); err != nil {
				t.Errorf("cleanup: dpkg --purge socksd: %v\n%s", err, out)
			}
		}
		if _, err := user.Lookup("socksd"); err == nil && !hadUser {
			if out, err := exec.Command(userdel, "socksd").CombinedOutput(); err != nil {
				t.Errorf("cleanup: userdel socksd: %v\n%s", err, out)
			}
		}
		if _, err := user.LookupGroup("socksd"); err == nil && !hadGroup {
			if out, err := exec.Command(groupdel, "socksd").CombinedOutput(); err != nil {
				t.Errorf("cleanup: groupdel socksd: %v\n%s", err, out)
			}
		}
	})
	run(t, dpkg, "-i", deb)

	checkVersion(t, version)
	if got := run(t, "/usr/bin/socksd", "check", "-c", conffile); !strings.HasPrefix(got, conffile+": OK\n") {
		t.Errorf("socksd check -c %s:\n%s", conffile, got)
	}
	checkInstalled(t)
	u, err := user.Lookup("socksd")
	if err != nil {
		t.Fatalf("user socksd: %v", err)
	}
	if uid, _ := strconv.Atoi(u.Uid); uid == 0 || uid >= 1000 || u.HomeDir != "/var/lib/socksd" {
		t.Errorf("user socksd: uid %s (want a system uid), home %s", u.Uid, u.HomeDir)
	}
	if got := run(t, dpkgQuery, "-W", "-f=${Conffiles}", "socksd"); !strings.Contains(got, " "+conffile+" ") || !strings.Contains(got, " /etc/logrotate.d/socksd ") {
		t.Errorf("conffiles:\n%s", got)
	}

	// Upgrade over a changed conffile and a key: both kept, scripts rerun.
	edited := append(readFile(t, conffile), "# changed by the administrator\n"...)
	if err := os.WriteFile(conffile, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(keysDir, "id_ed25519")
	if err := os.WriteFile(key, []byte("not a real key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, dpkg, "--force-confold", "-i", deb2)
	checkVersion(t, version2)
	if got := run(t, dpkgQuery, "-W", "-f=${Version}", "socksd"); got != pkgVersion2 {
		t.Errorf("after the upgrade dpkg has socksd %s, want %s", got, pkgVersion2)
	}
	if !bytes.Equal(readFile(t, conffile), edited) {
		t.Error("the upgrade replaced the changed conffile")
	}
	if _, err := os.Stat(key); err != nil {
		t.Errorf("upgrade: %v", err)
	}
	checkInstalled(t)

	// Remove: the program goes, configuration and data stay.
	run(t, dpkg, "-r", "socksd")
	for _, p := range []string{"/usr/bin/socksd", "/lib/systemd/system/socksd.service"} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after dpkg -r: %s: %v, want it gone", p, err)
		}
	}
	for _, p := range []string{conffile, "/etc/logrotate.d/socksd", key, "/var/lib/socksd", "/var/log/socksd"} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("after dpkg -r: %v, want it kept", err)
		}
	}

	// Purge: everything goes but the system user.
	run(t, dpkg, "--purge", "socksd")
	if isInstalled() {
		t.Error("socksd still known to dpkg after --purge")
	}
	for _, f := range installed {
		if _, err := os.Lstat(f.path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after dpkg --purge: %s: %v, want it gone", f.path, err)
		}
	}
	if _, err := user.Lookup("socksd"); err != nil {
		t.Errorf("after dpkg --purge: user socksd: %v (a system user stays)", err)
	}
}

// helperFile returns the make variable assignment for a packaging file
// another part of the project provides (the unit, the logrotate file):
// none when packaging/NAME exists, else one naming a placeholder in dir.
// Under CI=true the file must exist.
func helperFile(t *testing.T, root, dir, variable, name, placeholder string) []string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(root, "packaging", name)); err == nil {
		return nil
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("packaging/%s is missing", name)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(placeholder), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("packaging/%s is missing: packaging a placeholder", name)
	return []string{variable + "=" + p}
}

// checkVersion checks that the installed binary is version, built as the
// Makefile builds (with runtime/secret when this test is).
func checkVersion(t *testing.T, version string) {
	t.Helper()
	want := "socksd " + version + "\npassword erasure: on"
	if !scrub.Enabled {
		want = "socksd " + version + "\npassword erasure: off"
	}
	if got := run(t, "/usr/bin/socksd", "version"); !strings.HasPrefix(got, want) {
		t.Errorf("socksd version:\n%s\nwant it to start with:\n%s", got, want)
	}
}

// checkInstalled checks the mode and owner of every installed path.
func checkInstalled(t *testing.T) {
	t.Helper()
	for _, f := range installed {
		fi, err := os.Lstat(f.path)
		if err != nil {
			t.Errorf("installed: %v", err)
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		owner, group := strconv.Itoa(int(st.Uid)), strconv.Itoa(int(st.Gid))
		if u, err := user.LookupId(owner); err == nil {
			owner = u.Username
		}
		if g, err := user.LookupGroupId(group); err == nil {
			group = g.Name
		}
		if fi.Mode() != f.mode || owner != f.owner || group != f.group {
			t.Errorf("%s: %v %s:%s, want %v %s:%s", f.path, fi.Mode(), owner, group, f.mode, f.owner, f.group)
		}
	}
}

// run runs a command and returns its standard output; it fails the test
// when the command fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.String()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMaintainerScriptsSystemd runs each script with the arguments dpkg
// and rpm give it, with stubs for the commands it runs, in a mount
// namespace whose /run has /run/systemd/system (systemd is PID 1) or not:
// systemctl is called as each case says, and never without systemd.
func TestMaintainerScriptsSystemd(t *testing.T) {
	if os.Geteuid() != 0 {
		testpeer.Missing(t, "packaging: a mount namespace needs root")
	}
	unshare := testpeer.RequireTool(t, "unshare")
	testpeer.RequireTool(t, "mount")
	stubs := t.TempDir()
	stub := "#!/bin/sh\n" +
		"printf '%s %s\\n' \"${0##*/}\" \"$*\" >>\"$STUB_LOG\"\n" +
		"if [ \"${0##*/} $1\" = 'systemctl start' ] && [ -n \"$STUB_FAIL_START\" ]; then exit 1; fi\n"
	for _, name := range []string{"systemctl", "getent", "groupadd", "useradd", "install", "rm", "rmdir"} {
		if err := os.WriteFile(filepath.Join(stubs, name), []byte(stub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	const (
		reload  = "systemctl daemon-reload"
		enable  = "systemctl enable socksd.service"
		start   = "systemctl start socksd.service"
		restart = "systemctl try-restart socksd.service"
		stop    = "systemctl stop socksd.service"
		disable = "systemctl disable socksd.service"
		purge   = "rm -rf /var/lib/socksd /var/log/socksd /etc/socksd/keys|rm -f /etc/socksd/known_hosts|rmdir /etc/socksd"
	)
	tests := []struct {
		script string
		args   []string
		want   string // the calls with systemd as PID 1, |-separated
		noSD   string // the calls without
	}{
		{"postinst", []string{"configure", ""}, reload + "|" + enable + "|" + start, ""},
		{"postinst", []string{"configure", "9.8.7"}, reload + "|" + restart, ""},
		{"postinst", []string{"abort-upgrade", "9.8.7"}, "", ""},
		{"postinst", []string{"1"}, reload + "|" + enable + "|" + start, ""}, // rpm install
		{"postinst", []string{"2"}, reload + "|" + restart, ""},              // rpm upgrade
		{"prerm", []string{"remove"}, stop + "|" + disable, ""},
		{"prerm", []string{"upgrade", "9.8.8"}, "", ""},
		{"prerm", []string{"0"}, stop + "|" + disable, ""}, // rpm erase
		{"prerm", []string{"1"}, "", ""},                   // rpm upgrade
		{"postrm", []string{"remove"}, reload, ""},
		{"postrm", []string{"purge"}, purge + "|" + reload, purge},
		{"postrm", []string{"upgrade", "9.8.8"}, "", ""},
		{"postrm", []string{"0"}, reload, ""},
		{"postrm", []string{"1"}, "", ""},
	}
	script, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		for _, systemd := range []bool{true, false} {
			log := filepath.Join(t.TempDir(), "calls")
			// The namespace's own /run hides the host's: the stubs never
			// reach a real systemd, and nothing is mounted outside it.
			setup := "mount -t tmpfs socksd-test /run && "
			if systemd {
				setup += "mkdir -p /run/systemd/system && "
			}
			cmd := exec.Command(unshare, append([]string{"--mount", "--propagation", "private", "--",
				"/bin/sh", "-c", setup + `exec /bin/sh "$0" "$@"`, filepath.Join(script, tt.script)}, tt.args...)...)
			cmd.Env = append(os.Environ(), "PATH="+stubs+":"+os.Getenv("PATH"), "STUB_LOG="+log)
			out, err := cmd.CombinedOutput()
			name := fmt.Sprintf("%s %q (systemd %v)", tt.script, tt.args, systemd)
			if err != nil {
				t.Errorf("%s: %v\n%s", name, err, out)
				continue
			}
			got := stubCalls(t, log)
			want := tt.noSD
			if systemd {
				want = tt.want
			}
			if got != want {
				t.Errorf("%s: calls\n %s\nwant\n %s", name, got, want)
			}
		}
	}

	// A unit that fails to start does not fail the installation.
	log := filepath.Join(t.TempDir(), "calls")
	cmd := exec.Command(unshare, "--mount", "--propagation", "private", "--",
		"/bin/sh", "-c", `mount -t tmpfs socksd-test /run && mkdir -p /run/systemd/system && exec /bin/sh "$0" "$@"`,
		filepath.Join(script, "postinst"), "configure", "")
	cmd.Env = append(os.Environ(), "PATH="+stubs+":"+os.Getenv("PATH"), "STUB_LOG="+log, "STUB_FAIL_START=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "starting socksd.service failed") {
		t.Errorf("postinst with a unit that fails to start: %v\n%s", err, out)
	}
}

// stubCalls returns the calls of systemctl, rm and rmdir that the stubs
// logged, |-separated. (getent, useradd and install depend on the host.)
func stubCalls(t *testing.T, log string) string {
	t.Helper()
	b, err := os.ReadFile(log)
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(l, "systemctl ") || strings.HasPrefix(l, "rm ") || strings.HasPrefix(l, "rmdir ") {
			calls = append(calls, l)
		}
	}
	return strings.Join(calls, "|")
}
