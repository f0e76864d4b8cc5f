#!/bin/sh
# Installs the peers and tools the tests need, when they are missing.
# Idempotent: does nothing when everything is there. Needs root to install.
set -eu

need=""
check() { # check COMMAND PACKAGE
	if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "$1" ]; then
		need="$need $2"
	fi
}
check /usr/sbin/sshd openssh-server
check /usr/lib/openssh/sftp-server openssh-sftp-server
check sftp openssh-client
check ssh openssh-client
check ssh-keygen openssh-client
check /usr/sbin/vsftpd vsftpd
check curl curl
check nc netcat-openbsd
check proxychains4 proxychains4
check lftp lftp
check ip iproute2
check nft nftables
check iptables iptables
check setpriv util-linux
check sshpass sshpass
check /usr/sbin/danted dante-server
check qemu-s390x-static qemu-user-static
check rpm rpm
check shellcheck shellcheck
check systemd-analyze systemd
check /usr/sbin/logrotate logrotate
# From /: a python run in the repository would import its ./socks directory.
if ! (cd / && /usr/bin/python3 -c 'import socks; socks.socksocket') >/dev/null 2>&1; then need="$need python3-socks"; fi

if [ -z "$need" ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$need (run as root, or install them)" >&2
	exit 0
fi
echo "install-deps: installing$need" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $need >/dev/null
