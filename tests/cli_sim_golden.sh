#!/usr/bin/env bash
# cli_sim_golden.sh — golden-output test of `tcpwave sim`: runs every case of
# tests/golden/sim/cases.list in each of its formats (text, mermaid, json) and compares the output
# byte for byte with tests/golden/sim/NAME.{txt,mmd,jsonl}. Any change of a number, a state, a
# cause or the layout fails the test and prints the diff.
#
#   bash tests/cli_sim_golden.sh BUILD_DIR                            check (what ctest runs)
#   TCPW_UPDATE_GOLDEN=1 bash tests/cli_sim_golden.sh BUILD_DIR       rewrite the goldens
#
# After regenerating, read `git diff tests/golden/sim` as a user would read the ladder: are the
# four waves' numbers still the seeds' numbers, do the states still make sense?
set -u
BUILD=${1:?usage: cli_sim_golden.sh BUILD_DIR}
BIN=$BUILD/tcpwave
DIR=tests/golden/sim
CASES=$DIR/cases.list
UPDATE=${TCPW_UPDATE_GOLDEN:-0}

[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }
[ -f "$CASES" ] || { echo "FAIL: $CASES missing (run from the repository root)"; exit 1; }

# The text format colours only a terminal; make sure nothing in the environment changes that.
unset NO_COLOR
export LC_ALL=C.UTF-8 2>/dev/null || true

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fails=0 checked=0 updated=0
declare -A expected_files=()

ext_of() {
    case $1 in
    text) echo txt ;;
    mermaid) echo mmd ;;
    json) echo jsonl ;;
    *) return 1 ;;
    esac
}

while read -r name fmts rest; do
    case $name in '' | '#'*) continue ;; esac
    eval "set -- $rest"
    IFS=, read -r -a formats <<<"$fmts"
    for fmt in "${formats[@]}"; do
        ext=$(ext_of "$fmt") || { echo "FAIL: $CASES: case $name: unknown format '$fmt'"; fails=$((fails + 1)); continue; }
        golden=$DIR/$name.$ext
        expected_files[$golden]=1
        out=$tmp/$name.$ext
        "$BIN" sim "$@" --format "$fmt" >"$out" 2>"$tmp/stderr"
        rc=$?
        if [ $rc -ne 0 ]; then
            echo "FAIL: tcpwave sim $rest --format $fmt exited $rc:"
            sed 's/^/    /' "$tmp/stderr"
            fails=$((fails + 1))
            continue
        fi
        if [ -s "$tmp/stderr" ]; then
            echo "FAIL: tcpwave sim $rest --format $fmt wrote to stderr:"
            sed 's/^/    /' "$tmp/stderr"
            fails=$((fails + 1))
        fi
        checked=$((checked + 1))
        if [ "$UPDATE" = 1 ]; then
            if ! cmp -s "$out" "$golden"; then
                cp "$out" "$golden"
                echo "updated $golden"
                updated=$((updated + 1))
            fi
            continue
        fi
        if [ ! -f "$golden" ]; then
            echo "FAIL: $golden missing: tcpwave sim $rest --format $fmt"
            echo "      (create it with TCPW_UPDATE_GOLDEN=1 bash tests/cli_sim_golden.sh $BUILD)"
            fails=$((fails + 1))
            continue
        fi
        if ! cmp -s "$golden" "$out"; then
            echo "FAIL: tcpwave sim $rest --format $fmt differs from $golden:"
            diff -u "$golden" "$out" --label "$golden" --label "tcpwave sim $rest --format $fmt" | head -80
            fails=$((fails + 1))
        fi
    done
done <"$CASES"

# Goldens that no case produces any more are stale: they would silently stop being checked.
for f in "$DIR"/*.txt "$DIR"/*.mmd "$DIR"/*.jsonl; do
    [ -e "$f" ] || continue
    if [ -z "${expected_files[$f]:-}" ]; then
        if [ "$UPDATE" = 1 ]; then
            rm -f "$f"
            echo "removed stale $f"
        else
            echo "FAIL: $f is not produced by any case of $CASES (stale: remove it)"
            fails=$((fails + 1))
        fi
    fi
done

if [ "$UPDATE" = 1 ]; then
    echo "cli_sim_golden: $checked outputs, $updated updated; review with: git diff $DIR"
    [ $fails -eq 0 ]
    exit
fi
if [ $fails -ne 0 ]; then
    echo "cli_sim_golden: $fails of $checked outputs FAILED"
    echo "If the change is intended: TCPW_UPDATE_GOLDEN=1 bash tests/cli_sim_golden.sh $BUILD, then review git diff $DIR"
    exit 1
fi
echo "cli_sim_golden: $checked outputs match their goldens"
