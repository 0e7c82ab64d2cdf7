#!/usr/bin/env bash
# interop_half_close.sh — issue 4, test 3: half-close against the kernel.
#  a) The tcpwave client sends a request and shuts down its send side (FIN); the kernel server
#     reads to that EOF, goes on sending 1 MiB, then closes. tcpwave receives all of it in
#     FIN_WAIT_2 (SHA-256 checked): ESTABLISHED -> FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT, and on
#     the wire the kernel's data follows tcpwave's FIN.
#  b) The other way round with an unmodified socat: it sends 1 MiB to tcpwave's echo server and
#     half-closes at the end of its input; tcpwave goes on echoing in CLOSE_WAIT, then closes
#     (LAST_ACK -> CLOSED); socat gets all 1 MiB back and its socket ends in TIME-WAIT.
# Usage: interop_half_close.sh BUILD_DIR
. "$(dirname "$0")/interop/lib.sh"
interop_init
new_netns half

SIZE=${SIZE:-1048576}
head -c "$SIZE" /dev/urandom > "$TMPD/data.bin"
printf 'please send the file, I have nothing more to say\n' > "$TMPD/request.txt"
"$TCPW" tun --netns "$NS" connect 198.18.0.1 9000 --send "$TMPD/request.txt" \
    --shutdown-after-send --out "$TMPD/got.bin" --expect-bytes "$SIZE" --msl 1s \
    --format json --pcap "$TMPD/run.pcap" \
    -- python3 "$PEER" halfclose 9000 "$TMPD/data.bin" > "$TMPD/trace.json" 2> "$TMPD/stderr.txt"
rc=$?
cat "$TMPD/stderr.txt" >&2
[ $rc -eq 0 ] || fail "tcpwave tun exited with $rc"
[ "$(sha "$TMPD/got.bin")" = "$(sha "$TMPD/data.bin")" ] || fail "received data differs (SHA-256)"

states=$(python3 "$TRACE" states "$TMPD/trace.json")
echo "tcpwave states: $states"
case "$states" in
*"ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT") ;;
*) fail "tcpwave's states were: $states" ;;
esac
python3 "$CLOSESEQ" "$TMPD/run.pcap" --tcpwave 198.18.0.2 --streams 1 --closer tcpwave \
    --complete --no-rst || fail "close sequence on the wire"
# the kernel's data went out after tcpwave's FIN: count its payload bytes after that FIN
after=$(tshark -r "$TMPD/run.pcap" -T fields -e ip.src -e tcp.flags.fin -e tcp.len 2>/dev/null |
    awk '$1 == "198.18.0.2" && $2 == 1 { fin = 1 } fin && $1 == "198.18.0.1" { n += $3 } END { print n + 0 }')
[ "$after" -eq "$SIZE" ] || fail "the kernel sent $after bytes after tcpwave's FIN, expected $SIZE"

# b) socat half-closes against tcpwave's echo server
"$TCPW" tun --netns "$NS" listen 7 --echo --count 1 --msl 1s --format json \
    --pcap "$TMPD/b.pcap" \
    -- sh -c "socat -t 30 - TCP:198.18.0.2:7 < '$TMPD/data.bin' > '$TMPD/echoed.bin'" \
    > "$TMPD/b.json" 2> "$TMPD/b.err"
rc=$?
cat "$TMPD/b.err" >&2
[ $rc -eq 0 ] || fail "b) tcpwave tun exited with $rc"
[ "$(sha "$TMPD/echoed.bin")" = "$(sha "$TMPD/data.bin")" ] || fail "b) socat got back other bytes"
bstates=$(python3 "$TRACE" states "$TMPD/b.json")
echo "b) tcpwave states: $bstates"
case "$bstates" in
*"ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED") ;;
*) fail "b) tcpwave's states were: $bstates" ;;
esac
python3 "$CLOSESEQ" "$TMPD/b.pcap" --tcpwave 198.18.0.2 --streams 1 --closer kernel \
    --complete --no-rst || fail "b) close sequence on the wire"
tw=$(nsx ss -Htan state time-wait "dport = :7" | wc -l)
[ "$tw" -eq 1 ] || fail "b) expected socat's socket in TIME-WAIT, ss shows $tw"
pass "a) tcpwave half-closed, then got all $SIZE bytes in FIN_WAIT_2 (${states#*ESTABLISHED }); b) socat half-closed, got its $SIZE bytes echoed, TIME-WAIT"
