#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# README's "Reading the code" walks one event from the BPF program to a Prometheus sample,
# naming functions as `name()` and files as `path`. Fails naming every function that no
# C file under bpf/ or user/ defines and every path that does not exist, so the walk cannot
# drift from the code.
set -u
readme=README.md
section=$(awk '/^## Reading the code/ { on = 1; next } /^## / { on = 0 } on' "$readme")
if [ -z "$section" ]; then
	echo "$readme has no '## Reading the code' section"
	exit 1
fi
bad=0
fns=$(grep -o '`[A-Za-z_][A-Za-z0-9_]*()`' <<<"$section" | tr -d '`()' | sort -u)
for fn in $fns; do
	# a definition: the name at the start of a line or after a return type, then '(' and
	# no ';' at the end of that line (declarations end with one); BPF programs are
	# defined through BPF_PROG(name, ...)
	if ! grep -rEq --include='*.c' --include='*.h' "((^|[ *])$fn\([^;]*$)|BPF_PROG\($fn," \
		bpf user; then
		echo "README walk names $fn(), defined nowhere under bpf/ or user/"
		bad=1
	fi
done
paths=$(grep -o '`\(bpf\|user\|include\)/[A-Za-z0-9_./-]*`' <<<"$section" | tr -d '`' | sort -u)
for p in $paths; do
	if [ ! -e "$p" ]; then
		echo "README walk names $p, which does not exist"
		bad=1
	fi
done
n_fn=$(wc -w <<<"$fns")
[ $bad -eq 0 ] && echo "README walk: $n_fn functions and every path exist"
exit $bad
