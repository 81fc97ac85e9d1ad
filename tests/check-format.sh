#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Fails listing every tracked C file that clang-format would change.
set -u
cf=${1:-clang-format}
bad=0
while IFS= read -r f; do
	if ! "$cf" --dry-run -Werror "$f" >/dev/null 2>&1; then
		echo "needs clang-format: $f"
		bad=1
	fi
done < <(find bpf include user tests -name '*.[ch]' -not -path '*/fuzz/corpus/*' | sort)
[ $bad -eq 0 ] && echo "clang-format: all files clean"
exit $bad
