#!/usr/bin/env bash
# cli_sim_four_way.sh — the seeds' four-way close, checked on `tcpwave sim --scenario four-way
# --format json` (and the default run) by meaning rather than by bytes:
#   第一次挥手 FIN seq=u;  第二次挥手 ACK seq=v ack=u+1;  第三次挥手 FIN+ACK seq=w ack=u+1;
#   第四次挥手 ACK seq=u+1 ack=w+1
# with the seeds' state sequences on both sides (client ESTABLISHED -> FIN_WAIT_1 -> FIN_WAIT_2
# -> TIME_WAIT -> CLOSED after 2MSL; server ESTABLISHED -> CLOSE_WAIT -> LAST_ACK -> CLOSED),
# each change with its cause. Also: the same numbers in absolute form, and the text ladder.
set -u
BUILD=${1:?usage: cli_sim_four_way.sh BUILD_DIR}
BIN=$BUILD/tcpwave
[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$BIN" sim --scenario four-way --format json >"$tmp/fw.jsonl" || { echo "FAIL: four-way json exited $?"; exit 1; }
"$BIN" sim --format json >"$tmp/default.jsonl" || { echo "FAIL: default json exited $?"; exit 1; }
"$BIN" sim --msl 5 --format json >"$tmp/msl5.jsonl" || { echo "FAIL: --msl 5 json exited $?"; exit 1; }

python3 - "$tmp" <<'EOF'
import json, sys
tmp = sys.argv[1]
fails = []

def check(cond, what):
    if not cond:
        fails.append(what)
    return cond

def load(path):
    out = []
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        try:
            out.append(json.loads(line))
        except ValueError as e:
            fails.append("%s:%d: not JSON (%s): %r" % (path, n, e, line[:80]))
    return out

def close_of(ev, label, twomsl_us):
    segs = [e for e in ev if e["ev"] == "seg"]
    # 第一次挥手: the first FIN, from the client
    fin1 = next((i for i, s in enumerate(segs) if "F" in s["flags"]), None)
    if not check(fin1 is not None, label + ": no FIN at all"):
        return
    w1 = segs[fin1]
    check(w1["from"] == "client", label + ": the first FIN is not the client's: %r" % w1)
    u = w1["rel_seq"]
    check(u == 101, label + ": FIN seq=u: u is %d, not 101 (SYN 1 + 100 bytes)" % u)
    rest = segs[fin1 + 1:]
    check(len(rest) == 3, label + ": %d segments after the first FIN, not 3: %r" % (len(rest), rest))
    if len(rest) < 3:
        return
    w2, w3, w4 = rest[:3]
    # 第二次挥手: ACK seq=v ack=u+1 from the server, no FIN
    check(w2["from"] == "server" and w2["flags"] == "A", label + ": 2nd wave is not the server's plain ACK: %r" % w2)
    v = w2["rel_seq"]
    check(v == 201, label + ": ACK seq=v: v is %d, not 201 (SYN 1 + 200 bytes)" % v)
    check(w2["rel_ack"] == u + 1, label + ": 2nd wave ack=%d, not u+1=%d" % (w2["rel_ack"], u + 1))
    # 第三次挥手: FIN+ACK seq=w ack=u+1 from the server
    check(w3["from"] == "server" and w3["flags"] == "FA", label + ": 3rd wave is not the server's FIN+ACK: %r" % w3)
    w = w3["rel_seq"]
    check(w == v, label + ": FIN+ACK seq=w=%d, but the server sent nothing after v=%d" % (w, v))
    check(w3["rel_ack"] == u + 1, label + ": 3rd wave ack=%d, not u+1=%d" % (w3["rel_ack"], u + 1))
    # 第四次挥手: ACK seq=u+1 ack=w+1 from the client
    check(w4["from"] == "client" and w4["flags"] == "A", label + ": 4th wave is not the client's plain ACK: %r" % w4)
    check(w4["rel_seq"] == u + 1, label + ": 4th wave seq=%d, not u+1=%d" % (w4["rel_seq"], u + 1))
    check(w4["rel_ack"] == w + 1, label + ": 4th wave ack=%d, not w+1=%d" % (w4["rel_ack"], w + 1))
    for s in (w1, w2, w3, w4):
        check(s["fate"] == "delivered" and s["len"] == 0, label + ": a closing segment was not delivered empty: %r" % s)
    # the absolute numbers say the same
    U, V, W = w1["seq"], w2["seq"], w3["seq"]
    m = 1 << 32
    check(w2["ack"] == (U + 1) % m and w3["ack"] == (U + 1) % m, label + ": absolute ack of the 2nd/3rd wave is not u+1")
    check(w4["seq"] == (U + 1) % m and w4["ack"] == (W + 1) % m, label + ": absolute 4th wave is not seq=u+1 ack=w+1")
    check((w1["seq"] - w1["rel_seq"]) % m == (w4["seq"] - w4["rel_seq"]) % m, label + ": the client's ISN moved")

    # the seeds' state sequences, each change with its cause
    st = {side: [(e["from"], e["to"], e["cause"], e["t_us"]) for e in ev if e["ev"] == "state" and e["who"] == side]
          for side in ("client", "server")}
    cl = [(f, t) for f, t, _, _ in st["client"]]
    check(cl == [("CLOSED", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED"), ("ESTABLISHED", "FIN_WAIT_1"),
                 ("FIN_WAIT_1", "FIN_WAIT_2"), ("FIN_WAIT_2", "TIME_WAIT"), ("TIME_WAIT", "CLOSED")],
          label + ": client states %r" % cl)
    sv = [(f, t) for f, t, _, _ in st["server"]]
    check(sv == [("CLOSED", "LISTEN"), ("LISTEN", "SYN_RCVD"), ("SYN_RCVD", "ESTABLISHED"),
                 ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"), ("LAST_ACK", "CLOSED")],
          label + ": server states %r" % sv)
    if len(cl) == 6 and len(sv) == 6:
        c, s = st["client"], st["server"]
        check(c[2][2] == "close()", label + ": FIN_WAIT_1 not caused by close(): %r" % (c[2],))
        check(c[3][2] == "seg:A seq=%d ack=%d" % (V, (U + 1) % m), label + ": FIN_WAIT_2 not caused by the 2nd wave: %r" % (c[3],))
        check(c[4][2] == "seg:FA seq=%d ack=%d" % (W, (U + 1) % m), label + ": TIME_WAIT not caused by the 3rd wave: %r" % (c[4],))
        check(c[5][2] == "timer:2msl", label + ": TIME_WAIT not ended by the 2MSL timer: %r" % (c[5],))
        check(c[5][3] - c[4][3] == twomsl_us, label + ": TIME_WAIT lasted %d us, not 2MSL = %d us" % (c[5][3] - c[4][3], twomsl_us))
        check(s[3][2] == "seg:FA seq=%d ack=%d" % (U, w1["ack"]), label + ": CLOSE_WAIT not caused by the 1st wave: %r" % (s[3],))
        check(s[4][2] == "close()", label + ": LAST_ACK not caused by close(): %r" % (s[4],))
        check(s[5][2] == "seg:A seq=%d ack=%d" % ((U + 1) % m, (W + 1) % m), label + ": CLOSED not caused by the 4th wave: %r" % (s[5],))
        # the order of the waves in time
        check(w1["t_us"] == c[2][3] and w2["arrive_us"] == c[3][3] and w3["arrive_us"] == c[4][3]
              and w4["arrive_us"] == s[5][3], label + ": states do not change when the waves are sent/arrive")

fw = load(tmp + "/fw.jsonl")
close_of(fw, "--scenario four-way", 60_000_000)
default = load(tmp + "/default.jsonl")
check(default == fw, "tcpwave sim without --scenario does not run four-way")
close_of(load(tmp + "/msl5.jsonl"), "--msl 5", 10_000_000)

# every line: the documented keys in the documented order (docs/trace-json.md)
order = {
    "seg": ["t_us", "ev", "from", "to", "flags", "seq", "ack", "rel_seq", "rel_ack", "len", "win", "fate", "arrive_us"],
    "state": ["t_us", "ev", "who", "from", "to", "cause"],
    "app": ["t_us", "ev", "who", "what", "bytes"],
    "note": ["t_us", "ev", "who", "text"],
}
for e in fw:
    keys = [k for k in e if k not in ("inferred", "explain")]
    want = order.get(e.get("ev"))
    if want and e.get("fate") == "dropped":
        want = want[:-1]
    check(want is not None and keys == want, "keys %r of %r are not the documented ones" % (keys, e))

if fails:
    print("FAIL: the seeds' four-way close:")
    for f in fails:
        print("  " + f)
    sys.exit(1)
print("four-way json: FIN seq=u=101; ACK seq=v=201 ack=u+1; FIN+ACK seq=w=201 ack=u+1; ACK seq=u+1 ack=w+1; states and causes as the seeds")
EOF
[ $? -eq 0 ] || exit 1

# The text ladder shows the same four waves (relative numbers), and --absolute the raw ones.
"$BIN" sim >"$tmp/fw.txt" || { echo "FAIL: tcpwave sim exited $?"; exit 1; }
fail=0
for want in \
    '|--\[FIN, ACK\] seq=101 ack=201 len=0 -*>|' \
    '|<-* \[ACK\] seq=201 ack=102 len=0--|' \
    '|<-* \[FIN, ACK\] seq=201 ack=102 len=0--|' \
    '|--\[ACK\] seq=102 ack=202 len=0 -*>|' \
    'FIN_WAIT_1 | close(): ESTABLISHED -> FIN_WAIT_1' \
    'FIN_WAIT_2 | rcvd \[ACK\]: FIN_WAIT_1 -> FIN_WAIT_2' \
    'rcvd \[FIN, ACK\]: ESTABLISHED -> CLOSE_WAIT | CLOSE_WAIT' \
    'close(): CLOSE_WAIT -> LAST_ACK | LAST_ACK' \
    'TIME_WAIT | rcvd \[FIN, ACK\]: FIN_WAIT_2 -> TIME_WAIT' \
    'rcvd \[ACK\]: LAST_ACK -> CLOSED | CLOSED' \
    'CLOSED | 2MSL timer: TIME_WAIT -> CLOSED' \
    '^data check: every byte arrived exactly once, in order$'; do
    grep -q -- "$want" "$tmp/fw.txt" || { echo "FAIL: the ladder lacks /$want/"; fail=1; }
done
u=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e=json.loads(l)
    if e["ev"]=="seg" and "F" in e["flags"]: print(e["seq"]); break' "$tmp/fw.jsonl")
"$BIN" sim --absolute >"$tmp/abs.txt" || { echo "FAIL: --absolute exited $?"; exit 1; }
grep -q -- "|--\[FIN, ACK\] seq=$u " "$tmp/abs.txt" || { echo "FAIL: --absolute does not show the FIN's raw seq=$u"; fail=1; }
grep -q -- "seq=101 ack=201" "$tmp/abs.txt" && { echo "FAIL: --absolute still shows relative numbers"; fail=1; }
[ $fail -eq 0 ] || { sed 's/^/    /' "$tmp/fw.txt"; exit 1; }
echo "cli_sim_four_way: ok"
