#!/usr/bin/env bash
# interop_simultaneous_close.sh — the seeds' rarest close against the kernel: both ends close
# at once and their FINs cross (同时关闭). A 150 ms delay each way between the device and the
# engine lets the kernel server (send 1000 bytes, close 100 ms later) and tcpwave's client
# (close as soon as those 1000 bytes arrive) send their FINs before either sees the other's:
# tcpwave goes FIN_WAIT_1 -> CLOSING -> TIME_WAIT, the capture shows the crossed FINs, and the
# kernel's socket, CLOSING too, ends in TIME-WAIT (ss -tan).
# Usage: interop_simultaneous_close.sh BUILD_DIR
. "$(dirname "$0")/interop/lib.sh"
interop_init
new_netns simul

"$TCPW" tun --netns "$NS" connect 198.18.0.1 9000 --close-first --expect-bytes 1000 \
    --delay 150ms --msl 1s --format json --pcap "$TMPD/run.pcap" \
    -- python3 "$PEER" sendclose 9000 1000 0.1 > "$TMPD/trace.json" 2> "$TMPD/stderr.txt"
rc=$?
cat "$TMPD/stderr.txt" >&2
[ $rc -eq 0 ] || fail "tcpwave tun exited with $rc"
states=$(python3 "$TRACE" states "$TMPD/trace.json")
echo "tcpwave states: $states"
case "$states" in
*"ESTABLISHED FIN_WAIT_1 CLOSING TIME_WAIT"*) ;;
*) fail "tcpwave's states were: $states (the FINs may not have crossed)" ;;
esac
python3 "$CLOSESEQ" "$TMPD/run.pcap" --tcpwave 198.18.0.2 --streams 1 --simultaneous \
    --complete --no-rst || fail "close sequence on the wire"
tw=$(nsx ss -Htan state time-wait "sport = :9000" | wc -l)
echo "kernel sockets after the run: $(ss_states | sort | uniq -c | tr '\n' ' ')"
[ "$tw" -eq 1 ] || fail "expected the kernel's socket in TIME-WAIT, ss shows $tw"
pass "FINs crossed: tcpwave FIN_WAIT_1 -> CLOSING -> TIME_WAIT; the kernel's socket in TIME-WAIT"
