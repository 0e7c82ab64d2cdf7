/* test_view.c — unit tests of the recording (relative numbers, growth) and of the view: every
 * format rendered into memory from recordings built by hand (a four-way close with the seeds'
 * numbers, a lost last ACK, a simultaneous close, broken recordings), checked with a tiny JSON
 * parser and a tiny XML well-formedness checker.
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#endif
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "view/recording.h"
#include "view/view.h"

/* ---- building recordings -------------------------------------------------------------------- */

#define LAT 10000 /* one-way latency, µs */

static uint8_t flag_bits(const char *letters) {
    uint8_t f = 0;
    for (const char *p = letters; *p; p++) {
        switch (*p) {
        case 'S': f |= TCPW_SYN; break;
        case 'F': f |= TCPW_FIN; break;
        case 'R': f |= TCPW_RST; break;
        case 'P': f |= TCPW_PSH; break;
        case 'A': f |= TCPW_ACK; break;
        case 'U': f |= TCPW_URG; break;
        default: break;
        }
    }
    return f;
}

static tcpw_rec_event *seg_fate(tcpw_recording *r, uint64_t t, int from, const char *flags,
                                uint32_t seq, uint32_t ack, uint32_t len, tcpw_seg_fate fate) {
    tcpw_rec_event e;
    memset(&e, 0, sizeof e);
    e.kind = TCPW_REC_SEG;
    e.t_us = t;
    e.side = from;
    e.peer = 1 - from;
    e.arrive_us = fate == TCPW_FATE_DROPPED ? 0 : t + LAT;
    e.fate = fate;
    e.flags = flag_bits(flags);
    e.seq = seq;
    e.ack = ack;
    e.len = len;
    e.win = 65535;
    return tcpw_rec_add(r, &e);
}

static tcpw_rec_event *seg(tcpw_recording *r, uint64_t t, int from, const char *flags, uint32_t seq,
                           uint32_t ack, uint32_t len) {
    return seg_fate(r, t, from, flags, seq, ack, len, TCPW_FATE_DELIVERED);
}

static void by_user(tcpw_recording *r, uint64_t t, int side, tcpw_state from, tcpw_state to,
                    const char *what) {
    tcpw_rec_event e;
    memset(&e, 0, sizeof e);
    e.kind = TCPW_REC_STATE;
    e.t_us = t;
    e.side = side;
    e.peer = 1 - side;
    e.from = from;
    e.to = to;
    e.cause = TCPW_CAUSE_USER;
    snprintf(e.what, sizeof e.what, "%s", what);
    tcpw_rec_add(r, &e);
}

static void by_timer(tcpw_recording *r, uint64_t t, int side, tcpw_state from, tcpw_state to,
                     const char *what) {
    by_user(r, t, side, from, to, what);
    r->ev[r->count - 1].cause = TCPW_CAUSE_TIMER;
}

static void by_seg(tcpw_recording *r, uint64_t t, int side, tcpw_state from, tcpw_state to,
                   const char *flags, uint32_t seq, uint32_t ack) {
    by_user(r, t, side, from, to, "");
    tcpw_rec_event *e = &r->ev[r->count - 1];
    e->cause = TCPW_CAUSE_SEGMENT;
    e->cause_seg.flags = flag_bits(flags);
    e->cause_seg.seq = seq;
    e->cause_seg.ack = ack;
}

static void app(tcpw_recording *r, uint64_t t, int side, tcpw_app_what what, uint64_t bytes) {
    tcpw_rec_event e;
    memset(&e, 0, sizeof e);
    e.kind = TCPW_REC_APP;
    e.t_us = t;
    e.side = side;
    e.app = what;
    e.bytes = bytes;
    tcpw_rec_add(r, &e);
}

static void note(tcpw_recording *r, uint64_t t, int side, const char *text) {
    tcpw_rec_event e;
    memset(&e, 0, sizeof e);
    e.kind = TCPW_REC_NOTE;
    e.t_us = t;
    e.side = side;
    snprintf(e.what, sizeof e.what, "%s", text);
    tcpw_rec_add(r, &e);
}

enum { C = 0, S = 1 };
#define CISN 1000u
#define SISN 5000u

/* Handshake and 100 bytes of data: client ISN 1000, server ISN 5000. Ends at t=40 ms. */
static void build_open(tcpw_recording *r) {
    tcpw_rec_init(r, "client", "server");
    r->ep[C].addr = (tcpw_addr){4, {10, 0, 0, 1}};
    r->ep[C].port = 40000;
    r->ep[S].addr = (tcpw_addr){4, {10, 0, 0, 2}};
    r->ep[S].port = 80;
    by_user(r, 0, S, TCPW_CLOSED, TCPW_LISTEN, "listen()");
    by_user(r, 0, C, TCPW_CLOSED, TCPW_SYN_SENT, "connect()");
    seg(r, 0, C, "S", CISN, 0, 0);
    by_seg(r, 10000, S, TCPW_LISTEN, TCPW_SYN_RCVD, "S", CISN, 0);
    seg(r, 10000, S, "SA", SISN, CISN + 1, 0);
    by_seg(r, 20000, C, TCPW_SYN_SENT, TCPW_ESTABLISHED, "SA", SISN, CISN + 1);
    seg(r, 20000, C, "A", CISN + 1, SISN + 1, 0);
    app(r, 20000, C, TCPW_APP_CONNECTED, 0);
    seg(r, 20000, C, "PA", CISN + 1, SISN + 1, 100);
    by_seg(r, 30000, S, TCPW_SYN_RCVD, TCPW_ESTABLISHED, "A", CISN + 1, SISN + 1);
    app(r, 30000, S, TCPW_APP_CONNECTED, 0);
    app(r, 30000, S, TCPW_APP_DATA, 100);
    seg(r, 30000, S, "A", SISN + 1, CISN + 101, 0);
}

/* The seeds' four-way close: FIN seq=u, ACK ack=u+1, FIN+ACK seq=w ack=u+1, ACK ack=w+1,
 * with u = 1101 (relative 101) and w = 5001 (relative 1); then 2MSL = 60 s. */
static void build_four_way(tcpw_recording *r) {
    build_open(r);
    by_user(r, 50000, C, TCPW_ESTABLISHED, TCPW_FIN_WAIT_1, "close()");
    seg(r, 50000, C, "FA", CISN + 101, SISN + 1, 0);
    by_seg(r, 60000, S, TCPW_ESTABLISHED, TCPW_CLOSE_WAIT, "FA", CISN + 101, SISN + 1);
    seg(r, 60000, S, "A", SISN + 1, CISN + 102, 0);
    app(r, 60000, S, TCPW_APP_EOF, 0);
    by_seg(r, 70000, C, TCPW_FIN_WAIT_1, TCPW_FIN_WAIT_2, "A", SISN + 1, CISN + 102);
    by_user(r, 80000, S, TCPW_CLOSE_WAIT, TCPW_LAST_ACK, "close()");
    seg(r, 80000, S, "FA", SISN + 1, CISN + 102, 0);
    by_seg(r, 90000, C, TCPW_FIN_WAIT_2, TCPW_TIME_WAIT, "FA", SISN + 1, CISN + 102);
    seg(r, 90000, C, "A", CISN + 102, SISN + 2, 0);
    app(r, 90000, C, TCPW_APP_EOF, 0);
    by_seg(r, 100000, S, TCPW_LAST_ACK, TCPW_CLOSED, "A", CISN + 102, SISN + 2);
    by_timer(r, 60090000, C, TCPW_TIME_WAIT, TCPW_CLOSED, "2msl");
}

/* The last ACK is lost: the server retransmits its FIN after 1 s (LAST_ACK retransmission),
 * the client answers again from TIME_WAIT. */
