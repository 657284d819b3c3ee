#!/usr/bin/env bash
# ThreadSanitizer build of the library, the C tests and the Python
# extension (clang, LLVM's OpenMP runtime), then the C tests and the
# threaded Python tests (tests/test_concurrency.py, tests/test_adversarial.py)
# against that build.
#
#   bash tests/tsan.sh CLANG [VENV] [pytest args]    (./dev tsan calls this)
#
# libgomp is not built with TSan and its barriers and task queues are
# invisible to it (every OpenMP region would be reported), so the build
# uses clang's -fopenmp, which links LLVM's libomp, and loads LLVM's Archer
# tool (OMP_TOOL_LIBRARIES=libarcher.so) which tells TSan what OpenMP's
# barriers, tasks and taskwaits order.  The interpreter is not built with
# TSan: the runtime is preloaded, and only memory accesses in chunkwise's
# code are checked (ignore_noninstrumented_modules: interceptors called from
# CPython, NumPy or HDF5 check nothing).  Any report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG=$1
VENV=${2:-.venv}
VENV=$(cd "$VENV" && pwd)
export PATH="$VENV/bin:$PATH"
BUILD=${CW_TSAN_BUILD:-build-tsan}

LLVM_LIB=$("$CLANG" -print-resource-dir)/../../../lib     # /usr/lib/llvm-N/lib
LLVM_LIB=$(cd "$LLVM_LIB" && pwd)
# lib/linux/libclang_rt.tsan-x86_64.so (clang 16), or
# lib/x86_64-pc-linux-gnu/libclang_rt.tsan.so (newer clangs).
RUNTIME=$(find "$("$CLANG" -print-resource-dir)/lib" -name 'libclang_rt.tsan*.so' \
          ! -name '*cxx*' | head -1)
ARCHER=$LLVM_LIB/libarcher.so
for f in "$RUNTIME" "$ARCHER" "$LLVM_LIB/libomp.so"; do
    [ -n "$f" ] && [ -f "$f" ] || { echo "tsan: ${f:-the TSan runtime} is missing"; exit 1; }
done

if [ ! -f "$BUILD/build.ninja" ]; then
    rm -rf "$BUILD"
    CC=$CLANG meson setup "$BUILD" -Dbuildtype=debugoptimized -Db_sanitize=thread \
        -Db_lundef=false -Dc-tests=true -Dwerror=true >/dev/null
fi
echo "== building (clang, ThreadSanitizer, libomp)"
ninja -C "$BUILD" >"$BUILD/build.log" 2>&1 || { grep -E "error|FAILED" "$BUILD/build.log" | head -20; exit 1; }

export OMP_TOOL_LIBRARIES=$ARCHER
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 ignore_noninstrumented_modules=1"
# Reports inside CPython, NumPy or HDF5 themselves (never chunkwise's
# code) may be suppressed there, each with the reason.
SUPP=$PWD/tests/tsan.supp
[ -f "$SUPP" ] && TSAN_OPTIONS="$TSAN_OPTIONS suppressions=$SUPP"
# More threads than the machine's cores: more interleavings.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}

echo "== C tests (ThreadSanitizer)"
meson test -C "$BUILD" --print-errorlogs

# A package directory that pairs the sources with the instrumented
# extension (as tests/sanitize.sh does): python -S keeps the editable
# install's import hook out; site-packages comes back through PYTHONPATH.
PKG="$BUILD/pkg/chunkwise"
rm -rf "$BUILD/pkg"
mkdir -p "$PKG"
for f in python/chunkwise/*.py; do ln -s "$PWD/$f" "$PKG/"; done
ln -s "$PWD/$BUILD"/_core.*.so "$PKG/"

# The threaded tests and the adversarial plans, but not the tests that
# fork: a child forked from a process whose threads are running deadlocks
# under TSan (its runtime's own locks; spawned children run as usual).
echo "== threaded Python tests (ThreadSanitizer)"
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
LOG=$BUILD/python-tsan.log
rc=0
CHUNKWISE_SANITIZE=$BUILD PYTHONPATH="$PWD/$BUILD/pkg:$SITE" LD_PRELOAD="$RUNTIME" \
    "$VENV/bin/python" -S -m pytest tests/test_concurrency.py tests/test_adversarial.py \
    -q -s -p no:cacheprovider -k "not fork" "${@:3}" 2>&1 | tee "$LOG" || rc=$?
if grep -q "WARNING: ThreadSanitizer" "$LOG"; then
    echo "tsan: ThreadSanitizer reports in $LOG"
    exit 1
fi
exit $rc
