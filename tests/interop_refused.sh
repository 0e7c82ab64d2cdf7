#!/usr/bin/env bash
# interop_refused.sh — issue 4, test 7: a kernel client connecting to a tcpwave port with no
# listener gets ECONNREFUSED, from tcpwave's RST (RFC 9293 §3.10.7.1: <SEQ=0><ACK=SEG.SEQ+1>
# <CTL=RST,ACK> in answer to the SYN), over IPv4 and IPv6. tcpwave serves on another port
# meanwhile (`tcpwave tun exec --listen`), so the RST comes from a live stack.
# Usage: interop_refused.sh BUILD_DIR
. "$(dirname "$0")/interop/lib.sh"
interop_init
new_netns refused

"$TCPW" tun --netns "$NS" exec --listen 80 --echo --msl 500 --pcap "$TMPD/run.pcap" \
    -- sh -c "python3 '$PEER' refused 198.18.0.2 9 && python3 '$PEER' refused fd00:7763::2 9" \
    > "$TMPD/trace.txt" 2> "$TMPD/stderr.txt"
rc=$?
cat "$TMPD/stderr.txt" >&2
[ $rc -eq 0 ] || fail "tcpwave tun exec exited with $rc (a kernel connect did not fail with ECONNREFUSED)"
n=$(grep -c "ECONNREFUSED" "$TMPD/stderr.txt")
[ "$n" -eq 2 ] || fail "expected two ECONNREFUSED, saw $n"
# on the wire: each SYN answered by RST+ACK from tcpwave acknowledging exactly the SYN
tshark -r "$TMPD/run.pcap" -T fields -e ip.src -e ipv6.src -e tcp.flags.str -e tcp.seq_raw \
    -e tcp.ack_raw 2>/dev/null > "$TMPD/pkts.txt"
cat "$TMPD/pkts.txt"
python3 - "$TMPD/pkts.txt" <<'PY' || fail "the RSTs on the wire are not <SEQ=0><ACK=SYN+1><RST,ACK>"
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
syns = [r for r in rows if "S" in r[2] and "A" not in r[2].replace("·", "")]
rsts = [r for r in rows if "R" in r[2]]
ok = len(syns) == 2 and len(rsts) == 2
for s, r in zip(syns, rsts):
    ok = ok and (r[0] or r[1]) in ("198.18.0.2", "fd00:7763::2") and int(r[3]) == 0 \
        and int(r[4]) == (int(s[3]) + 1) % 2**32 and "A" in r[2]
sys.exit(0 if ok else 1)
PY
grep -q "connection 1: kernel" "$TMPD/trace.txt" || fail "no ladder of the refused connection"
pass "kernel connect() to a port with no listener: ECONNREFUSED over IPv4 and IPv6, from tcpwave's RST+ACK"
