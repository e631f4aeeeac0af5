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
# The specifications the installed headers cite are installed beside them.
for f in spec/wire.md spec/driver.md spec/join-barrier.md architecture.md threat-model.md json.md; do
  cmp -s "$here/../../docs/$f" "$prefix/share/doc/tensorpool/$f" || { echo "FAIL: share/doc/tensorpool/$f not installed"; exit 1; }
done
passed=$((passed + 1))
# The Python package, when the build made it: Debian's python3 imports it
# from the installed prefix and it moves a frame.
if [ -d "$build/python/tensorpool" ]; then
  py=$(sed -n 's/^TENSORPOOL_PYTHON:[A-Z]*=//p' "$build/CMakeCache.txt")
  pkg=$(ls -d "$prefix"/lib/python3*/*-packages/tensorpool 2>/dev/null | head -1)
  [ -n "$pkg" ] && [ -f "$pkg/__init__.pyi" ] && [ -f "$pkg/py.typed" ] ||
    { echo "FAIL: the Python package is not installed under $prefix/lib/python3*/"; exit 1; }
  ls "$prefix/share/doc/tensorpool/examples/python/camera_stats.py" >/dev/null
  PYTHONPATH=$(dirname "$pkg") "$py" "$here/../../python/tests/smoke.py" "$pkg" ||
    { echo "FAIL: the installed Python package does not work"; exit 1; }
  echo "ok: Python package installed in $pkg, imported by $py"
  passed=$((passed + 1))
fi
# The installed tp, headers and pkg-config file carry one version.
version=$("$prefix/bin/tp" --version | sed -n 's/^tp (tensorpool) \([0-9.]*\)$/\1/p')
[ -n "$version" ] || { echo "FAIL: installed tp --version: $("$prefix/bin/tp" --version)"; exit 1; }
[ "$(pkg-config --modversion tensorpool)" = "$version" ] || { echo "FAIL: pkg-config version"; exit 1; }
grep -q "^#define TENSORPOOL_VERSION_STRING \"$version\"$" "$prefix/include/tensorpool/version.h" ||
  { echo "FAIL: installed tensorpool/version.h does not say $version"; exit 1; }

# The licence and the manual pages are installed; man finds and renders them.
cmp -s "$here/../../LICENSE" "$prefix/share/doc/tensorpool/LICENSE" ||
  { echo "FAIL: share/doc/tensorpool/LICENSE missing or different"; exit 1; }
for page in "$build"/man/man1/*.1 "$build"/man/man7/*.7; do
  rel=${page#"$build"/man/}
  cmp -s "$page" "$prefix/share/man/$rel" || { echo "FAIL: share/man/$rel not installed"; exit 1; }
done
ls "$prefix/share/man/man1/tp-demo.1" "$prefix/share/man/man7/tensorpool.7" >/dev/null
men=0
if command -v man >/dev/null; then
  for page in tp tp-demo tensorpool; do
    where=$(MANPATH="$prefix/share/man" man -w "$page")
    case $where in "$prefix/share/man/"*) ;; *) echo "FAIL: man -w $page gives '$where'"; exit 1 ;; esac
    shown=$(MANPATH="$prefix/share/man" LC_ALL=C MANWIDTH=80 man "$page" 2>&1 | sed 's/.\x08//g')
    grep -q "^ *$page - " <<< "$shown" || { echo "FAIL: man $page does not render its NAME line"; exit 1; }
  done
  men=1
else
  echo "note: man is not installed; the pages' presence was checked, not man's lookup"
fi
passed=$((passed + 1 + men))
echo "install check: $passed passed, 0 failed (pkg-config, find_package, installed examples, guide programs, version $version, licence and manual pages)"
