#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Installs the Debian 12 packages sonde needs, and nothing else (--no-install-recommends:
# whatever is needed is named here, with the reason).
#   scripts/install-deps.sh          build and run sonde
#   scripts/install-deps.sh --test   also everything the test suite builds, runs or calls
# scripts/fresh-check.sh proves both lists on a pristine Debian 12 root. An entry "a|b" is
# satisfied by either package (a is installed when neither is).
set -euo pipefail

build_pkgs=(
	build-essential cmake pkg-config # cc, make, ld, readelf
	clang bpftool                    # BPF objects; vmlinux.h, linking, skeleton
	libbpf-dev libelf-dev zlib1g-dev libmicrohttpd-dev
	libcapstone-dev                  # decoding Go's crypto/tls functions (their RETs)
	libdw-dev                        # Go struct offsets from DWARF (Go newer than the table)
	libyaml-dev libcrypt-dev         # --web-config: its YAML, its bcrypt password hashes
	libgnutls28-dev                  # --web-config TLS checks, `sonde top` over https
)
test_pkgs=(
	libcmocka-dev clang-format # unit tests, the style check
	libclang-rt-dev            # fuzz targets: clang's fuzzer and sanitizer runtimes
	python3 python3-yaml       # integration tests (standard library), deploy checks (yaml)
	python3-prometheus-client  # its OpenMetrics parser checks sonde's OpenMetrics text
	# Go test programs, built offline in GOPATH mode from these sources
	golang-go golang-github-go-chi-chi-dev golang-github-jackc-pgx-v4-dev
	golang-github-jackc-pgconn-dev golang-github-lib-pq-dev
	golang-github-gomodule-redigo-dev golang-github-prometheus-client-golang-dev
	# servers and clients the integration tests drive (initdb, postgres, psql, pgbench,
	# redis-server, redis-cli, redis-benchmark); openssl makes a TLS certificate, curl is
	# an OpenSSL-linked HTTPS client (test_tls), setpriv drops privileges, tmux runs
	# `sonde top`; the TCP health test's network namespaces take ip, sysctl and iptables;
	# valgrind runs sonde under memcheck (test_memcheck)
	wrk nginx-light postgresql-15 postgresql-client-15 redis-server redis-tools
	openssl curl util-linux tmux iproute2 procps iptables valgrind
	# deploy checks: promtool (and the Prometheus end-to-end test), amtool, busybox sh
	# and envsubst (Alertmanager template), docker-compose config, systemd-analyze verify,
	# kubectl kustomize (any kubectl will do), readelf and dpkg (container libraries)
	prometheus prometheus-alertmanager busybox gettext-base docker-compose systemd
	'kubernetes-client|kubectl' binutils
)

want=("${build_pkgs[@]}")
[ "${1:-}" = "--test" ] && want+=("${test_pkgs[@]}")

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (apt-get needs it)" >&2
	exit 1
fi

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for entry in "${want[@]}"; do
	IFS='|' read -r -a alternatives <<<"$entry"
	ok=0
	for p in "${alternatives[@]}"; do
		installed "$p" && ok=1 && break
	done
	[ $ok -eq 1 ] || missing+=("${alternatives[0]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

# The test suite starts its own nginx, PostgreSQL and Redis on private ports; keep the
# packages' default instances from starting (policy-rc.d exit 101 = "action forbidden").
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod +x "$policy"
	trap 'rm -f "$policy"' EXIT
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
