#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# render-config.sh TEMPLATE OUTPUT
# Writes TEMPLATE to OUTPUT with every ${NAME} replaced by the environment variable NAME,
# like envsubst, which the Alertmanager image (busybox) does not have: POSIX sh and awk only.
# Fails, writing nothing, when a referenced variable is unset or empty, or holds a quote,
# a backslash or a control character (values land in single-quoted YAML strings).
# The output is created mode 0600: it holds the receivers' secrets.
set -eu

if [ $# -ne 2 ]; then
	echo "usage: render-config.sh TEMPLATE OUTPUT" >&2
	exit 2
fi
tmpl=$1
out=$2
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT

umask 077
awk '
{
	line = $0
	res = ""
	while (match(line, /\$\{[A-Za-z_][A-Za-z0-9_]*\}/)) {
		name = substr(line, RSTART + 2, RLENGTH - 3)
		val = ENVIRON[name]
		if (val == "") {
			printf "render-config: %s:%d: %s is not set\n", FILENAME, FNR, name > "/dev/stderr"
			bad = 1
		} else if (val ~ /['"'"'"\\]/ || val ~ /[[:cntrl:]]/) {
			printf "render-config: %s: quotes, backslashes and control characters are not allowed\n", name > "/dev/stderr"
			bad = 1
		}
		res = res substr(line, 1, RSTART - 1) val
		line = substr(line, RSTART + RLENGTH)
	}
	print res line
}
END { exit bad }
' "$tmpl" >"$tmp"
mv "$tmp" "$out"
trap - EXIT
