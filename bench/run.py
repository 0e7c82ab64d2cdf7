#!/usr/bin/env python3
"""run.py — runs tcpwave's benchmark: tcpwave, lwIP and the Linux kernel side by side in one
run, and prints the table (each metric, each system, tcpwave's ratio to each baseline).

  python3 bench/run.py --mode full|quick --build DIR [--out bench/results/latest.json]
  python3 bench/run.py --check FILE --mode quick     checks a results file (the CI test)

  options: --rounds N (rounds of every rate; 10 full, 2 quick), --cpu N (or BENCH_CPU=N: pin
  to CPU N instead of the least busy CPU, chosen before each section)

The three programs (tcpwave_bench, lwip_bench, linux_bench, built by bench/Makefile) print
JSON rows on stdout. The rates are measured in rounds interleaved across the systems: each
harness is started once with --serve (it fills its TIME_WAIT population or opens its stream,
then runs one round per request on its stdin), and this script asks them in turn, round after
round. A rate's value is the median of its rounds, tcpwave's ratio to a baseline the median of
the per-round ratios, the retained fraction the median of (rate at N / empty-table rate) within
each round (bench/README.md, "Rounds, medians and ratios"). The per-segment and per-lifecycle
phases run once under callgrind, which counts their instructions. The script adds the rows no
system can produce (value null, with a note saying why), and writes:

  OUT                      the rows: [{"metric","system","value","unit"[,"note"][,"vs_lwip",
                           "vs_linux"]}], tcpwave's rows carrying its ratios to each baseline;
                           a repeated figure with "samples","min","max","rounds","value_wall"
                           (and "vs_lwip_samples","vs_lwip_min","vs_lwip_max","vs_lwip_rounds",
                           the same for linux)
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
import tempfile
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


# The figures measured in interleaved rounds (the rest are measured once).
REPEATED = ("lifecycle_rate_", "lifecycle_retained_", "bulk_gbps_")


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
# Each target: its name, the tcpwave row(s) it reads, the field (the value, or the ratio to a
# baseline), and the test. With two rows, the worse (larger) of the two counts.
TARGETS = [
    ("lifecycle >= 1,000,000 conn/s, empty TIME_WAIT table",
     ["lifecycle_rate_tw0"], "value", lambda v: v >= 1e6),
    ("lifecycle >= 5x lwIP (same run)", ["lifecycle_rate_tw0"], "vs_lwip", lambda v: v >= 5),
    ("lifecycle >= 50x Linux loopback (same run)",
     ["lifecycle_rate_tw0"], "vs_linux", lambda v: v >= 50),
    ("with 1M in TIME_WAIT >= 85% of the empty-table rate",
     ["lifecycle_retained_tw1m"], "value", lambda v: v >= 85),
    ("<= 800 instructions per small segment per endpoint",
     ["instr_per_seg_small_sender", "instr_per_seg_small_receiver"], "value", lambda v: v <= 800),
    ("<= 1,500 instructions per 1460-byte data segment per endpoint",
     ["instr_per_seg_1460_sender", "instr_per_seg_1460_receiver"], "value", lambda v: v <= 1500),
    (">= 50 Gbit/s bulk in memory at MSS 1460", ["bulk_gbps_mss1460"], "value", lambda v: v >= 50),
    ("<= 48 bytes per TIME_WAIT entry", ["bytes_per_tw_entry"], "value", lambda v: v <= 48),
    ("<= 512 bytes per established control block",
     ["bytes_per_established_conn"], "value", lambda v: v <= 512),
    ("10M TIME_WAIT entries in under 1 GiB (process RSS)",
     ["rss_mib_tw10m"], "value", lambda v: v < 1024),
]


def target_status(have, metrics, field, ok):
    """(value, met, rounds meeting it, rounds) of a target; the rounds only for a repeated
    figure."""
    rows = [have.get((m, "tcpwave")) for m in metrics]
    vals = [r.get(field) if r else None for r in rows]
    if any(v is None for v in vals):
        return None, None, None, None
    v = max(vals)
    per_round = None
    if len(rows) == 1:
        per_round = rows[0].get("rounds" if field == "value" else field + "_rounds")
    if not per_round:
        return v, ok(v), None, None
    return v, ok(v), sum(1 for x in per_round.values() if ok(x)), len(per_round)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


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
        # (metric, system) -> [(round id, value from CPU time, value from wall time)]
        self.samples = {}
        self.cpu = None      # the CPU the current section is pinned to
        self.sections = []   # {section, cpu, busy (each CPU's busy share), loadavg}

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
            if "round" in r:
                self.samples.setdefault((r["metric"], r["system"]), []).append(
                    (r["round"], r["value"], r.get("wall")))
            elif r["metric"].startswith("aux_") or r["metric"].startswith("cgphase_"):
                self.aux[(r["metric"], r["system"])] = r
            else:
                self.rows.append(r)

    def section(self, name, forced):
        """Chooses the CPU for the next section: the least busy one, or the forced one."""
        busy = {}
        if forced is not None:
            self.cpu, how = forced, "forced"
        else:
            self.cpu, busy = least_busy_cpu()
            how = "busy over 0.5 s: " + ", ".join("CPU %d %.0f%%" % (c, 100 * b)
                                                  for c, b in sorted(busy.items()))
        load = loadavg()
        self.sections.append({"section": name, "cpu": self.cpu,
                              "busy": {str(c): round(b, 3) for c, b in busy.items()},
                              "loadavg": load})
        print("== %s (pinned to CPU %s; %s; load average %s)" % (name, self.cpu, how, load),
              file=sys.stderr, flush=True)

    def serve(self, system, *args):
        """Starts a harness in --serve mode, pinned to the section's CPU; it sets up (fills its
        TIME_WAIT population, opens its stream) and waits for rounds."""
        return Server(self, system, [str(a) for a in args] + ["--serve", "--cpu", str(self.cpu)])

    def rounds(self, tag, groups, n):
        """n interleaved rounds: round k asks every group in turn, starting one group later
        each round, and within a group (a system's empty-table and populated harnesses) in
        the order reversed every other round, so that no system always runs first."""
        for k in range(n):
            rid = "%s.%d" % (tag, k + 1)
            order = groups[k % len(groups):] + groups[:k % len(groups)]
            got = []
            for g in order:
                for srv in (g if k % 2 == 0 else list(reversed(g))):
                    row = srv.round(rid, self.cpu)
                    got.append("%s %s %.4g" % (srv.system, row["metric"].split("_")[-1],
                                               row["value"]))
            print("  round %s: %s" % (rid, ", ".join(got)), file=sys.stderr, flush=True)

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


class Server:
    """A harness kept alive in --serve mode (bench/common.h): set up once, then one round per
    request, so that run.py can interleave the systems round by round."""

    def __init__(self, runner, system, args):
        self.runner = runner
        self.system = system
        cmd = [runner.prog(system)] + args
        print("  $ %s %s" % (os.path.basename(cmd[0]), " ".join(args)), file=sys.stderr,
              flush=True)
        self.err = tempfile.TemporaryFile(mode="w+")
        self.err_seen = 0
        self.t0 = time.time()
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.err, text=True, bufsize=1)
        self.ready = False
        for row in self._rows():
            if row.get("ready"):
                self.ready = True
                break
            runner.add([row])
        self._show_err()
        print("    (ready after %.1f s)" % (time.time() - self.t0) if self.ready else
              "    (finished without rounds after %.1f s)" % (time.time() - self.t0),
              file=sys.stderr, flush=True)
        if not self.ready:
            self._finish()

    def _rows(self):
        for line in self.p.stdout:
            line = line.strip()
            if line:
                yield json.loads(line)

    def _show_err(self):
        self.err.flush()
        self.err.seek(self.err_seen)
        text = self.err.read()
        self.err_seen = self.err.tell()
        for line in text.splitlines():
            print("    " + line, file=sys.stderr)

    def _finish(self):
        rc = self.p.wait()
        self._show_err()
        if rc != 0:
            sys.exit("run.py: %s %s failed (exit %d)" % (self.system, " ".join(self.p.args[1:]), rc))

    def round(self, rid, cpu):
        """Runs one round; returns its row."""
        self.p.stdin.write("round %s %d\n" % (rid, -1 if cpu is None else cpu))
        self.p.stdin.flush()
        for row in self._rows():
            self.runner.add([row])
            if row.get("round") == rid:
                return row
        self._finish()
        sys.exit("run.py: %s ended during round %s" % (self.system, rid))

    def end(self):
        """Finishes: the harness prints its remaining rows (summary, memory, expiry) and exits."""
        if self.p.poll() is None and self.ready:
            self.p.stdin.write("end\n")
            self.p.stdin.close()
            self.runner.add(list(self._rows()))
            self._finish()


def cpu_idle_times():
    """{cpu: (idle, total)} jiffies of every CPU, from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3:4].isdigit():
                parts = line.split()
                v = [int(x) for x in parts[1:9]]  # user nice system idle iowait irq softirq steal
                out[int(parts[0][3:])] = (v[3] + v[4], sum(v))
    return out


