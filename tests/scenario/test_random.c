/* test_random.c — 20,000 seeded simulated connections, each with random data both ways, a
 * random way of closing and a link that loses, duplicates and reorders 10–30% of the packets
 * (each drawn per connection), run through the scenario layer (src/sim/scenario.h).
 *
 * What must hold for every connection:
 *  - Data: no application ever reads a byte that differs from what its peer sent at that
 *    offset, or reads more than was sent (every byte at most once, in order).
 *  - Orderly closes (either side first, simultaneous, half-close with data after the FIN, and
 *    two connections in a row from the same client port, the second meeting the first's
 *    TIME_WAIT): both applications read every byte the other queued on each connection,
 *    nobody is reset, refused or timed out, and whoever waits for EOF gets it.
 *  - Abort: the peer of the aborting application is told "connection reset" if it ever had
 *    the connection (a RST lost on the way is made up for by the peer's own application
 *    timeout, which sends a FIN that the aborted side answers with RST); if the abort came
 *    before the peer's handshake completed, the peer's application never saw a connection.
 *  - Afterwards, once every timer has run: no control block, no TIME_WAIT record on either
 *    stack (tcpw_list returns 0, tcpw_stack_stats counts are 0). Leaks are LeakSanitizer's.
 * Timeouts are not an accepted outcome: retries and syn_retries are raised to 60, so that a
 * connection is given up only after 60 consecutive losses (less likely than 10^-17 here).
 *
 * To keep virtual time small: MSL 100 ms, RTO 200 ms initially, 50 ms at least, 2 s at most.
 * Connections run one after another, each in a simulation of its own, without recording.
 *
 * Environment:
 *   TCPW_SEED=N           run only seed N, with a recording, and print it (replay a failure)
 *   TCPW_UNTIL_MS=T       with TCPW_SEED: stop at virtual time T ms and show the connections
 *   TCPW_RANDOM_COUNT=N   how many seeds (default 20000)
 *   TCPW_RANDOM_BASE=N    the first seed (default 1)
 *   TCPW_RANDOM_MAXLOG=N  data per side up to 2^N bytes (default 15; other values draw other
 *                         connections from the same seeds)
 */
#include <stdlib.h>
#include <time.h>

#include "scn_util.h"
#include "sim/prng.h"

#define DEFAULT_COUNT 20000

enum {
    PAT_CLIENT_FIRST,
    PAT_SERVER_FIRST,
    PAT_SIMULTANEOUS,
    PAT_HALF_CLOSE,
    PAT_ABORT,
    PAT_RECONNECT,
    PAT_N
};
static const char *const pat_names[PAT_N] = {"client-first", "server-first", "simultaneous",
                                             "half-close",   "abort",        "reconnect"};

typedef struct random_case {
    uint64_t seed;
    int pattern;
    int first; /* the side that closes (or aborts) first; -1 for simultaneous */
    tcpw_scn_spec spec;
    char desc[256];
} random_case;

static unsigned max_log2 = 15;

static uint32_t random_bytes(tcpw_prng *p) {
    if (tcpw_prng_chance(p, 0.2)) return 0;
    /* log-uniform up to 32 KiB: mostly small exchanges, some that fill windows */
    return (uint32_t)tcpw_prng_range(p, 1, 1ull << tcpw_prng_range(p, 0, max_log2));
}

static double random_rate(tcpw_prng *p) {
    return 0.10 + 0.20 * tcpw_prng_double(p);
}

static tcpw_scn_close_call random_orderly_call(tcpw_prng *p) {
    return tcpw_prng_chance(p, 0.5) ? TCPW_SCN_CLOSE : TCPW_SCN_SHUTDOWN;
}

