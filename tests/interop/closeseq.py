#!/usr/bin/env python3
"""closeseq.py — the close sequence of every TCP connection in a capture, read with tshark.

For each stream: who sent the first FIN (the active closer), the peer's ACK of it (2nd wave),
the peer's FIN (3rd; the 2nd and 3rd may travel together), the last ACK (4th), and any RST.
Checks what the test expects and exits 1 (with the reason) when the capture disagrees.

  closeseq.py CAPTURE --tcpwave ADDR [--streams N] [--closer tcpwave|kernel] [--complete]
              [--rst-from tcpwave|kernel] [--no-rst] [--simultaneous] [--quiet]
"""
import argparse
import collections
import subprocess
import sys

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10


def run_tshark(args):
    # tshark once hung for the whole test timeout (300 s) in a CI-like run while reading a
    # finished capture that it read in 2 s on the next try: give each attempt 120 s and try a
    # second time, so a stall reads as what it is instead of a timeout of the whole test.
    for attempt in (1, 2):
        try:
            return subprocess.run(args, capture_output=True, text=True, check=True,
                                  timeout=120).stdout
        except subprocess.TimeoutExpired:
            print(f"closeseq: tshark took over 120 s (attempt {attempt} of 2)", file=sys.stderr)
    sys.exit("closeseq: tshark did not finish reading the capture twice")


def packets(path):
    # -n: no name resolution of any kind (nothing here needs it)
    out = run_tshark(
        ["tshark", "-n", "-r", path, "-Y", "tcp", "-T", "fields", "-e", "tcp.stream", "-e", "ip.src",
         "-e", "ipv6.src", "-e", "tcp.flags", "-e", "tcp.seq_raw", "-e", "tcp.ack_raw",
         "-e", "tcp.len"])
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) < 7 or not f[0]:
            continue
        yield (int(f[0]), f[1] or f[2], int(f[3], 16), int(f[4]), int(f[5]), int(f[6] or 0))


def le(a, b):
    return ((b - a) & 0xffffffff) < 0x80000000


def analyse(pkts, me):
    side = lambda src: "tcpwave" if src == me else "kernel"
    other = {"tcpwave": "kernel", "kernel": "tcpwave"}
    fin = {}      # side -> (index, seq after FIN)
    acked = {}    # side whose FIN was acknowledged -> index of the ACK
    rst, late_rst = [], []
    combined = False
    for i, (src, flags, seq, ack, ln) in enumerate(pkts):
        s = side(src)
        if flags & RST:
            # after both FINs were acknowledged, a RST only answers a late (reordered or
            # duplicated) segment of the finished connection: reported, not a close by RST
            (late_rst if len(acked) == 2 else rst).append(s)
        o = other[s]
        if (flags & ACK) and o in fin and o not in acked and le(fin[o][1], ack):
            acked[o] = i
            if (flags & FIN) and s not in fin:
                combined = True
        if (flags & FIN) and s not in fin:
            fin[s] = (i, (seq + ln + 1) & 0xffffffff)
    closer = min(fin, key=lambda k: fin[k][0]) if fin else None
    # simultaneous close: each side sent its FIN before its own acknowledgment of the other's
    simultaneous = len(fin) == 2 and all(
        fin[s][0] < acked.get(other[s], len(pkts)) for s in fin)
    return {"fin": fin, "acked": acked, "rst": rst, "late_rst": late_rst, "closer": closer,
            "combined": combined, "simultaneous": simultaneous}


def describe(a):
    if not a["fin"] and not a["rst"]:
        return "no FIN, no RST"
    parts = []
    c = a["closer"]
    if a["simultaneous"]:
        parts.append("simultaneous close: FINs crossed")
        for s in ("tcpwave", "kernel"):
            if s in a["acked"]:
                parts.append("ACK of %s's FIN" % s)
    elif c:
        p = "tcpwave" if c == "kernel" else "kernel"
        parts.append("FIN %s->%s" % (c, p))
        if c in a["acked"]:
            parts.append("FIN+ACK %s->%s (2nd and 3rd wave together)" % (p, c) if a["combined"]
                         else "ACK %s->%s" % (p, c))
        if p in a["fin"] and not a["combined"]:
            parts.append("FIN %s->%s" % (p, c))
        if p in a["acked"]:
            parts.append("ACK %s->%s" % (c, p))
    for r in a["rst"]:
        parts.append("RST from %s" % r)
    for r in a["late_rst"]:
        parts.append("(late RST from %s, answering a stray segment after the close)" % r)
    return ", ".join(parts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("capture")
    ap.add_argument("--tcpwave", required=True, help="tcpwave's address as tshark prints it")
    ap.add_argument("--streams", type=int)
    ap.add_argument("--closer", choices=["tcpwave", "kernel"])
    ap.add_argument("--complete", action="store_true", help="both FINs sent and acknowledged")
    ap.add_argument("--rst-from", choices=["tcpwave", "kernel"])
    ap.add_argument("--simultaneous", action="store_true", help="the FINs crossed")
    ap.add_argument("--no-rst", action="store_true")
    ap.add_argument("--quiet", action="store_true", help="summary only")
    o = ap.parse_args()

    streams = collections.OrderedDict()
    for st, src, flags, seq, ack, ln in packets(o.capture):
        streams.setdefault(st, []).append((src, flags, seq, ack, ln))
    problems = []
    kinds = collections.Counter()
    for st, pk in streams.items():
        a = analyse(pk, o.tcpwave)
        d = describe(a)
        kinds[d] += 1
        if not o.quiet:
            print("stream %d: %s" % (st, d))
        why = []
        if o.closer and a["closer"] != o.closer:
            why.append("first FIN from %s, expected %s" % (a["closer"], o.closer))
        if o.complete and (len(a["fin"]) != 2 or len(a["acked"]) != 2):
            why.append("close incomplete")
        if o.simultaneous and not a["simultaneous"]:
            why.append("not a simultaneous close")
        if o.rst_from and o.rst_from not in a["rst"]:
            why.append("no RST from %s" % o.rst_from)
        if o.no_rst and a["rst"]:
            why.append("unexpected RST")
        if why:
            problems.append("stream %d (%s): %s" % (st, d, "; ".join(why)))
    if o.streams is not None and len(streams) != o.streams:
        problems.append("%d streams, expected %d" % (len(streams), o.streams))
    if o.quiet:
        for d, n in kinds.most_common():
            print("%d stream(s): %s" % (n, d))
    for p in problems[:10]:
        print("closeseq: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
