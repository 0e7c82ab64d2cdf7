/* text.c — the terminal ladder diagram: one row per event, 98 columns wide. Shortened:
 *
 *   time (s)       client                                     server
 *                  CLOSED |                                 | CLOSED
 *   0.050000   FIN_WAIT_1 | close(): ESTABLISHED -> FIN_WAIT_1 | ESTABLISHED
 *   0.050000   FIN_WAIT_1 |--[FIN, ACK] seq=101 ack=1 len=0 -->| ESTABLISHED
 *   0.060000   FIN_WAIT_1 |<------ [ACK] seq=1 ack=102 len=0--| CLOSE_WAIT
 *
 * The two bars are the endpoints' timelines; each row shows both states after the event, with
 * the cause of every change. Segments are arrows from the sender's bar (dropped ones stop in
 * the middle with "x"), long idle gaps are a ":" row, explanations are indented rows.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/addr.h"
#include "view/view_internal.h"

#define COL_TIME    10
#define COL_STATE   11
#define INNER       60     /* columns between the two bars */
#define GAP_MARK_US 200000 /* idle gaps this long get a row of their own */
#define LINE_MAX    512

#define SGR_RESET   "\033[0m"
#define SGR_BOLD    "\033[1m"
#define SGR_DIM     "\033[2m"
#define SGR_CHANGED "\033[1;33m"
#define SGR_CAUSE   "\033[33m"
#define SGR_APP     "\033[35m"
#define SGR_EXPLAIN "\033[3;36m"
#define SGR_DROPPED "\033[31m"
#define SGR_RST     "\033[1;31m"
#define SGR_SYN     "\033[32m"
#define SGR_FIN     "\033[1;34m"

typedef struct tx {
    FILE *out;
    const view_ctx *c;
} tx;

typedef struct row {
    const char *time, *left, *right, *inner;
    const char *left_sgr, *right_sgr, *inner_sgr;
    char bar;
} row;

static void sgr(const tx *t, const char *code) {
    if (t->c->o.color && code) fputs(code, t->out);
}

static void sgr_end(const tx *t, const char *code) {
    if (t->c->o.color && code) fputs(SGR_RESET, t->out);
}

static void pad(FILE *out, size_t n) {
    while (n--)
        fputc(' ', out);
}

/* s in `width` columns, aligned right or left (no padding after a left-aligned last field). */
static void put_field(const tx *t, const char *s, size_t width, bool right, const char *code) {
    size_t w = view_utf8_width(s, strlen(s));
    if (right && w < width) pad(t->out, width - w);
    sgr(t, code);
    fputs(s, t->out);
    sgr_end(t, code);
    if (!right && w < width) pad(t->out, width - w);
}

static void print_row(const tx *t, const row *r) {
    put_field(t, r->time ? r->time : "", COL_TIME, true, SGR_DIM);
    fputs("  ", t->out);
    put_field(t, r->left ? r->left : "", COL_STATE, true, r->left_sgr);
    fputc(' ', t->out);
    fputc(r->bar, t->out);
    put_field(t, r->inner ? r->inner : "", INNER, false, r->inner_sgr);
    fputc(r->bar, t->out);
    if (r->right && r->right[0]) {
        fputc(' ', t->out);
        put_field(t, r->right, 0, false, r->right_sgr);
    }
    fputc('\n', t->out);
}

