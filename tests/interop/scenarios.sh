# scenarios.sh — the bodies of issue 4's tests 1 and 2, shared by the plain runs
# (interop_curl_download.sh, interop_echo_kernel_closes.sh), the IPv6 run (interop_ipv6.sh)
# and the lossy runs (interop_lossy.sh). Sourced after lib.sh; each function fails the test
# (exit 1) on the first thing that is wrong and prints what it checked.

# download TAG URLHOST TCPWAVE_ADDR SIZE [tcpwave options...]
#   test 1: the kernel's curl downloads SIZE bytes from tcpwave's HTTP server; SHA-256; tcpwave
#   closes first (FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT, or FIN_WAIT_1 -> TIME_WAIT); the
#   close on the wire; no kernel socket left in CLOSE-WAIT or LAST-ACK.
download() {
    local tag=$1 host=$2 addr=$3 size=$4
    shift 4
    local d="$TMPD/$tag"
    mkdir -p "$d/www"
    head -c "$size" /dev/urandom > "$d/www/file.bin"
    "$TCPW" tun --netns "$NS" listen 8080 --http "$d/www" --count 1 --format json \
        --pcap "$d/run.pcap" "$@" \
        -- curl -sS --max-time 120 -o "$d/got.bin" "http://$host:8080/file.bin" \
        > "$d/trace.json" 2> "$d/stderr.txt"
    local rc=$?
    sed "s/^/[$tag] /" "$d/stderr.txt" >&2
    [ $rc -eq 0 ] || fail "$tag: tcpwave tun exited with $rc"
    [ -f "$d/got.bin" ] || fail "$tag: curl wrote nothing"
    [ "$(sha "$d/got.bin")" = "$(sha "$d/www/file.bin")" ] || fail "$tag: SHA-256 differs"
    local states
    states=$(python3 "$TRACE" states "$d/trace.json")
    echo "[$tag] tcpwave states: $states"
    case "$states" in
    *"ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT"* | *"ESTABLISHED FIN_WAIT_1 TIME_WAIT"*) ;;
    *) fail "$tag: tcpwave's states were: $states" ;;
    esac
    python3 "$CLOSESEQ" "$d/run.pcap" --tcpwave "$addr" --streams 1 --closer tcpwave \
        --complete --no-rst | sed "s/^/[$tag] /" || fail "$tag: close sequence on the wire"
    [ "${PIPESTATUS[0]}" -eq 0 ] || fail "$tag: close sequence on the wire"
    local left
    left=$(ss_states | grep -cE 'CLOSE-WAIT|LAST-ACK')
    echo "[$tag] kernel sockets after the run: $(ss_states | sort | uniq -c | tr '\n' ' ')"
    [ "$left" -eq 0 ] || fail "$tag: $left kernel socket(s) left in CLOSE-WAIT/LAST-ACK"
    DL_STATES=${states#*ESTABLISHED }
}

# echo_kernel_closes TAG KERNEL_ADDR TCPWAVE_ADDR SIZE [tcpwave options...]
#   test 2: tcpwave's client sends SIZE bytes to a kernel echo server and checks every byte
#   that comes back; the kernel closes first: CLOSE_WAIT -> LAST_ACK -> CLOSED at tcpwave, the
#   close on the wire, and the kernel's socket in TIME-WAIT.
echo_kernel_closes() {
    local tag=$1 kaddr=$2 addr=$3 size=$4 port=$((9000 + RANDOM % 1000))
    shift 4
    local d="$TMPD/$tag"
    mkdir -p "$d"
    head -c "$size" /dev/urandom > "$d/data.bin"
    "$TCPW" tun --netns "$NS" connect "$kaddr" "$port" --send "$d/data.bin" --check-echo \
        --out "$d/back.bin" --format json --pcap "$d/run.pcap" "$@" \
        -- python3 "$PEER" echo "$port" "$size" > "$d/trace.json" 2> "$d/stderr.txt"
    local rc=$?
    sed "s/^/[$tag] /" "$d/stderr.txt" >&2
    [ $rc -eq 0 ] || fail "$tag: tcpwave tun exited with $rc"
    grep -q "echo check ok" "$d/stderr.txt" || fail "$tag: tcpwave's echo check did not pass"
    [ "$(sha "$d/back.bin")" = "$(sha "$d/data.bin")" ] || fail "$tag: echoed data differs"
    local states
    states=$(python3 "$TRACE" states "$d/trace.json")
    echo "[$tag] tcpwave states: $states"
    case "$states" in
    *"ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED") ;;
    *) fail "$tag: tcpwave's states were: $states" ;;
    esac
    python3 "$CLOSESEQ" "$d/run.pcap" --tcpwave "$addr" --streams 1 --closer kernel \
        --complete --no-rst | sed "s/^/[$tag] /"
    [ "${PIPESTATUS[0]}" -eq 0 ] || fail "$tag: close sequence on the wire"
    local tw
    tw=$(nsx ss -Htan state time-wait "sport = :$port" | wc -l)
    echo "[$tag] kernel sockets after the run: $(ss_states | sort | uniq -c | tr '\n' ' ')"
    [ "$tw" -eq 1 ] || fail "$tag: expected the kernel's socket in TIME-WAIT, ss shows $tw"
}
