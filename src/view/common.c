/* common.c — what every renderer of view.h shares: the analysis of a recording (each side's
 * state after every event, what each segment is — handshake step, data, 1st..4th wave of the
 * close, retransmission) and small helpers for numbers, flags, times and UTF-8 text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/seq.h"
#include "view/view_internal.h"

/* How far back to look for the first transmission of a retransmitted segment. */
#define RETRANS_LOOKBACK 4096

/* The running state of the analysis while it walks the events. */
typedef struct scan {
    int st[2];
    uint64_t entered[2];
    size_t conn;
    bool ended; /* a FIN or RST was sent on the current connection */
    bool snd_known[2];
    uint32_t snd_max[2];    /* highest sequence number each side has sent, plus one */
    uint64_t rtx_note_t[2]; /* time of a pending "retransmit" note, UINT64_MAX none */
    uint64_t inj_note_t[2]; /* time of a pending "injected" note, UINT64_MAX none */
    bool synack_sent[2];    /* each side has sent a SYN+ACK on the current connection */
} scan;

bool view_event_ok(const view_ctx *c, size_t i) {
    const tcpw_rec_event *e = &c->r->ev[i];
    return e->side >= 0 && e->side < TCPW_REC_MAX_SIDES;
}

int view_peer(const tcpw_rec_event *e) {
    if (e->peer >= 0 && e->peer < TCPW_REC_MAX_SIDES && e->peer != e->side) return e->peer;
    return 1 - (e->side & 1);
}

uint32_t view_seq(const view_ctx *c, const tcpw_rec_event *e) {
    return !c->o.absolute && e->rel_seq_known ? e->rel_seq : e->seq;
}

uint32_t view_ack(const view_ctx *c, const tcpw_rec_event *e) {
    return !c->o.absolute && e->rel_ack_known ? e->rel_ack : e->ack;
}

static uint32_t seg_space(const tcpw_rec_event *e) {
    return e->len + ((e->flags & TCPW_SYN) ? 1u : 0u) + ((e->flags & TCPW_FIN) ? 1u : 0u);
}

/* The sequence number a FIN occupies: after the data it carries. */
static uint32_t fin_seqno(const view_ctx *c, size_t i) {
    const tcpw_rec_event *e = &c->r->ev[i];
    return view_seq(c, e) + e->len;
}

bool view_letter(const view_ctx *c, size_t conn, char letter, uint32_t *out) {
    if (!c->conns || conn >= c->nconns) return false;
    const view_conn *k = &c->conns[conn];
    size_t i = letter == 'u'   ? k->fin1
               : letter == 'v' ? k->ack2
               : letter == 'w' ? k->fin3
                               : VIEW_NONE;
    if (i == VIEW_NONE) return false;
    *out = letter == 'v' ? view_seq(c, &c->r->ev[i]) : fin_seqno(c, i);
    return true;
}

bool view_retrans_wait(const view_ctx *c, size_t i, uint64_t *wait_us) {
    const view_step *s = &c->step[i];
    if (!s->retrans || s->orig == VIEW_NONE) return false;
    uint64_t t1 = c->r->ev[s->orig].t_us, t2 = c->r->ev[i].t_us;
    *wait_us = t2 > t1 ? t2 - t1 : 0;
    return true;
}

bool view_note_is_retransmit(const char *text) {
    if (strncmp(text, "retransmi", 9) != 0) return false;
    return strstr(text, "exhausted") == NULL; /* "retransmissions exhausted" gives up */
}

bool view_note_is_injection(const char *text) {
    return strncmp(text, "injected:", 9) == 0;
}

#define LATE_MIN_US 1000 /* a segment this much later than the fastest one is "late" */

bool view_seg_late(const view_ctx *c, size_t i, uint64_t *late_us) {
    const tcpw_rec_event *e = &c->r->ev[i];
    if (e->kind != TCPW_REC_SEG || e->fate == TCPW_FATE_DROPPED || !view_event_ok(c, i) ||
        e->arrive_us <= e->t_us)
        return false;
    uint64_t base = c->base_lat[e->side], travel = e->arrive_us - e->t_us;
    if (base == UINT64_MAX || travel <= base) return false;
    uint64_t late = travel - base;
    if (late < LATE_MIN_US || late < base) return false;
    *late_us = late;
    return true;
}

