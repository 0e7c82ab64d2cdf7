# lib.sh — shared by the TUN interop tests (tests/interop_*.sh): the skip/fail policy, a
# namespace of the test's own with cleanup traps, and helpers to read tcpwave's JSON trace and
# a capture's close sequence.
#
# Policy: without root, /dev/net/tun or network namespaces the tests SKIP with a clear message
# (exit 0) — except under CI=true, where missing capability is a FAILURE. Each test makes its
# namespaces with the prefix tcpw- and a unique suffix, and deletes them (and its processes)
# on any exit. Nothing is added to the root namespace; traffic stays inside the namespace.

set -u

INTEROP_NAME=$(basename "$0" .sh)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
TCPW="$BUILD/tcpwave"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEER="$HERE/kernel_peer.py"
CLOSESEQ="$HERE/closeseq.py"
TRACE="$HERE/trace.py"
T0=$(date +%s.%N)

_interop_pids=()
_interop_ns=()
TMPD=""

result() { # result PASS|FAIL|SKIP message
    local secs
    secs=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    echo "$1 $INTEROP_NAME: $2 (${secs} s)"
}
pass() { result PASS "$*"; exit 0; }
fail() { result FAIL "$*"; exit 1; }
skip() {
    if [ "${CI:-}" = "true" ]; then
        result FAIL "cannot run here under CI=true: $*"
        exit 1
    fi
    result SKIP "$*"
    exit 0
}

_interop_cleanup() {
    local p ns
    for p in "${_interop_pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${_interop_pids[@]}"; do wait "$p" 2>/dev/null; done
    for ns in "${_interop_ns[@]}"; do ip netns del "$ns" 2>/dev/null; done
    [ -n "$TMPD" ] && rm -rf "$TMPD"
}

# interop_init: checks what the tests need, makes $TMPD and traps the cleanup.
interop_init() {
    [ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, /dev/net/tun)"
    [ -c /dev/net/tun ] && [ -r /dev/net/tun ] || skip "no /dev/net/tun on this machine"
    command -v ip >/dev/null || skip "iproute2 (ip) is not installed (scripts/setup.sh installs it)"
    local t
    for t in python3 curl socat tshark ss sha256sum; do
        command -v "$t" >/dev/null || skip "$t is not installed (scripts/setup.sh installs it)"
    done
    [ -x "$TCPW" ] || fail "no tcpwave binary at $TCPW (build first)"
    local probe="tcpw-probe-$$-$RANDOM"
    ip netns add "$probe" 2>/dev/null || skip "cannot create network namespaces here"
    ip netns del "$probe"
    TMPD=$(mktemp -d /tmp/tcpw-interop.XXXXXX)
    trap _interop_cleanup EXIT
    trap 'exit 130' INT TERM
}

# new_netns TAG: creates a namespace (name in $NS) deleted on exit.
new_netns() {
    NS="tcpw-${1}-$$"
    ip netns add "$NS" || fail "ip netns add $NS failed"
    _interop_ns+=("$NS")
}

# bg CMD...: runs CMD in the background, killed on exit; its pid in $BG.
bg() {
    "$@" &
    BG=$!
    _interop_pids+=("$BG")
}

nsx() { ip netns exec "$NS" "$@"; }

# wait_listen PORT: waits (10 s) until a kernel socket listens on PORT in $NS.
wait_listen() {
    local i
    for i in $(seq 1 200); do
        nsx ss -Htln "sport = :$1" 2>/dev/null | grep -q . && return 0
        sleep 0.05
    done
    fail "no kernel listener on port $1"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# ss_states: the kernel's TCP sockets in $NS, one state per line (ss -tan).
ss_states() { nsx ss -Htan | awk '{print $1}'; }
