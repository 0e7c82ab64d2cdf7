/* cmd_tun.c — `tcpwave tun`: the engine talking to the Linux kernel's TCP over a TUN device
 * inside a network namespace, with unmodified programs (curl, socat, python3) on the kernel's
 * side. See docs/tun.md.
 *
 *   tcpwave tun listen PORT [--echo | --http DIR | --discard | --send FILE] [-- CMD ...]
 *   tcpwave tun connect ADDR PORT [--send FILE] [--shutdown-after-send] [--close-first]
 *                                 [--abort] [--out FILE] [--check-echo] [-- CMD ...]
 *   tcpwave tun exec [--listen PORT APP] -- CMD ...
 *
 * The command creates the namespace (or adopts --netns NAME), the device in it, the kernel's
 * address on the device and a route to tcpwave's address through it; runs the engine behind
 * the device on the real clock; draws every connection as the ladder `tcpwave sim` draws (the
 * same renderer); and removes what it created on exit, on Ctrl-C, and — through a watchdog —
 * after a crash.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <net/if.h>

#include "cmds.h"
#include "util/duration.h"
#include "tun/netns.h"
#include "tun/tun.h"
#include "tun/tun_trace.h"
#include "tun_apps.h"
#include "util/addr.h"
#include "view/view.h"

#define DEFAULT_K4     "198.18.0.1"
#define DEFAULT_T4     "198.18.0.2"
#define DEFAULT_K6     "fd00:7763::1"
#define DEFAULT_T6     "fd00:7763::2"
#define WAIT_LISTEN_US 10000000u /* how long connect waits for the kernel's server */
#define DRAIN_US       10000000u /* how long open connections may take to close at the end */
#define CMD_GRACE_US   3000000u  /* how long a command may run on after the client is done */

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t child_changed;

static void on_stop(int sig) {
    stop_signal = sig;
}
static void on_child(int sig) {
    (void)sig;
    child_changed = 1;
}

typedef enum { SUB_LISTEN, SUB_CONNECT, SUB_EXEC } tun_sub;

typedef struct tun_opts {
    tun_sub sub;
    uint16_t port;
    bool have_port;
    const char *connect_addr;
    tun_apps_config app;
    const char *netns, *dev;
    int mtu;
    const char *k4, *t4, *k6, *t6;
    const char *pcap;
    tcpw_view_opts view;
    tcpw_tun_trace_mode trace;
    uint64_t quiet_ms;
    tcpw_tun_impair impair;
    bool seed_given;
    uint32_t msl_ms, rto_min_ms, delack_ms, sndbuf, rcvbuf;
    bool no_ts, no_ws, no_nagle;
    uint64_t count;
    int64_t linger_ms; /* -1: the whole 2MSL */
    char **cmd;
} tun_opts;

static const char *const usage_text[] = {
    "usage: tcpwave tun listen PORT [--echo | --http DIR | --discard | --send FILE]",
    "                               [--expect-reset] [OPTIONS] [-- CMD ...]",
    "       tcpwave tun connect ADDR PORT [--send FILE] [--shutdown-after-send | --close-first",
    "                               | --abort] [--expect-bytes N] [--out FILE] [--check-echo]",
    "                               [--expect-reset] [OPTIONS] [-- CMD ...]",
    "       tcpwave tun exec [--listen PORT [--echo | --http DIR | --discard | --send FILE]]",
    "                               [OPTIONS] -- CMD ...",
    "",
    "tcpwave serves or connects at its own address behind a TUN device in a network namespace;",
    "the Linux kernel is at the other address, inside the namespace. CMD runs in the namespace",
    "(listen, exec: while tcpwave serves; connect: the kernel's server, which tcpwave waits for",
    "before it connects). listen serves echo unless told otherwise. Every connection is drawn",
    "as a ladder on stdout when it is over; the first line names the namespace and addresses.",
    "",
    "namespace and device:",
    "  --netns NAME        use this namespace, creating it if absent (default tcpw-PID)",
    "  --kernel-addr A     the kernel's IPv4 address (default " DEFAULT_K4 ")",
    "  --addr A            tcpwave's IPv4 address (default " DEFAULT_T4 ")",
    "  --kernel-addr6 A    the kernel's IPv6 address (default " DEFAULT_K6 ")",
    "  --addr6 A           tcpwave's IPv6 address (default " DEFAULT_T6 ")",
    "  --dev NAME          device name (default tcpw%d: tcpw0, or the next free one)",
    "  --mtu N             device MTU (default 1500)",
    "  --pcap FILE         record every packet that crossed the device",
    "impairments of the path between the device and the engine:",
    "  --loss P  --dup P  --reorder P   P a fraction (0.1) or a percentage (10%)",
    "  --delay T  --reorder-delay T     T with unit us, ms (the default) or s",
    "  --impair in|out|both             directions impaired (default both)   --seed N",
    "engine:",
    "  --msl S (30; TIME_WAIT lasts 2MSL; units as 500ms)  --rto-min MS (200)  --delayed-ack MS "
    "(40)",
    "  --sndbuf B  --rcvbuf B (262144)  --no-timestamps  --no-window-scale  --no-nagle",
    "run:",
    "  --count N           stop after N connections (connect: make N, one after another)",
    "  --linger MS         at the end, wait at most this long for TIME_WAIT to expire",
    "                      (default: the whole 2MSL)",
    "  --quiet             no per-connection summary lines on stderr",
    "trace (stdout):",
    "  --trace brief|full|none   brief (the default) leaves out the middle of bulk data",
    "  --format text|mermaid|svg|json  --explain  --lang en|zh  --color  --absolute",
};

