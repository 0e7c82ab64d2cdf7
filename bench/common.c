/* common.c — time, pinning, memory readings, options and result rows for the benchmark
 * programs (see common.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bench_cg_state bench_cg;

static void json_string(FILE *f, const char *s);

static const char *prog_name(void) {
    extern char *program_invocation_short_name;
    return program_invocation_short_name;
}

uint64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bench_times bench_times_now(void) {
    bench_times t;
    t.cpu = bench_cpu_ns();
    t.wall = bench_now_ns();
    return t;
}

int bench_pin_cpu(int cpu) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    if (cpu < 0) {
        for (int i = CPU_SETSIZE - 1; i >= 0; i--)
            if (CPU_ISSET(i, &set)) {
                cpu = i;
                break;
            }
    }
    if (cpu < 0) return -1;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) return -1;
    return cpu;
}

double bench_median(const double *v, int n) {
    static double t[BENCH_MAX_ROUNDS];
    if (n <= 0 || n > BENCH_MAX_ROUNDS) return NAN;
    memcpy(t, v, (size_t)n * sizeof *t);
    for (int i = 1; i < n; i++) /* insertion sort: n is small */
        for (int j = i; j > 0 && t[j - 1] > t[j]; j--) {
            double x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* ---- rounds ------------------------------------------------------------------------------- */

void bench_rounds_init(bench_rounds *r, int argc, char **argv) {
    memset(r, 0, sizeof *r);
    r->serve = bench_opt_flag(argc, argv, "--serve");
    r->pin = !bench_opt_flag(argc, argv, "--no-pin");
    uint64_t n = bench_opt_u64(argc, argv, "--rounds", 3);
    if (n < 1 || n > BENCH_MAX_ROUNDS) bench_die("--rounds must be 1..%d", BENCH_MAX_ROUNDS);
    r->limit = (int)n;
}

bool bench_rounds_next(bench_rounds *r) {
    if (!r->serve) {
        if (r->n >= r->limit) return false;
        r->n++;
        snprintf(r->id, sizeof r->id, "%d", r->n);
        return true;
    }
    if (r->n == 0) {
        printf("{\"ready\":true}\n");
        fflush(stdout);
    }
    char line[256];
    for (;;) {
        if (!fgets(line, sizeof line, stdin)) return false;
        char id[64];
        int cpu = -1;
        if (sscanf(line, "round %63s %d", id, &cpu) >= 1) {
            if (r->n >= BENCH_MAX_ROUNDS) bench_die("more than %d rounds", BENCH_MAX_ROUNDS);
            r->n++;
            snprintf(r->id, sizeof r->id, "%s", id);
            if (r->pin && cpu >= 0 && bench_pin_cpu(cpu) != cpu)
                bench_die("cannot pin to CPU %d", cpu);
            return true;
        }
        if (strncmp(line, "end", 3) == 0) return false;
        bench_die("unknown request on stdin: %s", line);
    }
}

void bench_round_row(bench_rounds *r, const char *metric, const char *system, double value,
                     double wall_value, const char *unit) {
    if (r->n >= 1) r->value[r->n - 1] = value;
    printf("{\"metric\":");
    json_string(stdout, metric);
    printf(",\"system\":");
    json_string(stdout, system);
    printf(",\"value\":%.6g,\"unit\":", value);
    json_string(stdout, unit);
    printf(",\"round\":");
    json_string(stdout, r->id);
    printf(",\"wall\":%.6g}\n", wall_value);
    fflush(stdout);
}

double bench_rounds_median(const bench_rounds *r) {
    return bench_median(r->value, r->n);
}

double bench_rounds_min(const bench_rounds *r) {
    double m = NAN;
    for (int i = 0; i < r->n; i++)
        if (!(r->value[i] >= m)) m = r->value[i];
    return m;
}

double bench_rounds_max(const bench_rounds *r) {
    double m = NAN;
    for (int i = 0; i < r->n; i++)
        if (!(r->value[i] <= m)) m = r->value[i];
    return m;
}

static uint64_t read_kib_field(const char *path, const char *field) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[256];
    size_t fl = strlen(field);
    uint64_t v = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
            v = strtoull(line + fl + 1, NULL, 10) * 1024u;
            break;
        }
    }
    fclose(f);
    return v;
}

uint64_t bench_rss_bytes(void) {
    return read_kib_field("/proc/self/status", "VmRSS");
}

uint64_t bench_slab_bytes(void) {
    return read_kib_field("/proc/meminfo", "Slab");
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

void bench_row(const char *metric, const char *system, double value, const char *unit,
               const char *note_fmt, ...) {
    char note[512] = "";
    if (note_fmt) {
        va_list ap;
        va_start(ap, note_fmt);
        vsnprintf(note, sizeof note, note_fmt, ap);
        va_end(ap);
    }
    printf("{\"metric\":");
    json_string(stdout, metric);
    printf(",\"system\":");
    json_string(stdout, system);
    if (isnan(value) || isinf(value))
        printf(",\"value\":null");
    else
        printf(",\"value\":%.6g", value);
    printf(",\"unit\":");
    json_string(stdout, unit);
    if (note[0]) {
        printf(",\"note\":");
        json_string(stdout, note);
    }
    printf("}\n");
    fflush(stdout);
}

void bench_log(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog_name());
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void bench_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: error: ", prog_name());
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static const char *find_opt(int argc, char **argv, const char *name) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return NULL;
}

uint64_t bench_opt_u64(int argc, char **argv, const char *name, uint64_t def) {
    const char *v = find_opt(argc, argv, name);
    if (!v) return def;
    char *end;
    errno = 0;
    double d = strtod(v, &end); /* accepts 1e6 as well as 1000000 */
    if (errno || end == v || *end || d < 0) bench_die("bad value for %s: %s", name, v);
    return (uint64_t)d;
}

const char *bench_opt_str(int argc, char **argv, const char *name, const char *def) {
    const char *v = find_opt(argc, argv, name);
    return v ? v : def;
}

bool bench_opt_flag(int argc, char **argv, const char *name) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0) return true;
    return false;
}

const char *bench_pop_name(uint64_t pop, char *buf, size_t cap) {
    if (pop >= 1000000 && pop % 1000000 == 0)
        snprintf(buf, cap, "tw%" PRIu64 "m", pop / 1000000);
    else if (pop >= 1000 && pop % 1000 == 0)
        snprintf(buf, cap, "tw%" PRIu64 "k", pop / 1000);
    else
        snprintf(buf, cap, "tw%" PRIu64, pop);
    return buf;
}

int bench_main(int argc, char **argv, void (*sizes)(void), const bench_mode *modes, size_t n) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s sizes", argv[0]);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "|%s", modes[i].name);
        fprintf(stderr, " [options]\n");
        return 2;
    }
    if (strcmp(argv[1], "sizes") == 0) {
        sizes();
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[1], modes[i].name) != 0) continue;
        int cpu = (int)bench_opt_u64(argc, argv, "--cpu", (uint64_t)-1);
        if (!bench_opt_flag(argc, argv, "--no-pin")) bench_pin_cpu(cpu);
        modes[i].run(argc, argv);
        return 0;
    }
    bench_die("unknown mode %s", argv[1]);
}
