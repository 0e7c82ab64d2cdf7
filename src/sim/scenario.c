/* scenario.c — the scenario runner: two stacks in a simulation, a scripted application on each
 * (connect or listen+accept, send a pattern, read and check it, close in a chosen way at a
 * chosen moment), injected segments, and the result. See scenario.h.
 *
 * The applications act only from the simulation's `after` hook: after every packet delivered
 * to their node, every tick of their stack and every scheduled wake-up. Each time, an
 * application polls its stack's events, reads, sends what it may, and checks its triggers.
 * Anything due at a time of its own (open, delayed send or close, give-up, reconnection)
 * schedules a wake-up with tcpw_sim_at() so that the hook runs then.
 */
#include "sim/scenario.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/wire.h"

#define IO_CHUNK 16384
#define NEVER    TCPW_SCN_NEVER_US

typedef struct scn_run scn_run;
typedef struct scn_app scn_app;

/* One connection of one application. */
typedef struct scn_conn {
    scn_app *app;
    uint32_t idx; /* connection number within the application, 0-based */
    tcpw_conn *h; /* the handle, NULL once released */
    bool released;
    uint64_t send_due;  /* when sending may start; NEVER until its trigger */
    uint64_t close_due; /* when the close call is made; NEVER until its trigger */
    bool send_failed;
    tcpw_scn_conn_outcome o;
} scn_conn;

struct scn_app {
    scn_run *run;
    int side;
    const tcpw_scn_app *spec;
    tcpw_stack *stack;
    int node;
    tcpw_conn *listener;
    bool opened, gave_up;
    uint32_t want;       /* connections to make or accept */
    uint32_t nconns;     /* made or accepted so far */
    uint16_t local_port; /* active: the local port of the first connection */
    uint64_t reconnect_due;
    uint32_t addr_in_use;
    scn_conn conn[TCPW_SCN_MAX_CONNS];
};

typedef struct scn_inject_state {
    scn_run *run;
    size_t i;
    bool armed;
} scn_inject_state;

struct scn_run {
    const tcpw_scn_spec *spec;
    tcpw_sim *sim;
    scn_app app[2];
    int wire; /* the spoofing node of instant injections, -1 when none */
    bool together_set;
    scn_inject_state inj[TCPW_SCN_MAX_INJECT];
    char error[256];
};

/* ---- the data pattern ---------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t pattern_key(uint64_t seed, int side, uint32_t conn) {
    return mix64(seed ^ mix64(((uint64_t)(unsigned)side << 32) | conn));
}

/* Bytes [off, off+n) of the stream with this key. */
static void pattern_fill(uint64_t key, uint64_t off, uint8_t *buf, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint64_t pos = off + i;
        uint64_t word = mix64(key ^ (pos / 8) * 0xd1342543de82ef95ull);
        for (unsigned b = (unsigned)(pos % 8); b < 8 && i < n; b++, i++)
            buf[i] = (uint8_t)(word >> (8 * b));
    }
}

uint8_t tcpw_scn_pattern_byte(uint64_t seed, int side, uint32_t conn, uint64_t offset) {
    uint8_t b;
    pattern_fill(pattern_key(seed, side, conn), offset, &b, 1);
    return b;
}

/* ---- small helpers ------------------------------------------------------------------------- */

