#!/usr/bin/env bash
# run.sh — bulk throughput over TUN, in each direction: tcpwave <-> the Linux kernel through
# `tcpwave tun`, next to kernel <-> kernel over a veth pair between two namespaces, in the same
# run, at the same MTUs. Writes bench/tun/results.csv, results.md and throughput.svg.
#
#   bench/tun/run.sh [BUILD_DIR] [MiB per transfer, default 256] [repetitions, default 3]
#
# Both sides of every transfer are the same two small programs (bulk.py), timed the same way:
#   "-> tcpwave"/"-> kernel B": the kernel sends (bulk.py send), timed from connect() until the
#       receiver's close comes back, i.e. every byte consumed by the receiving application;
#   "tcpwave ->"/"kernel B ->": the kernel receives (bulk.py recv), timed from the first byte
#       to the sender's FIN.
# tcpwave runs with --trace none (no ladder), no capture and no impairment. Needs root.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
MIB=${2:-256}
REPS=${3:-3}
TCPW="$BUILD/tcpwave"
BULK="bench/tun/bulk.py"
OUT=bench/tun
BYTES=$((MIB * 1048576))
[ "$(id -u)" -eq 0 ] || { echo "run.sh: needs root" >&2; exit 1; }
[ -x "$TCPW" ] || { echo "run.sh: no $TCPW (build first)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/tcpw-bench.XXXXXX)
A="tcpw-bench-a-$$" B="tcpw-bench-b-$$"
cleanup() { ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
truncate -s "$BYTES" "$TMP/zero.bin"

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / s / 1e6 }'; }

# veth pair between namespaces A (198.18.1.1) and B (198.18.1.2)
veth_setup() {
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    ip netns add "$A"
    ip netns add "$B"
    ip link add va netns "$A" mtu "$1" type veth peer name vb netns "$B" mtu "$1"
    ip -n "$A" addr add 198.18.1.1/24 dev va
    ip -n "$B" addr add 198.18.1.2/24 dev vb
    ip -n "$A" link set va up
    ip -n "$B" link set vb up
}

wait_port() { # NS PORT
    for _ in $(seq 1 200); do
        ip netns exec "$1" ss -Htln "sport = :$2" | grep -q . && return 0
        sleep 0.02
    done
    return 1
}

echo "mtu,path,direction,MB_per_s" > "$OUT/results.csv"
for mtu in 1500 9000 65535; do
    veth_setup "$mtu"
    for dir in in out; do
        k=() t=()
        for r in $(seq 1 "$REPS"); do
            if [ $dir = in ]; then
                # kernel -> kernel: A sends to B
                ip netns exec "$B" python3 "$BULK" recv 5001 > /dev/null &
                wait_port "$B" 5001
                s=$(ip netns exec "$A" python3 "$BULK" send 198.18.1.2 5001 "$BYTES" | cut -d' ' -f2)
                wait
                k+=("$s")
                # kernel -> tcpwave: the kernel sends to tcpwave's discard server
                s=$("$TCPW" tun listen 5001 --discard --count 1 --msl 100 --trace none --quiet \
                    --mtu "$mtu" -- python3 "$BULK" send 198.18.0.2 5001 "$BYTES" 2>/dev/null |
                    tail -1 | cut -d' ' -f2)
                t+=("$s")
            else
                # kernel -> kernel, timed at the receiver: B sends to A
                ip netns exec "$A" python3 "$BULK" recv 5001 > "$TMP/k.out" &
                wait_port "$A" 5001
                ip netns exec "$B" python3 "$BULK" send 198.18.1.1 5001 "$BYTES" > /dev/null
                wait
                k+=("$(cut -d' ' -f2 "$TMP/k.out")")
                # tcpwave -> kernel: tcpwave sends the file and closes first
                s=$("$TCPW" tun connect 198.18.0.1 5001 --send "$TMP/zero.bin" --close-first \
                    --msl 100 --trace none --quiet --mtu "$mtu" \
                    -- python3 "$BULK" recv 5001 2>/dev/null | tail -1 | cut -d' ' -f2)
                t+=("$s")
            fi
        done
        ks=$(printf '%s\n' "${k[@]}" | median)
        ts=$(printf '%s\n' "${t[@]}" | median)
        if [ $dir = in ]; then kd="kernel A -> kernel B"; td="kernel -> tcpwave"; else kd="kernel B -> kernel A"; td="tcpwave -> kernel"; fi
        echo "$mtu,veth kernel<->kernel,$kd,$(rate "$BYTES" "$ks")" >> "$OUT/results.csv"
        echo "$mtu,TUN tcpwave<->kernel,$td,$(rate "$BYTES" "$ts")" >> "$OUT/results.csv"
        echo "MTU $mtu: $kd $(rate "$BYTES" "$ks") MB/s; $td $(rate "$BYTES" "$ts") MB/s"
    done
done
python3 bench/tun/figure.py "$OUT/results.csv" "$OUT/throughput.svg" "$OUT/results.md" \
    "$MIB MiB per transfer, median of $REPS, $(nproc) CPUs, Linux $(uname -r)"
echo "wrote $OUT/results.csv, $OUT/results.md, $OUT/throughput.svg"