static void make_case(uint64_t seed, random_case *k) {
    memset(k, 0, sizeof *k);
    k->seed = seed;
    tcpw_prng p;
    tcpw_prng_seed(&p, seed ^ 0x7263616e646f6dull);
    tcpw_scn_spec *s = &k->spec;
    tcpw_scn_spec_default(s);
    s->seed = seed;
    s->no_recording = true;
    s->family = tcpw_prng_chance(&p, 0.2) ? 6 : 4;

    /* the stacks: short timers, generous retry limits, options at random */
    bool ts = tcpw_prng_chance(&p, 0.5), ws = tcpw_prng_chance(&p, 0.5);
    uint32_t delack = tcpw_prng_chance(&p, 0.5) ? 40 : 0;
    static const uint32_t bufs[] = {2048, 8192, 65536};
    for (int i = 0; i < 2; i++) {
        tcpw_config *c = &s->cfg[i];
        c->msl_ms = 100;
        c->rto_initial_ms = 200;
        c->rto_min_ms = 50;
        c->rto_max_ms = 2000;
        c->retries = 60;
        c->syn_retries = 60;
        c->timestamps = ts;
        c->window_scale = ws;
        c->delayed_ack_ms = delack;
        c->nagle = tcpw_prng_chance(&p, 0.5);
        c->rfc1337 = tcpw_prng_chance(&p, 0.5);
        c->mss = tcpw_prng_chance(&p, 0.3) ? 536 : 1460;
        c->send_buffer = bufs[tcpw_prng_below(&p, 3)];
        c->recv_buffer = bufs[tcpw_prng_below(&p, 3)];
    }
    /* the link: 10-30% loss, duplication and reordering, 1-20 ms one way */
    tcpw_sim_link link;
    memset(&link, 0, sizeof link);
    link.latency_us = tcpw_prng_range(&p, 1, 20) * MS;
    link.loss = random_rate(&p);
    link.dup = random_rate(&p);
    link.reorder = random_rate(&p);
    s->link[0] = s->link[1] = link;

    /* the applications */
    tcpw_scn_app *app = s->app;
    app[S_].listen_once = true;
    for (int i = 0; i < 2; i++) {
        app[i].send_bytes = random_bytes(&p);
        app[i].send_when = TCPW_SCN_SEND_ON_CONNECT;
    }
    if (tcpw_prng_chance(&p, 0.5)) app[S_].send_when = TCPW_SCN_SEND_AFTER_RECV;
    k->pattern = (int)tcpw_prng_below(&p, PAT_N);
    k->first = (int)tcpw_prng_below(&p, 2);
    tcpw_scn_app *a = &app[k->first], *b = &app[1 - k->first];
    switch (k->pattern) {
    case PAT_CLIENT_FIRST:
    case PAT_SERVER_FIRST:
        k->first = k->pattern == PAT_CLIENT_FIRST ? C_ : S_;
        a = &app[k->first], b = &app[1 - k->first];
        a->close_call = random_orderly_call(&p);
        a->close_when = TCPW_SCN_AFTER_EXCHANGE;
        a->close_delay_us = 0;
        b->close_call = random_orderly_call(&p);
        b->close_when = TCPW_SCN_ON_EOF;
        /* 0: FIN with the delayed ACK (three segments); else four */
        b->close_delay_us = tcpw_prng_chance(&p, 0.5) ? 0 : tcpw_prng_range(&p, 1, 100) * MS;
        break;
    case PAT_SIMULTANEOUS:
        k->first = -1;
        for (int i = 0; i < 2; i++) {
            app[i].close_call = random_orderly_call(&p);
            app[i].close_when = TCPW_SCN_TOGETHER;
            app[i].close_delay_us = 0;
        }
        break;
    case PAT_HALF_CLOSE:
        /* a shuts its side down as soon as its data is queued and reads on; b sends its data
         * after the EOF, then closes */
        a->close_call = TCPW_SCN_SHUTDOWN;
        a->close_when = TCPW_SCN_AFTER_SEND;
        a->close_delay_us = 0;
        a->send_when = TCPW_SCN_SEND_ON_CONNECT;
        b->send_when = TCPW_SCN_SEND_AFTER_EOF;
        b->send_delay_us = tcpw_prng_range(&p, 0, 50) * MS;
        if (b->send_bytes == 0) b->send_bytes = (uint32_t)tcpw_prng_range(&p, 1, 20000);
        b->close_call = random_orderly_call(&p);
        b->close_when = TCPW_SCN_ON_EOF;
        b->close_delay_us = tcpw_prng_range(&p, 0, 50) * MS;
        break;
    case PAT_RECONNECT:
        /* two connections in a row from the same client port: the second meets the first's
         * TIME_WAIT on one side or the other (RFC 6191 reopen, tw_reuse, or a wait) */
        app[C_].port = (uint16_t)tcpw_prng_range(&p, 1024, 32767);
        app[C_].connections = app[S_].connections = 2;
        app[C_].reconnect_delay_us = tcpw_prng_range(&p, 0, 50) * MS;
        for (int i = 0; i < 2; i++)
            s->cfg[i].tw_reuse = tcpw_prng_chance(&p, 0.5);
        a->close_call = random_orderly_call(&p);
        a->close_when = TCPW_SCN_AFTER_EXCHANGE;
        a->close_delay_us = 0;
        b->close_call = random_orderly_call(&p);
        b->close_when = TCPW_SCN_ON_EOF;
        b->close_delay_us = tcpw_prng_chance(&p, 0.5) ? 0 : tcpw_prng_range(&p, 1, 100) * MS;
        break;
    case PAT_ABORT:
        a->close_call = TCPW_SCN_ABORT;
        switch (tcpw_prng_below(&p, 3)) {
        case 0: a->close_when = TCPW_SCN_AFTER_SEND; break;
        case 1: a->close_when = TCPW_SCN_AFTER_EXCHANGE; break;
        default:
            a->close_when = TCPW_SCN_AT;
            a->close_at_us = tcpw_prng_range(&p, 0, 500) * MS;
            break;
        }
        a->close_delay_us = tcpw_prng_range(&p, 0, 30) * MS;
        b->close_call = random_orderly_call(&p);
        b->close_when = TCPW_SCN_ON_EOF; /* never comes: the aborting side sends no FIN */
        /* the application timeout that makes a silent peer find out (see the top) */
        b->give_up_at_us = 3600 * SEC;
        break;
    }
    snprintf(k->desc, sizeof k->desc,
             "%s%s, client %u B, server %u B, loss %.0f%% dup %.0f%% reorder %.0f%%, %llu ms, "
             "IPv%d%s%s, delack %u",
             pat_names[k->pattern],
             k->first < 0 ? "" : (k->first == C_ ? " (client)" : " (server)"), app[C_].send_bytes,
             app[S_].send_bytes, link.loss * 100, link.dup * 100, link.reorder * 100,
             (unsigned long long)(link.latency_us / MS), s->family, ts ? ", timestamps" : "",
             ws ? ", wscale" : "", delack);
}

