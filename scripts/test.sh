#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Installs what the tests need, builds sonde from scratch and runs the whole test suite
# (unit tests, then the root integration tests), then builds it again with ASan + UBSan and
# runs the unit tests and the HTTP, PostgreSQL, Redis and TLS integration tests against that
# build (a sanitizer report or a leak at sonde's exit fails them). Run as root from the
# repository. SONDE_SANITIZE_STEP=0 skips the second build.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SONDE_BUILD_DIR:-build}
san=${SONDE_SANITIZE_BUILD_DIR:-$build-sanitize}

bash scripts/install-deps.sh --test
rm -rf "$build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "$(nproc)"
(cd "$build" && ctest --output-on-failure --timeout 1200)

[ "${SONDE_SANITIZE_STEP:-1}" = 0 ] && exit 0
rm -rf "$san"
cmake -S . -B "$san" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSONDE_SANITIZE=address,undefined
cmake --build "$san" -j "$(nproc)"
cd "$san"
ctest --output-on-failure --timeout 1200 --no-tests=error -L unit -E '^style\.'
ctest --output-on-failure --timeout 1200 --no-tests=error -R '^root\.test_(http_server|db_postgres|db_redis|tls)$'
