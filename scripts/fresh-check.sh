#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Proves README's two Quick start commands on a pristine Debian 12, as a new user would run
# them: a debootstrap --variant=minbase root with this kernel's /proc, /sys, /dev, bpffs,
# tracefs and cgroups bound in, a fresh clone of the committed main branch, then
#   1. the run command, until /metrics answers (60 s from sonde's start, after the build);
#      then SIGTERM: exit status 0 and none of its BPF programs left in the kernel;
#   2. the test command, to its ctest summary: nothing failed and nothing skipped.
# Run it as root before merging whenever packages, CMake files or scripts change.
#
#   scripts/fresh-check.sh [--ref REF] [--source REPO] [--listen HOST:PORT] [--refresh-cache]
#
#   --ref REF          branch or tag to clone (default main; env FRESH_CHECK_REF)
#   --source REPO      repository to clone from (default: this one; env FRESH_CHECK_SOURCE)
#   --listen H:P       set SONDE_LISTEN for the run command, when 9464 is taken on this
#                      machine (env FRESH_CHECK_LISTEN; default: the configuration's 9464)
#   --refresh-cache    debootstrap again instead of unpacking the cached root
#
# The untouched debootstrap result is cached as a tarball (FRESH_CHECK_CACHE, default
# /var/cache/sonde-fresh-check); the root itself and the logs of both commands live under
# build-fresh/ (FRESH_CHECK_WORKDIR). The root is always unmounted and removed at the end.
# shellcheck disable=SC2317 # cleanup() and its helpers run from the EXIT trap
set -euo pipefail

SUITE=bookworm # Debian 12
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CLONE=/root/sonde             # where the new user's clone lives, inside the root
METRICS_WAIT_S=60             # from sonde's start to /metrics answering
STOP_WAIT_S=30                # from SIGTERM to exit
PROGS_GONE_WAIT_S=10          # the kernel frees an exited process's programs asynchronously
BUILD_TIMEOUT_S=${FRESH_CHECK_BUILD_TIMEOUT:-1800} # install + build before sonde starts
TEST_TIMEOUT_S=${FRESH_CHECK_TEST_TIMEOUT:-5400}   # the whole test command (CI's budget)

repo=$(cd "$(dirname "$0")/.." && pwd)
ref=${FRESH_CHECK_REF:-main}
source_repo=${FRESH_CHECK_SOURCE:-$repo}
listen=${FRESH_CHECK_LISTEN:-}
cache_dir=${FRESH_CHECK_CACHE:-/var/cache/sonde-fresh-check}
work=${FRESH_CHECK_WORKDIR:-$repo/build-fresh}
refresh=0

root=""     # the chroot, once created; cleanup() removes it
mounts=()   # mount points under $root, in mount order
failures=() # one line per failed check

log() { printf '[fresh-check %(%H:%M:%S)T] %s\n' -1 "$*"; }
pass() { printf 'PASS: %s\n' "$*"; }
fail() {
	printf 'FAIL: %s\n' "$*"
	failures+=("$*")
}
die() {
	fail "$*"
	exit 1
}

usage() {
	sed -n '11,17p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		--ref) ref=${2:?--ref needs a value}; shift 2 ;;
		--source) source_repo=${2:?--source needs a value}; shift 2 ;;
		--listen) listen=${2:?--listen needs a value}; shift 2 ;;
		--refresh-cache) refresh=1; shift ;;
		-h | --help) usage ;;
		*) echo "fresh-check: unknown argument $1" >&2; usage ;;
		esac
	done
}

# ---- host ----------------------------------------------------------------------------------

# The host needs debootstrap to make the root, git to clone and curl to ask /metrics.
ensure_host_tools() {
	local need=() cmd pkg
	for cmd in debootstrap:debootstrap git:git curl:curl mountpoint:util-linux; do
		pkg=${cmd#*:}
		command -v "${cmd%%:*}" >/dev/null 2>&1 || need+=("$pkg")
	done
	[ ${#need[@]} -eq 0 ] && return
	log "installing on the host: ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
}

# Prints "URI SUITE" for every enabled deb source of the host's apt configuration, in
# both formats: one-line (sources.list, *.list) and deb822 (*.sources).
host_apt_sources() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk '$1 == "deb" {
			i = 2
			if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
			if (i + 1 <= NF) print $i, $(i + 1)
		}' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk '
		function flush(  i, j, nu, ns, u, s) {
			if (f["types"] ~ /(^|[ \t])deb([ \t]|$)/ && tolower(f["enabled"]) != "no") {
				nu = split(f["uris"], u); ns = split(f["suites"], s)
				for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j]
			}
			split("", f)
		}
		/^#/ { next }
		/^[ \t]*$/ { flush(); next }
		/^[ \t]/ { f[key] = f[key] " " $0; next }  # a continuation line
		{ key = tolower(substr($0, 1, index($0, ":") - 1)); f[key] = substr($0, index($0, ":") + 1) }
		END { flush() }' "$f"
	done
}

