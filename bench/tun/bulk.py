#!/usr/bin/env python3
"""bulk.py — one bulk TCP transfer on the kernel's sockets, timed where the bytes end up.

  bulk.py recv PORT              accept one connection, read until EOF, close; print
                                 "bytes seconds" (first byte to EOF)
  bulk.py send HOST PORT BYTES   connect, send BYTES (zeros, 1 MiB writes), shut down the send
                                 side, read until the peer's EOF, close; print "bytes seconds"
                                 (connect to the peer's EOF, i.e. every byte acknowledged and
                                 consumed by the receiving application)
"""
import socket
import sys
import time

CHUNK = 1 << 20


def main():
    if sys.argv[1] == "recv":
        port = int(sys.argv[2])
        l = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        l.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        l.bind(("::", port))
        l.listen(1)
        c, _ = l.accept()
        buf = bytearray(CHUNK)
        n = c.recv_into(buf)
        t0 = time.monotonic()
        total = n
        while n:
            n = c.recv_into(buf)
            total += n
        t1 = time.monotonic()
        c.close()
        sys.stdout.write("%d %.6f\n" % (total, t1 - t0))
        return 0
    host, port, size = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    data = bytes(CHUNK)
    t0 = time.monotonic()
    s = socket.create_connection((host, port))
    left = size
    while left:
        k = s.send(memoryview(data)[:min(left, CHUNK)])
        left -= k
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    t1 = time.monotonic()
    s.close()
    sys.stdout.write("%d %.6f\n" % (size, t1 - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
