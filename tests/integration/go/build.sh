#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Builds every Go program of the integration tests into OUTDIR, offline.
#   usage: tests/integration/go/build.sh OUTDIR
#
# The dependencies (chi v5, pgx v4, redigo) come from Debian's golang-*-dev packages, which
# install sources in a GOPATH tree, not a module cache. Module mode would need every
# module named in their go.mod files (zap, logrus, ...), so the build runs in GOPATH mode.
# chi ships at github.com/go-chi/chi but is imported as .../chi/v5: GOPATH mode resolves
# that through "minimal module compatibility", which applies only to code that is itself
# inside a GOPATH tree under a go.mod. So the sources are copied into OUTDIR/gopath/src/
# sonde-it next to a generated go.mod. GOPROXY=off and GOTOOLCHAIN=local keep the go
# command off the network; GOCACHE lives in OUTDIR.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
src=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
# Where the golang-*-dev packages put their sources; override for another layout.
gocode=${SONDE_GOCODE:-/usr/share/gocode}
programs="trade-engine pipeliner pgx-mix pq-mix redis-mix trade-engine-instrumented fixed-rate"

if ! command -v go >/dev/null 2>&1; then
	echo "build.sh: no 'go' command: install golang-go" >&2
	exit 1
fi
if [ ! -d "$gocode/src/github.com/go-chi/chi" ]; then
	echo "build.sh: chi sources not found under $gocode: install golang-github-go-chi-chi-dev" \
		"(or set SONDE_GOCODE)" >&2
	exit 1
fi

tree="$out/gopath/src/sonde-it"
rm -rf "$tree"
mkdir -p "$tree"
printf 'module sonde-it\n\ngo 1.19\n' >"$tree/go.mod"
for p in $programs; do
	mkdir -p "$tree/$p"
	cp "$src/$p"/*.go "$tree/$p/"
done

export GO111MODULE=off
export GOPATH="$out/gopath:$gocode"
export GOCACHE="$out/gocache"
export GOPROXY=off
export GOSUMDB=off
export GOTOOLCHAIN=local
export GOFLAGS=
export CGO_ENABLED=0

cd "$tree"
for p in $programs; do
	go build -o "$out/$p" "./$p"
	echo "built $out/$p"
done
# The TLS tests probe crypto/tls in a binary without symbols or DWARF too: only the
# pclntab and the build info are left to find its functions and version.
go build -ldflags='-s -w' -o "$out/trade-engine-stripped" ./trade-engine
echo "built $out/trade-engine-stripped"
# ... and in a position-independent one (its addresses move by a per-process bias).
go build -buildmode=pie -o "$out/trade-engine-pie" ./trade-engine
echo "built $out/trade-engine-pie"
