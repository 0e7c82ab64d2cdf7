#!/usr/bin/env bash
# analyze_linux.sh — `tcpwave analyze` on real Linux connections. Two network namespaces this
# test creates (tcpw-an-a-PID, tcpw-an-b-PID) joined by a veth pair with addresses in
# 198.18.0.0/15; tcpdump captures on one end while python3 clients and servers make each
# close: client first, server first, half-close with data, RST (SO_LINGER 0), port reuse (a
# reconnect from the same port into the server's TIME_WAIT), and a simultaneous close whose
# FINs cross on the wire. Each verdict is asserted. Nothing touches the root namespace; the
# namespaces (with the nftables table and the route metric set inside them) go on exit.
#
# The simultaneous close, deterministically and without netem: an nftables table in each
# namespace drops the connection's outgoing FINs at the output hook, before the capture point
# (AF_PACKET sees a packet only when it reaches the device). One process holds both sockets
# (the server's made after setns() into B) and shuts both down back to back: each kernel
# queues its FIN, fails to send it and arms its timer to try again; both are in FIN_WAIT_1.
# The tables go; with both namespaces' RTO floored at 1 s (route metric rto_min) and the
# process pinned to one CPU, the two timers fire in the same timer-softirq run, so both FINs
# leave before either is received: each arrives in FIN_WAIT_1 without acknowledging the
# other's, and both sides go FIN_WAIT_1 -> CLOSING -> TIME_WAIT (RFC 9293 Figure 13).
#
# Without root, network namespaces or nft it skips — except under CI=true, where it fails.
set -u
BUILD=${1:?usage: analyze_linux.sh BUILD_DIR}
BIN=$BUILD/tcpwave
[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }

skip() {
    if [ "${CI:-}" = true ]; then echo "FAIL: $* (CI=true: real-Linux captures are required)"; exit 1; fi
    echo "SKIP: $*"
    exit 0
}
[ "$(id -u)" -eq 0 ] || skip "not root: cannot create network namespaces"
command -v ip >/dev/null || skip "iproute2 (ip) not installed"
command -v tcpdump >/dev/null || skip "tcpdump not installed"
command -v python3 >/dev/null || skip "python3 not installed"
command -v nft >/dev/null || skip "nftables (nft) not installed: scripts/setup.sh installs it"
command -v taskset >/dev/null || skip "taskset (util-linux) not installed"

