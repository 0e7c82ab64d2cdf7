#!/usr/bin/env bash
# interop_reset.sh — issue 4, test 4: aborts both ways.
#  a) the kernel aborts (close with SO_LINGER 0): its RST reaches tcpwave, whose application
#     is told of the reset (the "reset" application event; tcpwave's state goes to CLOSED);
#  b) the same against tcpwave as a server: a kernel client aborts, tcpwave's echo server
#     application hears of the reset;
#  c) tcpwave aborts (tcpw_abort): the kernel's recv() fails with ECONNRESET.
# Usage: interop_reset.sh BUILD_DIR
. "$(dirname "$0")/interop/lib.sh"
interop_init
new_netns rst

printf 'GET / HTTP/1.0\r\n\r\n' > "$TMPD/request.txt"

# a) kernel server aborts
"$TCPW" tun --netns "$NS" connect 198.18.0.1 9001 --send "$TMPD/request.txt" --expect-reset \
    --msl 500 --format json --pcap "$TMPD/a.pcap" \
    -- python3 "$PEER" abort 9001 > "$TMPD/a.json" 2> "$TMPD/a.err"
rc=$?
cat "$TMPD/a.err" >&2
[ $rc -eq 0 ] || fail "a) tcpwave tun exited with $rc"
apps=$(python3 "$TRACE" apps "$TMPD/a.json")
states=$(python3 "$TRACE" states "$TMPD/a.json")
echo "a) tcpwave app events: $apps; states: $states"
case " $apps " in *" reset "*) ;; *) fail "a) tcpwave's application was not told of the reset" ;; esac
case "$states" in *"ESTABLISHED CLOSED") ;; *) fail "a) tcpwave's states: $states" ;; esac
python3 "$CLOSESEQ" "$TMPD/a.pcap" --tcpwave 198.18.0.2 --streams 1 --rst-from kernel \
    || fail "a) no RST from the kernel on the wire"

# b) kernel client aborts against tcpwave's echo server
"$TCPW" tun --netns "$NS" listen 7 --echo --count 1 --expect-reset --msl 500 --format json \
    -- python3 -c '
import socket, struct
s = socket.create_connection(("198.18.0.2", 7))
s.sendall(b"ping"); assert s.recv(4) == b"ping"
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close()
' > "$TMPD/b.json" 2> "$TMPD/b.err"
rc=$?
cat "$TMPD/b.err" >&2
[ $rc -eq 0 ] || fail "b) tcpwave tun exited with $rc"
apps=$(python3 "$TRACE" apps "$TMPD/b.json")
echo "b) tcpwave app events: $apps"
case " $apps " in *" reset "*) ;; *) fail "b) tcpwave's echo server was not told of the reset" ;; esac

# c) tcpwave aborts after reading the kernel's greeting
"$TCPW" tun --netns "$NS" connect 198.18.0.1 9002 --abort --expect-bytes 5 --msl 500 \
    --format json --pcap "$TMPD/c.pcap" \
    -- python3 "$PEER" recvreset 9002 > "$TMPD/c.json" 2> "$TMPD/c.err"
rc=$?
cat "$TMPD/c.err" >&2
[ $rc -eq 0 ] || fail "c) tcpwave tun exited with $rc (or the kernel's recv did not fail with ECONNRESET)"
grep -q "ECONNRESET" "$TMPD/c.err" || fail "c) the kernel did not report ECONNRESET"
python3 "$CLOSESEQ" "$TMPD/c.pcap" --tcpwave 198.18.0.2 --streams 1 --rst-from tcpwave \
    || fail "c) no RST from tcpwave on the wire"
pass "kernel SO_LINGER 0 -> tcpwave app told 'reset' (client and server); tcpwave abort -> kernel recv ECONNRESET"