/* Checks one result; returns NULL when it is right, else what is wrong. */
static const char *check_case(const random_case *k, const tcpw_scn_result *r, char *why,
                              size_t cap) {
    const tcpw_scn_spec *s = &k->spec;
    if (r->error[0]) return snprintf(why, cap, "run failed: %s", r->error), why;
    for (int i = 0; i < 2; i++) {
        const tcpw_scn_outcome *o = &r->app[i];
        const char *who = i ? "server" : "client";
        for (uint32_t c = 0; c < o->connections; c++) {
            const tcpw_scn_conn_outcome *co = &o->conn[c];
            if (co->mismatches)
                return snprintf(why, cap, "%s read %llu wrong bytes, the first at offset %lld", who,
                                (unsigned long long)co->mismatches, (long long)co->first_mismatch),
                       why;
            if (co->received > co->expected)
                return snprintf(why, cap, "%s read %llu bytes, more than the %llu sent", who,
                                (unsigned long long)co->received, (unsigned long long)co->expected),
                       why;
            if (co->timed_out) return snprintf(why, cap, "%s timed out", who), why;
        }
        uint32_t want = k->pattern == PAT_RECONNECT ? 2 : 1;
        if (o->connections > want)
            return snprintf(why, cap, "%s had %u connections", who, o->connections), why;
    }
    if (k->pattern != PAT_ABORT) {
        for (int i = 0; i < 2; i++) {
            const tcpw_scn_outcome *o = &r->app[i];
            const char *who = i ? "server" : "client";
            uint32_t want = k->pattern == PAT_RECONNECT ? 2 : 1;
            if (o->connections != want)
                return snprintf(why, cap, "%s had %u of its %u connections", who, o->connections,
                                want),
                       why;
            for (uint32_t n = 0; n < want; n++) {
                const tcpw_scn_conn_outcome *co = &o->conn[n];
                if (co->reset || co->refused)
                    return snprintf(why, cap, "%s was %s", who, co->reset ? "reset" : "refused"),
                           why;
                if (co->received != co->expected)
                    return snprintf(why, cap, "%s read %llu of %llu bytes", who,
                                    (unsigned long long)co->received,
                                    (unsigned long long)co->expected),
                           why;
                if (co->sent != s->app[i].send_bytes)
                    return snprintf(why, cap, "%s queued %llu of its %u bytes", who,
                                    (unsigned long long)co->sent, s->app[i].send_bytes),
                           why;
                bool waits_for_eof = s->app[i].close_call == TCPW_SCN_SHUTDOWN ||
                                     s->app[i].close_when == TCPW_SCN_ON_EOF;
                if (waits_for_eof && !co->eof) return snprintf(why, cap, "%s saw no EOF", who), why;
            }
        }
    } else {
        int a = k->first, b = 1 - k->first;
        const tcpw_scn_outcome *oa = &r->app[a], *ob = &r->app[b];
        if (oa->connections && !oa->conn[0].called_abort && !oa->conn[0].reset)
            return snprintf(why, cap, "the aborting side never aborted"), why;
        if (ob->connections && !ob->conn[0].reset)
            return snprintf(why, cap, "the %s was not told of the reset", b ? "server" : "client"),
                   why;
        /* ob->connections == 0: the abort came before b's handshake completed (a passive b
         * then never accepted it), which is fine */
    }
    for (int i = 0; i < 2; i++) {
        if (r->nlist[i] || r->stats[i].conn_count || r->stats[i].time_wait_count) {
            snprintf(
                why, cap, "%s: %zu connections left (%llu blocks, %llu TIME_WAIT), first in %s",
                i ? "server" : "client", r->nlist[i], (unsigned long long)r->stats[i].conn_count,
                (unsigned long long)r->stats[i].time_wait_count,
                r->nlist[i] ? tcpw_state_name(r->list[i][0].state) : "-");
            return why;
        }
    }
    return NULL;
}

