#!/usr/bin/env bash
# Install the build into a temporary prefix, then, as a user would:
#  - build a small program against it with pkg-config and with
#    find_package(tensorpool);
#  - build the installed examples (share/doc/tensorpool/examples) with their
#    own CMakeLists.txt and run them;
#  - copy the programs out of the installed user guide, build each with
#    `cc prog.c $(pkg-config --cflags --libs tensorpool)`, and run one.
# usage: check_install.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
tool="$here/../../tools/guide_programs.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
prefix="$tmp/prefix"
libdir=$(ls -d "$prefix"/lib*/pkgconfig | head -1 | xargs dirname)
export PKG_CONFIG_PATH="$libdir/pkgconfig"
passed=0
cc -std=c11 -o "$tmp/consumer-pc" "$here/consumer.c" $(pkg-config --cflags --libs tensorpool) -Wl,-rpath,"$libdir"
"$tmp/consumer-pc"
passed=$((passed + 1))
cmake -S "$here" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/cmake-build" >/dev/null
"$tmp/cmake-build/consumer"
passed=$((passed + 1))
test -x "$prefix/bin/tp"

# The installed examples, built against the installed package only.
ex="$prefix/share/doc/tensorpool/examples"
test -f "$ex/CMakeLists.txt" || { echo "FAIL: no $ex/CMakeLists.txt"; exit 1; }
n=0
for src in "$ex"/*.c; do n=$((n + 1)); done
[ "$n" -ge 4 ] || { echo "FAIL: $n example programs installed in $ex, expected 4"; exit 1; }
cmake -S "$ex" -B "$tmp/examples-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/examples-build" >/dev/null
for src in "$ex"/*.c; do
  name=$(basename "$src" .c)
  "$tmp/examples-build/$name" 1000 >"$tmp/$name.out" 2>&1 || { echo "FAIL: installed example $name:"; cat "$tmp/$name.out"; exit 1; }
  echo "ok: installed example $name: $(tail -1 "$tmp/$name.out")"
done
passed=$((passed + 1))

# A program copied out of the installed guide, built with the guide's command.
guide="$prefix/share/doc/tensorpool/user-guide.md"
test -f "$guide" || { echo "FAIL: no $guide"; exit 1; }
mkdir "$tmp/guide"
progs=$(python3 "$tool" extract "$guide" "$tmp/guide")
[ "$(echo "$progs" | wc -w)" -ge 4 ] || { echo "FAIL: $guide shows fewer than 4 programs: $progs"; exit 1; }
for p in $progs; do # each builds with exactly the guide's command
  (cd "$tmp/guide" && cc "$p" $(pkg-config --cflags --libs tensorpool) -o "${p%.c}") || { echo "FAIL: guide's $p does not build"; exit 1; }
done
LD_LIBRARY_PATH="$libdir" "$tmp/guide/join_sequence" 1000 >"$tmp/guide.out" 2>&1 || { echo "FAIL: guide's join_sequence:"; cat "$tmp/guide.out"; exit 1; }
echo "ok: $(echo $progs) built from the installed guide; join_sequence: $(tail -1 "$tmp/guide.out")"
passed=$((passed + 1))
echo "install check: $passed passed, 0 failed"
