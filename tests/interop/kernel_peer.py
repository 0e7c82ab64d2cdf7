#!/usr/bin/env python3
"""kernel_peer.py — the kernel's side of the TUN interop tests: plain Python sockets on the
Linux kernel's TCP, run inside the test's network namespace.

  echo PORT N            accept one connection, echo N bytes, then close first
  halfclose PORT FILE    accept one, read until the peer's FIN (its half-close), then send FILE
                         and close
  abort PORT             accept one, read the request, then close with SO_LINGER 0 (RST)
  recvreset PORT         accept one, send "hello", then recv until it fails: ECONNRESET is the
                         expected end (exit 0), EOF or anything else is a failure
  refused ADDR PORT      connect: ECONNREFUSED is the expected end (exit 0)
  sendclose PORT N SECS  accept one, send N bytes, wait SECS, close (and leave the socket
                         to finish its close on its own)
  serve PORT N SIZE      N sequential connections: read a request, answer SIZE bytes, close first
  get ADDR PORT N FILE   N sequential connections: "GET /NAME HTTP/1.0", read to EOF, close;
                         every body must equal FILE
The address family follows the address given (listeners take both: they bind "::").
"""
import os
import socket
import struct
import sys
import time


def listener(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(128)
    return s


def say(*a):
    # one write, so that the line does not interleave with tcpwave's on a shared stderr
    sys.stderr.write("kernel: " + " ".join(str(x) for x in a) + "\n")
    sys.stderr.flush()


def read_request(c):
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(4096)
        if not d:
            break
        data += d
    return data


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "echo":
        port, n = int(args[0]), int(args[1])
        c, _ = listener(port).accept()
        got = 0
        while got < n:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
            got += len(d)
        c.close()
        say("echoed %d bytes, closed first" % got)
        return 0 if got == n else 1
    if mode == "halfclose":
        port, path = int(args[0]), args[1]
        c, _ = listener(port).accept()
        req = b""
        while True:
            d = c.recv(65536)
            if not d:
                break
            req += d
        say("read %d bytes and the peer's FIN; now sending %s" % (len(req), path))
        with open(path, "rb") as f:
            c.sendall(f.read())
        c.close()
        return 0 if req else 1
    if mode == "abort":
        port = int(args[0])
        c, _ = listener(port).accept()
        req = c.recv(65536)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        say("read %d bytes, closed with SO_LINGER 0 (RST)" % len(req))
        return 0
    if mode == "recvreset":
        port = int(args[0])
        c, _ = listener(port).accept()
        c.sendall(b"hello")
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    say("recv returned EOF, expected ECONNRESET")
                    return 1
        except ConnectionResetError as e:
            say("recv failed: %s (errno %d, ECONNRESET)" % (e.strerror, e.errno))
            return 0
    if mode == "refused":
        addr, port = args[0], int(args[1])
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            s.connect((addr, port))
        except ConnectionRefusedError as e:
            say("connect failed: %s (errno %d, ECONNREFUSED)" % (e.strerror, e.errno))
            return 0
        say("connect succeeded, expected ECONNREFUSED")
        return 1
    if mode == "sendclose":
        port, n, secs = int(args[0]), int(args[1]), float(args[2])
        c, _ = listener(port).accept()
        c.sendall(b"x" * n)
        time.sleep(secs)
        c.close()
        say("sent %d bytes, closed %.3f s later" % (n, secs))
        return 0
    if mode == "serve":
        port, n, size = int(args[0]), int(args[1]), int(args[2])
        l = listener(port)
        body = (b"0123456789abcdef" * (size // 16 + 1))[:size]
        for i in range(n):
            c, _ = l.accept()
            read_request(c)
            c.sendall(body)
            c.close()
        say("served %d connections, closing first each time" % n)
        return 0
    if mode == "get":
        addr, port, n, path = args[0], int(args[1]), int(args[2]), args[3]
        with open(path, "rb") as f:
            want = f.read()
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        bad = 0
        for i in range(n):
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.connect((addr, port))
            s.sendall(b"GET /" + os.path.basename(path).encode() + b" HTTP/1.0\r\n\r\n")
            data = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                data += d
            s.close()
            head, _, body = data.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200") or body != want:
                bad += 1
        say("%d GETs, %d bad" % (n, bad))
        return 1 if bad else 0
    sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    sys.exit(main())
