#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Installs what the tests need, builds sonde from scratch and runs the whole test suite
# (unit tests, then the root integration tests). Run as root from the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SONDE_BUILD_DIR:-build}

bash scripts/install-deps.sh --test
rm -rf "$build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "$(nproc)"
cd "$build"
ctest --output-on-failure --timeout 1200
