#!/usr/bin/env bash
# interop_many_connections.sh — issue 4, test 5: 1,000 sequential short connections (connect,
# request, response, close) in each direction, all succeeding, and the TIME_WAIT population of
# the side that closed first as expected:
#  a) kernel clients -> tcpwave's HTTP server: tcpwave closes first (after the response), so
#     tcpwave holds 1,000 TIME_WAIT records and the kernel none;
#  b) tcpwave's client -> a kernel server that answers and closes first: the kernel holds
#     1,000 TIME-WAIT sockets (ss -tan) and tcpwave none.
# Every connection's close is checked on the wire (capture + tshark).
# Usage: interop_many_connections.sh BUILD_DIR
. "$(dirname "$0")/interop/lib.sh"
interop_init
new_netns many

N=${N:-1000}
mkdir -p "$TMPD/www"
head -c 1000 /dev/urandom > "$TMPD/www/r.bin"
printf 'GET /r.bin HTTP/1.0\r\n\r\n' > "$TMPD/request.txt"

# a) tcpwave serves; --msl 30s keeps its TIME_WAIT records for the whole run (60 s)
"$TCPW" tun --netns "$NS" listen 8080 --http "$TMPD/www" --count "$N" --msl 30s --linger 0 \
    --quiet --trace none --pcap "$TMPD/a.pcap" \
    -- python3 "$PEER" get 198.18.0.2 8080 "$N" "$TMPD/www/r.bin" > /dev/null 2> "$TMPD/a.err"
rc=$?
cat "$TMPD/a.err" >&2
[ $rc -eq 0 ] || fail "a) tcpwave tun exited with $rc"
grep -q "kernel: $N GETs, 0 bad" "$TMPD/a.err" || fail "a) not every GET succeeded"
grep -q "^tcpwave tun: $N connection(s) completed, 0 failed; tcpwave holds $N in TIME_WAIT ($N compact records) and 0 other(s)" \
    "$TMPD/a.err" || fail "a) tcpwave's TIME_WAIT population is not $N"
ktw=$(nsx ss -Htan state time-wait | wc -l)
[ "$ktw" -eq 0 ] || fail "a) the kernel (passive closer) holds $ktw TIME-WAIT sockets"
python3 "$CLOSESEQ" "$TMPD/a.pcap" --tcpwave 198.18.0.2 --streams "$N" --closer tcpwave \
    --complete --no-rst --quiet || fail "a) close sequence on the wire"

# b) the kernel serves and closes first
"$TCPW" tun --netns "$NS" connect 198.18.0.1 9000 --count "$N" --send "$TMPD/request.txt" \
    --expect-bytes 2000 --msl 500 --quiet --trace none --pcap "$TMPD/b.pcap" \
    -- python3 "$PEER" serve 9000 "$N" 2000 > /dev/null 2> "$TMPD/b.err"
rc=$?
cat "$TMPD/b.err" >&2
[ $rc -eq 0 ] || fail "b) tcpwave tun exited with $rc"
grep -q "^tcpwave tun: $N connection(s) completed, 0 failed; tcpwave holds 0 in TIME_WAIT" \
    "$TMPD/b.err" || fail "b) tcpwave's summary is not '$N completed, none in TIME_WAIT'"
ktw=$(nsx ss -Htan state time-wait "sport = :9000" | wc -l)
echo "b) kernel TIME-WAIT sockets: $ktw"
[ "$ktw" -eq "$N" ] || fail "b) the kernel (active closer) holds $ktw TIME-WAIT sockets, expected $N"
python3 "$CLOSESEQ" "$TMPD/b.pcap" --tcpwave 198.18.0.2 --streams "$N" --closer kernel \
    --complete --no-rst --quiet || fail "b) close sequence on the wire"
pass "$N + $N connections; TIME_WAIT: tcpwave $N / kernel 0 (tcpwave closed first), kernel $N / tcpwave 0 (kernel closed first)"
