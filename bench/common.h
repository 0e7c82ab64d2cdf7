/* common.h — what the three benchmark programs (tcpwave_bench, lwip_bench, linux_bench) share:
 * wall-clock time, CPU pinning, resident memory, command-line options, the JSON result rows
 * they print on stdout (one object per line, read by bench/run.py), and the callgrind
 * collection switch that lets a run count only the instructions of one endpoint.
 */
#ifndef TCPW_BENCH_COMMON_H
#define TCPW_BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <valgrind/callgrind.h>

/* Monotonic wall-clock time in nanoseconds (clock_gettime(CLOCK_MONOTONIC)). */
uint64_t bench_now_ns(void);
/* CPU time of the whole process in nanoseconds (CLOCK_PROCESS_CPUTIME_ID): user and kernel
 * time, including the softirq work the kernel does in our context (this kernel has no
 * IRQ_TIME_ACCOUNTING). Rates are computed from it: it counts what the one core the process
 * is pinned to spent on the system under test, and not the turns other processes take on
 * that core — on a shared machine wall time would charge those to the system. Each read is
 * a system call (~1 us): read it around loops, never per operation. */
uint64_t bench_cpu_ns(void);

/* Wall and CPU time together, for the loops whose rate is reported. */
typedef struct bench_times {
    uint64_t wall, cpu;
} bench_times;
bench_times bench_times_now(void);

/* Pins the calling thread to one CPU (sched_setaffinity) so both endpoints share one core.
 * cpu < 0 picks the last CPU the process may run on (run.py passes the least busy one).
 * Returns the CPU, or -1. */
int bench_pin_cpu(int cpu);

/* ---- rounds --------------------------------------------------------------------------------
 *
 * A measured loop (a rate) runs once per round, and each round prints its own row: the usual
 * keys plus "round" (the round's id) and "wall" (the same figure from wall-clock time; the
 * value is from CPU time). At the end the program prints the metric's summary row (no
 * "round"): the median of its rounds, with a note.
 *
 * Standalone, `--rounds N` rounds (default 3) run back to back. Under run.py, `--serve`: the
 * program sets up (fills its TIME_WAIT population, opens its stream), prints {"ready":true},
 * then runs one round for each line "round ID CPU" on stdin, pinned to CPU first (-1: stays
 * where it is), and finishes at "end" or end of input. run.py keeps one such process per
 * system alive and asks them in turn (tcpwave, lwIP, Linux, tcpwave, ...), so that whatever
 * else the machine does at a moment hits every system of that round alike.
 */
#define BENCH_MAX_ROUNDS 1024
typedef struct bench_rounds {
    bool serve;  /* rounds on request (--serve) */
    bool pin;    /* serve: re-pin to the CPU each request names (not with --no-pin) */
    int limit;   /* standalone: rounds to run */
    int n;       /* rounds started so far */
    char id[64]; /* the current round's id */
    double value[BENCH_MAX_ROUNDS]; /* each round's value, for the summary */
} bench_rounds;
void bench_rounds_init(bench_rounds *r, int argc, char **argv);
/* Waits for the next round (serve) or counts it (standalone): true to run one more. The first
 * call in serve mode prints the ready line. */
bool bench_rounds_next(bench_rounds *r);
/* The row of the current round. */
void bench_round_row(bench_rounds *r, const char *metric, const char *system, double value,
                     double wall_value, const char *unit);
/* Median, minimum and maximum of the rounds so far. */
double bench_rounds_median(const bench_rounds *r);
double bench_rounds_min(const bench_rounds *r);
double bench_rounds_max(const bench_rounds *r);

double bench_median(const double *v, int n);

/* VmRSS of this process in bytes (from /proc/self/status), 0 when unknown. */
uint64_t bench_rss_bytes(void);
/* Total slab memory of the machine in bytes (Slab: of /proc/meminfo), 0 when unknown. */
uint64_t bench_slab_bytes(void);

/* One result row: {"metric":…,"system":…,"value":…,"unit":…,"note":…} on stdout.
 * A NaN value is written as null (the system cannot produce the figure: note says why). */
void bench_row(const char *metric, const char *system, double value, const char *unit,
               const char *note_fmt, ...) __attribute__((format(printf, 5, 6)));
/* A diagnostic line on stderr, prefixed with the program name. */
void bench_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the message and exits with status 1. */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* "--name value" options: returns the value of --name, or def when absent. */
uint64_t bench_opt_u64(int argc, char **argv, const char *name, uint64_t def);
const char *bench_opt_str(int argc, char **argv, const char *name, const char *def);
bool bench_opt_flag(int argc, char **argv, const char *name);

/* A harness's modes: "sizes" prints the structure sizes; every other mode pins the CPU first
 * (--cpu N, --no-pin) and runs with the arguments. */
typedef struct bench_mode {
    const char *name;
    void (*run)(int argc, char **argv);
} bench_mode;

/* The main() of every harness: picks the mode named by argv[1] from modes[0..n). */
int bench_main(int argc, char **argv, void (*sizes)(void), const bench_mode *modes, size_t n);

/* Metric name for a TIME_WAIT population: 0 -> "tw0", 10000 -> "tw10k", 1000000 -> "tw1m". */
const char *bench_pop_name(uint64_t pop, char *buf, size_t cap);

/* ---- counting one endpoint's instructions under callgrind --------------------------------
 *
 * Run with `valgrind --tool=callgrind --collect-atstart=no`. While a measured phase is on
 * (bench_cg.phase), every call into the system under test is wrapped in
 * CG_ENTER(endpoint) ... CG_LEAVE(): collection is switched on only for the endpoint being
 * measured, and switched off again inside the link's output callback (CG_PAUSE/CG_RESUME)
 * so the copy onto the simulated wire — the harness's work — is not counted. Outside
 * valgrind the client requests are a few no-op instructions.
 */
typedef struct bench_cg_state {
    bool phase;   /* a measured phase is running */
    int endpoint; /* 0 client, 1 server, 2 both */
    bool on;      /* collection currently switched on by CG_ENTER */
} bench_cg_state;
extern bench_cg_state bench_cg;

#define CG_ENTER(ep)                                                                               \
    do {                                                                                           \
        if (bench_cg.phase && !bench_cg.on &&                                                      \
            (bench_cg.endpoint == 2 || bench_cg.endpoint == (ep))) {                               \
            bench_cg.on = true;                                                                    \
            CALLGRIND_TOGGLE_COLLECT;                                                              \
        }                                                                                          \
    } while (0)
#define CG_LEAVE()                                                                                 \
    do {                                                                                           \
        if (bench_cg.on) {                                                                         \
            CALLGRIND_TOGGLE_COLLECT;                                                              \
            bench_cg.on = false;                                                                   \
        }                                                                                          \
    } while (0)
#define CG_PAUSE()                                                                                 \
    do {                                                                                           \
        if (bench_cg.on) CALLGRIND_TOGGLE_COLLECT;                                                 \
    } while (0)
#define CG_RESUME()                                                                                \
    do {                                                                                           \
        if (bench_cg.on) CALLGRIND_TOGGLE_COLLECT;                                                 \
    } while (0)

#endif