def least_busy_cpu(sample_s=0.5):
    """The CPU (of those this process may run on) with the most idle time over sample_s
    seconds, and each one's busy fraction; ties go to the highest CPU."""
    allowed = sorted(os.sched_getaffinity(0))
    a = cpu_idle_times()
    time.sleep(sample_s)
    b = cpu_idle_times()
    busy = {}
    for c in allowed:
        if c in a and c in b and b[c][1] > a[c][1]:
            busy[c] = 1.0 - (b[c][0] - a[c][0]) / (b[c][1] - a[c][1])
    if not busy:
        return allowed[-1], {}
    return min(busy, key=lambda c: (busy[c], -c)), busy


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


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


def plan(mode, rounds=None):
    q = mode == "quick"
    return {
        # the rates: rounds of each, interleaved across the systems
        "rounds": rounds or (2 if q else 10),
        "tcpwave_pops": QUICK_POPS["tcpwave"] if q else FULL_POPS["tcpwave"],
        "lwip_pops": QUICK_POPS["lwip"] if q else FULL_POPS["lwip"],
        "linux_pops": QUICK_POPS["linux"] if q else FULL_POPS["linux"],
        # lifecycles per round: ~0.1-0.3 s of CPU each in full mode. Many short rounds rather
        # than a few long ones: the two figures of a pair (tcpwave and lwIP, or a population
        # and the empty table) are then measured closer together in time.
        "tcpwave_count": (lambda p: 30_000) if q else (lambda p: 100_000),
        "lwip_count": ((lambda p: {0: 10_000}.get(p, 1000)) if q else
                       (lambda p: {0: 20_000, 10_000: 1000}.get(p, 100))),
        "linux_count": (lambda p: 1000) if q else (lambda p: 2000),
        # bytes per bulk round, after a warm-up (16 MiB in memory, 64 MiB on loopback)
        "bulk_bytes": 32 << 20 if q else 256 << 20,
        "linux_bulk_bytes": 128 << 20 if q else 256 << 20,
        "cg_segs": 500 if q else 20_000,
        "cg_life": 200 if q else 5000,
    }


