#!/usr/bin/env bash
# The user guide's programs, copied out of docs/user-guide.md as a reader
# would (tools/guide_programs.py extract), compile on their own against the
# shared library with warnings as errors, and each runs ~1 s and exits 0 (a
# program exits 1 when what it received is wrong or nothing arrived).
# usage: guide_programs_test.sh GUIDE.md CC INCLUDE_DIRS LIB_DIR
# (INCLUDE_DIRS: the source include/ and the generated one, ":"-separated)
# (GUIDE_CFLAGS: extra flags, e.g. the sanitizers of a sanitized library;
#  GUIDE_RUN_MS: how long each program runs, 1000 unless given)
set -euo pipefail
guide=$1 cc=$2 lib=$(cd "$4" && pwd)
incs=()
IFS=: read -ra dirs <<< "$3"
for d in "${dirs[@]}"; do incs+=(-I"$(cd "$d" && pwd)"); done
here=$(cd "$(dirname "$0")" && pwd)
tool="$here/../../tools/guide_programs.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
progs=$(python3 "$tool" extract "$guide" "$tmp")
[ -n "$progs" ] || { echo "FAIL: no programs in $guide"; exit 1; }
pass=0 fail=0
for p in $progs; do
  exe="$tmp/${p%.c}"
  if ! "$cc" -std=c11 -Wall -Wextra -Werror ${GUIDE_CFLAGS:-} "${incs[@]}" "$tmp/$p" -o "$exe" -L"$lib" -ltensorpool -Wl,-rpath,"$lib"; then
    echo "FAIL: $p does not compile"; fail=$((fail + 1)); continue
  fi
  if (cd "$tmp" && timeout 60 "$exe" "${GUIDE_RUN_MS:-1000}" > "$exe.out" 2>&1); then
    pass=$((pass + 1)); echo "ok: $p: $(tail -1 "$exe.out")"
  else
    echo "FAIL: $p exited $?:"; cat "$exe.out"; fail=$((fail + 1))
  fi
done
echo "guide programs: $pass passed, $fail failed"
[ $fail -eq 0 ]
