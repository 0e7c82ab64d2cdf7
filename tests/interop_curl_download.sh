#!/usr/bin/env bash
# interop_curl_download.sh — issue 4, test 1: the kernel's curl downloads 10 MiB from
# `tcpwave tun listen --http`; the SHA-256 matches; tcpwave closes first and its trace shows
# FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT (or FIN_WAIT_1 -> TIME_WAIT when the kernel's ACK and
# FIN travel together); the capture shows the four-way close with tcpwave as the active
# closer; afterwards no kernel socket is left in CLOSE-WAIT or LAST-ACK.
# Usage: interop_curl_download.sh BUILD_DIR (from the repository root, as CTest runs it).
. "$(dirname "$0")/interop/lib.sh"
. "$(dirname "$0")/interop/scenarios.sh"
interop_init
new_netns dl
download ipv4 198.18.0.2 198.18.0.2 10485760 --msl 1s
pass "curl got 10 MiB from tcpwave, SHA-256 ok; tcpwave: $DL_STATES; no kernel CLOSE-WAIT/LAST-ACK"