def measure(runner, mode, rounds=None, forced_cpu=None):
    P = plan(mode, rounds)
    R = P["rounds"]
    verify = ["--verify"] if mode == "quick" else []
    print("== sizes", file=sys.stderr)
    for s in SYSTEMS:
        runner.add(runner.run(s, "sizes"))

    # Lifecycle rates. One harness per system holds an empty table for the whole section; for
    # each population, one harness per system fills it once and holds it. Each round asks every
    # system for one round with the empty table and one at the population, one right after
    # the other: the retained fraction is taken within a round, and the systems are compared
    # round by round.
    pops = {s: P[s + "_pops"] for s in SYSTEMS}
    count = {s: P[s + "_count"] for s in SYSTEMS}
    runner.section("lifecycle, empty table", forced_cpu)
    empty = {s: runner.serve(s, "lifecycle", "--pop", 0, "--count", count[s](0)) for s in SYSTEMS}
    runner.rounds(pop_name(0), [[empty[s]] for s in SYSTEMS], R)
    for p in sorted({p for s in SYSTEMS for p in pops[s] if p}):
        runner.section("lifecycle, %s in TIME_WAIT" % pop_name(p), forced_cpu)
        held = {}
        # Linux fills last: its TIME_WAIT lasts 60 s of real time from the fill on
        for s in SYSTEMS:
            if p not in pops[s]:
                continue
            curve = ["--curve"] if p == max(pops[s]) else []
            srv = runner.serve(s, "lifecycle", "--pop", p, "--count", count[s](p), *curve)
            if srv.ready:
                held[s] = srv
        runner.rounds(pop_name(p), [[empty[s], held[s]] for s in SYSTEMS if s in held], R)
        for srv in held.values():
            srv.end()
    for srv in empty.values():
        srv.end()

    runner.section("bulk", forced_cpu)
    bulk = [runner.serve("tcpwave", "bulk", "--bytes", P["bulk_bytes"], *verify),
            runner.serve("lwip", "bulk", "--bytes", P["bulk_bytes"], *verify),
            runner.serve("linux", "bulk", "--bytes", P["linux_bulk_bytes"], "--mtu", 1500),
            runner.serve("linux", "bulk", "--bytes", P["linux_bulk_bytes"], "--mtu", 65536)]
    runner.rounds("bulk", [[srv] for srv in bulk], R)
    for srv in bulk:
        srv.end()

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

    # the rates: value = median of the rounds, with their spread and the rounds themselves
    for key, samples in runner.samples.items():
        row = have.get(key)
        if row is None or row.get("value") is None:
            continue
        apply_rounds(row, {rid: v for rid, v, _ in samples})
        walls = [w for _, _, w in samples if w is not None]
        if walls:
            row["value_wall"] = median(walls)

    # retained: in each round, the rate at N over the same system's empty-table rate of that
    # round (measured right before or after it); the median over the rounds
    for p in POPS[1:]:
        for s in SYSTEMS:
            at = have.get(("lifecycle_rate_" + pop_name(p), s))
            empty = have.get(("lifecycle_rate_tw0", s))
            if not at or not empty or at.get("value") is None or not empty.get("value"):
                continue
            per_round = {rid: 100.0 * v / empty["rounds"][rid]
                         for rid, v in at.get("rounds", {}).items()
                         if empty.get("rounds", {}).get(rid)}
            row = {"metric": "lifecycle_retained_" + pop_name(p), "system": s,
                   "value": 100.0 * at["value"] / empty["value"], "unit": "%"}
            if per_round:
                apply_rounds(row, per_round)
                row["note"] = ("median over %d rounds of (lifecycle rate at %s / the empty-table "
                               "rate of the same round)" % (len(per_round), pop_name(p)))
            else:
                row["note"] = "lifecycle rate at %s / rate with an empty table" % pop_name(p)
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

    # tcpwave's ratios to each baseline, on its own rows: for the rates, the median over the
    # rounds both took part in of the ratio within each round; otherwise value / value
    for r in runner.rows:
        if r["system"] != "tcpwave" or r["metric"] not in METRIC_BY_NAME:
            continue
        own = have.get((RATIO_SOURCE.get(r["metric"], r["metric"]), "tcpwave"))
        for b in ["lwip", "linux"]:
            base = have.get((r["metric"], b))
            r["vs_" + b] = ratio(own and own["value"], base and base["value"])
            if r["vs_" + b] is None or "rounds" not in own or "rounds" not in base:
                continue
            pairs = {rid: own["rounds"][rid] / v for rid, v in base["rounds"].items()
                     if rid in own["rounds"] and v}
            if pairs:
                r["vs_" + b] = median(pairs.values())
                r["vs_%s_samples" % b] = len(pairs)
                r["vs_%s_min" % b] = min(pairs.values())
                r["vs_%s_max" % b] = max(pairs.values())
                r["vs_%s_rounds" % b] = pairs
    return have


