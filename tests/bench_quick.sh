#!/usr/bin/env bash
# bench_quick.sh — keeps the benchmark from rotting: builds bench/ (tcpwave, lwIP and Linux
# harnesses) into the test's build directory, runs its short mode (small counts, seconds) and
# checks the results file: a JSON list of {"metric","system","value","unit"} rows with every
# metric x system row present, a measured number wherever the quick mode must produce one, and
# every rate the median of its interleaved rounds (within their min-max). Speed itself is never
# asserted (DESIGN §4: tests never assert wall-clock speed).
#
# From an ASan build directory the harnesses are built with the sanitizers too, and the
# callgrind phases are skipped (valgrind cannot run ASan binaries).
set -u
BUILD=${1:?usage: bench_quick.sh BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(cd "$BUILD" && pwd)/bench
SAN=0
NOCG=
if grep -q "^TCPW_SANITIZE:BOOL=ON" "$BUILD/CMakeCache.txt" 2>/dev/null; then
    SAN=1
    NOCG=--no-callgrind
    # the harnesses leave lwIP's global stack allocated at exit; the engine's own leaks are
    # the unit tests' business
    export ASAN_OPTIONS=detect_leaks=0
fi

if ! make --no-print-directory -s -C "$ROOT/bench" all BUILD="$OUT" SANITIZE=$SAN >"$OUT.build.log" 2>&1; then
    cat "$OUT.build.log"
    echo "FAIL: bench/ does not build"
    echo "0 passed, 1 failed"
    exit 1
fi
if ! python3 "$ROOT/bench/run.py" --mode quick --build "$OUT" --out "$OUT/results/quick.json" \
        $NOCG >"$OUT/quick.txt" 2>"$OUT/quick.err"; then
    tail -40 "$OUT/quick.err"
    echo "FAIL: the quick benchmark did not run to the end"
    echo "0 passed, 1 failed"
    exit 1
fi
sed -n '1,40p' "$OUT/quick.txt"
python3 "$ROOT/bench/run.py" --check "$OUT/results/quick.json" --mode quick
