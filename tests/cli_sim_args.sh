#!/usr/bin/env bash
# cli_sim_args.sh — the command line of `tcpwave sim`: help and usage, one-line errors with exit
# code 2 for bad arguments, every knob accepted and having its effect, --pcap, -o, colour only
# on a terminal, the seeds' two "why" commands, and the man page docs/tcpwave.1 in step with the
# command (every option and every scenario in it, no groff warnings).
set -u
BUILD=${1:?usage: cli_sim_args.sh BUILD_DIR}
BIN=$BUILD/tcpwave
[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset NO_COLOR
fails=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

# ---- help ------------------------------------------------------------------------------------
"$BIN" sim --help >"$tmp/help" 2>"$tmp/err" || fail "sim --help exited $?"
[ -s "$tmp/err" ] && fail "sim --help wrote to stderr"
grep -q '^usage: tcpwave sim' "$tmp/help" || fail "sim --help has no usage line"
for opt in --scenario --list --format --explain --lang --absolute --color --quiet --output --pcap \
    --seed --loss --dup --reorder --delay --drop --msl --fin-timeout --tw-reuse --rfc1337 \
    --delayed-ack --data --close-first --help; do
    grep -q -- "$opt" "$tmp/help" || fail "sim --help does not describe $opt"
done
"$BIN" sim -h | cmp -s - "$tmp/help" || fail "sim -h differs from sim --help"
"$BIN" --help >"$tmp/top" || fail "tcpwave --help exited $?"
grep -q '^  sim ' "$tmp/top" || fail "tcpwave --help does not list sim"
# every subcommand the top-level help lists has a --help of its own
for cmd in $(awk '/^commands:/{on=1; next} on && /^  [a-z]/{print $1}' "$tmp/top"); do
    "$BIN" "$cmd" --help >"$tmp/sub" 2>&1 || fail "tcpwave $cmd --help exited $?"
    grep -qi "usage" "$tmp/sub" || fail "tcpwave $cmd --help has no usage"
done
"$BIN" >/dev/null 2>&1
[ $? -eq 2 ] || fail "tcpwave without a command does not exit 2"

# ---- bad arguments: a one-line error, then the usage, on stderr; exit 2 ------------------------
bad() { # ARGS... ; the error line must match $want
    "$BIN" sim "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    local what="tcpwave sim $*"
    [ $rc -eq 2 ] || fail "$what: exit $rc, not 2"
    [ -s "$tmp/out" ] && fail "$what: wrote to stdout"
    local first second
    first=$(sed -n 1p "$tmp/err")
    second=$(sed -n 2p "$tmp/err")
    case $first in "tcpwave sim: "*) ;; *) fail "$what: first line is not 'tcpwave sim: ...': $first" ;; esac
    case $second in "usage: tcpwave sim"*) ;; *) fail "$what: the usage does not follow the error: $second" ;; esac
    if [ -n "${want:-}" ] && ! grep -q -- "$want" <<<"$first"; then
        fail "$what: error '$first' does not say '$want'"
    fi
    want=
}
want="unknown scenario 'nosuch' (known: four-way, server-first" bad --scenario nosuch
want="known: .*close-wait-leak" bad nosuch
want="unknown option '--bogus'" bad --bogus
want="unknown option '-x'" bad -x
want="'--seed' needs a value" bad --seed
want="'--explain' takes no value" bad --explain=yes
want="--loss: '2' is not a probability" bad --loss 2
want="--loss: '150%' is not a probability" bad --loss 150%
want="--dup: '-0.1' is not a probability" bad --dup -0.1
want="--reorder: 'x' is not a probability" bad --reorder x
want="--delay: '-5' is not a time" bad --delay -5
want="--msl: 'abc' is not a time in seconds" bad --msl abc
want="--msl: '-1'" bad --msl -1
want="--fin-timeout: '1h'" bad --fin-timeout 1h
want="--delayed-ack: 'soon'" bad --delayed-ack soon
want="--seed: 'x1' is not a number" bad --seed x1
want="--drop: bad rule 'foo'" bad --drop foo
want="--drop" bad --drop 'client>nobody#1'
want="--drop" bad --drop 'client>server#0'
want="--rfc1337: 'maybe' is not on or off" bad --rfc1337 maybe
want="--tw-reuse: 'maybe'" bad --tw-reuse=maybe
want="--close-first: 'nobody'" bad --close-first nobody
want="--data: 'x' is not a byte count" bad --data x
want="--data: '1,2,3'" bad --data 1,2,3
want="--data: 'middle' is not client or server" bad --data middle=5
want="--data: '-5' is not a byte count" bad --data -5
want="--format: 'png' is not text, mermaid, svg or json" bad --format png
want="--lang: 'fr' is not en or zh" bad --lang fr
want="--color: 'sometimes'" bad --color=sometimes
want="unexpected argument 'extra'" bad four-way extra
want="two scenarios given" bad --scenario four-way --scenario abort