def apply_rounds(row, per_round):
    """Sets a row's value to the median of its rounds ({round id: value}), with the spread."""
    vals = list(per_round.values())
    row["value"] = median(vals)
    row["samples"] = len(vals)
    row["min"] = min(vals)
    row["max"] = max(vals)
    row["rounds"] = per_round


# ---- output ------------------------------------------------------------------------------------
def fmt(v, unit=""):
    if v is None:
        return "—"
    if isinstance(v, float) and math.isnan(v):
        return "—"
    a = abs(v)
    if unit in ("%",):
        return "%.1f%%" % v
    if a >= 100:
        return "{:,.0f}".format(v)
    if a >= 10:
        return "%.1f" % v
    return "%.2f" % v


def short(v):
    """Three significant digits, with k or M: the ends of a spread."""
    a = abs(v)
    for div, suffix in ((1e6, "M"), (1e3, "k"), (1, "")):
        if a >= div * 0.9995 or div == 1:
            x = v / div
            ax = abs(x)
            return ("%.0f" % x if ax >= 99.95 else "%.1f" % x if ax >= 9.995 else
                    "%.2f" % x) + suffix
    return str(v)


def fmt_ratio(v):
    if v is None:
        return "—"
    if v >= 100:
        return "%.0f×" % v
    if v >= 10:
        return "%.1f×" % v
    return "%.2f×" % v


