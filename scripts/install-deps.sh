#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Installs every Debian 12 package sonde needs.
#   scripts/install-deps.sh          build + run dependencies
#   scripts/install-deps.sh --test   also the servers and clients the test suite drives
set -euo pipefail

build_pkgs=(
	build-essential cmake pkg-config clang llvm bpftool
	libbpf-dev libelf-dev zlib1g-dev libmicrohttpd-dev libcmocka-dev
	clang-format curl ca-certificates procps iproute2
)
test_pkgs=(
	golang-go golang-github-go-chi-chi-dev
	golang-github-jackc-pgx-v4-dev golang-github-lib-pq-dev
	golang-github-gomodule-redigo-dev golang-github-prometheus-client-golang-dev
	wrk nginx-light python3 python3-yaml
	postgresql-15 postgresql-client-15 redis-server redis-tools
	prometheus
	tmux prometheus-alertmanager busybox docker-compose systemd iptables
)

want=("${build_pkgs[@]}")
[ "${1:-}" = "--test" ] && want+=("${test_pkgs[@]}")

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (apt-get needs it)" >&2
	exit 1
fi

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

# The test suite starts its own nginx, PostgreSQL and Redis on private ports; keep the
# packages' default instances from starting (policy-rc.d exit 101 = "action forbidden").
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod +x "$policy"
	made_policy=1
fi
trap '[ $made_policy -eq 1 ] && rm -f "$policy"' EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