# ---- good arguments --------------------------------------------------------------------------
ok() {
    "$BIN" sim "$@" --format json >"$tmp/ok.jsonl" 2>"$tmp/err" || { fail "tcpwave sim $* exited $?: $(head -1 "$tmp/err")"; return 1; }
    return 0
}
set -f # the rules hold glob characters
for args in "--loss 0.1" "--loss 10%" "--dup 5%" "--reorder 0.2" "--delay 25" "--delay 1.5s" \
    "--delay 300us" "--seed 42" "--msl 0" "--msl 0.5" "--msl 500ms" "--fin-timeout 5" \
    "--tw-reuse" "--tw-reuse=off" "--rfc1337 off" "--rfc1337 on" "--delayed-ack 0" \
    "--data 5" "--data 5,6" "--data client=7" "--data server=8" "--data client=1,server=2" \
    "--close-first client" "--close-first server" "--close-first both" "-s abort" "abort" \
    "--drop server>client#2" "--drop client>server#1:F --drop server>client#1:F" \
    "--drop *>*#3@hold=200ms" "--loss 100%" "--data 0,0"; do
    # shellcheck disable=SC2086
    ok $args
done
set +f

# knobs have their effect (read back from the JSON)
knob() { # PY-EXPRESSION over `ev` (the parsed lines), ARGS...
    local expr=$1
    shift
    ok "$@" || return
    python3 - "$tmp/ok.jsonl" "$expr" <<'EOF' || fail "tcpwave sim $*: expected $expr"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
segs = [e for e in ev if e["ev"] == "seg"]
states = [e for e in ev if e["ev"] == "state"]
def state_at(who, to):
    return [e["t_us"] for e in states if e["who"] == who and e["to"] == to]
def data(who):
    return sum(e["bytes"] for e in ev if e["ev"] == "app" and e["who"] == who and e["what"] == "data")
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}
knob 'segs[0]["arrive_us"] - segs[0]["t_us"] == 25000' --delay 25
knob 'segs[0]["arrive_us"] - segs[0]["t_us"] == 1500000' --delay 1.5s
knob 'state_at("client", "CLOSED")[-1] - state_at("client", "TIME_WAIT")[0] == 10000000' --msl 5
knob 'state_at("client", "CLOSED")[-1] - state_at("client", "TIME_WAIT")[0] == 1000000' --msl 500ms
knob 'state_at("client", "CLOSED")[-1] == state_at("client", "TIME_WAIT")[0]' --msl 0
knob 'data("server") == 300 and data("client") == 400' --data 300,400
knob 'data("server") == 77 and data("client") == 200' --data client=77
knob 'data("server") == 55 and data("client") == 55' --data 55
knob 'data("server") == 9 and data("client") == 200' --client-bytes 9
knob 'state_at("client", "CLOSING") and state_at("server", "CLOSING")' --close-first both
knob 'state_at("client", "CLOSE_WAIT") and state_at("server", "FIN_WAIT_1")' --close-first server
knob 'any(s["fate"] == "dropped" for s in segs)' --loss 30% --seed 3
knob 'any(s["fate"] == "duplicated" for s in segs)' --dup 50%
knob '[s["fate"] for s in segs if s["from"] == "server"][1] == "dropped"' --drop 'server>client#2'
knob 'state_at("client", "CLOSED")[-1] - state_at("client", "FIN_WAIT_2")[0] == 5000000' --scenario close-wait-leak --fin-timeout 5
knob 'not any(s["fate"] == "dropped" for s in segs) and all(s["arrive_us"] - s["t_us"] == 10000 for s in segs)' --seed 9
knob 'all(s["fate"] == "dropped" for s in segs)' --loss 1
"$BIN" sim --seed 1 --format json | head -2 | tail -1 >"$tmp/s1"
"$BIN" sim --seed 2 --format json | head -2 | tail -1 >"$tmp/s2"
cmp -s "$tmp/s1" "$tmp/s2" && fail "--seed does not change the ISNs"