# The URI the host takes SUITE from (no host name is written in this script).
source_uri() {
	host_apt_sources | awk -v s="$1" '$2 == s { sub(/\/+$/, "", $1); print $1; exit }'
}

# ---- the root -------------------------------------------------------------------------------

# A pristine root: the cached debootstrap result, or a new one (then cached untouched).
make_root() {
	local arch mirror cache t0=$SECONDS
	arch=$(dpkg --print-architecture)
	cache=$cache_dir/debootstrap-$SUITE-minbase-$arch.tar.gz
	mkdir -p "$work" "$cache_dir"
	root=$(mktemp -d "$(realpath "$work")/root.XXXXXX")
	chmod 755 "$root"
	if [ -s "$cache" ] && [ $refresh -eq 0 ]; then
		log "unpacking the cached debootstrap root $cache"
		tar -xpzf "$cache" --numeric-owner -C "$root"
		pass "pristine $SUITE root from the cache in $((SECONDS - t0)) s"
		return
	fi
	mirror=$(source_uri "$SUITE")
	[ -n "$mirror" ] || die "no deb source for $SUITE in the host's apt sources"
	log "debootstrap --variant=minbase $SUITE from the host's mirror"
	debootstrap --variant=minbase --arch="$arch" "$SUITE" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$work/debootstrap.log"; die "debootstrap failed (log: $work/debootstrap.log)"; }
	# Cache before anything touches the root; write aside and rename, so that an
	# interrupted run never leaves a truncated cache.
	tar -czf "$cache.tmp.$$" --numeric-owner -C "$root" .
	mv "$cache.tmp.$$" "$cache"
	pass "pristine $SUITE root by debootstrap in $((SECONDS - t0)) s (cached as $cache)"
}

# What a Debian 12 machine has beyond the debootstrap result: the archive's update and
# security suites as the host has them, name resolution, and /etc/hosts (the installer
# writes it; debootstrap does not).
configure_root() {
	local mirror updates security
	mirror=$(source_uri "$SUITE")
	updates=$(source_uri "$SUITE-updates")
	security=$(source_uri "$SUITE-security")
	[ -n "$mirror" ] || die "no deb source for $SUITE in the host's apt sources"
	{
		echo "deb $mirror $SUITE main"
		[ -z "$updates" ] || echo "deb $updates $SUITE-updates main"
		[ -z "$security" ] || echo "deb $security $SUITE-security main"
	} >"$root/etc/apt/sources.list"
	rm -f "$root/etc/resolv.conf"
	cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
}

# bind_in PATH [--rbind]: the host's PATH at the same place in the root. rslave: mounts
# and unmounts inside never propagate back to the host.
bind_in() {
	local target=$root$1
	mkdir -p "$target"
	mount "${2:---bind}" "$1" "$target"
	mount --make-rslave "$target"
	mounts+=("$target")
}

mount_kernel_fs() {
	local p
	# The root itself a mount point, as / is on a real machine: `ip netns exec` makes /
	# rslave and fails with EINVAL where / is only a directory.
	mount --bind "$root" "$root"
	mount --make-rslave "$root"
	mounts+=("$root")
	bind_in /proc
	bind_in /sys
	# cgroup hierarchies (v1 controllers under a tmpfs, or v2), bpffs, tracefs, debugfs:
	# only those the host has mounted; the root sees the same kernel state.
	mountpoint -q /sys/fs/cgroup && bind_in /sys/fs/cgroup --rbind
	for p in /sys/fs/bpf /sys/kernel/tracing /sys/kernel/debug; do
		if mountpoint -q "$p"; then bind_in "$p"; fi
	done
	bind_in /dev
	for p in /dev/pts /dev/shm /dev/mqueue; do
		if mountpoint -q "$p"; then bind_in "$p"; fi
	done
}

# Pids whose root directory is the chroot.
root_pids() {
	find /proc -mindepth 2 -maxdepth 2 -name root -lname "$root" 2>/dev/null |
		awk -F/ '$3 ~ /^[0-9]+$/ { print $3 }'
}

