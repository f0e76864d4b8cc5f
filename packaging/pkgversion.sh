#!/bin/sh
# pkgversion.sh VERSION prints the package version for a socksd VERSION as
# `git describe --always --dirty` gives it, one that dpkg and rpm order:
#   v1.2.3                 -> 1.2.3
#   v1.2.3-4-gabc1234-dirty -> 1.2.3+4.gabc1234.dirty  (after 1.2.3)
#   abc1234[-dirty]        -> 0.0.0~gitYYYYMMDDhhmmss.abc1234[.dirty]
#                             (no tag: before any release, by commit time)
# The time is the commit's (UTC), from SOCKSD_PKG_DATE when set.
set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: pkgversion.sh VERSION" >&2
	exit 2
fi
v=$1
case "$v" in
v[0-9]*)
	printf '%s\n' "$v" | sed -e 's/^v//' -e 's/-/+/' -e 's/-/./g'
	;;
*)
	date=${SOCKSD_PKG_DATE:-$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S 2>/dev/null || echo 0)}
	printf '0.0.0~git%s.%s\n' "$date" "$(printf '%s' "$v" | tr -c 'A-Za-z0-9.\n' '.')"
	;;
esac