# ---- --pcap and -o ---------------------------------------------------------------------------
"$BIN" sim --scenario lost-fin --pcap "$tmp/run.pcap" --format json >"$tmp/run.jsonl" || fail "--pcap run exited $?"
python3 - "$tmp/run.pcap" "$tmp/run.jsonl" <<'EOF' || fail "--pcap: the capture does not hold the run's segments"
import json, struct, sys
data = open(sys.argv[1], "rb").read()
magic = struct.unpack("<I", data[:4])[0]
assert magic in (0xa1b2c3d4, 0xa1b23c4d), hex(magic)
off, n = 24, 0
while off < len(data):
    incl = struct.unpack("<IIII", data[off:off + 16])[2]
    off += 16 + incl
    n += 1
assert off == len(data), "truncated"
segs = [l for l in open(sys.argv[2]) if '"ev":"seg"' in l]
assert n == len(segs), "%d packets, %d segments" % (n, len(segs))
EOF
if command -v tshark >/dev/null; then
    tshark -r "$tmp/run.pcap" >"$tmp/tshark" 2>&1 || fail "tshark cannot read the capture: $(head -2 "$tmp/tshark")"
    grep -q "FIN, ACK" "$tmp/tshark" || fail "tshark sees no FIN in the capture"
fi
"$BIN" sim --pcap /nonexistent-dir/x.pcap >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] || fail "--pcap into a missing directory does not exit 1"
[ -s "$tmp/err" ] || fail "--pcap into a missing directory says nothing"
"$BIN" sim --format svg -o "$tmp/out.svg" >"$tmp/stdout" || fail "-o exited $?"
[ -s "$tmp/stdout" ] && fail "-o FILE still wrote to stdout"
grep -q '</svg>' "$tmp/out.svg" || fail "-o FILE did not get the SVG"
"$BIN" sim -o /nonexistent-dir/x.txt 2>/dev/null
[ $? -eq 1 ] || fail "-o into a missing directory does not exit 1"
if [ -w /dev/full ]; then
    "$BIN" sim >/dev/full 2>"$tmp/err"
    [ $? -eq 1 ] || fail "writing to a full device does not exit 1"
fi

# ---- colour: only on a terminal, never with NO_COLOR, always with --color=always ---------------
esc=$'\033['
out=$("$BIN" sim)
[[ $out == *"$esc"* ]] && fail "colour codes on a pipe"
out=$("$BIN" sim --color=always)
[[ $out == *"$esc"* ]] || fail "--color=always has no colour"
out=$("$BIN" sim --color=always --format json)
[[ $out == *"$esc"* ]] && fail "colour codes in JSON"
if command -v script >/dev/null; then
    out=$(script -qec "$BIN sim" /dev/null </dev/null)
    [[ $out == *"$esc"* ]] || fail "no colour on a terminal"
    out=$(NO_COLOR=1 script -qec "$BIN sim" /dev/null </dev/null)
    [[ $out == *"$esc"* ]] && fail "colour on a terminal with NO_COLOR=1"
    out=$(script -qec "$BIN sim --no-color" /dev/null </dev/null)
    [[ $out == *"$esc"* ]] && fail "colour on a terminal with --no-color"
fi

