#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Fails listing every C file over 800 lines and every function over 80 lines (STYLE.md 5),
# in the product's sources and the C test code. A function is counted from its opening
# brace at column 0 to its closing brace at column 0 (kernel style, as .clang-format keeps).
set -u
max_file=800
max_fn=80
bad=0
while IFS= read -r f; do
	n=$(wc -l <"$f")
	if [ "$n" -gt $max_file ]; then
		echo "$f: $n lines (at most $max_file)"
		bad=1
	fi
	long=$(awk -v f="$f" -v max=$max_fn '
		/^\{/ { start = NR; name = prev }
		/^\}/ { if (start) { n = NR - start + 1; if (n > max) printf "%s:%d: function of %d lines (at most %d): %s\n", f, start, n, max, name; start = 0 } }
		{ prev = $0 }' "$f")
	if [ -n "$long" ]; then
		echo "$long"
		bad=1
	fi
done < <(find bpf include user tests -name '*.[ch]' -not -path '*/fuzz/corpus/*' | sort)
[ $bad -eq 0 ] && echo "sizes: every file <= $max_file lines, every function <= $max_fn lines"
exit $bad
