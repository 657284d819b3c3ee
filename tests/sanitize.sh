#!/usr/bin/env bash
# ASan + UBSan build of the library, the C tests and the Python extension,
# then the C tests and the Python test suite against that build.
#
#   bash tests/sanitize.sh [VENV]     (./dev sanitize calls this)
#
# The interpreter is not built with ASan, so libasan is preloaded; leak
# detection is off because CPython itself does not free everything at exit.
# Any UBSan report aborts the run (-fno-sanitize-recover).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv}
VENV=$(cd "$VENV" && pwd)
export PATH="$VENV/bin:$PATH"
BUILD=build-asan

if [ ! -d "$BUILD" ]; then
    meson setup "$BUILD" -Dbuildtype=debug -Db_sanitize=address,undefined \
        -Db_lundef=false -Dc-tests=true -Dtesting-hooks=true -Dwerror=true \
        -Dc_args=-fno-sanitize-recover=all -Dc_link_args=-fno-sanitize-recover=all
fi
ninja -C "$BUILD"

export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
echo "== C tests (ASan+UBSan)"
meson test -C "$BUILD" --print-errorlogs

# A package directory that pairs the sources with the sanitized extension.
# Python runs with -S so that the editable install's .pth import hook is not
# installed; site-packages comes back through PYTHONPATH, after the package.
PKG="$BUILD/pkg/chunkwise"
rm -rf "$BUILD/pkg"
mkdir -p "$PKG"
for f in python/chunkwise/*.py; do ln -s "$PWD/$f" "$PKG/"; done
ln -s "$PWD/$BUILD"/_core.*.so "$PKG/"

echo "== Python tests (ASan+UBSan)"
LIBASAN=$(gcc -print-file-name=libasan.so)
LIBUBSAN=$(gcc -print-file-name=libubsan.so)
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
CHUNKWISE_SANITIZE=1 PYTHONPATH="$PWD/$BUILD/pkg:$SITE" LD_PRELOAD="$LIBASAN $LIBUBSAN" \
    "$VENV/bin/python" -S -m pytest tests -q -s -p no:cacheprovider "${@:2}"
