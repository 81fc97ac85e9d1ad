#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Installs what sonde needs, builds it and starts it in the foreground with the default
# configuration (deploy/sonde.conf); metrics on http://0.0.0.0:9464/metrics. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SONDE_BUILD_DIR:-build}

bash scripts/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF
cmake --build "$build" -j "$(nproc)" --target sonde
exec "$build/sonde" --config deploy/sonde.conf "$@"