static uint64_t env_u64(const char *name, uint64_t dflt) {
    const char *v = getenv(name);
    if (!v || !*v) return dflt;
    return strtoull(v, NULL, 10);
}

static int failures_printed;

/* " TCPW_RANDOM_MAXLOG=N" when not the default, for the replay line. */
static const char *maxlog_env(void) {
    static char buf[40];
    buf[0] = '\0';
    if (max_log2 != 15) snprintf(buf, sizeof buf, " TCPW_RANDOM_MAXLOG=%u", max_log2);
    return buf;
}

static bool run_one(uint64_t seed, bool verbose, uint64_t *events) {
    random_case k;
    make_case(seed, &k);
    if (verbose) {
        k.spec.no_recording = false;
        k.spec.until_us = env_u64("TCPW_UNTIL_MS", 0) * MS; /* stop early to look around */
    }
    tcpw_scn_result r;
    tcpw_scn_run(&k.spec, &r);
    char why[300];
    const char *bad = check_case(&k, &r, why, sizeof why);
    *events += r.link[0].sent + r.link[1].sent;
    if (verbose) {
        scn_dump(&r.rec);
        tcpw_scn_print_summary(stderr, &r);
        for (int i = 0; i < 2; i++)
            for (size_t j = 0; j < r.nlist[i]; j++) {
                const tcpw_conn_info *c = &r.list[i][j];
                fprintf(stderr,
                        "%s %s: snd_una %u snd_nxt %u snd_wnd %u queued %u | rcv_nxt %u "
                        "rcv_wnd %u unread %u | rto %u us\n",
                        i ? "server" : "client", tcpw_state_name(c->state), c->snd_una, c->snd_nxt,
                        c->snd_wnd, c->send_queued, c->rcv_nxt, c->rcv_wnd, c->recv_queued,
                        c->rto_us);
            }
        fprintf(stderr, "seed %llu: %s\n", (unsigned long long)seed, k.desc);
    }
    if (bad && failures_printed++ < 20) {
        fprintf(stderr,
                "FAIL seed %llu: %s\n  %s\n  replay: TCPW_SEED=%llu%s ./build/tests/test_random\n",
                (unsigned long long)seed, bad, k.desc, (unsigned long long)seed, maxlog_env());
    }
    tcpw_scn_result_free(&r);
    return bad == NULL;
}

static void test_random_connections(void) {
    const char *one = getenv("TCPW_SEED");
    uint64_t packets = 0;
    if (one && *one) {
        max_log2 = (unsigned)env_u64("TCPW_RANDOM_MAXLOG", 15);
        if (max_log2 > 24) max_log2 = 24;
        CHECK(run_one(strtoull(one, NULL, 10), true, &packets));
        return;
    }
    max_log2 = (unsigned)env_u64("TCPW_RANDOM_MAXLOG", 15);
    if (max_log2 > 24) max_log2 = 24;
    uint64_t count = env_u64("TCPW_RANDOM_COUNT", DEFAULT_COUNT);
    uint64_t base = env_u64("TCPW_RANDOM_BASE", 1);
    uint64_t failed = 0;
    clock_t t0 = clock();
    for (uint64_t i = 0; i < count; i++)
        if (!run_one(base + i, false, &packets)) failed++;
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("%llu connections (seeds %llu..%llu), %llu packets, %llu failed, %.1f s\n",
           (unsigned long long)count, (unsigned long long)base,
           (unsigned long long)(base + count - 1), (unsigned long long)packets,
           (unsigned long long)failed, secs);
    CHECK_EQ_U(failed, 0);
}

int main(void) {
    RUN(test_random_connections);
    return test_summary();
}