typedef struct late_seg {
    uint64_t arrive;
    size_t i;
} late_seg;

static int late_cmp(const void *a, const void *b) {
    const late_seg *x = a, *y = b;
    if (x->arrive != y->arrive) return x->arrive < y->arrive ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

size_t view_late_arrivals(const view_ctx *c, size_t **out) {
    size_t n = 0;
    uint64_t late;
    *out = NULL;
    for (size_t i = 0; i < c->r->count; i++)
        n += view_seg_late(c, i, &late);
    if (n == 0) return 0;
    late_seg *v = malloc(n * sizeof *v);
    size_t *idx = malloc(n * sizeof *idx);
    if (!v || !idx) {
        free(v);
        free(idx);
        return 0;
    }
    size_t k = 0;
    for (size_t i = 0; i < c->r->count; i++)
        if (view_seg_late(c, i, &late)) v[k++] = (late_seg){c->r->ev[i].arrive_us, i};
    qsort(v, n, sizeof *v, late_cmp);
    for (k = 0; k < n; k++)
        idx[k] = v[k].i;
    free(v);
    *out = idx;
    return n;
}

const char *view_late_tag(const view_ctx *c, size_t i, char *buf, size_t cap) {
    uint64_t late;
    char dur[32];
    if (cap) buf[0] = '\0';
    if (!view_seg_late(c, i, &late)) return buf;
    view_duration(late, dur, sizeof dur);
    if (c->r->ev[i].fate == TCPW_FATE_REORDERED)
        snprintf(buf, cap, "(reordered: %s late)", dur);
    else
        snprintf(buf, cap, "(held %s)", dur);
    return buf;
}

const char *view_arrival_tag(const view_ctx *c, size_t i, char *buf, size_t cap) {
    if (c->r->ev[i].fate == TCPW_FATE_REORDERED) {
        snprintf(buf, cap, "(reordered)");
        return buf;
    }
    return view_late_tag(c, i, buf, cap);
}

/* The shortest travel time in each direction, of the segments that took some (a segment
 * injected straight into the receiver takes none and says nothing of the link). */
static void base_latencies(view_ctx *c) {
    c->base_lat[0] = c->base_lat[1] = UINT64_MAX;
    for (size_t i = 0; i < c->r->count; i++) {
        const tcpw_rec_event *e = &c->r->ev[i];
        if (e->kind != TCPW_REC_SEG || e->fate == TCPW_FATE_DROPPED || !view_event_ok(c, i) ||
            e->arrive_us <= e->t_us)
            continue;
        if (e->arrive_us - e->t_us < c->base_lat[e->side])
            c->base_lat[e->side] = e->arrive_us - e->t_us;
    }
}

/* ---- the analysis --------------------------------------------------------------------------- */

static void conn_reset(view_conn *k) {
    k->closer = -1;
    k->simultaneous = false;
    k->syn[0] = k->syn[1] = VIEW_NONE;
    k->hs3 = k->fin1 = k->ack2 = k->fin3 = k->ack4 = VIEW_NONE;
}

/* Does segment e acknowledge the FIN of segment fin? */
static bool acks_fin(const view_ctx *c, size_t fin, const tcpw_rec_event *e) {
    if (fin == VIEW_NONE || !(e->flags & TCPW_ACK)) return false;
    const tcpw_rec_event *f = &c->r->ev[fin];
    return e->ack == f->seq + f->len + 1;
}

static view_role classify_fin(view_ctx *c, view_conn *k, size_t i) {
    const tcpw_rec_event *e = &c->r->ev[i];
    if (k->closer < 0) {
        k->closer = e->side;
        k->fin1 = i;
        return VIEW_ROLE_WAVE1;
    }
    if (e->side == k->closer) return VIEW_ROLE_WAVE1;
    if (k->fin3 != VIEW_NONE) return c->step[k->fin3].role;
    k->fin3 = i;
    if (acks_fin(c, k->fin1, e)) {
        if (k->ack2 != VIEW_NONE) return VIEW_ROLE_WAVE3;
        k->ack2 = i;
        return VIEW_ROLE_WAVE23;
    }
    k->simultaneous = true; /* sent before the first FIN arrived: the two FINs cross */
    return VIEW_ROLE_WAVE3;
}

/* The 3rd step of the handshake: the first acknowledgment of the peer's SYN+ACK. */
static bool is_handshake_ack(const view_ctx *c, const view_conn *k, const tcpw_rec_event *e) {
    int peer = view_peer(e);
    if (k->hs3 != VIEW_NONE || k->syn[peer] == VIEW_NONE || !(e->flags & TCPW_ACK)) return false;
    const tcpw_rec_event *synack = &c->r->ev[k->syn[peer]];
    return (synack->flags & TCPW_ACK) && e->ack == synack->seq + 1;
}

static view_role classify(view_ctx *c, view_conn *k, size_t i) {
    const tcpw_rec_event *e = &c->r->ev[i];
    if (e->flags & TCPW_RST) return VIEW_ROLE_RST;
    if (e->flags & TCPW_SYN) {
        if (k->syn[e->side] == VIEW_NONE) k->syn[e->side] = i;
        return (e->flags & TCPW_ACK) ? VIEW_ROLE_SYNACK : VIEW_ROLE_SYN;
    }
    if (e->flags & TCPW_FIN) return classify_fin(c, k, i);
    if (k->closer >= 0 && e->side != k->closer && k->ack2 == VIEW_NONE && acks_fin(c, k->fin1, e)) {
        k->ack2 = i;
        return VIEW_ROLE_WAVE2;
    }
    if (k->closer >= 0 && e->side == k->closer && acks_fin(c, k->fin3, e)) {
        if (k->ack4 == VIEW_NONE)
            k->ack4 = i;
        else
            c->step[i].repeat = true;
        return VIEW_ROLE_WAVE4;
    }
    if (is_handshake_ack(c, k, e)) {
        k->hs3 = i;
        return VIEW_ROLE_HS_ACK;
    }
    if (e->len > 0) return VIEW_ROLE_DATA;
    return (e->flags & TCPW_ACK) ? VIEW_ROLE_ACK : VIEW_ROLE_OTHER;
}

/* The latest earlier segment of the same side and connection that covers e's first byte. */
static size_t find_original(const view_ctx *c, size_t i) {
    const tcpw_rec_event *e = &c->r->ev[i];
    size_t stop = i > RETRANS_LOOKBACK ? i - RETRANS_LOOKBACK : 0;
    for (size_t j = i; j-- > stop;) {
        const tcpw_rec_event *o = &c->r->ev[j];
        if (o->kind != TCPW_REC_SEG || o->side != e->side || c->step[j].conn != c->step[i].conn)
            continue;
        uint32_t space = seg_space(o);
        if (space > 0 && seq_in(e->seq, o->seq, o->seq + space)) return j;
    }
    return VIEW_NONE;
}

static void start_conn(view_ctx *c, scan *s) {
    s->conn = c->nconns++;
    conn_reset(&c->conns[s->conn]);
    s->ended = false;
    s->snd_known[0] = s->snd_known[1] = false;
    s->synack_sent[0] = s->synack_sent[1] = false;
}

/* A SYN without ACK after the connection ended, and not a copy of this side's SYN, opens a
 * new connection on the same 4-tuple. */
static bool opens_new_conn(const view_ctx *c, const scan *s, const tcpw_rec_event *e) {
    if (!s->ended || (e->flags & (TCPW_SYN | TCPW_ACK)) != TCPW_SYN) return false;
    size_t first = c->conns[s->conn].syn[e->side];
    return first == VIEW_NONE || c->r->ev[first].seq != e->seq;
}

/* A side's first SYN+ACK after a SYN of its own with the same sequence number: in a
 * simultaneous open each side answers the other's SYN by repeating its own SYN with the ACK
 * (RFC 9293 §3.5, Figure 8). That is the handshake, not a timer-driven resend. */
static bool answers_with_own_syn(const view_ctx *c, const scan *s, const tcpw_rec_event *e) {
    if ((e->flags & (TCPW_SYN | TCPW_ACK)) != (TCPW_SYN | TCPW_ACK) || s->synack_sent[e->side])
        return false;
    size_t first = c->conns[s->conn].syn[e->side];
    return first != VIEW_NONE && c->r->ev[first].seq == e->seq &&
           !(c->r->ev[first].flags & TCPW_ACK);
}

static void track_retransmission(view_ctx *c, scan *s, size_t i) {
    const tcpw_rec_event *e = &c->r->ev[i];
    view_step *st = &c->step[i];
    uint32_t space = seg_space(e);
    bool noted = s->rtx_note_t[e->side] == e->t_us;
    s->rtx_note_t[e->side] = UINT64_MAX;
    if (s->inj_note_t[e->side] == e->t_us) {
        /* not sent by the stack: a copy of an old segment is no retransmission of its own */
        st->injected = true;
        s->inj_note_t[e->side] = UINT64_MAX;
        return;
    }
    if (space == 0) return;
    bool handshake = !noted && answers_with_own_syn(c, s, e);
    if ((e->flags & (TCPW_SYN | TCPW_ACK)) == (TCPW_SYN | TCPW_ACK)) s->synack_sent[e->side] = true;
    if (!handshake && ((s->snd_known[e->side] && seq_lt(e->seq, s->snd_max[e->side])) || noted)) {
        st->retrans = true;
        st->orig = find_original(c, i);
    }
    uint32_t end = e->seq + space;
    if (!s->snd_known[e->side] || seq_gt(end, s->snd_max[e->side])) {
        s->snd_max[e->side] = end;
        s->snd_known[e->side] = true;
    }
}

static void analyse_segment(view_ctx *c, scan *s, size_t i) {
    const tcpw_rec_event *e = &c->r->ev[i];
    if (opens_new_conn(c, s, e) && c->nconns < c->nconns_cap) start_conn(c, s);
    c->step[i].conn = s->conn;
    track_retransmission(c, s, i);
    c->step[i].role = classify(c, &c->conns[s->conn], i);
    if (e->flags & (TCPW_FIN | TCPW_RST)) s->ended = true;
}

static int valid_state(tcpw_state st) {
    return (unsigned)st < TCPW_STATE_COUNT ? (int)st : VIEW_STATE_UNKNOWN;
}

static void analyse_event(view_ctx *c, scan *s, size_t i) {
    const tcpw_rec_event *e = &c->r->ev[i];
    view_step *st = &c->step[i];
    st->orig = VIEW_NONE;
    st->since = UINT64_MAX;
    st->conn = s->conn;
    if (view_event_ok(c, i)) {
        switch (e->kind) {
        case TCPW_REC_STATE:
            st->since = s->entered[e->side];
            s->st[e->side] = valid_state(e->to);
            s->entered[e->side] = e->t_us;
            break;
        case TCPW_REC_SEG: analyse_segment(c, s, i); break;
        case TCPW_REC_NOTE: {
            char buf[sizeof e->what + 1];
            view_what(e, buf, sizeof buf);
            if (view_note_is_retransmit(buf)) s->rtx_note_t[e->side] = e->t_us;
            if (view_note_is_injection(buf)) s->inj_note_t[e->side] = e->t_us;
            break;
        }
        case TCPW_REC_APP: break;
        }
    }
    st->st[0] = s->st[0];
    st->st[1] = s->st[1];
}

static void initial_states(view_ctx *c) {
    c->init_st[0] = c->init_st[1] = VIEW_STATE_UNKNOWN;
    bool seen[2] = {false, false};
    for (size_t i = 0; i < c->r->count; i++) {
        const tcpw_rec_event *e = &c->r->ev[i];
        if (e->kind != TCPW_REC_STATE || !view_event_ok(c, i) || seen[e->side]) continue;
        seen[e->side] = true;
        c->init_st[e->side] = valid_state(e->from);
    }
}

static size_t count_syns(const tcpw_recording *r) {
    size_t n = 0;
    for (size_t i = 0; i < r->count; i++)
        if (r->ev[i].kind == TCPW_REC_SEG && (r->ev[i].flags & TCPW_SYN)) n++;
    return n;
}

static void resolve_opts(view_ctx *c, const tcpw_view_opts *o) {
    if (o)
        c->o = *o;
    else
        tcpw_view_opts_default(&c->o);
    if (!c->o.lang) c->o.lang = "en";
    if (!c->o.title) c->o.title = "";
    c->zh = strncmp(c->o.lang, "zh", 2) == 0;
}

int view_ctx_init(view_ctx *c, const tcpw_recording *r, const tcpw_view_opts *o) {
    memset(c, 0, sizeof *c);
    c->r = r;
    resolve_opts(c, o);
    for (int i = 0; i < 2; i++)
        c->name[i] = r->names[i] && r->names[i][0] ? r->names[i] : i == 0 ? "client" : "server";
    c->nconns_cap = count_syns(r) + 1;
    c->step = calloc(r->count ? r->count : 1, sizeof *c->step);
    c->conns = calloc(c->nconns_cap, sizeof *c->conns);
    if (!c->step || !c->conns) {
        view_ctx_free(c);
        return -1;
    }
    initial_states(c);
    base_latencies(c);
    scan s = {.st = {c->init_st[0], c->init_st[1]},
              .entered = {UINT64_MAX, UINT64_MAX},
              .rtx_note_t = {UINT64_MAX, UINT64_MAX},
              .inj_note_t = {UINT64_MAX, UINT64_MAX}};
    start_conn(c, &s);
    for (size_t i = 0; i < r->count; i++)
        analyse_event(c, &s, i);
    return 0;
}

void view_ctx_free(view_ctx *c) {
    free(c->step);
    free(c->conns);
    c->step = NULL;
    c->conns = NULL;
}

/* ---- text helpers --------------------------------------------------------------------------- */

const char *view_flags_long(uint8_t flags, const char *sep, char *buf, size_t cap) {
    static const char *const names[8] = {"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"};
    size_t n = 0;
    if (cap == 0) return buf;
    buf[0] = '\0';
    for (int b = 0; b < 8; b++) {
        if (!(flags & (1u << b))) continue;
        int w = snprintf(buf + n, cap - n, "%s%s", n ? sep : "", names[b]);
        if (w < 0 || (size_t)w >= cap - n) break;
        n += (size_t)w;
    }
    if (n == 0) snprintf(buf, cap, "none");
    return buf;
}

const char *view_time(uint64_t us, char *buf, size_t cap) {
    snprintf(buf, cap, "%llu.%06llu", (unsigned long long)(us / 1000000),
             (unsigned long long)(us % 1000000));
    return buf;
}

/* "1.500" -> "1.5", "60.000" -> "60". */
static void trim_decimals(char *s) {
    char *dot = strchr(s, '.');
    if (!dot) return;
    char *end = s + strlen(s);
    while (end > dot + 1 && end[-1] == '0')
        *--end = '\0';
    if (end == dot + 1) *dot = '\0';
}

const char *view_duration(uint64_t us, char *buf, size_t cap) {
    char num[32];
    const char *unit;
    if (us >= 1000000) {
        snprintf(num, sizeof num, "%llu.%03llu", (unsigned long long)(us / 1000000),
                 (unsigned long long)(us % 1000000 / 1000));
        unit = "s";
    } else if (us >= 1000) {
        snprintf(num, sizeof num, "%llu.%01llu", (unsigned long long)(us / 1000),
                 (unsigned long long)(us % 1000 / 100));
        unit = "ms";
    } else {
        snprintf(num, sizeof num, "%llu", (unsigned long long)us);
        unit = "µs";
    }
    trim_decimals(num);
    snprintf(buf, cap, "%s %s", num, unit);
    return buf;
}

const char *view_state_name(int st) {
    return st == VIEW_STATE_UNKNOWN ? "-" : tcpw_state_name((tcpw_state)st);
}

const char *view_who(const view_ctx *c, int side) {
    const char *n = c->name[side & 1];
    if (c->zh) {
        if (strcmp(n, "client") == 0) return "客户端";
        if (strcmp(n, "server") == 0) return "服务端";
        return n;
    }
    if (strcmp(n, "client") == 0) return "the client";
    if (strcmp(n, "server") == 0) return "the server";
    return n;
}

const char *view_app_text(const tcpw_rec_event *e, char *buf, size_t cap) {
    switch (e->app) {
    case TCPW_APP_DATA:
        snprintf(buf, cap, "app: read %llu bytes", (unsigned long long)e->bytes);
        break;
    case TCPW_APP_EOF: snprintf(buf, cap, "app: EOF (read returns 0)"); break;
    case TCPW_APP_RESET: snprintf(buf, cap, "app: connection reset"); break;
    case TCPW_APP_CLOSED: snprintf(buf, cap, "app: closed"); break;
    case TCPW_APP_REFUSED: snprintf(buf, cap, "app: connection refused"); break;
    case TCPW_APP_TIMEOUT: snprintf(buf, cap, "app: connection timed out"); break;
    case TCPW_APP_CONNECTED: snprintf(buf, cap, "app: connected"); break;
    default: snprintf(buf, cap, "app: ?"); break;
    }
    return buf;
}

const char *view_what(const tcpw_rec_event *e, char *buf, size_t cap) {
    const char *nul = memchr(e->what, '\0', sizeof e->what);
    size_t n = nul ? (size_t)(nul - e->what) : sizeof e->what;
    if (cap == 0) return "";
    if (n >= cap) n = cap - 1;
    memcpy(buf, e->what, n);
    buf[n] = '\0';
    return buf;
}

/* Decodes one UTF-8 character; returns its length, 0 when s does not start with a valid one. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (len == 0 || s[0] > 0xF4 || len > n) return 0;
    uint32_t v = s[0] & (0x7Fu >> len);
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[k] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

static int cp_width(uint32_t cp) {
    if (cp >= 0x300 && cp <= 0x36F) return 0;
    if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) ||
        (cp >= 0x3041 && cp <= 0x33FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
        (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
        (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
        (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD))
        return 2;
    return 1;
}

/* One character of s[0..n): its byte length (1 for an invalid byte), code point and width. */
static size_t next_char(const char *s, size_t n, uint32_t *cp, int *width) {
    size_t len = utf8_decode((const unsigned char *)s, n, cp);
    if (len == 0) {
        *cp = 0xFFFD;
        *width = 1;
        return 1;
    }
    *width = cp_width(*cp);
    return len;
}

size_t view_utf8_width(const char *s, size_t n) {
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int cw;
        i += next_char(s + i, n - i, &cp, &cw);
        w += (size_t)cw;
    }
    return w;
}

