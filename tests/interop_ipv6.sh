#!/usr/bin/env bash
# interop_ipv6.sh — issue 4, test 8: test 1 over IPv6 (curl -> http://[fd00:7763::2]:8080/,
# 10 MiB, SHA-256, tcpwave closes first, the close on the wire, no kernel CLOSE-WAIT/LAST-ACK);
# and test 2 over IPv6 as well (echo, the kernel closes first).
# Usage: interop_ipv6.sh BUILD_DIR
. "$(dirname "$0")/interop/lib.sh"
. "$(dirname "$0")/interop/scenarios.sh"
interop_init
new_netns v6
download ipv6 "[fd00:7763::2]" fd00:7763::2 10485760 --msl 1s
echo_kernel_closes ipv6-echo fd00:7763::1 fd00:7763::2 1048576 --msl 1s
pass "IPv6: curl got 10 MiB, SHA-256 ok, tcpwave: $DL_STATES; echo with the kernel closing first ok"
