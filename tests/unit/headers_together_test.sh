#!/usr/bin/env bash
# Every public header compiles on its own and all of them together in one
# translation unit, as C11 and as C++ (extern "C", no clashing names), with
# warnings as errors. usage: headers_together_test.sh INCLUDE_DIRS CC CXX
# INCLUDE_DIRS: one folder, or several joined by ':' (the build tree holds the
# generated tensorpool/version.h).
set -euo pipefail
dirs=$1 cc=$2 cxx=$3
IFS=: read -r -a incdirs <<< "$dirs"
command -v "$cxx" >/dev/null || { echo "FAIL: no C++ compiler '$cxx' (scripts/deps.sh installs g++)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
headers=$(for d in "${incdirs[@]}"; do (cd "$d" && find tensorpool -name '*.h'); done | sort)
iflags=("${incdirs[@]/#/-I}")
fail=0
for h in $headers; do # each alone: it includes what it uses
  printf '#include "%s"\n' "$h" > "$tmp/one.c"
  "$cc" -std=c11 -Wall -Wextra -Werror -fsyntax-only "${iflags[@]}" "$tmp/one.c" || { echo "FAIL: $h alone (C)"; fail=1; }
done
for h in $headers; do printf '#include "%s"\n' "$h"; done > "$tmp/all.c"
cp "$tmp/all.c" "$tmp/all.cpp"
"$cc" -std=c11 -Wall -Wextra -Werror -fsyntax-only "${iflags[@]}" "$tmp/all.c" || { echo "FAIL: all headers together (C)"; fail=1; }
"$cxx" -std=c++17 -Wall -Wextra -Werror -fsyntax-only "${iflags[@]}" "$tmp/all.cpp" || { echo "FAIL: all headers together (C++)"; fail=1; }
n=$(echo "$headers" | wc -l)
[ $fail -eq 0 ] && echo "ok: $n public headers, alone and together, C11 and C++17"
exit $fail