static void usage(FILE *f) {
    for (size_t i = 0; i < sizeof usage_text / sizeof usage_text[0]; i++)
        fprintf(f, "%s\n", usage_text[i]);
}

__attribute__((format(printf, 1, 2))) static int bad(const char *fmt, ...);
static int bad(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tcpwave tun: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(tcpwave tun --help describes the options)\n");
    return 2;
}

static bool parse_u64(const char *s, uint64_t *out) {
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || s[0] == '-') return false;
    *out = v;
    return true;
}

static bool parse_prob(const char *s, double *out) {
    if (!s || !*s) return false;
    char *end;
    double v = strtod(s, &end);
    if (end == s) return false;
    if (*end == '%' && end[1] == '\0') {
        v /= 100.0;
    } else if (*end) {
        return false;
    }
    if (!(v >= 0.0 && v <= 1.0)) return false;
    *out = v;
    return true;
}

static bool parse_time_us(const char *s, uint64_t *out) {
    if (!s || !*s) return false;
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) return false;
    double mult = 1000.0;
    if (!strcmp(end, "us"))
        mult = 1.0;
    else if (!strcmp(end, "ms") || !*end)
        mult = 1000.0;
    else if (!strcmp(end, "s"))
        mult = 1000000.0;
    else
        return false;
    *out = (uint64_t)(v * mult + 0.5);
    return true;
}

static bool parse_u32_opt(const char *s, uint32_t *out, uint64_t max) {
    uint64_t v;
    if (!parse_u64(s, &v) || v > max) return false;
    *out = (uint32_t)v;
    return true;
}

