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
echo "install check: 2 passed, 0 failed"