# ---- the seeds' "why" arguments, one command each ----------------------------------------------
# old-duplicate: with the default MSL the stray segment is rejected (its RST falls outside the TIME_WAIT window)
# and the data is intact; with --msl 0 it lands in the new connection and corrupts it.
"$BIN" sim --scenario old-duplicate >"$tmp/od.txt" || fail "old-duplicate exited $?"
grep -q '^data check: every byte arrived exactly once, in order$' "$tmp/od.txt" || fail "old-duplicate: data not intact with 2MSL"
grep -q 'note: RST outside the window: dropped' "$tmp/od.txt" || fail "old-duplicate: the stray's RST is not shown dropped by TIME_WAIT"
"$BIN" sim --scenario old-duplicate --msl 0 >"$tmp/od0.txt" || fail "old-duplicate --msl 0 exited $?"
grep -q 'DATA DIFFERS' "$tmp/od0.txt" || fail "old-duplicate --msl 0: no corruption shown"
grep -q '^data check: FAILED' "$tmp/od0.txt" || fail "old-duplicate --msl 0: data check does not fail"
# lost-last-ack: with the default MSL TIME_WAIT answers every retransmitted FIN; with --msl 0
# the client has forgotten the connection and answers RST, which closes LAST_ACK.
"$BIN" sim --scenario lost-last-ack --format json >"$tmp/lla.jsonl" || fail "lost-last-ack exited $?"
"$BIN" sim --scenario lost-last-ack --msl 0 --format json >"$tmp/lla0.jsonl" || fail "lost-last-ack --msl 0 exited $?"
python3 - "$tmp/lla.jsonl" "$tmp/lla0.jsonl" <<'EOF' || fail "lost-last-ack: the why does not show"
import json, sys
def load(p):
    return [json.loads(l) for l in open(p)]
a, b = load(sys.argv[1]), load(sys.argv[2])
def server_fins(ev):
    return [e for e in ev if e["ev"] == "seg" and e["from"] == "server" and "F" in e["flags"]]
assert len(server_fins(a)) >= 2 and len(server_fins(b)) >= 2, "the server does not retransmit its FIN"
assert not any(e["ev"] == "seg" and "R" in e["flags"] for e in a), "RST with 2MSL"
end_a = [e for e in a if e["ev"] == "state" and e["who"] == "server" and e["to"] == "CLOSED"]
assert end_a and end_a[-1]["cause"].startswith("seg:A "), end_a
rst = [e for e in b if e["ev"] == "seg" and e["from"] == "client" and "R" in e["flags"]]
assert rst, "no RST from the client with --msl 0"
end_b = [e for e in b if e["ev"] == "state" and e["who"] == "server" and e["to"] == "CLOSED"]
assert end_b and end_b[-1]["from"] == "LAST_ACK" and end_b[-1]["cause"].startswith("seg:R "), end_b
# the RST (no ACK flag: the rules, counting only segments with ACK, never drop it) answers the
# server's first retransmitted FIN at once: the seeds' "FIN into a peer that has forgotten"
fins_b = server_fins(b)
assert len(fins_b) == 2 and fins_b[1]["t_us"] == 1150000, [f["t_us"] for f in fins_b]
assert rst[0]["t_us"] == 1160000 and rst[0]["fate"] == "delivered", rst[0]
assert end_b[-1]["t_us"] == 1170000, end_b[-1]
EOF

# ---- tw-reuse: the same reconnection, refused until 2MSL ends or allowed at once ----------------
"$BIN" sim --scenario tw-reuse >"$tmp/tw.txt" || fail "tw-reuse exited $?"
"$BIN" sim --scenario tw-reuse --tw-reuse >"$tmp/tw1.txt" || fail "tw-reuse --tw-reuse exited $?"
grep -q 'note: connect(): address in use; retrying when it is free' "$tmp/tw.txt" ||
    fail "tw-reuse: the reconnection is not shown refused"
grep -q '^ 60.160000 .*2MSL timer: TIME_WAIT -> CLOSED' "$tmp/tw.txt" ||
    fail "tw-reuse: TIME_WAIT does not last 2MSL without --tw-reuse"