/* Parses argv (starting after "tun"). Returns -1 to go on, else an exit code. */
static int parse_args(int argc, char **argv, tun_opts *o) {
    memset(o, 0, sizeof *o);
    o->dev = "tcpw%d";
    o->mtu = 1500;
    o->k4 = DEFAULT_K4;
    o->t4 = DEFAULT_T4;
    o->k6 = DEFAULT_K6;
    o->t6 = DEFAULT_T6;
    tcpw_view_opts_default(&o->view);
    o->trace = TCPW_TUN_TRACE_BRIEF;
    o->quiet_ms = 500;
    o->impair.in = o->impair.out = true;
    o->msl_ms = 30000;
    o->rto_min_ms = 200;
    o->delack_ms = 40;
    o->sndbuf = o->rcvbuf = 256 * 1024;
    o->linger_ms = -1;
    o->app.server = TUN_SERVE_NONE;
    bool have_sub = false, listen_given = false;
    int npos = 0;
    const char *pos[3] = {NULL, NULL, NULL};

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE()                                                                               \
    do {                                                                                           \
        if (!v) return bad("%s needs a value", a);                                                 \
        i++;                                                                                       \
    } while (0)
        if (!strcmp(a, "--")) {
            if (i + 1 >= argc) return bad("%s must be followed by a command", a);
            o->cmd = argv + i + 1;
            break;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (!have_sub) {
                if (!strcmp(a, "listen"))
                    o->sub = SUB_LISTEN;
                else if (!strcmp(a, "connect"))
                    o->sub = SUB_CONNECT;
                else if (!strcmp(a, "exec"))
                    o->sub = SUB_EXEC;
                else
                    return bad("unknown subcommand '%s' (listen, connect or exec)", a);
                have_sub = true;
            } else {
                if (npos >= 2) return bad("unexpected argument '%s'", a);
                pos[npos++] = a;
            }
            continue;
        }
        if (!strcmp(a, "--echo")) {
            o->app.server = TUN_SERVE_ECHO;
        } else if (!strcmp(a, "--discard")) {
            o->app.server = TUN_SERVE_DISCARD;
        } else if (!strcmp(a, "--http")) {
            NEED_VALUE();
            o->app.server = TUN_SERVE_HTTP;
            o->app.http_dir = v;
        } else if (!strcmp(a, "--send")) {
            NEED_VALUE();
            o->app.send_path = v;
        } else if (!strcmp(a, "--listen")) {
            NEED_VALUE();
            uint64_t p;
            if (!parse_u64(v, &p) || p == 0 || p > 65535) return bad("bad port '%s'", v);
            o->port = (uint16_t)p;
            o->have_port = true;
            listen_given = true;
        } else if (!strcmp(a, "--shutdown-after-send")) {
            o->app.shutdown_after_send = true;
        } else if (!strcmp(a, "--close-first")) {
            o->app.close_first = true;
        } else if (!strcmp(a, "--abort")) {
            o->app.abort_after_send = true;
        } else if (!strcmp(a, "--expect-bytes")) {
            NEED_VALUE();
            if (!parse_u64(v, &o->app.expect_bytes)) return bad("bad byte count '%s'", v);
        } else if (!strcmp(a, "--out")) {
            NEED_VALUE();
            o->app.out_path = v;
        } else if (!strcmp(a, "--check-echo")) {
            o->app.check_echo = true;
        } else if (!strcmp(a, "--expect-reset")) {
            o->app.expect_reset = true;
        } else if (!strcmp(a, "--netns")) {
            NEED_VALUE();
            if (!tcpw_netns_name_ok(v)) return bad("bad namespace name '%s'", v);
            o->netns = v;
        } else if (!strcmp(a, "--dev")) {
            NEED_VALUE();
            if (strlen(v) >= IFNAMSIZ || strchr(v, '/') || !*v)
                return bad("bad device name '%s'", v);
            o->dev = v;
        } else if (!strcmp(a, "--mtu")) {
            NEED_VALUE();
            uint64_t m;
            if (!parse_u64(v, &m) || m < 1280 || m > 65535)
                return bad("bad MTU '%s' (1280..65535)", v);
            o->mtu = (int)m;
        } else if (!strcmp(a, "--kernel-addr") || !strcmp(a, "--addr") ||
                   !strcmp(a, "--kernel-addr6") || !strcmp(a, "--addr6")) {
            NEED_VALUE();
            tcpw_addr ad;
            bool six = a[strlen(a) - 1] == '6';
            if (tcpw_addr_parse(v, &ad) != 0 || ad.family != (six ? 6 : 4))
                return bad(six ? "'%s' is not an IPv6 address" : "'%s' is not an IPv4 address", v);
            if (!strcmp(a, "--kernel-addr")) o->k4 = v;
            if (!strcmp(a, "--addr")) o->t4 = v;
            if (!strcmp(a, "--kernel-addr6")) o->k6 = v;
            if (!strcmp(a, "--addr6")) o->t6 = v;
        } else if (!strcmp(a, "--pcap")) {
            NEED_VALUE();
            o->pcap = v;
        } else if (!strcmp(a, "--loss") || !strcmp(a, "--dup") || !strcmp(a, "--reorder")) {
            NEED_VALUE();
            double p;
            if (!parse_prob(v, &p)) return bad("bad probability '%s' (0..1 or 0%%..100%%)", v);
            if (!strcmp(a, "--loss")) o->impair.loss = p;
            if (!strcmp(a, "--dup")) o->impair.dup = p;
            if (!strcmp(a, "--reorder")) o->impair.reorder = p;
        } else if (!strcmp(a, "--delay") || !strcmp(a, "--reorder-delay")) {
            NEED_VALUE();
            uint64_t t;
            if (!parse_time_us(v, &t) || t > 60000000u) return bad("bad time '%s'", v);
            if (!strcmp(a, "--delay"))
                o->impair.delay_us = t;
            else
                o->impair.reorder_delay_us = t;
        } else if (!strcmp(a, "--impair")) {
            NEED_VALUE();
            if (!strcmp(v, "in")) {
                o->impair.in = true, o->impair.out = false;
            } else if (!strcmp(v, "out")) {
                o->impair.in = false, o->impair.out = true;
            } else if (!strcmp(v, "both")) {
                o->impair.in = o->impair.out = true;
            } else {
                return bad("--impair takes in, out or both, not '%s'", v);
            }
        } else if (!strcmp(a, "--seed")) {
            NEED_VALUE();
            if (!parse_u64(v, &o->impair.seed)) return bad("bad seed '%s'", v);
            o->seed_given = true;
        } else if (!strcmp(a, "--msl")) {
            /* the same syntax as tcpwave sim and analyze: seconds, or with a unit */
            NEED_VALUE();
            uint64_t us;
            if (!tcpw_duration_parse(v, TCPW_DUR_S, &us) || us > 3600ull * TCPW_DUR_S)
                return bad("bad MSL '%s' (seconds, or with a unit: 500ms, 2s; at most 3600 s)", v);
            o->msl_ms = (uint32_t)(us / TCPW_DUR_MS);
        } else if (!strcmp(a, "--rto-min")) {
            NEED_VALUE();
            if (!parse_u32_opt(v, &o->rto_min_ms, 60000) || !o->rto_min_ms)
                return bad("bad RTO '%s' (ms)", v);
        } else if (!strcmp(a, "--delayed-ack")) {
            NEED_VALUE();
            if (!parse_u32_opt(v, &o->delack_ms, 499))
                return bad("bad delayed ACK '%s' (0..499 ms)", v);
        } else if (!strcmp(a, "--sndbuf") || !strcmp(a, "--rcvbuf")) {
            NEED_VALUE();
            uint32_t b;
            if (!parse_u32_opt(v, &b, 1u << 30) || b < 4096) return bad("bad buffer size '%s'", v);
            if (!strcmp(a, "--sndbuf"))
                o->sndbuf = b;
            else
                o->rcvbuf = b;
        } else if (!strcmp(a, "--no-timestamps")) {
            o->no_ts = true;
        } else if (!strcmp(a, "--no-window-scale")) {
            o->no_ws = true;
        } else if (!strcmp(a, "--no-nagle")) {
            o->no_nagle = true;
        } else if (!strcmp(a, "--count")) {
            NEED_VALUE();
            if (!parse_u64(v, &o->count) || o->count == 0) return bad("bad count '%s'", v);
        } else if (!strcmp(a, "--linger")) {
            NEED_VALUE();
            uint64_t l;
            if (!parse_u64(v, &l)) return bad("bad linger '%s' (ms)", v);
            o->linger_ms = (int64_t)l;
        } else if (!strcmp(a, "--quiet")) {
            o->app.quiet = true;
        } else if (!strcmp(a, "--trace")) {
            NEED_VALUE();
            if (!strcmp(v, "brief"))
                o->trace = TCPW_TUN_TRACE_BRIEF;
            else if (!strcmp(v, "full"))
                o->trace = TCPW_TUN_TRACE_FULL;
            else if (!strcmp(v, "none"))
                o->trace = TCPW_TUN_TRACE_NONE;
            else
                return bad("--trace takes brief, full or none, not '%s'", v);
        } else if (!strcmp(a, "--format")) {
            NEED_VALUE();
            if (tcpw_format_parse(v, &o->view.format) != 0) return bad("unknown format '%s'", v);
        } else if (!strcmp(a, "--explain")) {
            o->view.explain = true;
        } else if (!strcmp(a, "--lang")) {
            NEED_VALUE();
            if (strcmp(v, "en") && strcmp(v, "zh"))
                return bad("--lang takes en or zh, not '%s'", v);
            o->view.lang = v;
        } else if (!strcmp(a, "--color")) {
            o->view.color = true;
        } else if (!strcmp(a, "--absolute")) {
            o->view.absolute = true;
        } else {
            return bad("unknown option '%s'", a);
        }
#undef NEED_VALUE
    }
    if (!have_sub) {
        usage(stderr);
        return 2;
    }
    uint64_t p;
    switch (o->sub) {
    case SUB_LISTEN:
        if (npos != 1) return bad("%s", "listen takes one PORT");
        if (!parse_u64(pos[0], &p) || p == 0 || p > 65535) return bad("bad port '%s'", pos[0]);
        o->port = (uint16_t)p;
        o->have_port = true;
        if (o->app.server == TUN_SERVE_NONE)
            o->app.server = o->app.send_path ? TUN_SERVE_SEND : TUN_SERVE_ECHO;
        else if (o->app.send_path && o->app.server != TUN_SERVE_SEND)
            return bad("%s", "choose one of --echo, --http, --discard, --send");
        break;
    case SUB_EXEC:
        if (npos != 0) return bad("exec takes no argument before '--' ('%s')", pos[0]);
        if (!o->cmd) return bad("%s", "exec needs '-- CMD ...'");
        if (listen_given && o->app.server == TUN_SERVE_NONE)
            o->app.server = o->app.send_path ? TUN_SERVE_SEND : TUN_SERVE_ECHO;
        if (!listen_given && o->app.server != TUN_SERVE_NONE)
            return bad("%s", "a server needs --listen PORT");
        break;
    case SUB_CONNECT: {
        if (npos != 2) return bad("%s", "connect takes ADDR PORT");
        tcpw_addr ad;
        if (tcpw_addr_parse(pos[0], &ad) != 0) return bad("'%s' is not an IP address", pos[0]);
        if (!parse_u64(pos[1], &p) || p == 0 || p > 65535) return bad("bad port '%s'", pos[1]);
        o->connect_addr = pos[0];
        o->port = (uint16_t)p;
        if (o->app.server != TUN_SERVE_NONE) return bad("%s", "connect takes no server option");
        if (o->app.check_echo && !o->app.send_path)
            return bad("%s", "--check-echo needs --send FILE");
        if (!o->count) o->count = 1;
        break;
    }
    }
    if (o->sub != SUB_CONNECT &&
        (o->app.shutdown_after_send || o->app.close_first || o->app.abort_after_send ||
         o->app.out_path || o->app.check_echo || o->app.expect_bytes))
        return bad("%s", "client options are for 'connect'");
    if (o->app.server == TUN_SERVE_SEND && !o->app.send_path) return bad("%s", "--send needs FILE");
    return -1;
}

