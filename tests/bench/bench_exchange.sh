#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Instructions per exchange of each phase of bench_exchange, counted by callgrind: exact
# and repeatable on a busy machine, where wall time is not.
#   tests/bench/bench_exchange.sh [BUILD_DIR [N]]     (defaults: build 20000)
set -eu
build=${1:-build}
n=${2:-20000}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
valgrind --tool=callgrind --collect-atstart=no --toggle-collect='bench_*' \
	--callgrind-out-file="$out" "$build/tests/bench_exchange" "$n" >/dev/null 2>&1
# inclusive Ir of each bench_* function (one phase each) over its n exchanges
callgrind_annotate --inclusive=yes "$out" 2>/dev/null |
	sed -n 's/^ *\([0-9,]*\) ([^)]*) .*:\(bench_[a-z0-9_]*\) .*/\1 \2/p' |
	awk -v n="$n" '{ gsub(",", "", $1); printf "%-22s %7.0f instructions per exchange\n", $2, $1 / n }' |
	sort