def cell(row, unit):
    """A system's value, and for a repeated figure the range of its rounds."""
    if row is None:
        return "—"
    text = fmt(row.get("value"), unit)
    if row.get("value") is not None and row.get("samples", 1) > 1:
        text += " (%s–%s)" % (short(row["min"]), short(row["max"]))
    return text


def ratio_cell(row, b):
    text = fmt_ratio(row.get("vs_" + b))
    if row.get("vs_%s_samples" % b, 1) > 1:
        text += " (%s–%s)" % (fmt_ratio(row["vs_%s_min" % b]).rstrip("×"),
                              fmt_ratio(row["vs_%s_max" % b]).rstrip("×"))
    return text


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
    pinned = info.get("pinned", [])
    method = ("Rates: the median of %d rounds interleaved across the systems (tcpwave, lwIP, "
              "Linux, then again, starting one system later each round), from CPU time; "
              "(min–max) of the rounds beside it. Ratios: the median of the per-round ratios "
              "(min–max of those). Retained: the median over the rounds of (rate at N / the "
              "empty-table rate of the same round). Callgrind counts, sizes, memory and the "
              "TIME_WAIT insertion/expiry figures are measured once. Pinned to the least busy "
              "CPU before each section (%s): %s."
              % (info.get("rounds", 0), info.get("cpu_choice", ""),
                 "; ".join("%s CPU %s (load %s)" % (x["section"], x["cpu"], x["loadavg"])
                           for x in pinned)))
    if md:
        out.append("_%s_\n" % head)
        out.append("_%s_\n" % method)
        out.append("| metric | unit | better | tcpwave | lwIP | Linux | tcpwave ÷ lwIP | tcpwave ÷ Linux |")
        out.append("|---|---|---|--:|--:|--:|--:|--:|")
    else:
        out.append(head)
        out.append(method)
        out.append("")
        out.append("%-30s %-12s %2s %24s %24s %24s %19s %19s" %
                   ("metric", "unit", "", "tcpwave", "lwip", "linux", "vs lwip", "vs linux"))
    section = None
    for m in METRICS:
        if m["section"] != section:
            section = m["section"]
            if md:
                out.append("| **%s** | | | | | | | |" % section)
            else:
                out.append("-- " + section)
        t = have[(m["metric"], "tcpwave")]
        cells = [cell(have.get((m["metric"], s)), m["unit"]) for s in SYSTEMS]
        arrow = "↑" if m["better"] == "up" else "↓"
        rl, rx = ratio_cell(t, "lwip"), ratio_cell(t, "linux")
        if md:
            out.append("| `%s` | %s | %s | %s | %s | %s | %s | %s |" %
                       (m["metric"], m["unit"], arrow, *cells, rl, rx))
        else:
            out.append("%-30s %-12s %2s %24s %24s %24s %19s %19s" %
                       (m["metric"], m["unit"], arrow, *cells, rl, rx))

    out.append("")
    out.append("Targets (goals for the engine, not test thresholds; for a repeated figure, the "
               "rounds that met it):" if not md else
               "\n**Targets** (goals for the engine, not test thresholds; for a repeated figure, "
               "the rounds that met it)\n")
    if md:
        out.append("| target | tcpwave now | met | rounds |")
        out.append("|---|--:|:-:|--:|")
    for name, metrics, field, ok in TARGETS:
        v, met, n_ok, n = target_status(have, metrics, field, ok)
        status = "—" if v is None else ("yes" if met else "no")
        shown = fmt_ratio(v) if field.startswith("vs_") else fmt(v, "%" if "%" in name else "")
        rounds = "%d of %d" % (n_ok, n) if n else ""
        if md:
            out.append("| %s | %s | %s | %s |" % (name, shown, status, rounds))
        else:
            out.append("  %-66s %14s  %-3s  %s" % (name, shown, status, rounds))
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
        if "samples" in r:
            # a repeated figure: the median of its rounds, within their range
            n, lo, hi = r.get("samples"), r.get("min"), r.get("max")
            if not isinstance(n, int) or n < 1 or not all(isinstance(x, (int, float))
                                                          for x in (lo, hi)):
                errors.append("row %d (%s, %s): bad samples/min/max %r/%r/%r"
                              % (i, r.get("metric"), r.get("system"), n, lo, hi))
            elif v is None or not lo - 1e-9 * abs(lo) <= v <= hi + 1e-9 * abs(hi):
                errors.append("row %d (%s, %s): value %r outside its rounds' range %r-%r"
                              % (i, r.get("metric"), r.get("system"), v, lo, hi))
            elif isinstance(r.get("rounds"), dict) and len(r["rounds"]) != n:
                errors.append("row %d (%s, %s): %d samples but %d rounds listed"
                              % (i, r.get("metric"), r.get("system"), n, len(r["rounds"])))
        for b in ("lwip", "linux"):
            if "vs_%s_samples" % b in r:
                x, lo, hi = r.get("vs_" + b), r.get("vs_%s_min" % b), r.get("vs_%s_max" % b)
                if x is None or lo is None or hi is None or not lo - 1e-9 <= x <= hi + 1e-9:
                    errors.append("row %d (%s): ratio to %s %r outside its rounds' range %r-%r"
                                  % (i, r.get("metric"), b, x, lo, hi))
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
        elif r is not None and mn.startswith(REPEATED) and "samples" not in r:
            errors.append("%s / %s: a rate must come from rounds (no samples)" % (mn, s))
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
    ap.add_argument("--rounds", type=int, metavar="N",
                    help="rounds of every rate (default: 5 in full mode, 2 in quick mode)")
    ap.add_argument("--cpu", type=int, metavar="N", default=None,
                    help="pin to this CPU (default: the least busy one, chosen before each "
                         "section; also BENCH_CPU=N)")
    a = ap.parse_args()
    if a.check:
        return check(a.check, a.mode)
    if a.rounds is not None and a.rounds < 1:
        sys.exit("run.py: --rounds must be at least 1")
    if a.cpu is None and os.environ.get("BENCH_CPU", "") != "":
        try:
            a.cpu = int(os.environ["BENCH_CPU"])
        except ValueError:
            sys.exit("run.py: BENCH_CPU=%r is not a CPU number" % os.environ["BENCH_CPU"])
    if a.cpu is not None and a.cpu not in os.sched_getaffinity(0):
        sys.exit("run.py: CPU %d is not one this process may run on (%s)"
                 % (a.cpu, ",".join(map(str, sorted(os.sched_getaffinity(0))))))

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
    measure(runner, a.mode, a.rounds, a.cpu)
    have = complete(runner, a.mode)
    info["loadavg_end"] = machine_info()["loadavg_start"]
    info["rounds"] = plan(a.mode, a.rounds)["rounds"]
    allowed = ",".join(map(str, sorted(os.sched_getaffinity(0))))
    info["cpu_choice"] = ("forced: --cpu/BENCH_CPU" if a.cpu is not None else
                          "of CPUs %s, the one with the most idle time in /proc/stat over 0.5 s"
                          % allowed)
    info["pinned"] = runner.sections
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