/* ---- the kernel's listener ------------------------------------------------------------------- */

/* Whether a socket of this namespace listens on port (any address): /proc/net/tcp{,6} of the
 * process's current namespace, state 0A. */
static bool kernel_listening(uint16_t port) {
    static const char *const files[] = {"/proc/self/net/tcp", "/proc/self/net/tcp6"};
    for (size_t i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "re");
        if (!f) continue;
        char line[512];
        bool found = false;
        while (!found && fgets(line, sizeof line, f)) {
            char local[80], remote[80];
            unsigned st;
            if (sscanf(line, " %*s %79s %79s %x", local, remote, &st) != 3) continue;
            char *colon = strrchr(local, ':');
            if (colon && st == 0x0a && strtoul(colon + 1, NULL, 16) == port) found = true;
        }
        fclose(f);
        if (found) return true;
    }
    return false;
}

/* ---- the trace ------------------------------------------------------------------------------- */

typedef struct run_ctx {
    tun_opts *o;
    tcpw_tun_trace *tt;
    tun_apps *apps;
    bool first_drawn;
} run_ctx;

static void draw_one(void *user, const tcpw_recording *r, const char *title) {
    run_ctx *rc = user;
    tcpw_view_opts vo = rc->o->view;
    vo.title = title;
    if (rc->first_drawn && vo.format == TCPW_FMT_TEXT) fputc('\n', stdout);
    rc->first_drawn = true;
    tcpw_view_render(stdout, r, &vo);
    fflush(stdout);
}