static void build_lost_last_ack(tcpw_recording *r) {
    build_open(r);
    by_user(r, 50000, C, TCPW_ESTABLISHED, TCPW_FIN_WAIT_1, "close()");
    seg(r, 50000, C, "FA", CISN + 101, SISN + 1, 0);
    by_seg(r, 60000, S, TCPW_ESTABLISHED, TCPW_CLOSE_WAIT, "FA", CISN + 101, SISN + 1);
    seg(r, 60000, S, "A", SISN + 1, CISN + 102, 0);
    by_seg(r, 70000, C, TCPW_FIN_WAIT_1, TCPW_FIN_WAIT_2, "A", SISN + 1, CISN + 102);
    by_user(r, 80000, S, TCPW_CLOSE_WAIT, TCPW_LAST_ACK, "close()");
    seg(r, 80000, S, "FA", SISN + 1, CISN + 102, 0);
    by_seg(r, 90000, C, TCPW_FIN_WAIT_2, TCPW_TIME_WAIT, "FA", SISN + 1, CISN + 102);
    seg_fate(r, 90000, C, "A", CISN + 102, SISN + 2, 0, TCPW_FATE_DROPPED);
    note(r, 1080000, S, "retransmission timeout: retransmit");
    seg(r, 1080000, S, "FA", SISN + 1, CISN + 102, 0);
    seg(r, 1090000, C, "A", CISN + 102, SISN + 2, 0);
    by_seg(r, 1100000, S, TCPW_LAST_ACK, TCPW_CLOSED, "A", CISN + 102, SISN + 2);
    by_timer(r, 61090000, C, TCPW_TIME_WAIT, TCPW_CLOSED, "2msl");
}

/* Both close at once: the FINs cross, both go through CLOSING to TIME_WAIT. */
static void build_simultaneous_close(tcpw_recording *r) {
    build_open(r);
    by_user(r, 50000, C, TCPW_ESTABLISHED, TCPW_FIN_WAIT_1, "close()");
    seg(r, 50000, C, "FA", CISN + 101, SISN + 1, 0);
    by_user(r, 52000, S, TCPW_ESTABLISHED, TCPW_FIN_WAIT_1, "close()");
    seg(r, 52000, S, "FA", SISN + 1, CISN + 101, 0);
    by_seg(r, 60000, S, TCPW_FIN_WAIT_1, TCPW_CLOSING, "FA", CISN + 101, SISN + 1);
    seg(r, 60000, S, "A", SISN + 2, CISN + 102, 0);
    by_seg(r, 62000, C, TCPW_FIN_WAIT_1, TCPW_CLOSING, "FA", SISN + 1, CISN + 101);
    seg(r, 62000, C, "A", CISN + 102, SISN + 2, 0);
    by_seg(r, 70000, C, TCPW_CLOSING, TCPW_TIME_WAIT, "A", SISN + 2, CISN + 102);
    by_seg(r, 72000, S, TCPW_CLOSING, TCPW_TIME_WAIT, "A", CISN + 102, SISN + 2);
}

static size_t count_kind(const tcpw_recording *r, tcpw_rec_kind k) {
    size_t n = 0;
    for (size_t i = 0; i < r->count; i++)
        n += r->ev[i].kind == k;
    return n;
}

/* ---- rendering into memory ------------------------------------------------------------------ */

static char *render_opts(const tcpw_recording *r, const tcpw_view_opts *o) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    int rc = tcpw_view_render(f, r, o);
    fclose(f);
    if (rc != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static char *render(const tcpw_recording *r, tcpw_format fmt, bool explain, const char *lang) {
    tcpw_view_opts o;
    tcpw_view_opts_default(&o);
    o.format = fmt;
    o.explain = explain;
    o.lang = lang;
    return render_opts(r, &o);
}

static size_t count_str(const char *hay, const char *needle) {
    size_t n = 0, len = strlen(needle);
    for (const char *p = hay; (p = strstr(p, needle)); p += len)
        n++;
    return n;
}

static size_t count_lines(const char *s) {
    return count_str(s, "\n");
}

/* The line (without '\n') starting at s, copied into buf. */
static const char *line_at(const char *s, char *buf, size_t cap) {
    size_t n = strcspn(s, "\n");
    if (n >= cap) n = cap - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

/* Terminal columns of a UTF-8 line (CJK counted as 2). */
static size_t columns(const char *s, size_t n) {
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        unsigned char ch = (unsigned char)s[i];
        size_t len = ch < 0x80 ? 1 : ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : 2;
        w += len == 3 && ch >= 0xE3 ? 2 : 1; /* U+3000 and up: CJK and full-width forms */
        i += len;
    }
    return w;
}

static size_t widest_line(const char *s) {
    size_t best = 0;
    while (*s) {
        size_t n = strcspn(s, "\n");
        size_t w = columns(s, n);
        if (w > best) best = w;
        s += n + (s[n] == '\n');
    }
    return best;
}

/* ---- a tiny JSON parser (syntax only) ------------------------------------------------------- */

static const char *json_value(const char *p, int depth);

static const char *json_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return p;
}

static const char *json_string(const char *p) {
    if (*p++ != '"') return NULL;
    while (*p && *p != '"') {
        if ((unsigned char)*p < 0x20) return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int k = 1; k <= 4; k++)
                    if (!strchr("0123456789abcdefABCDEF", p[k]) || !p[k]) return NULL;
                p += 4;
            } else if (!*p || !strchr("\"\\/bfnrt", *p)) {
                return NULL;
            }
        }
        p++;
    }
    return *p == '"' ? p + 1 : NULL;
}

static const char *json_number(const char *p) {
    const char *start = p;
    if (*p == '-') p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9')) return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return p > start ? p : NULL;
}

static const char *json_members(const char *p, int depth, char close, bool keyed) {
    p = json_ws(p);
    if (*p == close) return p + 1;
    for (;;) {
        if (keyed) {
            p = json_string(json_ws(p));
            if (!p) return NULL;
            p = json_ws(p);
            if (*p++ != ':') return NULL;
        }
        p = json_value(p, depth + 1);
        if (!p) return NULL;
        p = json_ws(p);
        if (*p == close) return p + 1;
        if (*p++ != ',') return NULL;
    }
}

static const char *json_value(const char *p, int depth) {
    p = json_ws(p);
    if (depth > 32) return NULL;
    if (*p == '{') return json_members(p + 1, depth, '}', true);
    if (*p == '[') return json_members(p + 1, depth, ']', false);
    if (*p == '"') return json_string(p);
    if (strncmp(p, "true", 4) == 0) return p + 4;
    if (strncmp(p, "false", 5) == 0) return p + 5;
    if (strncmp(p, "null", 4) == 0) return p + 4;
    return json_number(p);
}

/* A whole line is one JSON object. */
static bool json_line_ok(const char *line) {
    if (line[0] != '{') return false;
    const char *end = json_value(line, 0);
    return end && *json_ws(end) == '\0';
}

/* The raw text of key's value in a flat JSON object line ("\"FA\"", "1101"), or "". */
static const char *json_get(const char *line, const char *key, char *buf, size_t cap) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    buf[0] = '\0';
    if (!p) return buf;
    p += strlen(pat);
    const char *end = *p == '"' ? json_string(p) : json_number(p);
    if (!end && strncmp(p, "true", 4) == 0) end = p + 4;
    if (!end) return buf;
    size_t n = (size_t)(end - p) < cap ? (size_t)(end - p) : cap - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

/* ---- a tiny XML well-formedness checker ----------------------------------------------------- */

static bool xml_name_char(char ch, bool first) {
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == ':') return true;
    return !first && ((ch >= '0' && ch <= '9') || ch == '-' || ch == '.');
}

static const char *xml_name(const char *p, char *buf, size_t cap) {
    size_t n = 0;
    if (!xml_name_char(*p, true)) return NULL;
    while (xml_name_char(*p, n == 0)) {
        if (n + 1 < cap) buf[n++] = *p;
        p++;
    }
    buf[n] = '\0';
    return p;
}

/* "&amp;", "&#10;", ...: returns the character after the reference, NULL if invalid. */
static const char *xml_reference(const char *p) {
    static const char *const named[] = {"amp;", "lt;", "gt;", "quot;", "apos;"};
    p++;
    for (size_t k = 0; k < 5; k++)
        if (strncmp(p, named[k], strlen(named[k])) == 0) return p + strlen(named[k]);
    if (*p != '#') return NULL;
    p++;
    bool hex = *p == 'x';
    if (hex) p++;
    const char *digits = p;
    while ((*p >= '0' && *p <= '9') || (hex && strchr("abcdefABCDEF", *p) && *p))
        p++;
    return p > digits && *p == ';' ? p + 1 : NULL;
}

