#!/usr/bin/env bash
# interop_echo_kernel_closes.sh — issue 4, test 2: the tcpwave client (`tcpwave tun connect`)
# sends 10 MiB to a kernel echo server and checks, byte for byte, what comes back; the kernel
# closes first: tcpwave goes CLOSE_WAIT -> LAST_ACK -> CLOSED, the capture shows the kernel as
# the active closer, and the kernel's socket is in TIME-WAIT (ss -tan, inside the namespace).
# Then the same close with an unmodified `python3 -m http.server` as the kernel's server: the
# tcpwave client GETs 1 MiB over HTTP/1.0, the server closes first, the body is checked.
# Usage: interop_echo_kernel_closes.sh BUILD_DIR
. "$(dirname "$0")/interop/lib.sh"
. "$(dirname "$0")/interop/scenarios.sh"
interop_init
new_netns echo
echo_kernel_closes ipv4 198.18.0.1 198.18.0.2 10485760 --msl 1s

# python3 -m http.server closes first after its HTTP/1.0 response
mkdir -p "$TMPD/www"
head -c 1048576 /dev/urandom > "$TMPD/www/f.bin"
printf 'GET /f.bin HTTP/1.0\r\n\r\n' > "$TMPD/get.txt"
bg nsx python3 -m http.server 8000 --bind 0.0.0.0 --directory "$TMPD/www" > /dev/null 2>&1
wait_listen 8000
"$TCPW" tun --netns "$NS" connect 198.18.0.1 8000 --send "$TMPD/get.txt" --out "$TMPD/resp" \
    --msl 1s --format json --pcap "$TMPD/h.pcap" > "$TMPD/h.json" 2> "$TMPD/h.err"
rc=$?
cat "$TMPD/h.err" >&2
[ $rc -eq 0 ] || fail "http.server: tcpwave tun exited with $rc"
python3 - "$TMPD/resp" "$TMPD/www/f.bin" <<'PY' || fail "http.server: the body differs"
import sys
head, _, body = open(sys.argv[1], "rb").read().partition(b"\r\n\r\n")
sys.exit(0 if head.startswith(b"HTTP/1.0 200") and body == open(sys.argv[2], "rb").read() else 1)
PY
hstates=$(python3 "$TRACE" states "$TMPD/h.json")
echo "[http.server] tcpwave states: $hstates"
case "$hstates" in *"ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED") ;; *) fail "http.server: $hstates" ;; esac
python3 "$CLOSESEQ" "$TMPD/h.pcap" --tcpwave 198.18.0.2 --streams 1 --closer kernel \
    --complete --no-rst || fail "http.server: close sequence on the wire"
tw=$(nsx ss -Htan state time-wait "sport = :8000" | wc -l)
[ "$tw" -eq 1 ] || fail "http.server: expected its socket in TIME-WAIT, ss shows $tw"
pass "10 MiB echoed back intact; python3 -m http.server served 1 MiB; both times the kernel closed first, tcpwave CLOSE_WAIT LAST_ACK CLOSED, the kernel's socket in TIME-WAIT"
