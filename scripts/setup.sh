#!/usr/bin/env bash
# setup.sh — installs the Debian packages tcpwave needs to build and test, and only those
# that are missing. Safe to run again; does nothing when everything is present.
set -euo pipefail

# Build: compiler, CMake, libpcap (pcap writing/reading). Tests: tshark reads our pcaps,
# valgrind checks leaks, rsvg-convert renders SVG, iproute2 makes network namespaces; curl, socat
# and python3 are the unmodified kernel-side programs of the TUN interop tests; tcpdump captures
# real Linux closes for the analyzer tests, python3-dpkt ships the public sample capture they read.
# liblwip-dev is the lwIP baseline of bench/ (make bench, make bench-quick). fonts-wqy-microhei
# gives rsvg-convert the Chinese glyphs of --lang zh SVGs. nftables (nft) holds FINs back in the
# analyzer test's namespaces so that a real simultaneous close crosses.
PACKAGES=(gcc make cmake pkg-config libpcap-dev tshark valgrind librsvg2-bin iproute2 python3 curl socat tcpdump python3-dpkt liblwip-dev fonts-wqy-microhei nftables)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing missing packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: need root to install ${missing[*]} (or install them yourself)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# An apt list older than a day (or none) is refreshed first.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
  apt-get update -q
fi
apt-get install -y -q --no-install-recommends "${missing[@]}"