A=tcpw-an-a-$$
B=tcpw-an-b-$$
tmp=$(mktemp -d)
cleanup() {
    [ -n "${dump_pid:-}" ] && kill "$dump_pid" 2>/dev/null && wait "$dump_pid" 2>/dev/null
    ip netns del "$A" 2>/dev/null
    ip netns del "$B" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$A" 2>/dev/null || skip "cannot create a network namespace"
ip netns add "$B" || skip "cannot create a second network namespace"
ip link add vA netns "$A" type veth peer name vB netns "$B" || skip "cannot create a veth pair"
ip -n "$A" addr add 198.18.0.1/24 dev vA
ip -n "$B" addr add 198.18.0.2/24 dev vB
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" link set vA up
ip -n "$B" link set vB up
cat >"$tmp/peer.py" <<'EOF'
# peer.py ROLE CASE: one side of one close pattern (server in namespace B, client in A)
import socket, struct, sys, time
role, case = sys.argv[1], sys.argv[2]
SRV, PORTS = "198.18.0.2", {"client-first": 5001, "server-first": 5002, "half-close": 5003,
                           "rst": 5004, "reuse": 5006}
port = PORTS[case]
def drain(s):
    n = 0
    while True:
        b = s.recv(65536)
        if not b: return n
        n += len(b)
if role == "server":
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((SRV, port)); ls.listen(8)
    print("ready", flush=True)
    for _ in range(2 if case == "reuse" else 1):
        c, _ = ls.accept()
        if case == "client-first":
            c.recv(100); c.sendall(b"r" * 200); drain(c); time.sleep(0.1); c.close()
        elif case in ("server-first", "reuse"):
            c.recv(100); c.sendall(b"r" * 200); c.close()
        elif case == "half-close":
            drain(c); time.sleep(0.1); c.sendall(b"d" * 5000); c.close()
        elif case == "rst":
            try: drain(c)
            except ConnectionResetError: pass
            c.close()
    ls.close()
else:
    def conn(bind_port=0):
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if bind_port: s.bind(("198.18.0.1", bind_port))
        s.connect((SRV, port)); return s
    if case == "client-first":
        s = conn(); s.sendall(b"q" * 100); s.recv(200); time.sleep(0.05); s.close(); time.sleep(0.5)
    elif case == "server-first":
        s = conn(); s.sendall(b"q" * 100); drain(s); time.sleep(0.2); s.close()
    elif case == "half-close":
        s = conn(); s.sendall(b"q" * 100); s.shutdown(socket.SHUT_WR); drain(s); s.close()
    elif case == "rst":
        s = conn(); s.sendall(b"q" * 100); time.sleep(0.1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close()
    elif case == "reuse":
        for _ in range(2):
            s = conn(40006); s.sendall(b"q" * 100); drain(s); time.sleep(0.1); s.close(); time.sleep(0.3)
    time.sleep(0.3)
EOF

cat >"$tmp/simul.py" <<'EOF'
# simul.py NS_B: both ends of one connection in one process (the client in this namespace, the
# server in NS_B), shut down back to back while nftables holds their FINs back (see the top)
import ctypes, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
c = socket.socket()                                   # the client, in namespace A
fd = os.open("/run/netns/" + sys.argv[1], os.O_RDONLY)
if libc.setns(fd, 0x40000000) != 0:                   # CLONE_NEWNET: from here on in B
    sys.exit("setns: " + os.strerror(ctypes.get_errno()))
os.close(fd)
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("198.18.0.2", 5005)); ls.listen(1)
c.connect(("198.18.0.2", 5005)); s, _ = ls.accept(); ls.close()
c.sendall(b"q" * 100); s.recv(100); s.sendall(b"r" * 200)
got = 0
while got < 200: got += len(c.recv(200))
c.shutdown(socket.SHUT_WR); s.shutdown(socket.SHUT_WR)
print("held", flush=True)
for k in (c, s):
    while k.recv(65536): pass
c.close(); s.close()
EOF

ip netns exec "$A" tcpdump -i vA -U --immediate-mode -s 256 -w "$tmp/linux.pcap" tcp 2>"$tmp/dump.err" &
dump_pid=$!
for _ in $(seq 50); do grep -q listening "$tmp/dump.err" && break; sleep 0.1; done

for c in client-first server-first half-close rst reuse; do
    ip netns exec "$B" python3 "$tmp/peer.py" server "$c" >"$tmp/srv.$c" 2>&1 &
    spid=$!
    for _ in $(seq 50); do grep -q ready "$tmp/srv.$c" && break; sleep 0.1; done
    ip netns exec "$A" timeout 20 python3 "$tmp/peer.py" client "$c" || echo "FAIL: client $c: exit $?"
    wait "$spid" || echo "FAIL: server $c: $(cat "$tmp/srv.$c")"
done

# The simultaneous close (port 5005, last: the RTO floor is for it alone).
ip -n "$A" route change 198.18.0.0/24 dev vA rto_min 1000ms &&
    ip -n "$B" route change 198.18.0.0/24 dev vB rto_min 1000ms ||
    skip "cannot set a route's rto_min in the namespaces"
for ns in "$A" "$B"; do
    ip netns exec "$ns" nft -f - <<'EOF' || skip "cannot add an nftables table in a namespace"
table inet tcpw_hold {
    chain out {
        type filter hook output priority 0;
        tcp dport 5005 tcp flags & fin == fin drop
        tcp sport 5005 tcp flags & fin == fin drop
    }
}
EOF
done
ip netns exec "$A" timeout 20 taskset -c 0 python3 "$tmp/simul.py" "$B" >"$tmp/simul.out" 2>&1 &
ppid=$!
for _ in $(seq 250); do grep -q held "$tmp/simul.out" && break; sleep 0.02; done
held=0
for _ in $(seq 50); do
    na=$(ip netns exec "$A" ss -Htn state fin-wait-1 '( dport = :5005 )' | wc -l)
    nb=$(ip netns exec "$B" ss -Htn state fin-wait-1 '( sport = :5005 )' | wc -l)
    [ "$na" -ge 1 ] && [ "$nb" -ge 1 ] && { held=1; break; }
    sleep 0.02
done
[ "$held" -eq 1 ] || echo "FAIL: simultaneous: the two ends are not both in FIN_WAIT_1, FINs held back"
for ns in "$A" "$B"; do ip netns exec "$ns" nft delete table inet tcpw_hold; done
wait "$ppid" || echo "FAIL: simultaneous: $(cat "$tmp/simul.out")"

sleep 0.3
kill "$dump_pid"
wait "$dump_pid" 2>/dev/null
dump_pid=

"$BIN" analyze --json "$tmp/linux.pcap" >"$tmp/linux.json"
rc=$?
[ "$rc" -eq 0 ] || { echo "FAIL: tcpwave analyze exited $rc"; exit 1; }
"$BIN" analyze --packets "$tmp/linux.pcap" >"$tmp/linux.txt"
python3 - "$tmp/linux.json" "$BIN" "$tmp/linux.pcap" <<'EOF'
import json, subprocess, sys
conns = [json.loads(l) for l in open(sys.argv[1])]
by_port = {}
for c in conns:
    by_port.setdefault(int(c["server"].rsplit(":", 1)[1]), []).append(c)
fails, checks = 0, 0
def want(port, key, ok, what, idx=0):
    global fails, checks
    cs = by_port.get(port, [])
    if len(cs) <= idx:
        print(f"FAIL: no connection {idx + 1} to port {port}"); fails += 1; return
    v = cs[idx]
    for k in key.split("."): v = v[k]
    checks += 1
    if not ok(v):
        print(f"FAIL: port {port} #{idx + 1}: {key} = {v!r}, want {what}"); fails += 1
eq = lambda x: (lambda v: v == x)
want(5001, "closed_first_by", eq("client"), "client")
want(5001, "close_pattern", lambda v: v in ("four-way", "three-segment"), "four-way or three-segment")
want(5001, "final_state", eq({"client": "TIME_WAIT", "server": "CLOSED"}), "client TIME_WAIT")
want(5001, "zeek_conn_state", eq("SF"), "SF")
want(5002, "closed_first_by", eq("server"), "server")
want(5002, "close_pattern", eq("four-way"), "four-way")
want(5002, "final_state", eq({"client": "CLOSED", "server": "TIME_WAIT"}), "server TIME_WAIT")
want(5003, "close_pattern", eq("half-close"), "half-close")
want(5003, "closed_first_by", eq("client"), "client")
want(5003, "half_close.bytes_after_first_fin", eq(5000), "5000")
want(5003, "final_state", eq({"client": "TIME_WAIT", "server": "CLOSED"}), "client TIME_WAIT")
want(5004, "close_pattern", eq("rst"), "rst")
want(5004, "rst_by", eq("client"), "client")
want(5004, "final_state", eq({"client": "CLOSED", "server": "CLOSED"}), "both CLOSED")
want(5004, "zeek_conn_state", eq("RSTO"), "RSTO")
want(5006, "closed_first_by", eq("server"), "server")
want(5006, "anomalies", lambda v: "syn-within-2msl" in v, "syn-within-2msl", 1)
want(5006, "final_state.server", eq("CLOSED"), "CLOSED (reopened)", 0)
want(5005, "close_pattern", eq("simultaneous"), "simultaneous")
want(5005, "closed_first_by", eq("both"), "both")
want(5005, "final_state", eq({"client": "TIME_WAIT", "server": "TIME_WAIT"}), "both TIME_WAIT")
# each side's state changes, as the ladder draws them (--conn N --format json)
def changes(side):
    cs = by_port.get(5005, [])
    if not cs: return []
    out = subprocess.run([sys.argv[2], "analyze", "--conn", str(cs[0]["id"]), "--format", "json",
                          sys.argv[3]], capture_output=True, text=True).stdout
    evs = [json.loads(l) for l in out.splitlines() if l.strip()]
    return [(e["from"], e["to"]) for e in evs if e.get("ev") == "state" and e.get("who") == side]
for side in ("client", "server"):
    ch = changes(side)
    want(5005, "id", lambda v, ch=ch: ch[-2:] == [("FIN_WAIT_1", "CLOSING"), ("CLOSING", "TIME_WAIT")],
         f"the {side} going FIN_WAIT_1 -> CLOSING -> TIME_WAIT (its changes: {ch})")
print(f"{checks - fails} passed, {fails} failed")
sys.exit(1 if fails else 0)
EOF
st=$?
[ "$st" -eq 0 ] || cat "$tmp/linux.txt"
exit "$st"