size_t view_utf8_valid(const char *s, size_t n, bool *bad) {
    size_t i = 0;
    uint32_t cp;
    while (i < n) {
        size_t len = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (len == 0) break;
        i += len;
    }
    *bad = i < n;
    return i;
}

void view_put_escaped(FILE *out, const char *s, void (*put_byte)(FILE *out, unsigned char ch),
                      const char *replacement) {
    size_t n = strlen(s);
    while (n > 0) {
        bool bad;
        size_t ok = view_utf8_valid(s, n, &bad);
        for (size_t k = 0; k < ok; k++)
            put_byte(out, (unsigned char)s[k]);
        if (!bad) break;
        fputs(replacement, out);
        s += ok + 1;
        n -= ok + 1;
    }
}

/* Full-width punctuation that must not start a line, and that must not end one. */
static bool no_line_start(uint32_t cp) {
    return cp == 0xFF0C || cp == 0x3002 || cp == 0xFF09 || cp == 0xFF1A || cp == 0xFF1B ||
           cp == 0x3001 || cp == 0x201D || cp == 0x2014;
}

static bool no_line_end(uint32_t cp) {
    return cp == 0xFF08 || cp == 0x201C;
}

/* May a line break before s[i] (code point cp, after prev)? Between words, except inside "RFC
 * 9293" and before "§"; and around wide (CJK) characters, except before closing and after
 * opening punctuation. */
static bool break_before(const char *s, size_t i, uint32_t prev, uint32_t cp) {
    if (cp == ' ')
        return !(i >= 3 && memcmp(s + i - 3, "RFC", 3) == 0) &&
               strncmp(s + i + 1, "\xC2\xA7", 2) != 0;
    if (prev == ' ' || no_line_start(cp) || no_line_end(prev)) return false;
    return cp_width(cp) == 2 || cp_width(prev) == 2;
}

size_t view_wrap(const char *s, size_t width, const char **next) {
    size_t n = strlen(s), used = 0, brk = 0, i = 0;
    const char *resume = s + n;
    uint32_t prev = 0;
    while (i < n) {
        uint32_t cp;
        int cw;
        size_t len = next_char(s + i, n - i, &cp, &cw);
        if (i > 0 && break_before(s, i, prev, cp)) {
            brk = i;
            resume = s + i;
        }
        if (used + (size_t)cw > width && i > 0) {
            if (brk == 0) { /* no place to break: cut the word */
                brk = i;
                resume = s + i;
            }
            while (*resume == ' ')
                resume++;
            *next = resume;
            return brk;
        }
        used += (size_t)cw;
        i += len;
        prev = cp;
    }
    *next = s + n;
    return n;
}