kill_root_processes() {
	local pids i
	mapfile -t pids < <(root_pids)
	[ ${#pids[@]} -gt 0 ] || return 0
	log "stopping leftover processes in the root: ${pids[*]}"
	kill -TERM "${pids[@]}" 2>/dev/null || true
	for i in $(seq 50); do
		mapfile -t pids < <(root_pids)
		[ ${#pids[@]} -gt 0 ] || return 0
		sleep 0.1
	done
	kill -KILL "${pids[@]}" 2>/dev/null || true
	sleep 0.5
}

mounts_under_root() {
	awk -v r="$root" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo
}

# On every exit: nothing of the root may stay running, mounted or on disk.
cleanup() {
	local rc=$? i left
	set +e
	# An unexpected error (set -e) ends the script without a FAIL line of its own.
	[ "$rc" -eq 0 ] || [ ${#failures[@]} -gt 0 ] || echo "FAIL: fresh-check stopped early (status $rc)"
	if [ -n "$root" ] && [ -d "$root" ]; then
		kill_root_processes
		for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
			umount -R "${mounts[i]}" 2>/dev/null || umount -R -l "${mounts[i]}"
		done
		left=$(mounts_under_root)
		if [ -n "$left" ]; then
			# Removing a root with /proc, /sys or /dev still bound in would delete the host's.
			echo "FAIL: still mounted under $root, not removed: $(tr '\n' ' ' <<<"$left")"
			rc=1
		else
			rm -rf --one-file-system "$root"
		fi
	fi
	exit "$rc"
}

# chroot_run [NAME=VALUE...] COMMAND...: in the root, with a root login's minimal
# environment (plus NAME=VALUE...), no terminal and no standard input, like CI.
chroot_run() {
	chroot "$root" /usr/bin/env -i HOME=/root PATH="$CHROOT_PATH" "$@" </dev/null
}

clone_repo() {
	log "cloning $ref of $source_repo into the root"
	git clone -q --no-hardlinks --branch "$ref" "$source_repo" "$root$CLONE" ||
		die "git clone --branch $ref $source_repo failed"
	pass "fresh clone of $ref at $(git -C "$root$CLONE" log -1 --format='%h %s')"
}

# README's Quick start commands, exactly as printed: the indented lines of that section,
# in order (the run command, then the test command).
readme_commands() {
	awk '/^## / { q = ($0 ~ /^## Quick start/); next } q && /^    [^ ]/ { sub(/^    /, ""); print }' \
		"$root$CLONE/README.md"
}

# ---- 1: the run command ------------------------------------------------------------------

# Ids of the BPF programs pid holds (prog and link fds).
held_prog_ids() {
	{ grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null || true; } | awk '{ print $2 }' | sort -u
}

# Ids of loaded programs named sonde_*, from the root's bpftool.
sonde_prog_ids() {
	{ chroot "$root" bpftool prog show 2>/dev/null || true; } |
		awk '$1 ~ /^[0-9]+:$/ { for (i = 2; i < NF; i++) if ($i == "name" && $(i + 1) ~ /^sonde_/) print substr($1, 1, length($1) - 1) }' |
		sort -u
}

check_run_command() {
	local cmd=$1 runlog=$logs/run.log url port pid t0 t_start rc ids left i exe
	port=${listen##*:}
	port=${port:-9464}
	url=http://127.0.0.1:$port/metrics
	# Something else answering on the port would pass the check for sonde.
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		fail "run command: port $port is already taken on this machine (another sonde?); use --listen"
		return
	fi
	log "run command: $cmd (log: $runlog)"
	t0=$SECONDS
	# exec all the way down: the background pid becomes sonde's when run.sh execs it.
	# (chroot itself, not the chroot_run function: a function in the background is a
	# subshell, whose pid would stay bash's.)
	chroot "$root" /usr/bin/env -i HOME=/root PATH="$CHROOT_PATH" ${listen:+SONDE_LISTEN="$listen"} \
		/bin/bash -c "cd $CLONE && exec $cmd" </dev/null >"$runlog" 2>&1 &
	pid=$!
	while :; do
		exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
		[[ $exe == */sonde ]] && break
		if ! kill -0 "$pid" 2>/dev/null; then
			rc=0
			wait "$pid" || rc=$?
			tail -n 30 "$runlog"
			fail "run command: exited with status $rc before sonde started"
			return
		fi
		if [ $((SECONDS - t0)) -ge "$BUILD_TIMEOUT_S" ]; then
			tail -n 30 "$runlog"
			fail "run command: sonde not started after ${BUILD_TIMEOUT_S} s of install and build"
			return
		fi
		sleep 1
	done
	t_start=$SECONDS
	log "run command: sonde started (pid $pid) after $((t_start - t0)) s of install and build"
	until curl -fsS --max-time 5 -o "$logs/metrics.txt" "$url" 2>/dev/null &&
		grep -q '^sonde_build_info' "$logs/metrics.txt"; do
		if ! kill -0 "$pid" 2>/dev/null || [ $((SECONDS - t_start)) -ge $METRICS_WAIT_S ]; then
			tail -n 30 "$runlog"
			fail "run command: $url did not answer within ${METRICS_WAIT_S} s of sonde's start"
			kill -TERM "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			return
		fi
		sleep 1
	done
	pass "run command: $url answered $(wc -l <"$logs/metrics.txt") lines $((SECONDS - t_start)) s after sonde started"
	ids=$(held_prog_ids "$pid")
	[ -n "$ids" ] || fail "run command: sonde holds no BPF program"

	kill -TERM "$pid"
	for ((i = 0; i < STOP_WAIT_S * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		fail "run command: sonde still running ${STOP_WAIT_S} s after SIGTERM"
		return
	fi
	rc=0
	wait "$pid" || rc=$?
	# What sonde itself printed, after the build's output.
	sed -n '/Built target sonde$/,$p' "$runlog" | tail -n +2 | tail -n 10
	if [ "$rc" -eq 0 ]; then
		pass "run command: SIGTERM -> exit status 0"
	else
		fail "run command: SIGTERM -> exit status $rc"
	fi
	for ((i = 0; i < PROGS_GONE_WAIT_S * 10; i++)); do
		left=$(grep -Fx -f <(sonde_prog_ids) <<<"$ids" || true)
		[ -z "$left" ] && break
		sleep 0.1
	done
	if [ -n "$left" ]; then
		fail "run command: BPF programs left after exit: $(tr '\n' ' ' <<<"$left")(bpftool prog show id N)"
	else
		pass "run command: none of its $(echo "$ids" | wc -w) BPF programs left (bpftool prog show, sonde_*)"
	fi
}

# ---- 2: the test command -----------------------------------------------------------------

check_test_command() {
	local cmd=$1 testlog=$logs/test.log t0=$SECONDS rc summary failed total skipped
	log "test command: $cmd (log: $testlog)"
	rm -f "$logs/test.rc"
	{
		rc=0
		chroot_run timeout --kill-after=60 "$TEST_TIMEOUT_S" /bin/bash -c "cd $CLONE && $cmd" \
			2>&1 || rc=$?
		echo "$rc" >"$logs/test.rc"
	} | tee "$testlog" &
	# In the background: bash runs a trap (an interrupted fresh-check cleans up) only once
	# the foreground command is done, and wait returns at once on a signal.
	wait $!
	rc=$(cat "$logs/test.rc")
	log "test command: exit status $rc after $((SECONDS - t0)) s"
	summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$testlog" | tail -n 1 || true)
	if [ -z "$summary" ]; then
		fail "test command: no ctest summary line (exit status $rc)"
		return
	fi
	failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$summary")
	total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$summary")
	# ctest counts SKIP_RETURN_CODE (77) as not failed: a missing tool must not hide there.
	skipped=$(grep -cE '\*\*\*(Skipped|Not Run)' "$testlog" || true)
	echo "ctest: $summary; $skipped skipped"
	grep -A 100 'The following tests did not run' "$testlog" | grep -E '^\s+[0-9]+ - ' || true
	if [ "$rc" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ] && [ "$total" -gt 0 ]; then
		pass "test command: $summary, 0 skipped, in $((SECONDS - t0)) s"
	else
		fail "test command: exit status $rc, $summary, $skipped skipped"
	fi
}

main() {
	local t0=$SECONDS cmds
	parse_args "$@"
	[ "$(id -u)" -eq 0 ] || { echo "fresh-check: run as root (debootstrap, mount, chroot)" >&2; exit 1; }
	ensure_host_tools
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	make_root
	configure_root
	mount_kernel_fs
	clone_repo
	logs=$work/logs
	mkdir -p "$logs"
	mapfile -t cmds < <(readme_commands)
	[ ${#cmds[@]} -eq 2 ] ||
		die "README's Quick start prints ${#cmds[@]} commands, expected 2 (run, test): ${cmds[*]}"
	check_run_command "${cmds[0]}"
	check_test_command "${cmds[1]}"
	if [ ${#failures[@]} -eq 0 ]; then
		pass "fresh-check: both README commands work on a pristine Debian 12 ($((SECONDS - t0)) s in all)"
	else
		printf 'FAIL: fresh-check: %d check(s) failed (%d s in all):\n' ${#failures[@]} $((SECONDS - t0))
		printf '  - %s\n' "${failures[@]}"
		exit 1
	fi
}

# One line: bash reads no further, should this file change while it runs.
main "$@"; exit
