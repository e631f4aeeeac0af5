#!/usr/bin/env bash
# Install the build into a temporary prefix, then build a user's program
# against it twice: with pkg-config and with find_package(tensorpool).
# usage: check_install.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(ls -d "$tmp"/prefix/lib*/pkgconfig | head -1 | xargs dirname)
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -std=c11 -o "$tmp/consumer-pc" "$here/consumer.c" $(pkg-config --cflags --libs tensorpool) -Wl,-rpath,"$libdir"
"$tmp/consumer-pc"
cmake -S "$here" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cmake-build" >/dev/null
"$tmp/cmake-build/consumer"
test -x "$tmp/prefix/bin/tp"

# The installed tp, headers and pkg-config file carry one version.
version=$("$tmp/prefix/bin/tp" --version | sed -n 's/^tp (tensorpool) \([0-9.]*\)$/\1/p')
[ -n "$version" ] || { echo "FAIL: installed tp --version: $("$tmp/prefix/bin/tp" --version)"; exit 1; }
[ "$(pkg-config --modversion tensorpool)" = "$version" ] || { echo "FAIL: pkg-config version"; exit 1; }
grep -q "^#define TENSORPOOL_VERSION_STRING \"$version\"$" "$tmp/prefix/include/tensorpool/version.h" ||
  { echo "FAIL: installed tensorpool/version.h does not say $version"; exit 1; }

# The licence and the manual pages are installed; man finds and renders them.
cmp -s "$here/../../LICENSE" "$tmp/prefix/share/doc/tensorpool/LICENSE" ||
  { echo "FAIL: share/doc/tensorpool/LICENSE missing or different"; exit 1; }
for page in "$build"/man/man1/*.1 "$build"/man/man7/*.7; do
  rel=${page#"$build"/man/}
  cmp -s "$page" "$tmp/prefix/share/man/$rel" || { echo "FAIL: share/man/$rel not installed"; exit 1; }
done
ls "$tmp/prefix/share/man/man1/tp-demo.1" "$tmp/prefix/share/man/man7/tensorpool.7" >/dev/null
men=0
if command -v man >/dev/null; then
  for page in tp tp-demo tensorpool; do
    where=$(MANPATH="$tmp/prefix/share/man" man -w "$page")
    case $where in "$tmp/prefix/share/man/"*) ;; *) echo "FAIL: man -w $page gives '$where'"; exit 1 ;; esac
    shown=$(MANPATH="$tmp/prefix/share/man" LC_ALL=C MANWIDTH=80 man "$page" 2>&1 | sed 's/.\x08//g')
    grep -q "^ *$page - " <<< "$shown" || { echo "FAIL: man $page does not render its NAME line"; exit 1; }
  done
  men=1
else
  echo "note: man is not installed; the pages' presence was checked, not man's lookup"
fi
echo "install check: $((4 + men)) passed, 0 failed (pkg-config, find_package, version $version, licence and manual pages${men:+, man lookup})"
