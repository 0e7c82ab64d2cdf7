#!/usr/bin/env python3
"""run.py — runs tcpwave's benchmark: tcpwave, lwIP and the Linux kernel side by side in one
run, and prints the table (each metric, each system, tcpwave's ratio to each baseline).

  python3 bench/run.py --mode full|quick --build DIR [--out bench/results/latest.json]
  python3 bench/run.py --check FILE --mode quick     checks a results file (the CI test)

The three programs (tcpwave_bench, lwip_bench, linux_bench, built by bench/Makefile) print
JSON rows on stdout; this script runs them for every metric, runs the per-segment and
per-lifecycle phases under callgrind and counts their instructions, adds the rows no system
can produce (value null, with a note saying why), and writes:

  OUT                      the rows: [{"metric","system","value","unit"[,"note"][,"vs_lwip",
                           "vs_linux"]}], tcpwave's rows carrying its ratios to each baseline
  OUT minus .json + .txt   the printed table, the machine, the targets and the hotspots
  OUT minus .json + .md    the same as Markdown (the README's performance table)

Rates and throughputs come from CPU time (see bench/README.md), instruction counts from
callgrind (deterministic: same binary, same count, every run).
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import time

SYSTEMS = ["tcpwave", "lwip", "linux"]
POPS = [0, 10_000, 100_000, 1_000_000, 10_000_000]


def pop_name(p):
    if p >= 1_000_000 and p % 1_000_000 == 0:
        return "tw%dm" % (p // 1_000_000)
    if p >= 1000 and p % 1000 == 0:
        return "tw%dk" % (p // 1000)
    return "tw%d" % p


# ---- the metrics: name, unit, better ("up" = higher is better), section -----------------------
METRICS = []


def metric(name, unit, better, section):
    METRICS.append({"metric": name, "unit": unit, "better": better, "section": section})


for p in POPS:
    metric("lifecycle_rate_" + pop_name(p), "conn/s", "up", "1. connection lifecycle")
for p in POPS[1:]:
    metric("lifecycle_retained_" + pop_name(p), "%", "up", "1. connection lifecycle")
metric("segments_per_lifecycle", "segments", "down", "1. connection lifecycle")
for m in ["instr_per_seg_small_sender", "instr_per_seg_small_receiver",
          "instr_per_seg_1460_sender", "instr_per_seg_1460_receiver"]:
    metric(m, "instructions", "down", "2. instructions (callgrind)")
metric("instr_per_lifecycle_client", "instructions", "down", "2. instructions (callgrind)")
metric("instr_per_lifecycle_server", "instructions", "down", "2. instructions (callgrind)")
metric("bulk_gbps_mss1460", "Gbit/s", "up", "3. bulk throughput")
metric("bulk_gbps_lo_default", "Gbit/s", "up", "3. bulk throughput")
metric("bytes_per_established_conn", "bytes", "down", "4. memory")
metric("bytes_per_tw_entry", "bytes", "down", "4. memory")
for p in POPS[2:]:
    metric("tw_bytes_measured_" + pop_name(p), "bytes", "down", "4. memory")
for p in POPS[3:]:
    metric("rss_mib_" + pop_name(p), "MiB", "down", "4. memory")
for p in POPS[1:]:
    metric("tw_insert_lifecycle_ns_" + pop_name(p), "ns", "down", "5. TIME_WAIT insertion and expiry")
for p in POPS[1:]:
    metric("tw_expire_ns_" + pop_name(p), "ns", "down", "5. TIME_WAIT insertion and expiry")
metric("tw_rehash_pause_ms", "ms", "down", "5. TIME_WAIT insertion and expiry")

METRIC_BY_NAME = {m["metric"]: m for m in METRICS}

# tcpwave and lwIP run in memory: the kernel's 64 KiB-MTU loopback is compared with their
# MSS 1460 figure.
RATIO_SOURCE = {"bulk_gbps_lo_default": "bulk_gbps_mss1460"}

# What each mode must measure (a number, not null): the CI check holds the quick mode to it.
QUICK_POPS = {"tcpwave": [0, 10_000, 100_000], "lwip": [0, 10_000], "linux": [0, 10_000]}
FULL_POPS = {"tcpwave": POPS, "lwip": [0, 10_000, 100_000], "linux": [0, 10_000, 100_000, 1_000_000]}
# Linux reaches 1M in TIME_WAIT only if one core makes > 20,000 lifecycles/s of wall time
# (TIME_WAIT lasts 60 s): attempted, not required.
FULL_MUST_POPS = dict(FULL_POPS, linux=[0, 10_000, 100_000])


def must_measure(mode):
    pops = QUICK_POPS if mode == "quick" else FULL_MUST_POPS
    need = set()
    for s in SYSTEMS:
        for p in pops[s]:
            need.add(("lifecycle_rate_" + pop_name(p), s))
            if p:
                need.add(("lifecycle_retained_" + pop_name(p), s))
        need.add(("segments_per_lifecycle", s))
        need.add(("bulk_gbps_mss1460", s))
        need.add(("bytes_per_established_conn", s))
        need.add(("bytes_per_tw_entry", s))
    for s in ["tcpwave", "lwip"]:
        for m in ["instr_per_seg_small_sender", "instr_per_seg_small_receiver",
                  "instr_per_seg_1460_sender", "instr_per_seg_1460_receiver",
                  "instr_per_lifecycle_client", "instr_per_lifecycle_server"]:
            need.add((m, s))
        for p in pops[s]:
            if p >= 10_000:
                need.add(("tw_expire_ns_" + pop_name(p), s))
    need.add(("bulk_gbps_lo_default", "linux"))
    for s in SYSTEMS:
        for p in pops[s]:
            if p >= 10_000:
                need.add(("tw_insert_lifecycle_ns_" + pop_name(p), s))
            if p >= 100_000:
                need.add(("tw_bytes_measured_" + pop_name(p), s))
            if p >= 1_000_000:
                need.add(("rss_mib_" + pop_name(p), s))
    need.add(("tw_rehash_pause_ms", "tcpwave"))
    return need


# ---- targets (issue 6): goals for the code, recorded against where tcpwave stands ----------
TARGETS = [
    ("lifecycle >= 1,000,000 conn/s, empty TIME_WAIT table",
     lambda r: r("lifecycle_rate_tw0", "tcpwave"), lambda v: v >= 1e6),
    ("lifecycle >= 5x lwIP (same run)",
     lambda r: ratio(r("lifecycle_rate_tw0", "tcpwave"), r("lifecycle_rate_tw0", "lwip")),
     lambda v: v >= 5),
    ("lifecycle >= 50x Linux loopback (same run)",
     lambda r: ratio(r("lifecycle_rate_tw0", "tcpwave"), r("lifecycle_rate_tw0", "linux")),
     lambda v: v >= 50),
    ("with 1M in TIME_WAIT >= 85% of the empty-table rate",
     lambda r: r("lifecycle_retained_tw1m", "tcpwave"), lambda v: v >= 85),
    ("<= 800 instructions per small segment per endpoint",
     lambda r: maxn(r("instr_per_seg_small_sender", "tcpwave"),
                    r("instr_per_seg_small_receiver", "tcpwave")), lambda v: v <= 800),
    ("<= 1,500 instructions per 1460-byte data segment per endpoint",
     lambda r: maxn(r("instr_per_seg_1460_sender", "tcpwave"),
                    r("instr_per_seg_1460_receiver", "tcpwave")), lambda v: v <= 1500),
    (">= 50 Gbit/s bulk in memory at MSS 1460",
     lambda r: r("bulk_gbps_mss1460", "tcpwave"), lambda v: v >= 50),
    ("<= 48 bytes per TIME_WAIT entry",
     lambda r: r("bytes_per_tw_entry", "tcpwave"), lambda v: v <= 48),
    ("<= 512 bytes per established control block",
     lambda r: r("bytes_per_established_conn", "tcpwave"), lambda v: v <= 512),
    ("10M TIME_WAIT entries in under 1 GiB (process RSS)",
     lambda r: r("rss_mib_tw10m", "tcpwave"), lambda v: v < 1024),
]


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def maxn(*vals):
    vals = [v for v in vals if v is not None]
    return max(vals) if vals else None


# ---- running the programs ---------------------------------------------------------------------
class Runner:
    def __init__(self, build, mode, cgdir, callgrind):
        self.build = build
        self.mode = mode
        self.cgdir = cgdir
        self.callgrind = callgrind
        self.rows = []
        self.aux = {}
        self.hotspots = []

    def prog(self, system):
        return os.path.join(self.build, system + "_bench")

    def run(self, system, *args, valgrind=None):
        cmd = [self.prog(system)] + [str(a) for a in args]
        env = None
        if valgrind:
            cmd = valgrind + cmd
            # callgrind counts every iteration of a REP-prefixed instruction: glibc's memcpy
            # switches to `rep movsb` above a few KiB, and a 64 KiB copy would count 65,536
            # instructions. Told to keep its vector loop at every size, it counts what a
            # vector copy executes, for both systems alike.
            env = dict(os.environ, GLIBC_TUNABLES="glibc.cpu.x86_rep_movsb_threshold=2147483647")
        t0 = time.time()
        shown = [os.path.basename(c) if c == self.prog(system) else c for c in cmd]
        print("  $ " + " ".join(shown), file=sys.stderr, flush=True)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env)
        for line in p.stderr.splitlines():
            if not line.startswith("=="):
                print("    " + line, file=sys.stderr)
        if p.returncode != 0:
            sys.exit("run.py: %s failed (exit %d)" % (" ".join(cmd), p.returncode))
        out = []
        for line in p.stdout.splitlines():
            line = line.strip()
            if not line:
                continue
            row = json.loads(line)
            out.append(row)
        print("    (%.1f s)" % (time.time() - t0), file=sys.stderr, flush=True)
        return out

    def add(self, rows):
        for r in rows:
            if r["metric"].startswith("aux_") or r["metric"].startswith("cgphase_"):
                self.aux[(r["metric"], r["system"])] = r
            else:
                self.rows.append(r)

    def null(self, metric_name, system, note):
        self.rows.append({"metric": metric_name, "system": system, "value": None,
                          "unit": METRIC_BY_NAME[metric_name]["unit"], "note": note})

    # callgrind: one run per shape, two phases (one per endpoint), each dumped separately
    def cg(self, system, shape, args, phases, per):
        out = os.path.join(self.cgdir, "cg.%s.%s" % (system, shape))
        for f in os.listdir(self.cgdir):
            if f.startswith(os.path.basename(out)):
                os.remove(os.path.join(self.cgdir, f))
        rows = self.run(system, *args, "--no-pin",
                        valgrind=["valgrind", "--tool=callgrind", "--collect-atstart=no",
                                  "--callgrind-out-file=" + out])
        units = {r["metric"][len("cgphase_"):]: r["value"] for r in rows
                 if r["metric"].startswith("cgphase_")}
        results = {}
        for idx, (phase, metric_name) in enumerate(phases, start=1):
            total, funcs = parse_callgrind("%s.%d" % (out, idx))
            n = units[phase]
            results[metric_name] = total / n
            self.rows.append({"metric": metric_name, "system": system, "value": total / n,
                              "unit": "instructions",
                              "note": "callgrind: %d instructions of the %s over %d %s (harness "
                                      "excluded)" % (total, phase, n, per)})
            self.hotspots.append((system, shape, phase, total, n, per, funcs))
        return results


def parse_callgrind(path):
    """Self cost per function of one callgrind dump, without the harness's own functions
    (bench/*.c). Returns (total, [(function, self cost)] sorted by cost)."""
    names = {"fl": {}, "fn": {}}
    cost = {}
    fl = fn = None
    skip_next = False
    name_re = re.compile(r"^\((\d+)\)(?: (.*))?$")

    def resolve(kind, spec):
        m = name_re.match(spec)
        if not m:
            return spec
        if m.group(2) is not None:
            names[kind][m.group(1)] = m.group(2)
        return names[kind].get(m.group(1), "?")

    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                if skip_next:
                    skip_next = False
                    continue
                parts = line.split()
                if len(parts) >= 2 and fn is not None:
                    key = (fl, fn)
                    cost[key] = cost.get(key, 0) + int(parts[-1])
                continue
            if line.startswith("fl="):
                fl = resolve("fl", line[3:])
            elif line.startswith("fn="):
                fn = resolve("fn", line[3:])
            elif line.startswith(("fi=", "fe=")):
                resolve("fl", line[3:])
            elif line.startswith("cfi=") or line.startswith("cfl="):
                resolve("fl", line[4:])
            elif line.startswith("cfn="):
                resolve("fn", line[4:])
            elif line.startswith("calls="):
                skip_next = True
    funcs = []
    total = 0
    for (fl_name, fn_name), v in cost.items():
        if fl_name and "/bench/" in fl_name:
            continue
        total += v
        short = fn_name
        if fl_name and fl_name != "???":
            short = "%s:%s" % (os.path.basename(fl_name), fn_name)
        funcs.append((short, v))
    funcs.sort(key=lambda x: -x[1])
    return total, funcs


def plan(mode):
    q = mode == "quick"
    return {
        "tcpwave_pops": QUICK_POPS["tcpwave"] if q else FULL_POPS["tcpwave"],
        "lwip_pops": QUICK_POPS["lwip"] if q else FULL_POPS["lwip"],
        "linux_pops": QUICK_POPS["linux"] if q else FULL_POPS["linux"],
        "tcpwave_count": (lambda p: 20_000) if q else (lambda p: 1_000_000),
        "lwip_count": (lambda p: 2000) if q else (lambda p: {0: 200_000, 10_000: 5000}.get(p, 1000)),
        "linux_count": (lambda p: 2000) if q else (lambda p: 20_000),
        # one connection carries the warm-up and the measured bytes: under 2 GiB, because the
        # engine stops sending once 2^31 bytes have gone (seq_gt(snd_nxt, iss) in conn_output)
        "bulk_bytes": 64 << 20 if q else 1 << 30,
        "linux_bulk_bytes": 256 << 20 if q else 4 << 30,
        "cg_segs": 500 if q else 20_000,
        "cg_life": 200 if q else 5000,
    }


def measure(runner, mode):
    P = plan(mode)
    verify = ["--verify"] if mode == "quick" else []
    print("== sizes", file=sys.stderr)
    for s in SYSTEMS:
        runner.add(runner.run(s, "sizes"))

    print("== lifecycle: tcpwave", file=sys.stderr)
    tp = P["tcpwave_pops"]
    for p in tp:
        curve = ["--curve"] if p == max(tp) else []
        runner.add(runner.run("tcpwave", "lifecycle", "--pop", p, "--count", P["tcpwave_count"](p),
                              *curve))
    print("== lifecycle: lwip", file=sys.stderr)
    lp = P["lwip_pops"]
    for p in lp:
        curve = ["--curve"] if p == max(lp) else []
        runner.add(runner.run("lwip", "lifecycle", "--pop", p, "--count", P["lwip_count"](p),
                              *curve))
    print("== lifecycle: linux", file=sys.stderr)
    xp = P["linux_pops"]
    for p in xp:
        curve = ["--curve"] if p == max(xp) else []
        runner.add(runner.run("linux", "lifecycle", "--pop", p, "--count", P["linux_count"](p),
                              *curve))

    print("== bulk", file=sys.stderr)
    runner.add(runner.run("tcpwave", "bulk", "--bytes", P["bulk_bytes"], *verify))
    runner.add(runner.run("lwip", "bulk", "--bytes", P["bulk_bytes"], *verify))
    runner.add(runner.run("linux", "bulk", "--bytes", P["linux_bulk_bytes"], "--mtu", 1500))
    runner.add(runner.run("linux", "bulk", "--bytes", P["linux_bulk_bytes"], "--mtu", 65536))

    if runner.callgrind:
        print("== callgrind", file=sys.stderr)
        for s in ["tcpwave", "lwip"]:
            runner.cg(s, "seg1", ["cgseg", "--size", 1, "--count", P["cg_segs"]],
                      [("sender", "instr_per_seg_small_sender"),
                       ("receiver", "instr_per_seg_small_receiver")], "segments")
            runner.cg(s, "seg1460", ["cgseg", "--size", 1460, "--count", P["cg_segs"]],
                      [("sender", "instr_per_seg_1460_sender"),
                       ("receiver", "instr_per_seg_1460_receiver")], "segments")
            runner.cg(s, "life", ["cglife", "--count", P["cg_life"]],
                      [("client", "instr_per_lifecycle_client"),
                       ("server", "instr_per_lifecycle_server")], "lifecycles")


def complete(runner, mode):
    """Adds derived rows and a null row (with the reason) for every metric x system that no
    program produced."""
    have = {(r["metric"], r["system"]): r for r in runner.rows}

    def val(m, s):
        r = have.get((m, s))
        return r["value"] if r else None

    for p in POPS[1:]:
        for s in SYSTEMS:
            a, b = val("lifecycle_rate_" + pop_name(p), s), val("lifecycle_rate_tw0", s)
            if a is not None and b:
                row = {"metric": "lifecycle_retained_" + pop_name(p), "system": s,
                       "value": 100.0 * a / b, "unit": "%",
                       "note": "lifecycle rate at %s / rate with an empty table" % pop_name(p)}
                runner.rows.append(row)
                have[(row["metric"], s)] = row

    P = plan(mode)
    lwip_top = max(P["lwip_pops"])
    lwip_fill = None
    r = have.get(("lifecycle_rate_" + pop_name(lwip_top), "lwip"))
    if r and r.get("note"):
        m = re.search(r"fill took ([0-9.]+) s", r["note"])
        lwip_fill = float(m.group(1)) if m else None
    linux_rate = None
    for p in sorted(P["linux_pops"], reverse=True):
        r = have.get(("lifecycle_rate_" + pop_name(p), "linux"))
        if r and r.get("note"):
            m = re.search(r"wall [0-9.]+ s: ([0-9]+) conn/s", r["note"]) or \
                re.search(r"makes ([0-9]+) lifecycles/s", r["note"])
            if m:
                linux_rate = float(m.group(1))
                break

    def why(m, s):
        quick = mode == "quick"
        pm = re.search(r"_(tw\d+[km]?)$", m)
        pop = None
        if pm:
            pop = {pop_name(p): p for p in POPS}.get(pm.group(1))
        if s == "linux" and m.startswith("instr_"):
            return "kernel code: callgrind counts user-space instructions only"
        if m.startswith("instr_") and not runner.callgrind:
            return "callgrind skipped (sanitizer build: valgrind cannot run ASan binaries)"
        if m == "bulk_gbps_lo_default" and s != "linux":
            return "no 64 KiB-MTU path in an in-memory engine; compare bulk_gbps_mss1460"
        if m == "tw_rehash_pause_ms":
            return {"lwip": "no hash table: TIME_WAIT pcbs sit on one linked list",
                    "linux": "the established hash (ehash) is sized at boot and never rehashed"
                    }.get(s, "not measured")
        if m.startswith("tw_expire_ns_") and s == "linux":
            return "expiry runs in kernel timers, outside the process: not measurable from it"
        if pop is not None and s == "lwip" and pop > lwip_top:
            if quick:
                return "quick mode stops lwIP at %s" % pop_name(lwip_top)
            est = ""
            if lwip_fill:
                est = ("; filling %s took %.0f s of CPU, so %s would take ~%.1f h"
                       % (pop_name(lwip_top), lwip_fill, pop_name(pop),
                          lwip_fill * (pop / lwip_top) ** 2 / 3600))
            return ("not reached: every connect (SO_REUSEADDR 4-tuple check) and every SYN "
                    "(tcp_input demux) walks the whole TIME_WAIT list, so filling is O(N^2)%s; "
                    "each pcb is a full %s-byte struct tcp_pcb"
                    % (est, int(val("bytes_per_tw_entry", "lwip") or 0)))
        if pop is not None and s == "linux" and pop > max(P["linux_pops"]):
            if quick:
                return "quick mode stops Linux at %s" % pop_name(max(P["linux_pops"]))
            cap = ""
            if linux_rate:
                cap = (" at %.0f lifecycles/s (wall) one core holds at most ~%.1fM at once"
                       % (linux_rate, linux_rate * 60 / 1e6))
            return ("not reachable: TIME_WAIT lasts 60 s (TCP_TIMEWAIT_LEN, fixed), so a "
                    "population is the lifecycle rate times 60 s;%s" % cap)
        if pop is not None and m.startswith("tw_bytes_measured_") and s == "linux":
            return "not reached (see lifecycle_rate_%s)" % pop_name(pop)
        if pop is not None and quick:
            return "not measured in quick mode"
        if m.startswith("tw_insert_lifecycle_ns_") or m.startswith("tw_bytes_measured_") or \
                m.startswith("rss_mib_") or m.startswith("lifecycle_"):
            return "population not reached (see lifecycle_rate_%s)" % (pop_name(pop) if pop else "")
        return "not measured"

    for m in METRICS:
        for s in SYSTEMS:
            if (m["metric"], s) not in have:
                runner.null(m["metric"], s, why(m["metric"], s))
                have[(m["metric"], s)] = runner.rows[-1]

    # tcpwave's ratios to each baseline, on its own rows
    for r in runner.rows:
        if r["system"] != "tcpwave" or r["metric"] not in METRIC_BY_NAME:
            continue
        for b in ["lwip", "linux"]:
            own = r["value"]
            src = RATIO_SOURCE.get(r["metric"])
            if src:
                own = val(src, "tcpwave")
            r["vs_" + b] = ratio(own, val(r["metric"], b))
    return have


# ---- output ------------------------------------------------------------------------------------
def fmt(v, unit=""):
    if v is None:
        return "—"
    if isinstance(v, float) and math.isnan(v):
        return "—"
    a = abs(v)
    if unit in ("%",):
        return "%.1f%%" % v
    if a >= 100_000:
        return "{:,.0f}".format(v)
    if a >= 100:
        return "{:,.0f}".format(v)
    if a >= 10:
        return "%.1f" % v
    return "%.2f" % v


def fmt_ratio(v):
    if v is None:
        return "—"
    if v >= 100:
        return "%.0f×" % v
    if v >= 10:
        return "%.1f×" % v
    return "%.2f×" % v


def machine_info():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = "%.1f GiB" % (kb / 1048576)
    except (OSError, ValueError, IndexError):
        pass

    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True).stdout.strip()
        except OSError:
            return ""

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory": mem,
        "kernel": platform.release(),
        "compiler": sh("${CC:-cc} --version | head -1"),
        "lwip": sh("dpkg-query -W -f='${Version}' liblwip-dev"),
        "valgrind": sh("valgrind --version"),
        "commit": sh("git -C %s rev-parse --short HEAD" % os.path.dirname(os.path.abspath(__file__))),
        "core_changes": sh("git -C %s status --short -- ../src/core ../include | wc -l"
                           % os.path.dirname(os.path.abspath(__file__))),
        "loadavg_start": sh("cut -d' ' -f1-3 /proc/loadavg"),
    }


def render(runner, have, info, mode, elapsed, md=False):
    out = []
    src = info.get("commit", "?")
    if info.get("core_changes", "0") not in ("", "0"):
        src += " + %s uncommitted engine files" % info["core_changes"]
    head = ("tcpwave benchmark (%s mode) — %s; tcpwave %s; %s CPUs: %s; %s; Linux %s; "
            "lwIP %s; %s; load average %s at start, %s at end; %.0f s"
            % (mode, info["date"], src, info["nproc"], info["cpu"], info["memory"],
               info["kernel"], info["lwip"], info["compiler"], info["loadavg_start"],
               info.get("loadavg_end", "?"), elapsed))
    if md:
        out.append("_%s_\n" % head)
        out.append("| metric | unit | better | tcpwave | lwIP | Linux | tcpwave ÷ lwIP | tcpwave ÷ Linux |")
        out.append("|---|---|---|--:|--:|--:|--:|--:|")
    else:
        out.append(head)
        out.append("")
        out.append("%-32s %-12s %6s %14s %14s %14s %10s %10s" %
                   ("metric", "unit", "better", "tcpwave", "lwip", "linux", "vs lwip", "vs linux"))
    section = None
    for m in METRICS:
        if m["section"] != section:
            section = m["section"]
            if md:
                out.append("| **%s** | | | | | | | |" % section)
            else:
                out.append("-- " + section)
        t = have[(m["metric"], "tcpwave")]
        cells = [fmt(have[(m["metric"], s)]["value"], m["unit"]) for s in SYSTEMS]
        arrow = "↑" if m["better"] == "up" else "↓"
        rl, rx = fmt_ratio(t.get("vs_lwip")), fmt_ratio(t.get("vs_linux"))
        if md:
            out.append("| `%s` | %s | %s | %s | %s | %s | %s | %s |" %
                       (m["metric"], m["unit"], arrow, *cells, rl, rx))
        else:
            out.append("%-32s %-12s %6s %14s %14s %14s %10s %10s" %
                       (m["metric"], m["unit"], arrow, *cells, rl, rx))

    def r(mn, s):
        row = have.get((mn, s))
        return row["value"] if row else None

    out.append("")
    out.append("Targets (goals for the engine, not test thresholds):" if not md else
               "\n**Targets** (goals for the engine, not test thresholds)\n")
    if md:
        out.append("| target | tcpwave now | met |")
        out.append("|---|--:|:-:|")
    for name, get, ok in TARGETS:
        v = get(r)
        status = "—" if v is None else ("yes" if ok(v) else "no")
        shown = fmt_ratio(v) if "x lwIP" in name or "x Linux" in name else \
            fmt(v, "%" if "%" in name else "")
        if md:
            out.append("| %s | %s | %s |" % (name, shown, status))
        else:
            out.append("  %-66s %14s  %s" % (name, shown, status))
    if runner.hotspots:
        out.append("")
        out.append("Hotspots (callgrind, self instructions per unit, harness excluded):" if not md
                   else "\n**Hotspots** (callgrind, self instructions per unit, harness excluded)\n")
        for system, shape, phase, total, n, per, funcs in runner.hotspots:
            title = "%s %s, %s: %.0f instructions per %s" % (system, shape, phase, total / n,
                                                             per.rstrip("s"))
            if md:
                out.append("\n%s\n" % title)
                out.append("| function | per %s | share |" % per.rstrip("s"))
                out.append("|---|--:|--:|")
            else:
                out.append("  " + title)
            for fname, v in funcs[:12]:
                if md:
                    out.append("| `%s` | %.0f | %.1f%% |" % (fname, v / n, 100.0 * v / total))
                else:
                    out.append("    %7.0f  %5.1f%%  %s" % (v / n, 100.0 * v / total, fname))
    out.append("")
    out.append("Notes:" if not md else "\n**Notes**\n")
    for m in METRICS:
        for s in SYSTEMS:
            row = have[(m["metric"], s)]
            if row.get("note"):
                out.append(("- `%s` %s: %s" if md else "  %s [%s]: %s") %
                           (m["metric"], s, row["note"]))
    return "\n".join(out) + "\n"


def check(path, mode):
    """The CI check: the file is a JSON list of well-formed rows with every metric x system,
    and a positive number wherever the mode must measure one."""
    with open(path) as f:
        rows = json.load(f)
    errors = []
    if not isinstance(rows, list):
        sys.exit("check: %s is not a JSON list" % path)
    seen = {}
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            errors.append("row %d is not an object" % i)
            continue
        for k in ("metric", "system", "value", "unit"):
            if k not in r:
                errors.append("row %d has no %s" % (i, k))
        if r.get("system") not in SYSTEMS:
            errors.append("row %d: system %r" % (i, r.get("system")))
        v = r.get("value")
        if v is not None and (not isinstance(v, (int, float)) or math.isnan(v)):
            errors.append("row %d: value %r" % (i, v))
        if v is None and not r.get("note"):
            errors.append("row %d (%s, %s): null without a note" % (i, r.get("metric"), r.get("system")))
        key = (r.get("metric"), r.get("system"))
        if key in seen:
            errors.append("duplicate row %s" % (key,))
        seen[key] = r
    for m in METRICS:
        for s in SYSTEMS:
            if (m["metric"], s) not in seen:
                errors.append("missing row %s / %s" % (m["metric"], s))
    skip_cg = any(r.get("value") is None and "callgrind skipped" in (r.get("note") or "")
                  for r in rows)
    for (mn, s) in sorted(must_measure(mode)):
        if skip_cg and mn.startswith("instr_"):
            continue
        r = seen.get((mn, s))
        if r is not None and (r.get("value") is None or r["value"] <= 0):
            errors.append("%s / %s must be measured in %s mode: %r (%s)" %
                          (mn, s, mode, r.get("value"), r.get("note", "")))
    for e in errors:
        print("check: " + e, file=sys.stderr)
    n = len(METRICS) * len(SYSTEMS)
    print("%d passed, %d failed" % (n - len(errors), len(errors)) if errors else
          "check: %s: %d rows, every metric x system present and measured where it must be"
          % (path, len(rows)))
    return 1 if errors else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=["full", "quick"], default="full")
    ap.add_argument("--build", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                    "..", "build-bench"))
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "results", "latest.json"))
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--check", metavar="FILE")
    ap.add_argument("--engine", metavar="COMMIT",
                    help="the engine was built from this commit (bench/Makefile ENGINE=)")
    a = ap.parse_args()
    if a.check:
        return check(a.check, a.mode)

    callgrind = not a.no_callgrind
    if callgrind and not shutil.which("valgrind"):
        sys.exit("run.py: valgrind not found (scripts/setup.sh installs it)")
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    cgdir = os.path.join(a.build, "callgrind")
    os.makedirs(cgdir, exist_ok=True)
    info = machine_info()
    if a.engine:
        here = os.path.dirname(os.path.abspath(__file__))
        rev = subprocess.run(["git", "-C", here, "rev-parse", "--short", a.engine],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        info["commit"] = rev.stdout.strip() or a.engine
        info["core_changes"] = "0"
    t0 = time.time()
    runner = Runner(a.build, a.mode, cgdir, callgrind)
    measure(runner, a.mode)
    have = complete(runner, a.mode)
    info["loadavg_end"] = machine_info()["loadavg_start"]
    elapsed = time.time() - t0

    order = {m["metric"]: i for i, m in enumerate(METRICS)}
    rows = sorted([r for r in runner.rows if r["metric"] in order],
                  key=lambda r: (order[r["metric"]], SYSTEMS.index(r["system"])))
    with open(a.out, "w") as f:
        json.dump(rows, f, indent=1)
        f.write("\n")
    base = a.out[:-5] if a.out.endswith(".json") else a.out
    text = render(runner, have, info, a.mode, elapsed)
    with open(base + ".txt", "w") as f:
        f.write(text)
    with open(base + ".md", "w") as f:
        f.write(render(runner, have, info, a.mode, elapsed, md=True))
    with open(base + ".machine.json", "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    print(text)
    print("wrote %s (%d rows), %s.txt, %s.md" % (a.out, len(rows), base, base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