/* Appends printf-style text to buf (bounded). */
__attribute__((format(printf, 3, 4))) static void cat(char *buf, size_t cap, const char *fmt, ...) {
    size_t n = strlen(buf);
    if (n + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
}

static void repeat_char(char *buf, size_t cap, char ch, size_t count) {
    size_t n = strlen(buf);
    while (count-- && n + 1 < cap)
        buf[n++] = ch;
    buf[n] = '\0';
}

/* "[FIN, ACK] seq=101 ack=301 len=0" */
static void seg_label(const view_ctx *c, const tcpw_rec_event *e, char *buf, size_t cap) {
    char flags[48];
    snprintf(buf, cap, "[%s] seq=%lu", view_flags_long(e->flags, ", ", flags, sizeof flags),
             (unsigned long)view_seq(c, e));
    if (e->flags & TCPW_ACK) cat(buf, cap, " ack=%lu", (unsigned long)view_ack(c, e));
    cat(buf, cap, " len=%lu", (unsigned long)e->len);
}

static void seg_tags(const view_ctx *c, size_t i, char *buf, size_t cap) {
    const tcpw_rec_event *e = &c->r->ev[i];
    char late[64];
    buf[0] = '\0';
    if (c->step[i].retrans) cat(buf, cap, "(retransmission) ");
    if (c->step[i].injected) cat(buf, cap, "(injected) ");
    if (e->fate == TCPW_FATE_DUPLICATED) cat(buf, cap, "(duplicated) ");
    if (view_late_tag(c, i, late, sizeof late)[0])
        cat(buf, cap, "%s ", late);
    else if (e->fate == TCPW_FATE_REORDERED)
        cat(buf, cap, "(reordered) ");
    if (e->inferred) cat(buf, cap, "(inferred) ");
}

static void arrow_right(char *buf, size_t cap, const char *label, const char *tags, bool dropped) {
    snprintf(buf, cap, "--%s %s", label, dropped ? "" : tags);
    size_t n = strlen(buf);
    if (dropped) {
        size_t x = n + 3 > INNER * 2 / 3 ? n + 3 : INNER * 2 / 3;
        repeat_char(buf, cap, '-', x - n);
        cat(buf, cap, "x  (dropped) %s", tags);
        return;
    }
    repeat_char(buf, cap, '-', n + 2 < INNER ? INNER - 1 - n : 1);
    cat(buf, cap, ">");
}

static void arrow_left(char *buf, size_t cap, const char *label, const char *tags, bool dropped) {
    char tail[LINE_MAX];
    snprintf(tail, sizeof tail, " %s%s--", dropped ? "" : tags, label);
    size_t n = strlen(tail);
    buf[0] = '\0';
    if (dropped) {
        size_t body = n + 3 > INNER * 2 / 3 ? n + 3 : INNER * 2 / 3; /* "x---" + tail */
        char head[LINE_MAX];
        snprintf(head, sizeof head, "%s(dropped)  x", tags);
        size_t used = strlen(head) + body;
        repeat_char(buf, cap, ' ', used < INNER ? INNER - used : 0);
        cat(buf, cap, "%s", head);
        repeat_char(buf, cap, '-', body - n - 1);
        cat(buf, cap, "%s", tail);
        return;
    }
    cat(buf, cap, "<");
    repeat_char(buf, cap, '-', n + 2 < INNER ? INNER - 1 - n : 1);
    cat(buf, cap, "%s", tail);
}

static const char *seg_sgr(const tcpw_rec_event *e) {
    if (e->fate == TCPW_FATE_DROPPED) return SGR_DROPPED;
    if (e->flags & TCPW_RST) return SGR_RST;
    if (e->flags & TCPW_SYN) return SGR_SYN;
    if (e->flags & TCPW_FIN) return SGR_FIN;
    return NULL;
}

/* Text that belongs to one side: next to its bar. */
static void side_text(char *buf, size_t cap, const char *text, int side) {
    if (side == 0) {
        snprintf(buf, cap, " %s", text);
        return;
    }
    size_t w = view_utf8_width(text, strlen(text)) + 1;
    buf[0] = '\0';
    repeat_char(buf, cap, ' ', w < INNER ? INNER - w : 0);
    cat(buf, cap, "%s ", text);
}

static void cause_text(const view_ctx *c, const tcpw_rec_event *e, char *buf, size_t cap) {
    char what[sizeof e->what + 1], flags[48];
    view_what(e, what, sizeof what);
    switch (e->cause) {
    case TCPW_CAUSE_USER: snprintf(buf, cap, "%s", what[0] ? what : "user call"); break;
    case TCPW_CAUSE_TIMER:
        snprintf(buf, cap, "%s timer", strcmp(what, "2msl") == 0 ? "2MSL" : what);
        break;
    case TCPW_CAUSE_SEGMENT:
        snprintf(buf, cap, "rcvd [%s]",
                 view_flags_long(e->cause_seg.flags, ", ", flags, sizeof flags));
        break;
    default: snprintf(buf, cap, "?"); break;
    }
    (void)c;
}

/* Rows for text that may not fit: wrapped, the first row with the event's time and states. */
static void print_wrapped(const tx *t, row *r, const char *text, int side, const char *code) {
    const char *p = text;
    char line[LINE_MAX], inner[LINE_MAX + INNER + 4];
    do {
        const char *next;
        size_t n = view_wrap(p, INNER - 2, &next);
        if (n >= sizeof line) n = sizeof line - 1;
        memcpy(line, p, n);
        line[n] = '\0';
        side_text(inner, sizeof inner, line, side);
        r->inner = inner;
        r->inner_sgr = code;
        print_row(t, r);
        r->time = r->left = r->right = "";
        p = next;
    } while (*p);
}

static void print_explain(const tx *t, size_t i) {
    char text[1024], line[LINE_MAX], inner[LINE_MAX + 8];
    if (!t->c->o.explain || view_explain(t->c, i, text, sizeof text) == 0) return;
    const char *p = text;
    row r = {.bar = '|', .inner_sgr = SGR_EXPLAIN, .inner = inner};
    bool first = true;
    while (*p) {
        const char *next;
        size_t n = view_wrap(p, INNER - 5, &next);
        if (n >= sizeof line) n = sizeof line - 1;
        memcpy(line, p, n);
        line[n] = '\0';
        snprintf(inner, sizeof inner, "  %s %s", first ? ">" : " ", line);
        print_row(t, &r);
        first = false;
        p = next;
    }
}

static void build_arrow(const view_ctx *c, const tcpw_rec_event *e, const char *label,
                        const char *tags, char *inner, size_t cap) {
    bool dropped = e->fate == TCPW_FATE_DROPPED;
    if (e->side == 0)
        arrow_right(inner, cap, label, tags, dropped);
    else
        arrow_left(inner, cap, label, tags, dropped);
    (void)c;
}

/* A segment: its arrow with its tags; the tags that do not fit between the bars go on a row of
 * their own below, on the sender's side. */
static void print_segment(const tx *t, size_t i, row *r) {
    const tcpw_rec_event *e = &t->c->r->ev[i];
    char label[160], tags[96], rest[96] = "", inner[LINE_MAX];
    seg_label(t->c, e, label, sizeof label);
    seg_tags(t->c, i, tags, sizeof tags);
    build_arrow(t->c, e, label, tags, inner, sizeof inner);
    while (view_utf8_width(inner, strlen(inner)) > INNER && tags[0]) {
        /* move the last tag, "(...) ", to the front of the rest */
        size_t n = strlen(tags);
        char *last = tags + n - 1;
        while (last > tags && !(last[-1] == ' ' && last[0] == '('))
            last--;
        char moved[96];
        snprintf(moved, sizeof moved, "%s%s", last, rest);
        snprintf(rest, sizeof rest, "%s", moved);
        *last = '\0';
        build_arrow(t->c, e, label, tags, inner, sizeof inner);
    }
    r->inner = inner;
    r->inner_sgr = seg_sgr(e);
    print_row(t, r);
    if (!rest[0]) return;
    size_t n = strlen(rest);
    while (n && rest[n - 1] == ' ')
        rest[--n] = '\0';
    char more[LINE_MAX];
    more[0] = '\0';
    if (e->side == 0) {
        snprintf(more, sizeof more, "  %s", rest);
    } else {
        size_t w = view_utf8_width(rest, n) + 2;
        repeat_char(more, sizeof more, ' ', w < INNER ? INNER - w : 0);
        cat(more, sizeof more, "%s  ", rest);
    }
    row r2 = {
        .time = "", .left = "", .right = "", .inner = more, .inner_sgr = r->inner_sgr, .bar = '|'};
    print_row(t, &r2);
}

/* The arrival of a late segment (held, reordered), at its arrival time: an arrow into the
 * receiver's bar, "arrives (held 70 ms): [ACK] seq=... len=1460 -->|" (wrapped onto more rows
 * beside that bar when it does not fit). st: both states then. */
static void print_arrival(const tx *t, size_t i, const int st[2]) {
    const tcpw_rec_event *e = &t->c->r->ev[i];
    char time[32], label[160], late[64], text[256], line[LINE_MAX], inner[LINE_MAX + 8];
    seg_label(t->c, e, label, sizeof label);
    snprintf(text, sizeof text, "arrives %s: %s", view_arrival_tag(t->c, i, late, sizeof late),
             label);
    bool left = view_peer(e) == 0;
    row r = {.time = view_time(e->arrive_us, time, sizeof time),
             .left = view_state_name(st[0]),
             .right = view_state_name(st[1]),
             .inner = inner,
             .inner_sgr = seg_sgr(e),
             .bar = '|'};
    const char *p = text;
    bool first = true;
    do {
        const char *next;
        size_t n = view_wrap(p, INNER - 5, &next);
        if (n >= sizeof line) n = sizeof line - 1;
        memcpy(line, p, n);
        line[n] = '\0';
        const char *arrow = first ? (left ? "<-- " : " -->") : "    ";
        inner[0] = '\0';
        if (left) {
            snprintf(inner, sizeof inner, "%s%s", arrow, line);
        } else {
            size_t w = view_utf8_width(line, n) + 4;
            repeat_char(inner, sizeof inner, ' ', w < INNER ? INNER - w : 0);
            cat(inner, sizeof inner, "%s%s", line, arrow);
        }
        print_row(t, &r);
        r.time = r.left = r.right = "";
        first = false;
        p = next;
    } while (*p);
}

static void print_state_change(const tx *t, size_t i, row *r) {
    const tcpw_rec_event *e = &t->c->r->ev[i];
    char cause[160], text[320];
    cause_text(t->c, e, cause, sizeof cause);
    snprintf(text, sizeof text, "%s: %s -> %s%s", cause,
             view_state_name((unsigned)e->from < TCPW_STATE_COUNT ? (int)e->from : -1),
             view_state_name((unsigned)e->to < TCPW_STATE_COUNT ? (int)e->to : -1),
             e->inferred ? " (inferred)" : "");
    if (e->side == 0)
        r->left_sgr = SGR_CHANGED;
    else
        r->right_sgr = SGR_CHANGED;
    print_wrapped(t, r, text, e->side, SGR_CAUSE);
}

static void print_event(const tx *t, size_t i) {
    const tcpw_rec_event *e = &t->c->r->ev[i];
    const view_step *s = &t->c->step[i];
    char time[32], text[160];
    row r = {.time = view_time(e->t_us, time, sizeof time),
             .left = view_state_name(s->st[0]),
             .right = view_state_name(s->st[1]),
             .bar = '|'};
    switch (e->kind) {
    case TCPW_REC_SEG: print_segment(t, i, &r); break;
    case TCPW_REC_STATE: print_state_change(t, i, &r); break;
    case TCPW_REC_APP:
        view_app_text(e, text, sizeof text);
        if (e->inferred) cat(text, sizeof text, " (inferred)");
        print_wrapped(t, &r, text, e->side, SGR_APP);
        break;
    case TCPW_REC_NOTE: {
        char what[sizeof e->what + 1];
        snprintf(text, sizeof text, "note: %s", view_what(e, what, sizeof what));
        print_wrapped(t, &r, text, e->side, SGR_DIM);
        break;
    }
    default: break;
    }
    print_explain(t, i);
}

static void print_gap(const tx *t, uint64_t gap_us) {
    char dur[32], text[64], inner[LINE_MAX];
    snprintf(text, sizeof text, t->c->zh ? "~ %s 后 ~" : "~ %s later ~",
             view_duration(gap_us, dur, sizeof dur));
    size_t w = view_utf8_width(text, strlen(text));
    inner[0] = '\0';
    repeat_char(inner, sizeof inner, ' ', w < INNER ? (INNER - w) / 2 : 0);
    cat(inner, sizeof inner, "%s", text);
    row r = {.inner = inner, .inner_sgr = SGR_DIM, .bar = ':'};
    print_row(t, &r);
}

static void print_endpoints(const tx *t) {
    const tcpw_recording *rec = t->c->r;
    if (rec->ep[0].addr.family == 0 && rec->ep[1].addr.family == 0) return;
    char a[TCPW_EPSTRLEN] = "", b[TCPW_EPSTRLEN] = "";
    if (rec->ep[0].addr.family && !tcpw_endpoint_format(&rec->ep[0], a, sizeof a)) a[0] = '\0';
    if (rec->ep[1].addr.family && !tcpw_endpoint_format(&rec->ep[1], b, sizeof b)) b[0] = '\0';
    /* under the names: the client's ends where its column ends, the server's starts with its */
    size_t left_end = COL_TIME + 2 + COL_STATE, right_start = left_end + INNER + 3;
    size_t n = strlen(a);
    pad(t->out, n < left_end ? left_end - n : 0);
    fputs(a, t->out);
    n = n > left_end ? n : left_end;
    if (b[0]) {
        pad(t->out, n < right_start ? right_start - n : 1);
        fputs(b, t->out);
    }
    fputc('\n', t->out);
}

static void print_header(const tx *t) {
    if (t->c->o.title[0]) {
        sgr(t, SGR_BOLD);
        fprintf(t->out, "%s\n\n", t->c->o.title);
        sgr_end(t, SGR_BOLD);
    }
    row r = {.time = "time (s)",
             .left = t->c->name[0],
             .right = t->c->name[1],
             .left_sgr = SGR_BOLD,
             .right_sgr = SGR_BOLD,
             .bar = ' '};
    print_row(t, &r);
    print_endpoints(t);
    row init = {.left = view_state_name(t->c->init_st[0]),
                .right = view_state_name(t->c->init_st[1]),
                .bar = '|'};
    print_row(t, &init);
}

/* The time line of the rows: events in order, with the arrivals of late segments merged in
 * at their arrival times (before the events of that instant), and idle gaps marked. */
typedef struct rows {
    const tx *t;
    bool have_prev;
    uint64_t prev;
    const int *st; /* both states after the last row */
} rows;

static void advance_to(rows *w, uint64_t now) {
    if (w->have_prev && now > w->prev && now - w->prev >= GAP_MARK_US)
        print_gap(w->t, now - w->prev);
    w->prev = now;
    w->have_prev = true;
}

void view_render_text(FILE *out, const view_ctx *c) {
    tx t = {out, c};
    print_header(&t);
    size_t *late = NULL, nlate = view_late_arrivals(c, &late), next = 0;
    rows w = {.t = &t, .st = c->init_st};
    for (size_t i = 0; i <= c->r->count; i++) {
        bool end = i == c->r->count;
        if (!end && !view_event_ok(c, i)) continue;
        uint64_t now = end ? UINT64_MAX : c->r->ev[i].t_us;
        for (; next < nlate && c->r->ev[late[next]].arrive_us <= now; next++) {
            advance_to(&w, c->r->ev[late[next]].arrive_us);
            print_arrival(&t, late[next], w.st);
        }
        if (end) break;
        advance_to(&w, now);
        print_event(&t, i);
        w.st = c->step[i].st;
    }
    free(late);
    bool have_prev = w.have_prev;
    if (!have_prev) {
        row r = {.inner = "  (no events)", .bar = '|'};
        print_row(&t, &r);
    }
}
