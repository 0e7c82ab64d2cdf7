#!/usr/bin/env bash
# interop_cleanup.sh — issue 4's promise about the namespace: `tcpwave tun` creates it (named
# on its first line, with both addresses), adds nothing to the root namespace, and removes
# everything it created on exit, on Ctrl-C (SIGINT), and after a crash (SIGKILL: its watchdog
# cleans up); a namespace left by a run whose watchdog died too is removed at the next start.
# Usage: interop_cleanup.sh BUILD_DIR
. "$(dirname "$0")/interop/lib.sh"
interop_init

root_view() { { ip -o link show; ip -o addr show; ip route show; ip -6 route show; } 2>/dev/null |
    grep -v "tcpw-" | sed 's/ link-netns [^ ]*//' | sort; }
gone() { ! ip netns list | grep -qw "$1" && [ ! -e "/run/tcpwave/$1.owner" ]; }
first_line_ns() { sed -n '1s/^tcpwave tun: netns \([^,]*\),.*/\1/p' "$1"; }
wait_first_line() {
    local i
    for i in $(seq 1 100); do [ -s "$1" ] && return 0; sleep 0.05; done
    fail "tcpwave printed nothing"
}

before=$(root_view)

# 1) a normal exit
"$TCPW" tun exec -- true > "$TMPD/1.out" 2>/dev/null || fail "1) tcpwave tun exec -- true failed"
head -1 "$TMPD/1.out"
grep -q '^tcpwave tun: netns tcpw-[0-9]*, kernel 198.18.0.1 fd00:7763::1, tcpwave 198.18.0.2 fd00:7763::2' \
    "$TMPD/1.out" || fail "1) the first line does not name the namespace and both addresses"
ns=$(first_line_ns "$TMPD/1.out")
gone "$ns" || fail "1) $ns is still there after a normal exit"

# 2) Ctrl-C while serving; and meanwhile nothing new in the root namespace
"$TCPW" tun listen 8080 --echo > "$TMPD/2.out" 2>/dev/null &
pid=$!
_interop_pids+=("$pid")
wait_first_line "$TMPD/2.out"
ns=$(first_line_ns "$TMPD/2.out")
ip netns list | grep -qw "$ns" || fail "2) $ns does not exist while tcpwave runs"
ip netns exec "$ns" ip -o addr show | grep -q "198.18.0.1" || fail "2) no kernel address in $ns"
during=$(root_view)
[ "$before" = "$during" ] || fail "2) the root namespace changed: $(diff <(echo "$before") <(echo "$during"))"
kill -INT "$pid"
wait "$pid"
gone "$ns" || fail "2) $ns is still there after SIGINT"

# 3) a crash: SIGKILL gives tcpwave no chance; its watchdog removes the namespace
"$TCPW" tun listen 8080 --echo > "$TMPD/3.out" 2>/dev/null &
pid=$!
_interop_pids+=("$pid")
wait_first_line "$TMPD/3.out"
ns=$(first_line_ns "$TMPD/3.out")
kill -KILL "$pid"
wait "$pid" 2>/dev/null
for i in $(seq 1 100); do gone "$ns" && break; sleep 0.05; done
gone "$ns" || fail "3) $ns is still there after SIGKILL"

# 4) a stale namespace (owner and watchdog both gone) is removed at the next start
stale="tcpw-stale-$$"
ip netns add "$stale"
_interop_ns+=("$stale")
mkdir -p /run/tcpwave
echo "999999999 1" > "/run/tcpwave/$stale.owner"
"$TCPW" tun exec -- true > /dev/null 2> "$TMPD/4.err" || fail "4) tcpwave tun exec -- true failed"
# (a tcpwave of a test running in parallel may be the one that removes it: either proves it)
gone "$stale" || fail "4) the stale namespace $stale is still there"

after=$(root_view)
[ "$before" = "$after" ] || fail "the root namespace changed: $(diff <(echo "$before") <(echo "$after"))"
pass "namespace named on the first line; removed on exit, on SIGINT, after SIGKILL, and stale ones at start; root namespace untouched"