static void on_packet(void *user, const uint8_t *pkt, size_t len, tcpw_tun_dir dir, uint64_t t,
                      uint64_t arrive, tcpw_seg_fate fate) {
    run_ctx *rc = user;
    if (rc->tt) tcpw_tun_trace_packet(rc->tt, pkt, len, dir, t, arrive, fate);
}

static void on_trace(void *user, const tcpw_trace *ev) {
    run_ctx *rc = user;
    if (rc->tt) tcpw_tun_trace_engine(rc->tt, ev);
    if (rc->apps) tun_apps_engine_trace(rc->apps, ev);
}

typedef struct population {
    uint64_t time_wait, compact, other;
} population;

static void count_conn(void *arg, const tcpw_conn_info *info) {
    population *p = arg;
    if (info->state == TCPW_LISTEN) return;
    if (info->state == TCPW_TIME_WAIT) {
        p->time_wait++;
        if (info->compact) p->compact++;
    } else {
        p->other++;
    }
}

static population stack_population(tcpw_stack *s) {
    population p = {0, 0, 0};
    tcpw_list(s, count_conn, &p);
    return p;
}

/* ---- the command ----------------------------------------------------------------------------- */

static pid_t spawn(char **cmd, const sigset_t *orig_mask) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid != 0) return pid;
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    sigprocmask(SIG_SETMASK, orig_mask, NULL);
    execvp(cmd[0], cmd);
    fprintf(stderr, "tcpwave tun: cannot run %s: %s\n", cmd[0], strerror(errno));
    _exit(127);
}