grep -q '^ 60.160000 .*--\[SYN\] seq=0' "$tmp/tw.txt" || fail "tw-reuse: no SYN when 2MSL ends"
grep -q '^  1.160000 .*connect() reuses the 4-tuple (tw_reuse): TIME_WAIT ->' "$tmp/tw1.txt" ||
    fail "tw-reuse --tw-reuse: the trace does not show the 4-tuple reused at 1.16 s"
grep -q 'note: connect(): address in use' "$tmp/tw1.txt" && fail "tw-reuse --tw-reuse: still 'address in use'"
grep -q '^  1.160000 .*--\[SYN\] seq=0' "$tmp/tw1.txt" || fail "tw-reuse --tw-reuse: no SYN at 1.16 s"
grep -q '^client app (connection 2): sent 100, read 200 of 200 bytes' "$tmp/tw1.txt" ||
    fail "tw-reuse --tw-reuse: the second connection does not complete"

# ---- the summary: a listener's remote end is any address, any port -----------------------------
"$BIN" sim >"$tmp/fw.txt"
grep -q '^  LISTEN      192.0.2.2:80 \*:\*$' "$tmp/fw.txt" || fail "the listener is not shown as *:*"
grep -q ':0$' "$tmp/fw.txt" && fail "an endpoint shown with port 0"

# ---- --lang zh: the heading and --list in Chinese; English otherwise ---------------------------
"$BIN" sim --lang zh -q >"$tmp/zh.txt" || fail "--lang zh exited $?"
head -1 "$tmp/zh.txt" | grep -q '^four-way: 种子文章中的四次挥手' || fail "--lang zh: the heading is not in Chinese"
head -3 "$tmp/zh.txt" | grep -q '第四次挥手' || fail "--lang zh: the heading does not go on in Chinese"
python3 - "$tmp/zh.txt" <<'EOF' || fail "--lang zh: the heading is wider than 98 columns"
import sys, unicodedata
for line in open(sys.argv[1], encoding="utf-8").read().split("\n\n")[0].split("\n"):
    w = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)
    assert w <= 98, (w, line)
EOF
"$BIN" sim --list --lang zh >"$tmp/list-zh" || fail "--list --lang zh exited $?"
"$BIN" sim --list >"$tmp/list-en" || fail "--list exited $?"
[ "$(wc -l <"$tmp/list-zh")" -eq "$(wc -l <"$tmp/list-en")" ] || fail "--list --lang zh lists other scenarios"
grep -q '^half-close  *半关闭' "$tmp/list-zh" || fail "--list --lang zh: half-close not described in Chinese"
grep -q '同时打开' "$tmp/list-zh" && grep -q '同时关闭' "$tmp/list-zh" && grep -q '2MSL' "$tmp/list-zh" ||
    fail "--list --lang zh: the seeds' terms are missing"
grep -qP '[\x{4e00}-\x{9fff}]' "$tmp/list-en" && fail "--list without --lang zh is not English"

# ---- the man page ----------------------------------------------------------------------------
MAN=docs/tcpwave.1
if [ ! -f "$MAN" ]; then
    fail "$MAN missing"
else
    if command -v groff >/dev/null; then
        warn=$(groff -man -Tutf8 -ww -z "$MAN" 2>&1)
        [ -n "$warn" ] && fail "groff warns about $MAN: $warn"
    fi
    man_text=$(sed 's/\\-/-/g' "$MAN")
    for opt in $(grep -oE -- '--[a-z0-9-]+' "$tmp/help" | sort -u); do
        grep -q -- "$opt" <<<"$man_text" || fail "$MAN does not describe $opt"
    done
    for name in $("$BIN" sim --list | awk '{print $1}'); do
        grep -q "^\.B $name\$" <<<"$man_text" || fail "$MAN does not describe the scenario $name"
    done
    for cmd in $(awk '/^commands:/{on=1; next} on && /^  [a-z]/{print $1}' "$tmp/top"); do
        grep -q "^\.SH TCPWAVE ${cmd^^}" <<<"$man_text" || fail "$MAN has no section for tcpwave $cmd"
    done
fi

if [ $fails -ne 0 ]; then
    echo "cli_sim_args: $fails failures"
    exit 1
fi
echo "cli_sim_args: ok"
