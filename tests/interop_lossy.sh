#!/usr/bin/env bash
# interop_lossy.sh — issue 4, test 6: tests 1 and 2 again with 10% loss and 10% reordering
# injected between the device and the engine (both directions; this kernel may have no netem),
# with smaller transfers: every byte still arrives intact and the closes still complete —
# tcpwave's retransmissions, the kernel's, FINs lost and repeated included. The seeds are
# fixed (the kernel's timing is not, so runs differ in detail).
# Usage: interop_lossy.sh BUILD_DIR
. "$(dirname "$0")/interop/lib.sh"
. "$(dirname "$0")/interop/scenarios.sh"
interop_init
new_netns lossy
# A copy the impairment held back can reach tcpwave after its side has closed; tcpwave then
# answers it as a closed port does, with a RST (RFC 9293 §3.10.7.1), and a Linux socket in
# TIME-WAIT takes that RST as the end of TIME-WAIT — the hazard RFC 1337 describes. The kernel
# here applies RFC 1337's fix (ignore RSTs in TIME-WAIT), so that its socket's TIME-WAIT, which
# the echo test checks, does not depend on when the last held copy left.
nsx sysctl -qw net.ipv4.tcp_rfc1337=1 || fail "cannot set net.ipv4.tcp_rfc1337 in $NS"
IMP=(--loss 10% --reorder 10% --msl 2s)
download lossy-download 198.18.0.2 198.18.0.2 524288 "${IMP[@]}" --seed 1
echo_kernel_closes lossy-echo 198.18.0.1 198.18.0.2 262144 "${IMP[@]}" --seed 2
pass "with 10% loss and reordering: 512 KiB download and 256 KiB echo intact, closes complete"