static bool endpoint_from(const char *addr, uint16_t port, tcpw_endpoint *e) {
    memset(e, 0, sizeof *e);
    e->port = port;
    return tcpw_addr_parse(addr, &e->addr) == 0;
}

int cmd_tun(int argc, char **argv) {
    tun_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;

    if (geteuid() != 0) {
        fprintf(stderr, "tcpwave tun: needs root (network namespaces and /dev/net/tun)\n");
        return 1;
    }
    if (access("/dev/net/tun", R_OK | W_OK) != 0) {
        fprintf(stderr, "tcpwave tun: /dev/net/tun is not available: %s\n", strerror(errno));
        return 1;
    }
    int stale = tcpw_netns_clean_stale();
    if (stale > 0)
        fprintf(stderr, "tcpwave tun: removed %d stale namespace(s) of earlier runs\n", stale);

    char err[256], nsname[64], ifname[IFNAMSIZ];
    if (o.netns)
        snprintf(nsname, sizeof nsname, "%s", o.netns);
    else
        snprintf(nsname, sizeof nsname, TCPW_NETNS_PREFIX "%ld", (long)getpid());

    /* Signals: blocked except while the driver sleeps in ppoll(), so none is lost. */
    sigset_t block, orig, wait_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &orig);
    wait_mask = orig;
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGTERM);
    sigdelset(&wait_mask, SIGHUP);
    sigdelset(&wait_mask, SIGCHLD);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_child;
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);

    int exit_code = 0;
    int guard_fd = -1, watchdog = -1, tun_fd = -1;
    bool created = false;
    tcpw_tun *tun = NULL;
    tun_apps *apps = NULL;
    run_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.o = &o;
    pid_t child = -1;
    bool child_killed = false;
    int child_status = 0;

    if (tcpw_netns_add(nsname, &created, err, sizeof err) != 0) {
        fprintf(stderr, "tcpwave tun: %s\n", err);
        exit_code = 1;
        goto out;
    }
    if (created) {
        watchdog = tcpw_netns_guard(nsname, &guard_fd, err, sizeof err);
        if (watchdog < 0) {
            fprintf(stderr, "tcpwave tun: %s\n", err);
            tcpw_netns_del(nsname);
            exit_code = 1;
            goto out;
        }
    }
    if (tcpw_netns_enter(nsname, err, sizeof err) != 0 ||
        (tun_fd = tcpw_tun_open_device(o.dev, ifname, err, sizeof err)) < 0) {
        fprintf(stderr, "tcpwave tun: %s\n", err);
        exit_code = 1;
        goto out;
    }
    tcpw_netns_addrs addrs = {o.k4, o.t4, o.k6, o.t6};
    if (tcpw_netns_setup_device(ifname, o.mtu, &addrs, err, sizeof err) != 0) {
        fprintf(stderr, "tcpwave tun: %s\n", err);
        exit_code = 1;
        goto out;
    }

    tcpw_tun_config tc;
    tcpw_tun_config_default(&tc);
    tc.fd = tun_fd;
    tc.stack.mss = (uint16_t)(o.mtu - 40);
    tc.stack.msl_ms = o.msl_ms;
    tc.stack.rto_min_ms = o.rto_min_ms;
    if (tc.stack.rto_initial_ms < o.rto_min_ms) tc.stack.rto_initial_ms = o.rto_min_ms;
    tc.stack.delayed_ack_ms = o.delack_ms;
    tc.stack.send_buffer = o.sndbuf;
    tc.stack.recv_buffer = o.rcvbuf;
    tc.stack.timestamps = !o.no_ts;
    tc.stack.window_scale = !o.no_ws;
    tc.stack.nagle = !o.no_nagle;
    if (!o.seed_given) o.impair.seed = (uint64_t)tcpw_tun_clock() ^ ((uint64_t)getpid() << 32);
    tc.impair = o.impair;
    tc.pcap_path = o.pcap;
    tc.sigmask = &wait_mask;
    tc.packet = on_packet;
    tc.trace = on_trace;
    tc.user = &ctx;
    if (tcpw_tun_new(&tc, &tun, err, sizeof err) != 0) {
        fprintf(stderr, "tcpwave tun: %s\n", err);
        exit_code = 1;
        goto out;
    }

    /* The first line: where everything is. */
    printf("tcpwave tun: netns %s, kernel %s %s, tcpwave %s %s (device %s, MTU %d)\n", nsname, o.k4,
           o.k6, o.t4, o.t6, ifname, o.mtu);
    fflush(stdout);
    bool impaired =
        o.impair.loss > 0 || o.impair.dup > 0 || o.impair.reorder > 0 || o.impair.delay_us > 0;
    if (impaired)
        fprintf(stderr,
                "tcpwave tun: impairing %s: loss %.3g, dup %.3g, reorder %.3g, delay %.3f ms (seed "
                "%" PRIu64 ")\n",
                o.impair.in && o.impair.out ? "both directions"
                : o.impair.in               ? "kernel->tcpwave"
                                            : "tcpwave->kernel",
                o.impair.loss, o.impair.dup, o.impair.reorder, (double)o.impair.delay_us / 1000.0,
                o.impair.seed);

    uint64_t t0 = tcpw_tun_clock();
    if (o.trace != TCPW_TUN_TRACE_NONE) {
        tcpw_tun_trace_config tcfg;
        tcpw_tun_trace_config_default(&tcfg);
        tcfg.mode = o.trace;
        tcfg.t0 = t0;
        tcfg.quiet_us = o.quiet_ms * 1000 + 2 * (o.impair.delay_us + o.impair.reorder_delay_us);
        tcfg.draw = draw_one;
        tcfg.user = &ctx;
        ctx.tt = tcpw_tun_trace_new(&tcfg);
        if (!ctx.tt) {
            fprintf(stderr, "tcpwave tun: out of memory\n");
            exit_code = 1;
            goto out;
        }
    }
    o.app.tun = tun;
    o.app.trace = ctx.tt;
    apps = tun_apps_new(&o.app, err, sizeof err);
    if (!apps) {
        fprintf(stderr, "tcpwave tun: %s\n", err);
        exit_code = 1;
        goto out;
    }
    ctx.apps = apps;

    tcpw_endpoint remote, local;
    if (o.sub == SUB_CONNECT) {
        if (!endpoint_from(o.connect_addr, o.port, &remote)) {
            exit_code = 2;
            goto out;
        }
        endpoint_from(remote.addr.family == 6 ? o.t6 : o.t4, 0, &local);
    } else if (o.app.server != TUN_SERVE_NONE) {
        int lr = tun_apps_listen(apps, o.port);
        if (lr != TCPW_OK) {
            fprintf(stderr, "tcpwave tun: listen on port %u: %s\n", o.port, tcpw_strerror(lr));
            exit_code = 1;
            goto out;
        }
        if (!o.cmd)
            fprintf(stderr,
                    "tcpwave tun: serving on port %u; try: ip netns exec %s curl http://%s:%u/\n",
                    o.port, nsname, o.t4, o.port);
    }
    if (o.cmd) {
        child = spawn(o.cmd, &orig);
        if (child < 0) {
            fprintf(stderr, "tcpwave tun: fork: %s\n", strerror(errno));
            exit_code = 1;
            goto out;
        }
    }

    /* The loop: serve until done, then drain (let connections close, TIME_WAIT expire). */
    bool waiting_listen = o.sub == SUB_CONNECT;
    uint64_t wait_until = tcpw_tun_clock() + WAIT_LISTEN_US;
    bool draining = false, tw_msg = false;
    uint64_t drain_start = 0;
    for (;;) {
        uint64_t now = tcpw_tun_now(tun);
        uint64_t wake = ctx.tt ? tcpw_tun_trace_deadline(ctx.tt) : UINT64_MAX;
        if (waiting_listen || draining) {
            uint64_t w = now + 20000; /* poll the kernel's listener / the end conditions */
            if (w < wake) wake = w;
        }
        if (tcpw_tun_run_once(tun, wake) != 0) {
            fprintf(stderr, "tcpwave tun: device: %s\n", strerror(errno));
            exit_code = 1;
            break;
        }
        tun_apps_poll(apps);
        now = tcpw_tun_now(tun);
        if (ctx.tt) tcpw_tun_trace_flush(ctx.tt, now, false);
        if (child > 0 && (child_changed || draining)) {
            child_changed = 0;
            int st;
            pid_t w = waitpid(child, &st, WNOHANG);
            if (w == child) {
                child_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                child = -1;
            }
        }
        if (stop_signal) {
            fprintf(stderr, "tcpwave tun: %s: stopping\n", strsignal(stop_signal));
            break;
        }
        bool serving_done = false;
        if (o.sub == SUB_CONNECT) {
            if (waiting_listen) {
                if (kernel_listening(o.port) || !o.cmd) {
                    waiting_listen = false;
                } else if (now > wait_until) {
                    fprintf(stderr, "tcpwave tun: no kernel server listens on port %u after %u s\n",
                            o.port, WAIT_LISTEN_US / 1000000u);
                    exit_code = 1;
                    break;
                } else if (o.cmd && child < 0) {
                    fprintf(stderr, "tcpwave tun: the command ended before listening on port %u\n",
                            o.port);
                    exit_code = 1;
                    break;
                }
            }
            if (!waiting_listen && !draining && tun_apps_active(apps) == 0) {
                if (tun_apps_completed(apps) < o.count) {
                    int cr = tun_apps_connect(apps, &local, &remote);
                    if (cr != TCPW_OK) {
                        fprintf(stderr, "tcpwave tun: connect: %s\n", tcpw_strerror(cr));
                        exit_code = 1;
                        break;
                    }
                    tun_apps_poll(apps);
                } else {
                    serving_done = true;
                }
            }
        } else {
            if (o.count && tun_apps_completed(apps) >= o.count) serving_done = true;
            if (o.cmd && child < 0) serving_done = true;
        }
        if (serving_done && !draining) {
            draining = true;
            drain_start = now;
            tun_apps_stop_listening(apps);
            population p = stack_population(tcpw_tun_stack(tun));
            fprintf(stderr,
                    "tcpwave tun: %" PRIu64 " connection(s) completed, %" PRIu64
                    " failed; tcpwave holds %" PRIu64 " in TIME_WAIT (%" PRIu64
                    " compact records) and %" PRIu64 " other(s)\n",
                    tun_apps_completed(apps), tun_apps_failed(apps), p.time_wait, p.compact,
                    p.other);
        }
        if (draining) {
            population p = stack_population(tcpw_tun_stack(tun));
            bool child_waiting = child > 0 && now < drain_start + CMD_GRACE_US;
            if ((p.other == 0 && tun_apps_active(apps) == 0) || now > drain_start + DRAIN_US) {
                if (child_waiting) continue;
                uint64_t linger_us =
                    o.linger_ms < 0 ? 2ull * o.msl_ms * 1000u : (uint64_t)o.linger_ms * 1000u;
                if (p.time_wait == 0 || now >= drain_start + linger_us) break;
                if (!tw_msg) {
                    fprintf(stderr,
                            "tcpwave tun: waiting up to %.1f s for %" PRIu64
                            " TIME_WAIT connection(s) to expire (2MSL; --msl, --linger change "
                            "it; Ctrl-C ends now)\n",
                            (double)linger_us / 1e6, p.time_wait);
                    tw_msg = true;
                }
            }
        }
    }

    if (tun_apps_failed(apps) > 0) exit_code = 1;
    if (ctx.tt) tcpw_tun_trace_flush(ctx.tt, 0, true);
    {
        const tcpw_tun_stats *ts = tcpw_tun_get_stats(tun);
        const tcpw_stats *es = tcpw_stack_stats(tcpw_tun_stack(tun));
        uint64_t ignored = 0;
        for (size_t i = 0; i < sizeof es->bad_packets / sizeof es->bad_packets[0]; i++)
            ignored += es->bad_packets[i];
        fprintf(stderr,
                "tcpwave tun: device: %" PRIu64 " packets in, %" PRIu64 " out; engine: %" PRIu64
                " retransmissions, %" PRIu64 " packets ignored (not TCP, or malformed)",
                ts->pkts_read, ts->pkts_written, es->retransmits, ignored);
        if (impaired)
            fprintf(stderr,
                    "; impairment: %" PRIu64 " dropped, %" PRIu64 " duplicated, %" PRIu64
                    " reordered",
                    ts->dropped, ts->duplicated, ts->reordered);
        fputc('\n', stderr);
    }

out:
    if (child > 0) {
        kill(child, SIGTERM);
        child_killed = true;
        int st;
        while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
        }
    }
    if (!child_killed && child_status != 0 && exit_code == 0) {
        fprintf(stderr, "tcpwave tun: the command exited with status %d\n", child_status);
        exit_code = child_status;
    }
    tun_apps_free(apps);
    tcpw_tun_trace_free(ctx.tt); /* nothing left to draw after the flush above */
    tcpw_tun_free(tun);
    if (tun_fd >= 0) close(tun_fd);
    if (created) tcpw_netns_release(guard_fd, watchdog);
    sigprocmask(SIG_SETMASK, &orig, NULL);
    return exit_code;
}