static void run_fail(scn_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void run_fail(scn_run *run, const char *fmt, ...) {
    if (run->error[0]) return; /* keep the first */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(run->error, sizeof run->error, fmt, ap);
    va_end(ap);
}

static uint64_t now_of(const scn_app *a) {
    return tcpw_sim_now(a->run->sim);
}

static void wake_fn(tcpw_sim *sim, void *arg) {
    (void)sim;
    (void)arg; /* the `after` hook that follows does the work */
}

/* Makes sure the applications run at time t. */
static void wake_at(scn_app *a, uint64_t t) {
    if (t != NEVER) tcpw_sim_at(a->run->sim, t, wake_fn, NULL);
}

static void rec_app(scn_app *a, tcpw_app_what what, uint64_t bytes) {
    tcpw_rec_event e;
    memset(&e, 0, sizeof e);
    e.kind = TCPW_REC_APP;
    e.t_us = now_of(a);
    e.side = a->side;
    e.peer = 1 - a->side;
    e.app = what;
    e.bytes = bytes;
    snprintf(e.what, sizeof e.what, "%s", tcpw_app_what_name(what));
    tcpw_sim_record(a->run->sim, &e);
}

static void rec_note(scn_run *run, int side, const char *text) {
    tcpw_rec_event e;
    memset(&e, 0, sizeof e);
    e.kind = TCPW_REC_NOTE;
    e.t_us = tcpw_sim_now(run->sim);
    e.side = side;
    e.peer = 1 - side;
    snprintf(e.what, sizeof e.what, "%s", text);
    tcpw_sim_record(run->sim, &e);
}

static scn_app *peer_of(scn_app *a) {
    return &a->run->app[1 - a->side];
}

/* Bytes the peer sends before it waits for our EOF. */
static uint64_t peer_pre_close_bytes(scn_app *a) {
    const tcpw_scn_app *p = peer_of(a)->spec;
    return p->send_when == TCPW_SCN_SEND_AFTER_EOF ? 0 : p->send_bytes;
}

static bool all_queued(const scn_conn *c) {
    return c->o.sent >= c->app->spec->send_bytes || c->send_failed;
}

/* The exchange of this connection is done on our side: our data queued, the peer's read. */
static bool exchange_done(const scn_conn *c) {
    return c->o.connected && all_queued(c) && c->o.received >= peer_pre_close_bytes(c->app);
}

/* ---- opening ------------------------------------------------------------------------------- */

static scn_conn *conn_slot(scn_app *a, tcpw_conn *h) {
    if (a->nconns >= TCPW_SCN_MAX_CONNS) return NULL;
    scn_conn *c = &a->conn[a->nconns];
    memset(c, 0, sizeof *c);
    c->app = a;
    c->idx = a->nconns++;
    c->h = h;
    c->send_due = NEVER;
    c->close_due = NEVER;
    c->o.first_mismatch = -1;
    c->o.connected_at_us = c->o.eof_at_us = c->o.closed_at_us = NEVER;
    tcpw_set_userdata(h, c);
    if (a->spec->close_when == TCPW_SCN_AT) {
        c->close_due = a->spec->close_at_us;
        wake_at(a, c->close_due);
    }
    return c;
}

static void app_connect(scn_app *a) {
    scn_app *p = peer_of(a);
    tcpw_endpoint local, remote;
    memset(&local, 0, sizeof local);
    memset(&remote, 0, sizeof remote);
    local.addr = tcpw_sim_node_addr(a->run->sim, a->node, a->run->spec->family);
    local.port = a->local_port;
    remote.addr = tcpw_sim_node_addr(a->run->sim, p->node, a->run->spec->family);
    remote.port = p->spec->port;
    tcpw_conn *h = NULL;
    int rc = tcpw_connect(a->stack, &local, &remote, now_of(a), &h);
    if (rc == TCPW_EADDRINUSE && a->nconns > 0) {
        /* The previous connection (or its TIME_WAIT) still holds the 4-tuple: try again
         * whenever this node has processed something. Whatever frees the 4-tuple (a segment
         * arriving, the 2MSL timer) is processed by this node, and the hook runs after it. */
        a->addr_in_use++;
        if (a->addr_in_use == 1)
            rec_note(a->run, a->side, "connect(): address in use; retrying when it is free");
        if (tcpw_next_deadline(a->stack) == NEVER)
            run_fail(a->run, "%s: reconnect: address in use for good",
                     a->side ? "server" : "client");
        a->reconnect_due = now_of(a);
        return;
    }
    a->reconnect_due = NEVER;
    if (rc < 0) {
        run_fail(a->run, "%s: connect(): %s", a->side ? "server" : "client", tcpw_strerror(rc));
        return;
    }
    scn_conn *c = conn_slot(a, h);
    if (!c) {
        tcpw_abort(h, now_of(a));
        return;
    }
    tcpw_conn_info info;
    tcpw_status(h, &info);
    if (a->local_port == 0) a->local_port = info.local.port;
}

static void app_open(scn_app *a) {
    a->opened = true;
    if (a->spec->active) {
        app_connect(a);
        return;
    }
    tcpw_endpoint local;
    memset(&local, 0, sizeof local);
    local.addr = tcpw_sim_node_addr(a->run->sim, a->node, a->run->spec->family);
    local.port = a->spec->port;
    int rc = tcpw_listen(a->stack, &local, 16, &a->listener);
    if (rc < 0) {
        a->listener = NULL;
        run_fail(a->run, "%s: listen(): %s", a->side ? "server" : "client", tcpw_strerror(rc));
    }
}

static void close_listener(scn_app *a) {
    if (!a->listener) return;
    tcpw_close(a->listener, now_of(a));
    a->listener = NULL;
}

static void app_accept(scn_app *a) {
    tcpw_conn *h;
    while (a->listener && (h = tcpw_accept(a->listener))) {
        if (a->nconns >= a->want || !conn_slot(a, h)) {
            tcpw_abort(h, now_of(a)); /* more than the application wants */
            continue;
        }
        if (a->nconns >= a->want && a->spec->listen_once) close_listener(a);
    }
}

/* ---- reading, writing, closing ------------------------------------------------------------- */

static void release(scn_conn *c) {
    if (!c->h) return;
    tcpw_close(c->h, now_of(c->app));
    c->h = NULL;
    c->released = true;
}

static void conn_read(scn_conn *c) {
    scn_app *a = c->app;
    if (a->spec->no_read || !c->h) return;
    uint8_t buf[IO_CHUNK], want[IO_CHUNK];
    uint64_t key = pattern_key(a->run->spec->seed, 1 - a->side, c->idx);
    uint64_t got = 0;
    for (;;) {
        ptrdiff_t n = tcpw_recv(c->h, buf, sizeof buf, now_of(a));
        if (n > 0) {
            pattern_fill(key, c->o.received, want, (size_t)n);
            for (ptrdiff_t i = 0; i < n; i++)
                if (buf[i] != want[i]) {
                    if (c->o.first_mismatch < 0)
                        c->o.first_mismatch = (int64_t)(c->o.received + (uint64_t)i);
                    c->o.mismatches++;
                }
            c->o.received += (uint64_t)n;
            got += (uint64_t)n;
            continue;
        }
        if (got) rec_app(a, TCPW_APP_DATA, got);
        got = 0;
        if (n == 0 && !c->o.eof) {
            c->o.eof = true;
            c->o.eof_at_us = now_of(a);
            rec_app(a, TCPW_APP_EOF, 0);
        }
        break;
    }
}

static void conn_send(scn_conn *c) {
    scn_app *a = c->app;
    uint64_t total = a->spec->send_bytes;
    if (!c->h || c->send_failed || c->o.sent >= total || now_of(a) < c->send_due) return;
    if (c->o.called_shutdown || c->o.called_close || c->o.called_abort) return;
    uint64_t key = pattern_key(a->run->spec->seed, a->side, c->idx);
    uint8_t buf[IO_CHUNK];
    while (c->o.sent < total) {
        size_t n = total - c->o.sent < sizeof buf ? (size_t)(total - c->o.sent) : sizeof buf;
        pattern_fill(key, c->o.sent, buf, n);
        ptrdiff_t m = tcpw_send(c->h, buf, n, now_of(a));
        if (m == TCPW_EAGAIN) break;
        if (m < 0) {
            c->send_failed = true; /* reset, closing...: the rest is never sent */
            break;
        }
        c->o.sent += (uint64_t)m;
        if ((size_t)m < n) break;
    }
}

static void do_close(scn_conn *c) {
    scn_app *a = c->app;
    if (!c->h || c->o.called_close || c->o.called_shutdown || c->o.called_abort) return;
    switch (a->spec->close_call) {
    case TCPW_SCN_CLOSE:
        c->o.called_close = true;
        release(c);
        break;
    case TCPW_SCN_SHUTDOWN:
        c->o.called_shutdown = true;
        tcpw_shutdown(c->h, now_of(a));
        break;
    case TCPW_SCN_ABORT:
        c->o.called_abort = true;
        tcpw_abort(c->h, now_of(a));
        c->h = NULL;
        c->released = true;
        break;
    }
}

/* Both applications close at the same instant once both are done with their exchange. */
static void check_together(scn_run *run) {
    if (run->together_set) return;
    for (int s = 0; s < 2; s++) {
        scn_app *a = &run->app[s];
        if (a->spec->close_when != TCPW_SCN_TOGETHER || a->nconns == 0) return;
        scn_conn *c = &a->conn[a->nconns - 1];
        if (!c->h || !exchange_done(c)) return;
    }
    run->together_set = true;
    for (int s = 0; s < 2; s++) {
        scn_app *a = &run->app[s];
        scn_conn *c = &a->conn[a->nconns - 1];
        c->close_due = now_of(a) + a->spec->close_delay_us;
        wake_at(a, c->close_due);
    }
}

/* The close trigger of a connection (TCPW_SCN_AT and TOGETHER set close_due elsewhere). */
static void check_close_trigger(scn_conn *c) {
    scn_app *a = c->app;
    if (c->close_due != NEVER || !c->h) return;
    bool fire = false;
    switch (a->spec->close_when) {
    case TCPW_SCN_AFTER_SEND: fire = c->o.connected && all_queued(c); break;
    case TCPW_SCN_AFTER_EXCHANGE: fire = exchange_done(c); break;
    case TCPW_SCN_ON_EOF: fire = c->o.eof && all_queued(c); break;
    default: break;
    }
    if (!fire) return;
    c->close_due = now_of(a) + a->spec->close_delay_us;
    wake_at(a, c->close_due);
}

static void check_send_trigger(scn_conn *c) {
    scn_app *a = c->app;
    if (c->send_due != NEVER || !c->o.connected) return;
    bool fire = false;
    switch (a->spec->send_when) {
    case TCPW_SCN_SEND_ON_CONNECT: fire = true; break;
    case TCPW_SCN_SEND_AFTER_RECV: fire = c->o.received >= peer_pre_close_bytes(a); break;
    case TCPW_SCN_SEND_AFTER_EOF: fire = c->o.eof; break;
    }
    if (!fire) return;
    c->send_due = now_of(a) + a->spec->send_delay_us;
    wake_at(a, c->send_due);
}

static void conn_events(scn_conn *c, uint32_t ev) {
    scn_app *a = c->app;
    uint64_t now = now_of(a);
    if ((ev & TCPW_EV_CONNECTED) && !c->o.connected) {
        c->o.connected = true;
        c->o.connected_at_us = now;
        rec_app(a, TCPW_APP_CONNECTED, 0);
    }
    if (ev & (TCPW_EV_READABLE | TCPW_EV_EOF)) conn_read(c);
    if (ev & TCPW_EV_REFUSED) {
        c->o.refused = true;
        rec_app(a, TCPW_APP_REFUSED, 0);
    }
    if (ev & TCPW_EV_RESET) {
        c->o.reset = true;
        rec_app(a, TCPW_APP_RESET, 0);
    }
    if (ev & TCPW_EV_TIMEOUT) {
        c->o.timed_out = true;
        rec_app(a, TCPW_APP_TIMEOUT, 0);
    }
    if (ev & TCPW_EV_CLOSED) {
        c->o.closed = true;
        c->o.closed_at_us = now;
        rec_app(a, TCPW_APP_CLOSED, 0);
    }
}

/* After a shutdown, or once the connection failed, a well-behaved application lets go. */
static void maybe_release(scn_conn *c) {
    scn_app *a = c->app;
    if (!c->h || a->spec->close_when == TCPW_SCN_NEVER) return;
    bool failed = c->o.reset || c->o.refused || c->o.timed_out;
    bool done_reading = c->o.eof || a->spec->no_read;
    if (failed || (c->o.called_shutdown && (done_reading || c->o.closed))) release(c);
}

static void give_up(scn_app *a) {
    a->gave_up = true;
    rec_note(a->run, a->side, "application timeout: giving up");
    close_listener(a);
    for (uint32_t i = 0; i < a->nconns; i++) {
        scn_conn *c = &a->conn[i];
        if (!c->h || c->o.called_shutdown || c->o.called_close || c->o.called_abort) continue;
        c->o.called_shutdown = true;
        tcpw_shutdown(c->h, now_of(a));
    }
}

/* What the application does in answer to a connection's events, in the same turn: sending or
 * closing before tcpw_poll_event() returns NULL lets the ACK the engine owes for the data just
 * read ride on the reply or the FIN (cfg.ack_defer). */
static void conn_answer(scn_conn *c) {
    if (!c->h) return;
    check_send_trigger(c);
    conn_send(c);
    check_close_trigger(c);
    if (c->h && now_of(c->app) >= c->close_due) do_close(c);
}

/* One turn of the application: everything it does after its node processed something. */
static void app_step(scn_app *a) {
    uint64_t now = now_of(a);
    if (!a->opened) {
        if (now < a->spec->open_at_us) return;
        app_open(a);
    }
    uint32_t ev;
    tcpw_conn *h;
    while ((h = tcpw_poll_event(a->stack, &ev))) {
        if (h == a->listener) {
            if (ev & TCPW_EV_ACCEPT) app_accept(a);
            continue;
        }
        scn_conn *c = tcpw_userdata(h);
        if (!c) continue;
        conn_events(c, ev);
        conn_answer(c);
    }
    if (a->spec->give_up_at_us && !a->gave_up && now >= a->spec->give_up_at_us) give_up(a);
    for (uint32_t i = 0; i < a->nconns; i++) {
        scn_conn *c = &a->conn[i];
        conn_answer(c); /* time-driven sends and closes */
    }
    check_together(a->run);
    for (uint32_t i = 0; i < a->nconns; i++) {
        scn_conn *c = &a->conn[i];
        if (c->h && now >= c->close_due) do_close(c);
        maybe_release(c);
    }
    /* reconnection: once the last connection's handle is released */
    if (a->spec->active && a->nconns > 0 && a->nconns < a->want && !a->gave_up &&
        a->conn[a->nconns - 1].released) {
        if (a->reconnect_due == NEVER && a->addr_in_use == 0) {
            a->reconnect_due = now + a->spec->reconnect_delay_us;
            wake_at(a, a->reconnect_due);
        }
        if (now >= a->reconnect_due) app_connect(a);
    }
}

static void after_hook(void *user, tcpw_sim *sim, int node) {
    (void)sim;
    scn_run *run = user;
    if (node < 0 || node > 1) return;
    app_step(&run->app[node]);
}

/* ---- injections ---------------------------------------------------------------------------- */

static size_t build_segment(uint8_t *buf, size_t cap, const tcpw_endpoint *src,
                            const tcpw_endpoint *dst, uint32_t seq, uint32_t ack, uint8_t flags,
                            uint16_t win, uint32_t payload) {
    tcpw_segment_out o;
    memset(&o, 0, sizeof o);
    o.src = *src;
    o.dst = *dst;
    o.seq = seq;
    o.ack = ack;
    o.flags = flags;
    o.win = win;
    size_t hl = tcpw_build_headers(buf, cap, &o, payload);
    if (hl == 0 || hl + payload > cap) return 0;
    memset(buf + hl, 0, payload);
    tcpw_finish_checksums(buf, hl + payload);
    return hl + payload;
}

static void inject_send(scn_run *run, const tcpw_scn_inject *in, int from_side, const uint8_t *pkt,
                        size_t len) {
    if (!in->instant) {
        tcpw_sim_send(run->sim, from_side, pkt, len);
        return;
    }
    /* The wire node spoofs from_side: record the segment as from_side's. */
    tcpw_packet p;
    if (tcpw_parse(pkt, len, 0, &p) == TCPW_WIRE_OK) {
        tcpw_rec_event e;
        memset(&e, 0, sizeof e);
        e.kind = TCPW_REC_SEG;
        e.t_us = e.arrive_us = tcpw_sim_now(run->sim);
        e.side = from_side;
        e.peer = 1 - from_side;
        e.fate = TCPW_FATE_DELIVERED;
        e.flags = p.flags;
        e.seq = p.seq;
        e.ack = p.ack;
        e.len = (uint32_t)p.payload_len;
        e.win = p.win;
        tcpw_sim_record(run->sim, &e);
    }
    tcpw_sim_send(run->sim, run->wire, pkt, len);
}

static void inject_replay(scn_run *run, const tcpw_scn_inject *in) {
    const tcpw_recording *r = tcpw_sim_recording(run->sim);
    int s = in->side;
    for (size_t i = r->count; i-- > 0;) {
        const tcpw_rec_event *e = &r->ev[i];
        if (e->kind != TCPW_REC_SEG || e->side != s) continue;
        uint8_t buf[TCPW_MAX_HEADERS + 2048];
        uint32_t len = e->len > 1460 ? 1460 : e->len;
        size_t n = build_segment(buf, sizeof buf, &r->ep[s], &r->ep[1 - s], e->seq, e->ack,
                                 e->flags, e->win, len);
        if (n) {
            rec_note(run, s, "injected: a copy of this side's last segment (an old duplicate)");
            inject_send(run, in, s, buf, n);
        }
        return;
    }
}

typedef struct find_conn {
    tcpw_state want;
    bool found, exact;
    tcpw_conn_info info;
} find_conn;

static void find_conn_cb(void *arg, const tcpw_conn_info *info) {
    find_conn *f = arg;
    if (info->state == TCPW_LISTEN || info->state == TCPW_CLOSED) return;
    if (f->exact) return;
    if (info->state == f->want || !f->found) {
        f->info = *info;
        f->found = true;
        f->exact = info->state == f->want;
    }
}

static void inject_rst(scn_run *run, const tcpw_scn_inject *in) {
    find_conn f;
    memset(&f, 0, sizeof f);
    f.want = in->when_state;
    tcpw_list(run->app[in->side].stack, find_conn_cb, &f);
    if (!f.found) {
        rec_note(run, in->side, "injected RST: no connection to reset");
        return;
    }
    uint8_t buf[TCPW_MAX_HEADERS];
    size_t n = build_segment(buf, sizeof buf, &f.info.remote, &f.info.local, f.info.rcv_nxt, 0,
                             TCPW_RST, 0, 0);
    if (n) {
        rec_note(run, 1 - in->side, "injected: RST with SEQ = the peer's RCV.NXT");
        inject_send(run, in, 1 - in->side, buf, n);
    }
}

static void inject_fn(tcpw_sim *sim, void *arg) {
    (void)sim;
    scn_inject_state *st = arg;
    const tcpw_scn_inject *in = &st->run->spec->inject[st->i];
    if (in->kind == TCPW_SCN_INJECT_REPLAY)
        inject_replay(st->run, in);
    else
        inject_rst(st->run, in);
}

/* The stacks' trace: arms injections when their state is entered. */
static void trace_hook(void *user, const tcpw_trace *t) {
    scn_app *a = user;
    scn_run *run = a->run;
    if (t->kind != TCPW_TRACE_STATE) return;
    for (size_t i = 0; i < run->spec->ninject; i++) {
        const tcpw_scn_inject *in = &run->spec->inject[i];
        scn_inject_state *st = &run->inj[i];
        if (st->armed || in->when_side != a->side || in->when_state != t->to) continue;
        st->armed = true;
        tcpw_sim_at(run->sim, t->now + in->delay_us, inject_fn, st);
    }
}

/* ---- the run ------------------------------------------------------------------------------- */

void tcpw_scn_spec_default(tcpw_scn_spec *spec) {
    memset(spec, 0, sizeof *spec);
    spec->seed = 1;
    spec->family = 4;
    for (int s = 0; s < 2; s++) {
        tcpw_config_default(&spec->cfg[s]);
        spec->link[s].latency_us = 10000;
    }
    tcpw_scn_app *c = &spec->app[TCPW_SCN_CLIENT], *v = &spec->app[TCPW_SCN_SERVER];
    c->active = true;
    c->send_bytes = 100;
    c->send_when = TCPW_SCN_SEND_ON_CONNECT;
    c->close_call = TCPW_SCN_CLOSE;
    c->close_when = TCPW_SCN_AFTER_EXCHANGE;
    v->active = false;
    v->port = 80;
    v->send_bytes = 200;
    v->send_when = TCPW_SCN_SEND_AFTER_RECV;
    v->close_call = TCPW_SCN_CLOSE;
    v->close_when = TCPW_SCN_ON_EOF;
    v->close_delay_us = 100000;
}

static void noop_input(void *node, const uint8_t *pkt, size_t len, uint64_t now) {
    (void)node, (void)pkt, (void)len, (void)now;
}

typedef struct list_acc {
    tcpw_conn_info *v;
    size_t n, cap;
    bool oom;
} list_acc;

static void list_add(void *arg, const tcpw_conn_info *info) {
    list_acc *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        tcpw_conn_info *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->oom = true;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *info;
}

static void summarize(scn_run *run, tcpw_scn_result *out) {
    for (int s = 0; s < 2; s++) {
        scn_app *a = &run->app[s];
        scn_app *p = &run->app[1 - s];
        tcpw_scn_outcome *o = &out->app[s];
        o->connections = a->nconns;
        o->addr_in_use = a->addr_in_use;
        o->data_ok = true;
        o->complete = a->nconns > 0;
        for (uint32_t i = 0; i < a->nconns; i++) {
            tcpw_scn_conn_outcome *co = &o->conn[i];
            *co = a->conn[i].o;
            co->expected = i < p->nconns ? p->conn[i].o.sent : 0;
            o->reset |= co->reset;
            o->refused |= co->refused;
            o->timed_out |= co->timed_out;
            o->received += co->received;
            o->mismatches += co->mismatches;
            if (co->mismatches || co->received > co->expected) o->data_ok = false;
            if (!co->connected || co->received != co->expected || co->reset || co->refused ||
                co->timed_out)
                o->complete = false;
        }
    }
    /* a connection accepted by one side must be the one made by the other */
    if (run->app[0].nconns != run->app[1].nconns) {
        out->app[0].complete = out->app[1].complete = false;
    }
    out->data_ok = out->app[0].data_ok && out->app[1].data_ok;
    out->complete = out->app[0].complete && out->app[1].complete;
}

static void result_init(tcpw_scn_result *out, const tcpw_scn_spec *spec) {
    memset(out, 0, sizeof *out);
    tcpw_rec_init(&out->rec, "client", "server");
    out->seed = spec ? spec->seed : 0;
}

int tcpw_scn_run(const tcpw_scn_spec *spec, tcpw_scn_result *out) {
    if (!out) return TCPW_EINVAL;
    result_init(out, spec);
    if (!spec || (spec->family != 4 && spec->family != 6) || spec->nrules > TCPW_SCN_MAX_RULES ||
        spec->ninject > TCPW_SCN_MAX_INJECT) {
        snprintf(out->error, sizeof out->error, "invalid scenario specification");
        return TCPW_EINVAL;
    }

    scn_run *run = calloc(1, sizeof *run);
    if (!run) {
        snprintf(out->error, sizeof out->error, "out of memory");
        return TCPW_ENOMEM;
    }
    run->spec = spec;
    run->wire = -1;

    tcpw_sim_config sc;
    tcpw_sim_config_default(&sc);
    sc.seed = spec->seed;
    sc.link = spec->link[0];
    sc.after = after_hook;
    sc.user = run;
    sc.no_recording = spec->no_recording;
    int rc = tcpw_sim_new(&sc, &run->sim);
    if (rc < 0) {
        free(run);
        snprintf(out->error, sizeof out->error, "out of memory");
        return rc;
    }
    static const char *const names[2] = {"client", "server"};
    for (int s = 0; s < 2 && rc >= 0; s++) {
        scn_app *a = &run->app[s];
        a->run = run;
        a->side = s;
        a->spec = &spec->app[s];
        a->want = a->spec->connections ? a->spec->connections : 1;
        if (a->want > TCPW_SCN_MAX_CONNS) a->want = TCPW_SCN_MAX_CONNS;
        a->reconnect_due = NEVER;
        a->local_port = a->spec->active ? a->spec->port : 0;
        tcpw_config cfg = spec->cfg[s];
        cfg.trace = trace_hook;
        cfg.user = a;
        rc = tcpw_sim_add_stack(run->sim, names[s], &cfg, &a->stack);
        if (rc < 0) {
            run_fail(run, "%s: invalid stack configuration (%s)", names[s], tcpw_strerror(rc));
        } else {
            a->node = rc;
        }
    }
    if (rc >= 0) rc = tcpw_sim_set_link(run->sim, 0, 1, &spec->link[0]);
    if (rc >= 0) rc = tcpw_sim_set_link(run->sim, 1, 0, &spec->link[1]);
    if (rc < 0) run_fail(run, "invalid link settings (probabilities must be 0..1)");
    for (size_t i = 0; i < spec->nrules && !run->error[0]; i++) {
        char err[200];
        if (!spec->rules[i] || tcpw_sim_add_rule_str(run->sim, spec->rules[i], err, sizeof err) < 0)
            run_fail(run, "%s", spec->rules[i] ? err : "missing rule");
    }
    bool need_wire = false;
    for (size_t i = 0; i < spec->ninject; i++) {
        run->inj[i].run = run;
        run->inj[i].i = i;
        const tcpw_scn_inject *in = &spec->inject[i];
        if (in->side < 0 || in->side > 1 || in->when_side < 0 || in->when_side > 1)
            run_fail(run, "injection %zu: side must be 0 (client) or 1 (server)", i);
        need_wire |= in->instant;
    }
    if (need_wire && !run->error[0]) {
        static const tcpw_sim_node_ops wire_ops = {.input = noop_input};
        run->wire = tcpw_sim_add_node(run->sim, "wire", &wire_ops, NULL);
        tcpw_sim_link zero;
        memset(&zero, 0, sizeof zero);
        if (run->wire < 0 || tcpw_sim_set_link(run->sim, run->wire, TCPW_SIM_ANY, &zero) < 0)
            run_fail(run, "cannot add the injection node");
    }
    if (spec->pcap_path && !run->error[0] && tcpw_sim_pcap_open(run->sim, spec->pcap_path) < 0)
        run_fail(run, "%s", tcpw_sim_error(run->sim));

    if (!run->error[0]) {
        for (int s = 0; s < 2; s++)
            wake_at(&run->app[s], run->app[s].spec->open_at_us);
        for (int s = 0; s < 2; s++)
            if (run->app[s].spec->give_up_at_us)
                wake_at(&run->app[s], run->app[s].spec->give_up_at_us);
        if (spec->until_us) {
            tcpw_sim_run(run->sim, spec->until_us);
        } else {
            while (tcpw_sim_next_time(run->sim) <= TCPW_SCN_RUN_CAP_US && tcpw_sim_step(run->sim))
                ;
            out->capped = tcpw_sim_next_time(run->sim) != UINT64_MAX && !tcpw_sim_error(run->sim);
        }
        if (spec->pcap_path && tcpw_sim_pcap_close(run->sim) < 0)
            run_fail(run, "writing the capture %s failed", spec->pcap_path);
        const char *serr = tcpw_sim_error(run->sim);
        if (serr) run_fail(run, "simulation: %s", serr);
    }

    /* Collect the result. */
    out->end_us = tcpw_sim_now(run->sim);
    for (int s = 0; s < 2; s++) {
        scn_app *a = &run->app[s];
        if (!a->stack) continue;
        list_acc l;
        memset(&l, 0, sizeof l);
        tcpw_list(a->stack, list_add, &l);
        if (l.oom) run_fail(run, "out of memory");
        out->list[s] = l.v;
        out->nlist[s] = l.n;
        out->stats[s] = *tcpw_stack_stats(a->stack);
    }
    out->link[0] = tcpw_sim_get_link_stats(run->sim, 0, 1);
    out->link[1] = tcpw_sim_get_link_stats(run->sim, 1, 0);
    for (size_t i = 0; i < spec->nrules; i++)
        if (tcpw_sim_rule_fired(run->sim, (int)i)) out->rules_fired++;
    summarize(run, out);

    /* Move the recording out of the simulation before it goes. */
    tcpw_recording *rec = tcpw_sim_recording_mut(run->sim);
    out->rec = *rec;
    out->rec.names[0] = names[0];
    out->rec.names[1] = names[1];
    rec->ev = NULL;
    rec->count = rec->cap = 0;

    tcpw_sim_free(run->sim);
    if (run->error[0]) snprintf(out->error, sizeof out->error, "%s", run->error);
    rc = run->error[0] ? TCPW_EINVAL : TCPW_OK;
    free(run);
    return rc;
}

void tcpw_scn_result_free(tcpw_scn_result *r) {
    if (!r) return;
    tcpw_rec_free(&r->rec);
    for (int s = 0; s < 2; s++) {
        free(r->list[s]);
        r->list[s] = NULL;
        r->nlist[s] = 0;
    }
}

/* ---- summary ------------------------------------------------------------------------------- */

static void print_endpoint(FILE *out, const tcpw_endpoint *e) {
    if (e->addr.family == 4) {
        fprintf(out, "%u.%u.%u.%u:%u", e->addr.ip[0], e->addr.ip[1], e->addr.ip[2], e->addr.ip[3],
                e->port);
    } else if (e->addr.family == 6) {
        fprintf(out, "[");
        for (int i = 0; i < 16; i += 2)
            fprintf(out, "%s%x", i ? ":" : "", (e->addr.ip[i] << 8) | e->addr.ip[i + 1]);
        fprintf(out, "]:%u", e->port);
    } else if (e->port) {
        fprintf(out, "*:%u", e->port);
    } else {
        fprintf(out, "*:*"); /* a listener's remote end: any address, any port (as ss) */
    }
}

void tcpw_scn_print_summary(FILE *out, const tcpw_scn_result *r) {
    static const char *const names[2] = {"client", "server"};
    if (r->error[0]) fprintf(out, "error: %s\n", r->error);
    fprintf(out, "%s, seed %llu, ended at %.6f s%s\n", r->scenario ? r->scenario : "scenario",
            (unsigned long long)r->seed, (double)r->end_us / 1e6,
            r->capped ? " (stopped after 24 h of virtual time, timers still armed)" : "");
    for (int s = 0; s < 2; s++) {
        const tcpw_scn_outcome *o = &r->app[s];
        for (uint32_t i = 0; i < o->connections; i++) {
            const tcpw_scn_conn_outcome *c = &o->conn[i];
            fprintf(out, "%s app", names[s]);
            if (o->connections > 1) fprintf(out, " (connection %u)", i + 1);
            fprintf(out, ": sent %llu, read %llu of %llu bytes%s%s%s%s%s%s",
                    (unsigned long long)c->sent, (unsigned long long)c->received,
                    (unsigned long long)c->expected, c->eof ? ", EOF" : "",
                    c->reset ? ", reset" : "", c->refused ? ", refused" : "",
                    c->timed_out ? ", timed out" : "", c->mismatches ? ", DATA DIFFERS" : "",
                    c->connected ? "" : ", never connected");
            if (c->mismatches)
                fprintf(out, " (%llu bytes, first at offset %lld)",
                        (unsigned long long)c->mismatches, (long long)c->first_mismatch);
            fprintf(out, "\n");
        }
        if (o->connections == 0) fprintf(out, "%s app: no connection\n", names[s]);
    }
    fprintf(out, "data check: %s\n",
            r->data_ok ? (r->complete ? "every byte arrived exactly once, in order"
                                      : "what arrived is right (not everything arrived)")
                       : "FAILED: bytes differ from what the peer sent");
    for (int s = 0; s < 2; s++) {
        fprintf(out, "%s connections at the end: %zu\n", names[s], r->nlist[s]);
        for (size_t i = 0; i < r->nlist[s]; i++) {
            const tcpw_conn_info *c = &r->list[s][i];
            fprintf(out, "  %-11s ", tcpw_state_name(c->state));
            print_endpoint(out, &c->local);
            fprintf(out, " ");
            print_endpoint(out, &c->remote);
            if (c->orphan) fprintf(out, " (orphan)");
            fprintf(out, "\n");
        }
    }
}