static const char *xml_text(const char *p, char stop) {
    while (*p && *p != stop && *p != '<') {
        if (*p == '&') {
            p = xml_reference(p);
            if (!p) return NULL;
        } else {
            p++;
        }
    }
    return p;
}

static const char *xml_ws(const char *p) {
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

/* Attributes up to '>' or "/>"; sets *empty for "/>". */
static const char *xml_attributes(const char *p, bool *empty) {
    char name[64];
    for (;;) {
        const char *q = xml_ws(p);
        if (*q == '>') return q + 1;
        if (q[0] == '/' && q[1] == '>') {
            *empty = true;
            return q + 2;
        }
        if (q == p) return NULL; /* attributes must be separated by white space */
        q = xml_name(q, name, sizeof name);
        if (!q || *q++ != '=') return NULL;
        char quote = *q++;
        if (quote != '"' && quote != '\'') return NULL;
        q = xml_text(q, quote);
        if (!q || *q != quote) return NULL;
        p = q + 1;
    }
}

static bool xml_well_formed(const char *doc) {
    char stack[64][64], name[64];
    int depth = 0, roots = 0;
    const char *p = doc;
    if (strncmp(p, "<?xml", 5) == 0) {
        p = strstr(p, "?>");
        if (!p) return false;
        p += 2;
    }
    while (*p) {
        p = xml_text(p, '\0');
        if (!p) return false;
        if (!*p) break;
        if (depth == 0 && roots && *xml_ws(p)) return false; /* content after the root */
        if (strncmp(p, "<!--", 4) == 0) {
            p = strstr(p + 4, "-->");
            if (!p) return false;
            p += 3;
        } else if (p[1] == '/') {
            p = xml_name(p + 2, name, sizeof name);
            if (!p || depth == 0 || strcmp(stack[depth - 1], name) != 0) return false;
            p = xml_ws(p);
            if (*p++ != '>') return false;
            depth--;
        } else {
            bool empty = false;
            p = xml_name(p + 1, name, sizeof name);
            if (!p) return false;
            p = xml_attributes(p, &empty);
            if (!p) return false;
            if (depth == 0) roots++;
            if (!empty) {
                if (depth == 64) return false;
                snprintf(stack[depth++], sizeof stack[0], "%s", name);
            }
        }
        if (depth == 0 && roots && *xml_ws(p) == '\0') return roots == 1;
    }
    return depth == 0 && roots == 1;
}

/* ---- the recording ------------------------------------------------------------------------- */

static void test_relative_numbers(void) {
    tcpw_recording r;
    build_four_way(&r);
    const tcpw_rec_event *ev = r.ev;
    /* SYN: rel_seq 0; SYN+ACK: 0 / ack 1; the client's first data byte: 1 (as Wireshark) */
    CHECK(r.isn_known[C] && r.isn[C] == CISN);
    CHECK(r.isn_known[S] && r.isn[S] == SISN);
    for (size_t i = 0; i < r.count; i++) {
        const tcpw_rec_event *e = &ev[i];
        if (e->kind != TCPW_REC_SEG) continue;
        CHECK(e->rel_seq_known);
        CHECK(e->rel_seq == e->seq - (e->side == C ? CISN : SISN));
        if (e->flags & TCPW_ACK)
            CHECK(e->rel_ack == e->ack - (e->side == C ? SISN : CISN));
        else
            CHECK(e->rel_ack == 0 && !e->rel_ack_known);
    }
    const tcpw_rec_event *syn = &ev[2], *synack = &ev[4], *data = &ev[8];
    CHECK(syn->kind == TCPW_REC_SEG && syn->rel_seq == 0 && syn->rel_ack == 0);
    CHECK(synack->rel_seq == 0 && synack->rel_ack == 1);
    CHECK(data->len == 100 && data->rel_seq == 1 && data->rel_ack == 1);
    /* the first FIN: seq=u=101 ack=1 */
    const tcpw_rec_event *fin = NULL;
    for (size_t i = 0; i < r.count && !fin; i++)
        if (ev[i].kind == TCPW_REC_SEG && (ev[i].flags & TCPW_FIN)) fin = &ev[i];
    REQUIRE(fin);
    CHECK_EQ_U(fin->rel_seq, 101);
    CHECK_EQ_U(fin->rel_ack, 1);
    tcpw_rec_free(&r);
}

static void test_unknown_isn(void) {
    tcpw_recording r;
    tcpw_rec_init(&r, "client", "server");
    /* a capture that starts mid-connection: no SYN seen */
    tcpw_rec_event *e = seg(&r, 0, C, "PA", 3000000000u, 7, 10);
    REQUIRE(e);
    CHECK(!e->rel_seq_known && !e->rel_ack_known);
    CHECK(e->rel_seq == 0 && e->rel_ack == 0);
    /* the server's SYN+ACK tells its ISN; the client's is still unknown */
    e = seg(&r, 1, S, "SA", 100, 3000000001u, 0);
    CHECK(e->rel_seq_known && e->rel_seq == 0 && !e->rel_ack_known && e->rel_ack == 0);
    e = seg(&r, 2, C, "A", 3000000001u, 101, 0);
    CHECK(!e->rel_seq_known && e->rel_ack_known && e->rel_ack == 1);
    /* an ISN set by the driver is kept by the first SYN */
    tcpw_recording r2;
    tcpw_rec_init(&r2, NULL, NULL);
    CHECK_STR(r2.names[0], "client");
    r2.isn[C] = 500;
    r2.isn_known[C] = true;
    e = seg(&r2, 0, C, "S", 400, 0, 0);
    CHECK(e->rel_seq == (uint32_t)(400 - 500));
    CHECK(tcpw_rec_add(NULL, e) == NULL && tcpw_rec_add(&r2, NULL) == NULL);
    tcpw_rec_free(&r);
    tcpw_rec_free(&r2);
}

static void test_new_connection_relearns_isn(void) {
    tcpw_recording r;
    build_four_way(&r);
    /* RFC 6191 reopen: a new SYN on the same 4-tuple after the close */
    tcpw_rec_event *e = seg(&r, 70000000, C, "S", 900000, 0, 0);
    CHECK(e->rel_seq == 0);
    e = seg(&r, 70010000, S, "SA", 77, 900001, 0);
    CHECK(e->rel_seq == 0 && e->rel_ack == 1);
    CHECK_EQ_U(r.isn[C], 900000);
    CHECK_EQ_U(r.isn[S], 77);
    /* a retransmitted SYN is not a new connection */
    e = seg(&r, 71000000, C, "S", 900000, 0, 0);
    CHECK(e->rel_seq == 0 && r.isn[S] == 77);
    tcpw_rec_free(&r);
}

/* A new SYN that meets the old connection still open at the peer (LAST_ACK, its FIN not yet
 * acknowledged): the peer's challenge ACK is in the old numbers (RFC 5961 §4.2), and so is the
 * RST that answers it (RFC 9293 §3.10.7.3) — relative to the old ISNs until the new connection's
 * SYN+ACK; after it, the new ones. */
static void test_old_numbers_until_the_new_answer(void) {
    tcpw_recording r;
    build_lost_last_ack(&r);
    tcpw_rec_event *e = seg(&r, 70000000, C, "S", 900000, 0, 0);
    CHECK(e->rel_seq_known && e->rel_seq == 0);
    e = seg(&r, 70010000, S, "A", SISN + 2, CISN + 102, 0); /* the challenge ACK */
    CHECK(e->rel_seq_known && e->rel_seq == 2);
    CHECK(e->rel_ack_known && e->rel_ack == 102);
    e = seg(&r, 70020000, C, "R", CISN + 102, 0, 0); /* the RST answering it */
    CHECK(e->rel_seq_known && e->rel_seq == 102);
    e = seg(&r, 71000000, C, "S", 900000, 0, 0); /* the SYN again */
    CHECK(e->rel_seq == 0);
    e = seg(&r, 71010000, S, "SA", 77, 900001, 0);
    CHECK(e->rel_seq == 0 && e->rel_ack == 1);
    e = seg(&r, 71020000, C, "A", 900001, 78, 0);
    CHECK(e->rel_seq == 1 && e->rel_ack == 1);
    tcpw_rec_free(&r);
}

static void test_growth_and_names(void) {
    tcpw_recording r;
    tcpw_rec_init(&r, "a", "b");
    for (uint32_t i = 0; i < 5000; i++)
        REQUIRE(seg(&r, i, (int)(i & 1), "A", i, i, 0));
    CHECK_EQ_U(r.count, 5000);
    CHECK(r.cap >= r.count);
    for (uint32_t i = 0; i < 5000; i++)
        CHECK(r.ev[i].seq == i && r.ev[i].t_us == i);
    tcpw_rec_free(&r);
    CHECK(r.ev == NULL && r.count == 0);
    tcpw_rec_free(&r); /* twice is harmless */
    CHECK_STR(tcpw_app_what_name(TCPW_APP_EOF), "eof");
    CHECK_STR(tcpw_app_what_name(TCPW_APP_CONNECTED), "connected");
    CHECK_STR(tcpw_seg_fate_name(TCPW_FATE_DROPPED), "dropped");
    CHECK_STR(tcpw_seg_fate_name((tcpw_seg_fate)42), "?");
}

static void test_format_parse(void) {
    tcpw_format f = TCPW_FMT_TEXT;
    CHECK(tcpw_format_parse("svg", &f) == 0 && f == TCPW_FMT_SVG);
    CHECK(tcpw_format_parse("JSON", &f) == 0 && f == TCPW_FMT_JSON);
    CHECK(tcpw_format_parse("mermaid", &f) == 0 && f == TCPW_FMT_MERMAID);
    CHECK(tcpw_format_parse("text", &f) == 0 && f == TCPW_FMT_TEXT);
    CHECK(tcpw_format_parse("png", &f) == -1 && f == TCPW_FMT_TEXT);
    CHECK(tcpw_format_parse("", &f) == -1);
    CHECK(tcpw_format_parse(NULL, &f) == -1);
    CHECK_STR(tcpw_format_name(TCPW_FMT_MERMAID), "mermaid");
}

/* ---- json ----------------------------------------------------------------------------------- */

static void test_json_four_way(void) {
    tcpw_recording r;
    build_four_way(&r);
    char *out = render(&r, TCPW_FMT_JSON, false, NULL);
    REQUIRE(out);
    CHECK_EQ_U(count_lines(out), r.count);
    char line[1024], val[128];
    size_t segs = 0, states = 0;
    for (const char *p = out; *p; p += strcspn(p, "\n") + 1) {
        line_at(p, line, sizeof line);
        CHECK(json_line_ok(line));
        CHECK(strncmp(line, "{\"t_us\":", 8) == 0);
        segs += strstr(line, "\"ev\":\"seg\"") != NULL;
        states += strstr(line, "\"ev\":\"state\"") != NULL;
        CHECK(strstr(line, "\"explain\"") == NULL && strstr(line, "\"inferred\"") == NULL);
    }
    CHECK_EQ_U(segs, count_kind(&r, TCPW_REC_SEG));
    CHECK_EQ_U(states, count_kind(&r, TCPW_REC_STATE));
    /* the 1st wave, exactly */
    CHECK(strstr(out, "{\"t_us\":50000,\"ev\":\"seg\",\"from\":\"client\",\"to\":\"server\","
                      "\"flags\":\"FA\",\"seq\":1101,\"ack\":5001,\"rel_seq\":101,\"rel_ack\":1,"
                      "\"len\":0,\"win\":65535,\"fate\":\"delivered\",\"arrive_us\":60000}\n"));
    /* the 2nd wave and the SYN (no ACK: rel_ack 0) */
    CHECK(strstr(out, "\"from\":\"server\",\"to\":\"client\",\"flags\":\"A\",\"seq\":5001,"
                      "\"ack\":1102,\"rel_seq\":1,\"rel_ack\":102,"));
    CHECK(strstr(out, "\"flags\":\"S\",\"seq\":1000,\"ack\":0,\"rel_seq\":0,\"rel_ack\":0,"));
    CHECK(strstr(out, "\"flags\":\"PA\",\"seq\":1001,\"ack\":5001,\"rel_seq\":1,\"rel_ack\":1,"
                      "\"len\":100,"));
    /* state changes with each kind of cause */
    CHECK(strstr(out, "{\"t_us\":50000,\"ev\":\"state\",\"who\":\"client\","
                      "\"from\":\"ESTABLISHED\",\"to\":\"FIN_WAIT_1\",\"cause\":\"close()\"}\n"));
    CHECK(strstr(out, "{\"t_us\":60000,\"ev\":\"state\",\"who\":\"server\","
                      "\"from\":\"ESTABLISHED\",\"to\":\"CLOSE_WAIT\","
                      "\"cause\":\"seg:FA seq=1101 ack=5001\"}\n"));
    CHECK(strstr(out, "{\"t_us\":60090000,\"ev\":\"state\",\"who\":\"client\","
                      "\"from\":\"TIME_WAIT\",\"to\":\"CLOSED\",\"cause\":\"timer:2msl\"}\n"));
    CHECK(strstr(out, "{\"t_us\":60000,\"ev\":\"app\",\"who\":\"server\",\"what\":\"eof\","
                      "\"bytes\":0}\n"));
    CHECK(strstr(out, "\"ev\":\"app\",\"who\":\"server\",\"what\":\"data\",\"bytes\":100}"));
    /* keys of a segment line */
    const char *fin = strstr(out, "{\"t_us\":80000,\"ev\":\"seg\"");
    REQUIRE(fin);
    line_at(fin, line, sizeof line);
    CHECK_STR(json_get(line, "flags", val, sizeof val), "\"FA\"");
    CHECK_STR(json_get(line, "rel_seq", val, sizeof val), "1");
    CHECK_STR(json_get(line, "rel_ack", val, sizeof val), "102");
    CHECK_STR(json_get(line, "fate", val, sizeof val), "\"delivered\"");
    free(out);
    tcpw_rec_free(&r);
}

static void test_json_fates_inferred_explain(void) {
    tcpw_recording r;
    build_lost_last_ack(&r);
    r.ev[r.count - 1].inferred = true;
    note(&r, 61090001, C, "quote \" backslash \\ tab \t bell \a done");
    char *out = render(&r, TCPW_FMT_JSON, true, "en");
    REQUIRE(out);
    char line[4096], val[256];
    for (const char *p = out; *p; p += strcspn(p, "\n") + 1) {
        line_at(p, line, sizeof line);
        CHECK(json_line_ok(line));
        if (!strstr(line, "quote")) CHECK(strstr(line, "\"explain\":\"") != NULL);
    }
    CHECK(strstr(out, "\"fate\":\"dropped\"") != NULL);
    const char *drop = strstr(out, "\"fate\":\"dropped\"");
    CHECK(drop && strncmp(drop + 16, ",\"arrive_us\"", 12) != 0);
    CHECK(strstr(out, "\"cause\":\"timer:2msl\",\"inferred\":true,\"explain\":") != NULL);
    CHECK(count_str(out, "\"inferred\":true") == 1);
    CHECK(strstr(out, "\"text\":\"quote \\\" backslash \\\\ tab \\t bell \\u0007 done\"") != NULL);
    const char *fin = strstr(out, "{\"t_us\":50000,\"ev\":\"seg\"");
    REQUIRE(fin);
    json_get(line_at(fin, line, sizeof line), "explain", val, sizeof val);
    CHECK(strstr(val, "1st wave") != NULL);
    free(out);
    tcpw_rec_free(&r);
}

/* ---- text ----------------------------------------------------------------------------------- */

static void test_text_four_way(void) {
    tcpw_recording r;
    build_four_way(&r);
    tcpw_view_opts o;
    tcpw_view_opts_default(&o);
    o.title = "four-way close";
    char *out = render_opts(&r, &o);
    REQUIRE(out);
    CHECK(strncmp(out, "four-way close\n", 15) == 0);
    CHECK(widest_line(out) <= 100);
    CHECK(strchr(out, '\033') == NULL);
    CHECK(strstr(out, "10.0.0.1:40000") && strstr(out, "10.0.0.2:80"));
    /* relative numbers, states on both sides, causes */
    CHECK(strstr(out, "|--[FIN, ACK] seq=101 ack=1 len=0 ---") != NULL);
    CHECK(strstr(out, "----- [ACK] seq=1 ack=102 len=0--| CLOSE_WAIT") != NULL);
    CHECK(strstr(out, " FIN_WAIT_1 | close(): ESTABLISHED -> FIN_WAIT_1") != NULL);
    CHECK(strstr(out, "rcvd [FIN, ACK]: ESTABLISHED -> CLOSE_WAIT |") != NULL);
    CHECK(strstr(out, "2MSL timer: TIME_WAIT -> CLOSED") != NULL);
    CHECK(strstr(out, "  TIME_WAIT |") && strstr(out, "| LAST_ACK"));
    CHECK(strstr(out, "app: EOF") != NULL);
    CHECK(strstr(out, "~ 59.99 s later ~") != NULL);
    CHECK(strstr(out, "60.090000") != NULL);
    /* every event row shows both states: the row of the last ACK */
    CHECK(strstr(out, "  0.090000    TIME_WAIT |--[ACK] seq=102 ack=2 len=0") != NULL);
    free(out);
    /* absolute numbers and colour */
    o.absolute = true;
    o.color = true;
    out = render_opts(&r, &o);
    REQUIRE(out);
    CHECK(strstr(out, "[FIN, ACK] seq=1101 ack=5001 len=0") != NULL);
    CHECK(strstr(out, "\033[") != NULL);
    free(out);
    tcpw_rec_free(&r);
}

static void test_text_fates(void) {
    tcpw_recording r;
    build_lost_last_ack(&r);
    seg_fate(&r, 61100000, S, "A", SISN + 2, CISN + 102, 0, TCPW_FATE_DUPLICATED);
    seg_fate(&r, 61100000, C, "A", CISN + 102, SISN + 2, 0, TCPW_FATE_REORDERED);
    seg_fate(&r, 61200000, S, "R", SISN + 2, 0, 0, TCPW_FATE_DROPPED);
    char *out = render(&r, TCPW_FMT_TEXT, false, NULL);
    REQUIRE(out);
    CHECK(widest_line(out) <= 100);
    CHECK(strstr(out, "|--[ACK] seq=102 ack=2 len=0 ---") != NULL);
    CHECK(strstr(out, "-x  (dropped)") != NULL);  /* client -> server, dropped */
    CHECK(strstr(out, "(dropped)  x--") != NULL); /* server -> client, dropped */
    CHECK(strstr(out, "(retransmission) [FIN, ACK] seq=1 ack=102") != NULL);
    CHECK(strstr(out, "(duplicated)") && strstr(out, "(reordered)"));
    CHECK(strstr(out, "note: retransmission timeout: retransmit") != NULL);
    free(out);
    tcpw_rec_free(&r);
}

/* ---- mermaid -------------------------------------------------------------------------------- */

/* Every '#' and ';' in s belongs to a mermaid entity code: "#59;", "#quot;". */
static bool only_entity_codes(const char *s) {
    for (const char *p = s; *p; p++) {
        if (*p == ';') return false; /* not consumed by an entity below */
        if (*p != '#') continue;
        size_t n = strspn(p + 1, "0123456789");
        if (n == 0 && strncmp(p + 1, "quot", 4) == 0) n = 4;
        if (n == 0 || p[1 + n] != ';') return false;
        p += 1 + n; /* on the ';' */
    }
    return true;
}

static void test_mermaid(void) {
    tcpw_recording r;
    build_lost_last_ack(&r);
    note(&r, 61090001, S, "odd; text # with <tags> & 100%");
    char *out = render(&r, TCPW_FMT_MERMAID, false, NULL);
    REQUIRE(out);
    CHECK(strncmp(out, "sequenceDiagram\n", 16) == 0);
    CHECK(strstr(out, "\n    participant Client\n    participant Server\n") != NULL);
    size_t arrows =
        count_str(out, "\n    Client->>Server: ") + count_str(out, "\n    Server->>Client: ") +
        count_str(out, "\n    Client-xServer: ") + count_str(out, "\n    Server-xClient: ");
    CHECK_EQ_U(arrows, count_kind(&r, TCPW_REC_SEG));
    CHECK(strstr(out, "\n    Client->>Server: FIN, ACK, seq=101, ack=1\n") != NULL);
    CHECK(strstr(out, "\n    Client-xServer: ACK, seq=102, ack=2 (dropped)\n") != NULL);
    CHECK(strstr(out, "\n    Server->>Client: FIN, ACK, seq=1, ack=102 (retransmission)\n"));
    CHECK(strstr(out, "\n    Note over Client: FIN_WAIT_1 (close())\n") != NULL);
    CHECK(strstr(out, "\n    Note over Server: CLOSE_WAIT\n") != NULL);
    CHECK(strstr(out, "\n    Note over Client: CLOSED (2MSL timer)\n") != NULL);
    CHECK(strstr(out, "odd#59; text #35; with #60;tags#62; & 100#37;") != NULL);
    CHECK(only_entity_codes(out)); /* no raw ';' or '#' anywhere */
    free(out);
    /* names that are not identifiers, a title */
    tcpw_recording r2;
    tcpw_rec_init(&r2, "10.0.0.1:5000", "end");
    seg(&r2, 0, C, "S", 1, 0, 0);
    tcpw_view_opts o;
    tcpw_view_opts_default(&o);
    o.format = TCPW_FMT_MERMAID;
    o.title = "a; b # c";
    out = render_opts(&r2, &o);
    REQUIRE(out);
    CHECK(strstr(out, "sequenceDiagram\n    title a  b   c\n") != NULL);
    CHECK(strstr(out, "participant Side0 as 10.0.0.1:5000\n") != NULL);
    CHECK(strstr(out, "participant Side1 as end\n") != NULL);
    CHECK(strstr(out, "Side0->>Side1: SYN, seq=0\n") != NULL);
    free(out);
    tcpw_rec_free(&r2);
    tcpw_rec_free(&r);
}

/* ---- svg ------------------------------------------------------------------------------------ */

static void test_xml_checker(void) {
    CHECK(xml_well_formed("<?xml version=\"1.0\"?>\n<a x=\"1\"><b/>t &amp; u</a>\n"));
    CHECK(!xml_well_formed("<a><b></a></b>"));
    CHECK(!xml_well_formed("<a x=1></a>"));
    CHECK(!xml_well_formed("<a>AT&T</a>"));
    CHECK(!xml_well_formed("<a></a><b></b>"));
    CHECK(!xml_well_formed("<a x=\"<\"></a>"));
    CHECK(json_line_ok("{\"a\":1,\"b\":[true,null,\"x\"]}"));
    CHECK(!json_line_ok("{\"a\":1,}"));
    CHECK(!json_line_ok("{\"a\":\"x\"} trailing"));
    CHECK(only_entity_codes("a #59; b #quot; c") && !only_entity_codes("a; b") &&
          !only_entity_codes("# x"));
}

static void test_svg(void) {
    tcpw_recording r;
    build_lost_last_ack(&r);
    note(&r, 61090001, C, "AT&T <odd> \"quoted\"");
    tcpw_view_opts o;
    tcpw_view_opts_default(&o);
    o.format = TCPW_FMT_SVG;
    o.title = "lost last ACK & 2MSL";
    char *out = render_opts(&r, &o);
    REQUIRE(out);
    CHECK(xml_well_formed(out));
    CHECK(strstr(out, "xmlns=\"http://www.w3.org/2000/svg\"") != NULL);
    CHECK(strstr(out, "fill=\"#ffffff\"") != NULL);
    CHECK(strstr(out, "lost last ACK &amp; 2MSL") != NULL);
    CHECK(strstr(out, "AT&amp;T &lt;odd&gt; &quot;quoted&quot;") != NULL);
    CHECK_EQ_U(count_str(out, "class=\"seg\""), count_kind(&r, TCPW_REC_SEG));
    CHECK(count_str(out, "class=\"state\"") >= count_kind(&r, TCPW_REC_STATE));
    const char *states[] = {"LISTEN",     "SYN_SENT",   "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
                            "FIN_WAIT_2", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT",   "CLOSED"};
    for (size_t k = 0; k < sizeof states / sizeof states[0]; k++) {
        char pat[64];
        snprintf(pat, sizeof pat, ">%s</tspan>", states[k]);
        CHECK(strstr(out, pat) != NULL);
    }
    CHECK(strstr(out, "TIME_WAIT (2MSL) 61 s") != NULL); /* the 2MSL bracket */
    CHECK(strstr(out, "RTO 1 s") != NULL);               /* the retransmission wait */
    CHECK(strstr(out, "≈ 59.99 s") != NULL);             /* a compressed gap */
    CHECK(strstr(out, "stroke-dasharray") != NULL);      /* the dropped ACK */
    /* width and height are sensible */
    int w = 0, h = 0;
    const char *svg = strstr(out, "<svg ");
    REQUIRE(svg);
    CHECK(sscanf(strstr(svg, "width=\""), "width=\"%d\"", &w) == 1 && w >= 600 && w <= 2000);
    CHECK(sscanf(strstr(svg, "height=\""), "height=\"%d\"", &h) == 1 && h >= 200 && h <= 3000);
    free(out);
    tcpw_rec_free(&r);
}

static void test_svg_explain(void) {
    tcpw_recording r;
    build_four_way(&r);
    char *out = render(&r, TCPW_FMT_SVG, true, "zh");
    REQUIRE(out);
    CHECK(xml_well_formed(out));
    CHECK(strstr(out, "第一次挥手") && strstr(out, "第四次挥手"));
    CHECK(strstr(out, "<title>") != NULL);
    CHECK(strstr(out, "[1]") != NULL);
    CHECK_EQ_U(count_str(out, "class=\"seg\""), count_kind(&r, TCPW_REC_SEG));
    free(out);
    tcpw_rec_free(&r);
}

/* ---- what the issue found: handshake resends, late arrivals, timers, fonts ------------------- */

/* A simultaneous open: both SYNs cross, each side answers with a SYN+ACK that repeats its own
 * SYN. That is the handshake, not a retransmission; the same SYN+ACK sent again is one. */
static void build_simultaneous_open(tcpw_recording *r, bool resend) {
    tcpw_rec_init(r, "client", "server");
    by_user(r, 0, C, TCPW_CLOSED, TCPW_SYN_SENT, "connect()");
    seg(r, 0, C, "S", CISN, 0, 0);
    by_user(r, 0, S, TCPW_CLOSED, TCPW_SYN_SENT, "connect()");
    seg(r, 0, S, "S", SISN, 0, 0);
    by_seg(r, 10000, S, TCPW_SYN_SENT, TCPW_SYN_RCVD, "S", CISN, 0);
    seg(r, 10000, S, "SA", SISN, CISN + 1, 0);
    by_seg(r, 10000, C, TCPW_SYN_SENT, TCPW_SYN_RCVD, "S", SISN, 0);
    seg_fate(r, 10000, C, "SA", CISN, SISN + 1, 0,
             resend ? TCPW_FATE_DROPPED : TCPW_FATE_DELIVERED);
    by_seg(r, 20000, C, TCPW_SYN_RCVD, TCPW_ESTABLISHED, "SA", SISN, CISN + 1);
    if (resend) {
        note(r, 1010000, C, "retransmission timeout: retransmit");
        seg(r, 1010000, C, "SA", CISN, SISN + 1, 0);
        by_seg(r, 1020000, S, TCPW_SYN_RCVD, TCPW_ESTABLISHED, "SA", CISN, SISN + 1);
    } else {
        by_seg(r, 20000, S, TCPW_SYN_RCVD, TCPW_ESTABLISHED, "SA", CISN, SISN + 1);
    }
}

static void test_simultaneous_open_is_no_retransmission(void) {
    tcpw_recording r;
    build_simultaneous_open(&r, false);
    char *out = render(&r, TCPW_FMT_TEXT, false, NULL);
    REQUIRE(out);
    CHECK(strstr(out, "[SYN, ACK] seq=0 ack=1 len=0") != NULL);
    CHECK(strstr(out, "retransmission") == NULL);
    free(out);
    out = render(&r, TCPW_FMT_MERMAID, false, NULL);
    REQUIRE(out);
    CHECK(strstr(out, "retransmission") == NULL);
    free(out);
    out = render(&r, TCPW_FMT_SVG, true, NULL);
    REQUIRE(out);
    CHECK(strstr(out, "RTO") == NULL && strstr(out, "retrans.") == NULL);
    free(out);
    tcpw_rec_free(&r);

    /* the client's SYN+ACK is lost and sent again after the RTO: that copy is a retransmission */
    build_simultaneous_open(&r, true);
    out = render(&r, TCPW_FMT_TEXT, false, NULL);
    REQUIRE(out);
    CHECK_EQ_U(count_str(out, "(retransmission)"), 1);
    CHECK(strstr(out, "[SYN, ACK] seq=0 ack=1 len=0 (retransmission)") != NULL);
    free(out);
    out = render(&r, TCPW_FMT_SVG, false, NULL);
    REQUIRE(out);
    CHECK(strstr(out, "RTO 1 s") != NULL);
    free(out);
    tcpw_rec_free(&r);
}

/* A segment held 70 ms by the network arrives after others: its arrival gets a row of its own,
 * at its time, before what it causes there. */
static void test_late_arrival(void) {
    tcpw_recording r;
    build_four_way(&r);
    /* an old copy of the request, sent at 40 ms, arriving at 120 ms (held 70 ms) */
    tcpw_rec_event e = r.ev[0];
    memset(&e, 0, sizeof e);
    e.kind = TCPW_REC_SEG;
    e.t_us = 40000;
    e.side = C;
    e.peer = S;
    e.arrive_us = 40000 + LAT + 70000;
    e.fate = TCPW_FATE_DELIVERED;
    e.flags = TCPW_PSH | TCPW_ACK;
    e.seq = CISN + 1;
    e.ack = SISN + 1;
    e.len = 100;
    tcpw_recording h;
    tcpw_rec_init(&h, "client", "server");
    bool sent = false, noted = false;
    for (size_t i = 0; i < r.count; i++) {
        if (r.ev[i].t_us > 40000 && !sent) sent = tcpw_rec_add(&h, &e) != NULL;
        if (r.ev[i].t_us > 120000 && !noted) {
            note(&h, 120000, S, "old duplicate: ACK sent");
            noted = true;
        }
        tcpw_rec_add(&h, &r.ev[i]);
    }
    char *out = render(&h, TCPW_FMT_TEXT, false, NULL);
    REQUIRE(out);
    CHECK(widest_line(out) <= 100);
    CHECK(strstr(out, "[PSH, ACK] seq=1 ack=1 len=100 (retransmission) --") != NULL);
    CHECK(strstr(out, "                        |  (held 70 ms)   ") !=
          NULL); /* what does not fit */
    const char *arr = strstr(out, "  0.120000 ");
    REQUIRE(arr);
    CHECK(strstr(arr, "arrives (held 70 ms): [PSH, ACK] seq=1 ack=1 len=100 -->|") != NULL);
    const char *nt = strstr(out, "note: old duplicate");
    CHECK(nt && strstr(arr, "arrives (held") < nt); /* the arrival before what it causes */
    CHECK_EQ_U(count_str(out, "arrives ("), 1);     /* nothing else is late */
    if (test_current_failed) fputs(out, stderr);
    free(out);
    out = render(&h, TCPW_FMT_MERMAID, false, NULL);
    REQUIRE(out);
    CHECK(strstr(out, "Client->>Server: PSH, ACK, seq=1, ack=1, len=100 (retransmission) (held "
                      "70 ms)\n"));
    CHECK(strstr(out, "\n    Note over Server: arrives (held 70 ms): PSH, ACK, seq=1, ack=1, "
                      "len=100\n") != NULL);
    free(out);
    /* a segment delivered at once (an injected one) does not make every other one late */
    tcpw_rec_event *inst = seg(&h, 130000, S, "R", SISN + 2, 0, 0);
    inst->arrive_us = inst->t_us;
    out = render(&h, TCPW_FMT_TEXT, false, NULL);
    REQUIRE(out);
    CHECK_EQ_U(count_str(out, "arrives ("), 1);
    free(out);
    tcpw_rec_free(&h);
    tcpw_rec_free(&r);
}

static void test_svg_timers(void) {
    /* an orphaned FIN_WAIT_2 that times out: a span like 2MSL's */
    tcpw_recording r;
    build_open(&r);
    by_user(&r, 50000, C, TCPW_ESTABLISHED, TCPW_FIN_WAIT_1, "close()");
    seg(&r, 50000, C, "FA", CISN + 101, SISN + 1, 0);
    by_seg(&r, 60000, S, TCPW_ESTABLISHED, TCPW_CLOSE_WAIT, "FA", CISN + 101, SISN + 1);
    seg(&r, 60000, S, "A", SISN + 1, CISN + 102, 0);
    by_seg(&r, 70000, C, TCPW_FIN_WAIT_1, TCPW_FIN_WAIT_2, "A", SISN + 1, CISN + 102);
    by_timer(&r, 60070000, C, TCPW_FIN_WAIT_2, TCPW_CLOSED, "fin_wait_2");
    char *out = render(&r, TCPW_FMT_SVG, false, NULL);
    REQUIRE(out);
    CHECK(xml_well_formed(out));
    CHECK(strstr(out, "FIN_WAIT_2 timeout 60 s") != NULL);
    CHECK(strstr(out, "WenQuanYi Micro Hei") && strstr(out, "Noto Sans CJK SC"));
    free(out);
    tcpw_rec_free(&r);

    /* msl 0: TIME_WAIT ends as it begins, no 0-length bracket but a mark on its label */
    build_four_way(&r);
    r.ev[r.count - 1].t_us = 90000;
    out = render(&r, TCPW_FMT_SVG, false, NULL);
    REQUIRE(out);
    CHECK(strstr(out, "TIME_WAIT (2MSL) 0") == NULL);
    CHECK(strstr(out, ">2MSL = 0</tspan>") != NULL);
    free(out);
    tcpw_rec_free(&r);
}

static void test_print_wrapped(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    REQUIRE(f);
    tcpw_view_print_wrapped(
        f, "第一次挥手：客户端发送 FIN 报文（FIN=1，seq=u），进入 FIN_WAIT_1 状态", 5, 2, 30);
    tcpw_view_print_wrapped(f, "alpha beta gamma delta", 3, 2, 14);
    fclose(f);
    REQUIRE(buf);
    CHECK(widest_line(buf) <= 30);
    CHECK(strstr(buf, "\n  ") != NULL); /* continuation lines are indented */
    CHECK(strstr(buf, " alpha beta\n  gamma delta\n") != NULL);
    free(buf);
}

/* ---- explanations --------------------------------------------------------------------------- */

static void test_explain_en(void) {
    tcpw_recording r;
    build_four_way(&r);
    char *out = render(&r, TCPW_FMT_JSON, true, "en");
    REQUIRE(out);
    CHECK(strstr(out, "\"explain\":\"the client closes (close()): it sends FIN (seq=u=101) and "
                      "will send no more data; the client is the active closer (RFC 9293 "
                      "§3.10.4)\"}\n") != NULL);
    const char *waves[] = {"\"explain\":\"1st wave", "\"explain\":\"2nd wave",
                           "\"explain\":\"3rd wave", "\"explain\":\"4th wave"};
    for (size_t k = 0; k < 4; k++)
        CHECK(count_str(out, waves[k]) == 1);
    CHECK(strstr(out, "ack=u+1=102") && strstr(out, "seq=w=1") && strstr(out, "ack=w+1=2"));
    CHECK(strstr(out, "seq=v=1") && strstr(out, "seq=u+1=102"));
    CHECK(strstr(out, "half-closed") != NULL);
    CHECK(strstr(out, "2MSL has passed (60 s in TIME_WAIT)") != NULL);
    CHECK(strstr(out, "RFC 1122 §4.2.2.13") != NULL);
    CHECK(strstr(out, "active closer") && strstr(out, "passive closer"));
    free(out);
    /* in the ladder: indented rows under their event, still within 100 columns */
    out = render(&r, TCPW_FMT_TEXT, true, "en");
    REQUIRE(out);
    CHECK(widest_line(out) <= 100);
    CHECK(strstr(out, "|  > the client closes (close()): it sends FIN (seq=u=101)") != NULL);
    free(out);
    /* absolute numbers in the explanations too */
    tcpw_view_opts o;
    tcpw_view_opts_default(&o);
    o.format = TCPW_FMT_JSON;
    o.explain = true;
    o.absolute = true;
    out = render_opts(&r, &o);
    REQUIRE(out);
    CHECK(strstr(out, "seq=u=1101") != NULL);
    free(out);
    tcpw_rec_free(&r);
}

static void test_explain_zh(void) {
    tcpw_recording r;
    build_four_way(&r);
    char *out = render(&r, TCPW_FMT_TEXT, true, "zh");
    REQUIRE(out);
    CHECK(widest_line(out) <= 100);
    const char *terms[] = {"第一次挥手", "第二次挥手", "第三次挥手", "第四次挥手",
                           "半关闭",     "2MSL",       "主动关闭方", "被动关闭方",
                           "客户端",     "服务端",     "FIN_WAIT_1"};
    for (size_t k = 0; k < sizeof terms / sizeof terms[0]; k++)
        CHECK(strstr(out, terms[k]) != NULL);
    free(out);
    out = render(&r, TCPW_FMT_MERMAID, true, "zh");
    REQUIRE(out);
    CHECK(strstr(out, "Note over Client,Server: 第一次挥手") != NULL);
    free(out);
    tcpw_rec_free(&r);
}

static void test_explain_special_cases(void) {
    tcpw_recording r;
    build_simultaneous_close(&r);
    char *out = render(&r, TCPW_FMT_TEXT, true, "en");
    REQUIRE(out);
    CHECK(strstr(out, "simultaneous close") != NULL);
    CHECK(strstr(out, "CLOSING") != NULL);
    free(out);
    out = render(&r, TCPW_FMT_TEXT, true, "zh");
    REQUIRE(out);
    CHECK(strstr(out, "同时关闭") != NULL);
    free(out);
    tcpw_rec_free(&r);

    build_lost_last_ack(&r);
    out = render(&r, TCPW_FMT_JSON, true, "en");
    REQUIRE(out);
    CHECK(strstr(out, "LAST_ACK retransmission") != NULL);
    CHECK(strstr(out, "still in TIME_WAIT, acknowledges the retransmitted FIN") != NULL);
    CHECK(strstr(out, "lost in the network") != NULL);
    free(out);
    tcpw_rec_free(&r);

    /* RST on close with unread data, a challenge ACK, RFC 1337, a reset, a refused SYN */
    tcpw_rec_init(&r, "client", "server");
    by_user(&r, 0, S, TCPW_ESTABLISHED, TCPW_CLOSED, "close()");
    seg(&r, 0, S, "RA", 10, 20, 0);
    note(&r, 5, C, "challenge ACK (RFC 5961)");
    note(&r, 6, C, "RST ignored in TIME_WAIT (RFC 1337)");
    by_seg(&r, 10, C, TCPW_ESTABLISHED, TCPW_CLOSED, "R", 10, 0);
    by_seg(&r, 20, C, TCPW_SYN_SENT, TCPW_CLOSED, "RA", 0, 1);
    by_seg(&r, 30, C, TCPW_TIME_WAIT, TCPW_SYN_RCVD, "S", 999, 0);
    out = render(&r, TCPW_FMT_JSON, true, "en");
    REQUIRE(out);
    CHECK(strstr(out, "RFC 2525 §2.17") != NULL);
    CHECK(strstr(out, "RFC 5961 §3.2") != NULL);
    CHECK(strstr(out, "RFC 1337") != NULL);
    CHECK(strstr(out, "RFC 9293 §3.10.7") != NULL);
    CHECK(strstr(out, "connection is refused") != NULL);
    CHECK(strstr(out, "RFC 6191") != NULL);
    free(out);
    tcpw_rec_free(&r);
}

/* ---- edge cases ----------------------------------------------------------------------------- */

static void render_all(const tcpw_recording *r) {
    static const tcpw_format fmts[] = {TCPW_FMT_TEXT, TCPW_FMT_MERMAID, TCPW_FMT_SVG,
                                       TCPW_FMT_JSON};
    for (size_t f = 0; f < 4; f++) {
        for (int explain = 0; explain < 2; explain++) {
            tcpw_view_opts o;
            tcpw_view_opts_default(&o);
            o.format = fmts[f];
            o.explain = explain;
            o.color = true;
            o.lang = explain ? "zh" : "en";
            char *out = render_opts(r, &o);
            CHECK(out != NULL);
            if (out && fmts[f] == TCPW_FMT_SVG) CHECK(xml_well_formed(out));
            if (out && fmts[f] == TCPW_FMT_JSON)
                for (const char *p = out; *p; p += strcspn(p, "\n") + 1) {
                    char line[4096];
                    CHECK(json_line_ok(line_at(p, line, sizeof line)));
                }
            free(out);
        }
    }
}

static void test_empty_and_one_sided(void) {
    tcpw_recording r;
    tcpw_rec_init(&r, "client", "server");
    render_all(&r);
    char *out = render(&r, TCPW_FMT_JSON, false, NULL);
    CHECK(out && out[0] == '\0');
    free(out);
    out = render(&r, TCPW_FMT_TEXT, false, NULL);
    CHECK(out && strstr(out, "(no events)"));
    free(out);
    CHECK(tcpw_view_render(NULL, &r, NULL) == -1);
    out = render_opts(&r, NULL);
    CHECK(out != NULL);
    free(out);
    /* only the server is seen, and its ISN is unknown */
    by_seg(&r, 5, S, TCPW_ESTABLISHED, TCPW_CLOSE_WAIT, "FA", 1, 2);
    seg(&r, 5, S, "A", 2000000000u, 123, 0);
    render_all(&r);
    tcpw_rec_free(&r);
}

static void test_broken_events(void) {
    tcpw_recording r;
    tcpw_rec_init(&r, "", NULL); /* an empty name */
    tcpw_rec_event e;
    memset(&e, 0xA5, sizeof e); /* garbage everywhere, what[] without NUL */
    e.inferred = true;          /* (a bool must hold 0 or 1) */
    e.side = 7;
    tcpw_rec_add(&r, &e);
    e.side = 0;
    e.peer = 0;
    e.kind = TCPW_REC_SEG;
    tcpw_rec_add(&r, &e);
    e.kind = TCPW_REC_STATE;
    tcpw_rec_add(&r, &e);
    e.kind = TCPW_REC_NOTE;
    e.side = 1;
    tcpw_rec_add(&r, &e);
    e.kind = TCPW_REC_APP;
    tcpw_rec_add(&r, &e);
    e.kind = (tcpw_rec_kind)99;
    tcpw_rec_add(&r, &e);
    /* huge values, times going backwards, invalid UTF-8 */
    tcpw_rec_event *s = seg(&r, UINT64_MAX, C, "SFRPAU", UINT32_MAX, UINT32_MAX, UINT32_MAX);
    s->arrive_us = 3;
    seg_fate(&r, UINT64_MAX - 1, S, "", UINT32_MAX, 0, UINT32_MAX, TCPW_FATE_DROPPED);
    seg(&r, 0, C, "F", UINT32_MAX, 0, 0);
    note(&r, 1, C, "bad \xff\xfe utf-8 \xe4\xb8");
    by_timer(&r, 2, S, (tcpw_state)77, (tcpw_state)-3, "2msl");
    render_all(&r);
    char *out = render(&r, TCPW_FMT_JSON, false, NULL);
    REQUIRE(out);
    CHECK(strstr(out, "\"from\":\"?\",\"to\":\"?\"") != NULL);
    CHECK(strstr(out, "bad \\ufffd\\ufffd utf-8 \\ufffd") != NULL);
    free(out);
    tcpw_rec_free(&r);
}

/* A tiny deterministic generator (xorshift64) for the randomized test. */
static uint64_t rnd(uint64_t *st) {
    *st ^= *st << 13;
    *st ^= *st >> 7;
    *st ^= *st << 17;
    return *st;
}

static void random_event(tcpw_recording *r, uint64_t *st, uint64_t *t) {
    tcpw_rec_event e;
    memset(&e, 0, sizeof e);
    uint64_t x = rnd(st);
    e.kind = (tcpw_rec_kind)(x % 5); /* 4 is not a kind */
    *t += (x >> 8) % 4 == 0 ? 0 : (rnd(st) % 3 == 0 ? 60000000u : rnd(st) % 50000);
    e.t_us = (x >> 12) % 50 == 0 ? *t - 7 : *t; /* now and then back in time */
    e.side = (int)((x >> 16) % 9) - 3 < 0 ? (int)((x >> 20) % 2) : (int)((x >> 16) % 9) - 3;
    e.peer = (int)((x >> 24) % 3);
    e.arrive_us = e.t_us + rnd(st) % 2000000;
    e.fate = (tcpw_seg_fate)((x >> 28) % 5);
    e.flags = (uint8_t)rnd(st);
    e.seq = (uint32_t)rnd(st) % 4 == 0 ? (uint32_t)rnd(st) : 1000 + (uint32_t)(rnd(st) % 300);
    e.ack = 5000 + (uint32_t)(rnd(st) % 300);
    e.len = (uint32_t)(rnd(st) % 3 == 0 ? rnd(st) % 1500 : 0);
    e.from = (tcpw_state)(rnd(st) % 13);
    e.to = (tcpw_state)(rnd(st) % 13);
    e.cause = (tcpw_cause)(rnd(st) % 4);
    e.cause_seg.flags = (uint8_t)rnd(st);
    static const char *const whats[] = {
        "close()",       "2msl", "shutdown()",  "abort()", "retransmission timeout: retransmit",
        "challenge ACK", "",     "\xff;#<&>\"%"};
    snprintf(e.what, sizeof e.what, "%s", whats[rnd(st) % 8]);
    e.app = (tcpw_app_what)(rnd(st) % 8);
    e.bytes = rnd(st);
    e.inferred = rnd(st) % 7 == 0;
    tcpw_rec_add(r, &e);
}

static void test_random_recordings(void) {
    for (uint64_t seed = 1; seed <= 150; seed++) {
        uint64_t st = seed * 0x9E3779B97F4A7C15ull, t = 0;
        tcpw_recording r;
        tcpw_rec_init(&r, "client", "server");
        size_t n = (size_t)(rnd(&st) % 60);
        for (size_t i = 0; i < n; i++)
            random_event(&r, &st, &t);
        int before = test_failed_checks;
        render_all(&r);
        if (test_failed_checks != before)
            fprintf(stderr, "random recording seed %llu\n", (unsigned long long)seed);
        tcpw_rec_free(&r);
    }
}

static void test_write_error(void) {
    FILE *f = fopen("/dev/full", "w");
    if (!f) return; /* not on this system */
    tcpw_recording r;
    build_four_way(&r);
    tcpw_view_opts o;
    tcpw_view_opts_default(&o);
    o.format = TCPW_FMT_SVG;
    CHECK(tcpw_view_render(f, &r, &o) == -1);
    fclose(f);
    tcpw_rec_free(&r);
}

int main(void) {
    RUN(test_relative_numbers);
    RUN(test_unknown_isn);
    RUN(test_new_connection_relearns_isn);
    RUN(test_old_numbers_until_the_new_answer);
    RUN(test_growth_and_names);
    RUN(test_format_parse);
    RUN(test_json_four_way);
    RUN(test_json_fates_inferred_explain);
    RUN(test_text_four_way);
    RUN(test_text_fates);
    RUN(test_mermaid);
    RUN(test_xml_checker);
    RUN(test_svg);
    RUN(test_svg_explain);
    RUN(test_simultaneous_open_is_no_retransmission);
    RUN(test_late_arrival);
    RUN(test_svg_timers);
    RUN(test_print_wrapped);
    RUN(test_explain_en);
    RUN(test_explain_zh);
    RUN(test_explain_special_cases);
    RUN(test_empty_and_one_sided);
    RUN(test_broken_events);
    RUN(test_random_recordings);
    RUN(test_write_error);
    return test_summary();
}
