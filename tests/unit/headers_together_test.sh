#!/usr/bin/env bash
# Every public header compiles on its own and all of them together in one
# translation unit, as C11 and as C++ (extern "C", no clashing names), with
# warnings as errors. usage: headers_together_test.sh INCLUDE_DIR CC CXX
set -euo pipefail
inc=$1 cc=$2 cxx=$3
command -v "$cxx" >/dev/null || { echo "FAIL: no C++ compiler '$cxx' (scripts/deps.sh installs g++)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
headers=$(cd "$inc" && find tensorpool -name '*.h' | sort)
fail=0
for h in $headers; do # each alone: it includes what it uses
  printf '#include "%s"\n' "$h" > "$tmp/one.c"
  "$cc" -std=c11 -Wall -Wextra -Werror -fsyntax-only -I"$inc" "$tmp/one.c" || { echo "FAIL: $h alone (C)"; fail=1; }
done
for h in $headers; do printf '#include "%s"\n' "$h"; done > "$tmp/all.c"
cp "$tmp/all.c" "$tmp/all.cpp"
"$cc" -std=c11 -Wall -Wextra -Werror -fsyntax-only -I"$inc" "$tmp/all.c" || { echo "FAIL: all headers together (C)"; fail=1; }
"$cxx" -std=c++17 -Wall -Wextra -Werror -fsyntax-only -I"$inc" "$tmp/all.cpp" || { echo "FAIL: all headers together (C++)"; fail=1; }
n=$(echo "$headers" | wc -l)
[ $fail -eq 0 ] && echo "ok: $n public headers, alone and together, C11 and C++17"
exit $fail
