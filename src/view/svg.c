/* svg.c — the run as a standalone SVG ladder diagram.
 *
 * Two vertical timelines (client left, server right) coloured by the state each side is in,
 * with a label at every state change; one slanted arrow per segment from its send time on the
 * sender's line to its arrival time on the receiver's line (a dropped one stops half-way in a
 * cross); brackets beside the timelines for the timers (TIME_WAIT's 2MSL, the orphaned
 * FIN_WAIT_2 timeout, the wait before each retransmission). Each event gets a row; the space
 * between rows grows with the logarithm of the idle time, and gaps of a second or more are
 * drawn as a break marked "≈ 60 s", so that a 60 s TIME_WAIT and a 100 µs round trip both stay
 * readable.
 *
 * Labels must not cover each other: each arrow's label is put where along the arrow it
 * collides with nothing placed before it (other labels, crosses, break and timer labels), and
 * where no place is free the row gets more room and the layout is done again.
 *
 * Every segment is one <g class="seg">, every state label a <text class="state">, every timer
 * a <g class="timer">. With `explain`, arrows carry the name of their step (1st wave, ...),
 * every element a <title> tooltip, and numbered explanations follow the diagram.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/addr.h"
#include "view/view_internal.h"

#define WIDTH         1000.0
#define X_TIME        70.0
#define X_L           300.0
#define X_R           760.0
#define ROW           24.0
#define BREAK_US      1000000u
#define BREAK_H       76.0
#define LABEL_AT      0.28 /* where along an arrow its label sits, from the sender, by default */
#define CROSS_AT      0.55 /* where a dropped segment's arrow ends in a cross */
#define FOOT_COLS     138
#define FOOT_LINE     15.0
#define EXPLAIN_MAX   1024
#define PI            3.14159265358979323846
#define CHAR_W(size)  ((size)*0.602)             /* advance of a monospace character, px */
#define SIDE_ROOM_L   (X_L - 12 - (X_TIME + 10)) /* width for text left of the client's line */
#define SIDE_ROOM_R   (WIDTH - 8 - (X_R + 12))   /* ... right of the server's line */
#define GROW_STEP     8.0 /* more room above a row whose label found no free place */
#define GROW_MAX      64.0
#define LAYOUT_ROUNDS 16
#define LABEL_WINDOW  200  /* earlier arrow labels a new one is checked against */
#define LINE_WINDOW   32   /* rows before and after whose arrows a label should not cross */
#define MAX_TILT      40.0 /* degrees: labels of steeper arrows are level */

/* Monospace first (the ladder's numbers line up), then fonts with Chinese for --lang zh. */
#define FONT                                                                                       \
    "DejaVu Sans Mono, Menlo, Consolas, 'Noto Sans Mono CJK SC', 'Noto Sans CJK SC', "             \
    "'WenQuanYi Micro Hei Mono', 'WenQuanYi Micro Hei', 'Microsoft YaHei', 'PingFang SC', "        \
    "monospace"
#define C_GRID  "#90a4ae"
#define C_MUTED "#78909c"
#define C_TEXT  "#263238"
#define C_DROP  "#c62828"
#define C_TW    "#1565c0"
#define C_RTO   "#e65100"
#define C_FW2   "#ef6c00"
#define C_MARK  "#1e88e5"

/* A convex quadrilateral (a rotated label, a box) and its bounding box. */
typedef struct quad {
    double x[4], y[4];
    double x0, y0, x1, y1;
} quad;

/* A timer drawn as a bracket beside a timeline, from row `from` to row `to` (r->count: to the
 * end of the timelines). */
typedef struct span {
    int side;
    double inset;
    size_t from, to;
    double label_y;
    const char *color, *tip;
    char label[112];
} span;

typedef struct svg {
    FILE *out;
    const view_ctx *c;
    double *y;     /* each event's row */
    double *extra; /* more room above each row, for labels that would collide */
    double *lab_t; /* where along its arrow each segment's label sits */
    double y_top;  /* where the timelines start */
    double y_init; /* the row of the initial states */
    double y_end;  /* where they end */
    double drop;   /* typical vertical travel of an arrow, for dropped ones */
    size_t *foot;  /* each event's explanation number, 0 for none */
    span *spans;
    size_t nspans, spans_cap;
    quad *fixed; /* what arrow labels avoid: crosses, break and timer labels */
    size_t nfixed, fixed_cap;
    quad *labels; /* arrow labels placed so far */
    size_t nlabels, labels_cap;
    quad *lines; /* each event's arrow as a thin quad (segments only) */
    bool oom;
} svg;

/* ---- XML text ------------------------------------------------------------------------------- */

static void put_xml_byte(FILE *out, unsigned char ch) {
    switch (ch) {
    case '&': fputs("&amp;", out); break;
    case '<': fputs("&lt;", out); break;
    case '>': fputs("&gt;", out); break;
    case '"': fputs("&quot;", out); break;
    case '\'': fputs("&#39;", out); break;
    default: fputc(ch < 0x20 || ch == 0x7F ? ' ' : ch, out); break;
    }
}

/* XML text; U+FFFD for a byte that is not UTF-8. */
static void put_xml(FILE *out, const char *s) {
    view_put_escaped(out, s, put_xml_byte, "\xEF\xBF\xBD");
}

static void put_title(FILE *out, const char *text) {
    if (!text || !text[0]) return;
    fputs("<title>", out);
    put_xml(out, text);
    fputs("</title>", out);
}

/* The first `cols` columns of text, with "…" when it was longer. */
static void put_clipped(FILE *out, const char *text, size_t cols) {
    const char *next;
    size_t n = view_wrap(text, cols, &next);
    char buf[512];
    if (n >= sizeof buf) n = sizeof buf - 1;
    memcpy(buf, text, n);
    buf[n] = '\0';
    put_xml(out, buf);
    if (*next) fputs("…", out);
}

/* ---- colours -------------------------------------------------------------------------------- */

static const char *state_color(int st) {
    switch (st) {
    case TCPW_CLOSED: return "#9e9e9e";
    case TCPW_LISTEN: return "#607d8b";
    case TCPW_SYN_SENT:
    case TCPW_SYN_RCVD: return "#8e24aa";
    case TCPW_ESTABLISHED: return "#2e7d32";
    case TCPW_FIN_WAIT_1:
    case TCPW_FIN_WAIT_2:
    case TCPW_CLOSING: return "#ef6c00";
    case TCPW_CLOSE_WAIT:
    case TCPW_LAST_ACK: return "#c2185b";
    case TCPW_TIME_WAIT: return "#1565c0";
    default: return "#bdbdbd";
    }
}

static const char *seg_color(const tcpw_rec_event *e) {
    if (e->fate == TCPW_FATE_DROPPED) return C_DROP;
    if (e->flags & TCPW_RST) return "#c62828";
    if (e->flags & TCPW_SYN) return "#6a1b9a";
    if (e->flags & TCPW_FIN) return "#d84315";
    if (e->len > 0) return "#1565c0";
    return "#455a64";
}

/* ---- layout --------------------------------------------------------------------------------- */

/* Vertical space for an idle time: logarithmic, a fixed break for a second or more. */
static double gap_px(uint64_t dt) {
    if (dt == 0) return 0;
    if (dt >= BREAK_US) return BREAK_H;
    return 14.0 * log10(1.0 + (double)dt / 5.0);
}

static double side_x(int side) {
    return side == 0 ? X_L : X_R;
}

static uint64_t dt_between(uint64_t a, uint64_t b) {
    return b > a ? b - a : 0;
}

static bool belongs_to(const tcpw_rec_event *e, int side) {
    return e->side == side;
}

/* Where time t falls on the timeline, looking at rows after `row` (t is an arrival time). */
static double y_at(const svg *g, size_t row, uint64_t t, int side) {
    const tcpw_recording *r = g->c->r;
    size_t j = row + 1;
    while (j < r->count && r->ev[j].t_us < t)
        j++;
    if (j < r->count && r->ev[j].t_us == t) {
        for (size_t k = j; k < r->count && r->ev[k].t_us == t; k++)
            if (belongs_to(&r->ev[k], side)) return g->y[k];
        return g->y[j];
    }
    size_t a = j - 1; /* the last row before t */
    return g->y[a] + ROW / 2 + gap_px(dt_between(r->ev[a].t_us, t));
}

static bool delivered_seg(const tcpw_rec_event *e) {
    return e->kind == TCPW_REC_SEG && e->fate != TCPW_FATE_DROPPED;
}

/* The y where segment i ends on the receiver's line. */
static double arrival_y(const svg *g, size_t i) {
    const tcpw_rec_event *e = &g->c->r->ev[i];
    uint64_t t = e->arrive_us > e->t_us ? e->arrive_us : e->t_us;
    double y = y_at(g, i, t, view_peer(e));
    return y < g->y[i] + 10 ? g->y[i] + 10 : y;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void layout_rows(svg *g) {
    const tcpw_recording *r = g->c->r;
    double y = g->y_init;
    for (size_t i = 0; i < r->count; i++) {
        uint64_t dt = i ? dt_between(r->ev[i - 1].t_us, r->ev[i].t_us) : 0;
        y += ROW + gap_px(dt) + g->extra[i];
        g->y[i] = y;
    }
    g->y_end = y + ROW;
    /* a dropped segment is drawn as if it travelled as far as a typical one: the median
     * (a held segment's long arrow says nothing of the others), kept short enough that its
     * cross stays clear of a break below it */
    double *travel = malloc((r->count ? r->count : 1) * sizeof *travel);
    size_t n = 0;
    for (size_t i = 0; i < r->count; i++) {
        if (!view_event_ok(g->c, i) || !delivered_seg(&r->ev[i])) continue;
        double end = arrival_y(g, i);
        if (travel) travel[n++] = end - g->y[i];
        if (end + ROW > g->y_end) g->y_end = end + ROW;
    }
    g->drop = ROW + 20;
    if (n) {
        qsort(travel, n, sizeof *travel, cmp_double);
        g->drop = travel[n / 2];
    }
    free(travel);
    if (g->drop < ROW) g->drop = ROW;
    if (g->drop > 80) g->drop = 80;
}

/* ---- geometry: labels that must not cover each other ----------------------------------------- */

static void quad_bounds(quad *q) {
    q->x0 = q->x1 = q->x[0];
    q->y0 = q->y1 = q->y[0];
    for (int k = 1; k < 4; k++) {
        q->x0 = fmin(q->x0, q->x[k]), q->x1 = fmax(q->x1, q->x[k]);
        q->y0 = fmin(q->y0, q->y[k]), q->y1 = fmax(q->y1, q->y[k]);
    }
}

/* The rectangle u in [u0,u1], v in [v0,v1] of a frame turned by `angle` degrees around (cx,cy). */
static quad rect_turned(double cx, double cy, double angle, double u0, double u1, double v0,
                        double v1) {
    double a = angle * PI / 180.0, c = cos(a), s = sin(a);
    const double u[4] = {u0, u1, u1, u0}, v[4] = {v0, v0, v1, v1};
    quad q;
    for (int k = 0; k < 4; k++) {
        q.x[k] = cx + u[k] * c - v[k] * s;
        q.y[k] = cy + u[k] * s + v[k] * c;
    }
    quad_bounds(&q);
    return q;
}

static quad box(double x0, double y0, double x1, double y1) {
    return rect_turned(0, 0, 0, x0, x1, y0, y1);
}

/* Whether an edge of a separates a from b (the separating axis theorem, 1 px of slack). */
static bool separated_by(const quad *a, const quad *b) {
    for (int k = 0; k < 4; k++) {
        double nx = a->y[(k + 1) % 4] - a->y[k], ny = a->x[k] - a->x[(k + 1) % 4];
        double len = sqrt(nx * nx + ny * ny);
        if (len < 1e-9) continue;
        nx /= len, ny /= len;
        double amin = INFINITY, amax = -INFINITY, bmin = INFINITY, bmax = -INFINITY;
        for (int j = 0; j < 4; j++) {
            double pa = a->x[j] * nx + a->y[j] * ny, pb = b->x[j] * nx + b->y[j] * ny;
            amin = fmin(amin, pa), amax = fmax(amax, pa);
            bmin = fmin(bmin, pb), bmax = fmax(bmax, pb);
        }
        if (amax <= bmin + 1 || bmax <= amin + 1) return true;
    }
    return false;
}

static bool overlap(const quad *a, const quad *b) {
    if (a->x1 <= b->x0 || b->x1 <= a->x0 || a->y1 <= b->y0 || b->y1 <= a->y0) return false;
    return !separated_by(a, b) && !separated_by(b, a);
}

static void push_quad(svg *g, quad **v, size_t *n, size_t *cap, quad q) {
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        quad *nv = realloc(*v, ncap * sizeof *nv);
        if (!nv) {
            g->oom = true;
            return;
        }
        *v = nv;
        *cap = ncap;
    }
    (*v)[(*n)++] = q;
}

/* What a label at q would cover: fixed obstacles and earlier arrow labels (each counts 8, and
 * *labels says how many were labels: more room helps against those), and other arrows' lines
 * near row i (each counts 1, and *lines says how many). Stops counting at `enough`. */
static size_t collisions(const svg *g, const quad *q, size_t i, size_t enough, size_t *labels,
                         size_t *lines) {
    size_t n = 0;
    *labels = *lines = 0;
    for (size_t k = 0; k < g->nfixed && n < enough; k++)
        if (overlap(q, &g->fixed[k])) n += 8;
    size_t stop = g->nlabels > LABEL_WINDOW ? g->nlabels - LABEL_WINDOW : 0;
    for (size_t k = g->nlabels; k-- > stop && n < enough;)
        if (overlap(q, &g->labels[k])) n += 8, (*labels)++;
    const tcpw_recording *r = g->c->r;
    size_t from = i > LINE_WINDOW ? i - LINE_WINDOW : 0;
    for (size_t k = from; k < r->count && k < i + LINE_WINDOW && n < enough; k++)
        if (k != i && r->ev[k].kind == TCPW_REC_SEG && view_event_ok(g->c, k) &&
            overlap(q, &g->lines[k]))
            n++, (*lines)++;
    return n;
}

/* ---- segments: where the arrow goes, where its label sits ------------------------------------ */

typedef struct seg_geo {
    double x1, y1, x2, y2; /* from the sender to the receiver (or where a lost one would be) */
    double ex, ey;         /* where the line ends: the arrowhead, or the cross */
    double angle;          /* of the label, degrees: along the arrow, left to right */
    bool dropped;
    bool level; /* steep: the label is level, beside the line, not along it */
} seg_geo;

static seg_geo seg_geometry(const svg *g, size_t i) {
    const tcpw_rec_event *e = &g->c->r->ev[i];
    seg_geo s;
    s.dropped = e->fate == TCPW_FATE_DROPPED;
    s.x1 = side_x(e->side), s.y1 = g->y[i], s.x2 = side_x(view_peer(e));
    s.y2 = s.dropped ? s.y1 + g->drop : arrival_y(g, i);
    s.ex = s.dropped ? s.x1 + (s.x2 - s.x1) * CROSS_AT : s.x2;
    s.ey = s.dropped ? s.y1 + (s.y2 - s.y1) * CROSS_AT : s.y2;
    s.angle = atan2(s.x2 > s.x1 ? s.y2 - s.y1 : s.y1 - s.y2, fabs(s.x2 - s.x1)) * 180.0 / PI;
    s.level = fabs(s.angle) > MAX_TILT; /* a steep arrow (held long): a level label beside it */
    if (s.level) s.angle = 0;
    return s;
}

static void seg_label(const svg *g, size_t i, char *buf, size_t cap);
static const char *seg_role(const svg *g, size_t i);

/* Where along its arrow the label of a segment is anchored. */
static void label_anchor(const seg_geo *s, double t, double *x, double *y) {
    *x = s->x1 + (s->x2 - s->x1) * t;
    *y = s->y1 + (s->y2 - s->y1) * t;
}

/* The size of segment i's label: the width of its longer line, and whether it has a second
 * one (the name of its step, with explain). */
static double label_width(const svg *g, size_t i, bool *role_line) {
    char label[256];
    seg_label(g, i, label, sizeof label);
    const char *role = seg_role(g, i);
    double w = (double)view_utf8_width(label, strlen(label)) * CHAR_W(11);
    if (role) w = fmax(w, (double)view_utf8_width(role, strlen(role)) * CHAR_W(10));
    *role_line = role != NULL;
    return w;
}

/* The label of a segment (w wide, with a role line or not) at t along its arrow: centred on
 * the line, its text above and the name of its step below; or, for a steep arrow, level
 * beside the line. */
static quad label_quad(const seg_geo *s, double w, bool role, double t) {
    double cx, cy;
    label_anchor(s, t, &cx, &cy);
    if (s->level)
        return s->x2 > s->x1 ? box(cx + 5, cy - 9, cx + 11 + w, cy + (role ? 20 : 7))
                             : box(cx - 11 - w, cy - 9, cx - 5, cy + (role ? 20 : 7));
    return rect_turned(cx, cy, s->angle, -w / 2 - 4, w / 2 + 4, -16, role ? 17 : 0);
}

/* Where the label of a segment (w wide) may go, best first: along the arrow away from both
 * timelines (and before a lost segment's cross), first at LABEL_AT; a level label as near its
 * sender as it fits. */
static size_t label_candidates(const seg_geo *s, double w, double *cand, size_t cap) {
    double len = fabs(s->x2 - s->x1), dy = fabs(s->y2 - s->y1);
    size_t n = 0;
    if (len < 1) len = 1;
    if (s->level) {
        double tmax = (len - w - 38) / len;
        for (size_t k = 0; n < cap; k++) {
            double t = (14.0 + 16.0 * (double)k) / (dy > 1 ? dy : 1);
            if (t > tmax && n > 0) break;
            cand[n++] = t;
        }
        return n;
    }
    double tmin = (w / 2 + 26) / len, tmax = (s->dropped ? CROSS_AT : 1.0) - tmin;
    if (tmax < tmin) tmax = tmin;
    cand[n++] = fmin(fmax(LABEL_AT, tmin), tmax);
    for (double t = tmin; t <= tmax + 1e-9 && n < cap; t += 0.06)
        cand[n++] = t;
    return n;
}

/* Chooses where segment i's label sits; returns whether its row should get more room. */
static bool place_label(svg *g, size_t i) {
    seg_geo s = seg_geometry(g, i);
    bool role;
    double w = label_width(g, i, &role), cand[48];
    size_t nc = label_candidates(&s, w, cand, sizeof cand / sizeof cand[0]);
    size_t best = 0, best_n = SIZE_MAX, best_labels = 0, best_lines = 0;
    quad best_q = label_quad(&s, w, role, cand[0]);
    for (size_t k = 0; k < nc; k++) {
        quad q = label_quad(&s, w, role, cand[k]);
        size_t nl, nx, n = collisions(g, &q, i, best_n, &nl, &nx);
        if (n < best_n) best = k, best_n = n, best_labels = nl, best_lines = nx, best_q = q;
        if (n == 0) break;
    }
    g->lab_t[i] = cand[best];
    push_quad(g, &g->labels, &g->nlabels, &g->labels_cap, best_q);
    /* more room for a label that covers another, or (up to half the maximum) a line */
    return best_labels > 0 || (best_lines > 0 && g->extra[i] < GROW_MAX / 2);
}

/* ---- timers --------------------------------------------------------------------------------- */

/* Where a label between rows k and k+1 stays clear: the middle, or in a break above its marks. */
static double gap_label_y(const svg *g, size_t k) {
    double y = (g->y[k] + g->y[k + 1]) / 2;
    return dt_between(g->c->r->ev[k].t_us, g->c->r->ev[k + 1].t_us) >= BREAK_US ? y - 18 : y;
}

static double span_text_x(const span *sp) {
    double x0 = side_x(sp->side);
    return sp->side == 0 ? x0 + sp->inset + 5 : x0 - sp->inset - 5;
}

static quad span_label_quad(const span *sp) {
    double w = (double)view_utf8_width(sp->label, strlen(sp->label)) * CHAR_W(10);
    double x = span_text_x(sp), y = sp->label_y + 3.5;
    return sp->side == 0 ? box(x - 2, y - 10, x + w + 2, y + 3)
                         : box(x - w - 2, y - 10, x + 2, y + 3);
}

static span *add_span(svg *g, int side, double inset, size_t from, size_t to, const char *color,
                      const char *tip) {
    if (g->nspans == g->spans_cap) {
        size_t ncap = g->spans_cap ? g->spans_cap * 2 : 16;
        span *nv = realloc(g->spans, ncap * sizeof *nv);
        if (!nv) {
            g->oom = true;
            return NULL;
        }
        g->spans = nv;
        g->spans_cap = ncap;
    }
    span *sp = &g->spans[g->nspans++];
    memset(sp, 0, sizeof *sp);
    sp->side = side, sp->inset = inset, sp->from = from, sp->to = to;
    sp->color = color, sp->tip = tip;
    return sp;
}

/* The next state change of side after event i, or r->count. */
static size_t next_change(const svg *g, size_t i, int side) {
    const tcpw_recording *r = g->c->r;
    size_t k = i + 1;
    while (k < r->count && !(r->ev[k].kind == TCPW_REC_STATE && r->ev[k].side == side))
        k++;
    return k;
}

static bool is_timer(const tcpw_rec_event *e, const char *name) {
    char what[sizeof e->what + 1];
    return e->kind == TCPW_REC_STATE && e->cause == TCPW_CAUSE_TIMER &&
           strcmp(view_what(e, what, sizeof what), name) == 0;
}

/* A TIME_WAIT that ends the instant it begins (msl 0): no span, a mark on its label. */
static bool time_wait_is_empty(const svg *g, size_t i) {
    const tcpw_recording *r = g->c->r;
    const tcpw_rec_event *e = &r->ev[i];
    if (e->kind != TCPW_REC_STATE || e->to != TCPW_TIME_WAIT) return false;
    size_t k = next_change(g, i, e->side);
    return k < r->count && r->ev[k].t_us == e->t_us && is_timer(&r->ev[k], "2msl");
}

static size_t count_notes(const svg *g, int side, size_t from, size_t to, const char *text) {
    size_t n = 0;
    char what[sizeof g->c->r->ev[0].what + 1];
    for (size_t k = from; k < to && k < g->c->r->count; k++) {
        const tcpw_rec_event *e = &g->c->r->ev[k];
        if (e->kind == TCPW_REC_NOTE && e->side == side &&
            strstr(view_what(e, what, sizeof what), text))
            n++;
    }
    return n;
}

static void time_wait_spans(svg *g) {
    const tcpw_recording *r = g->c->r;
    const char *tip = g->c->zh
                          ? "TIME_WAIT：等待 2MSL，让本连接的报文在网络中消失（RFC 9293 §3.6.1）"
                          : "TIME_WAIT lasts 2MSL so that old segments die out (RFC 9293 §3.6.1)";
    for (size_t i = 0; i < r->count; i++) {
        const tcpw_rec_event *e = &r->ev[i];
        if (e->kind != TCPW_REC_STATE || !view_event_ok(g->c, i) || e->to != TCPW_TIME_WAIT ||
            time_wait_is_empty(g, i))
            continue;
        size_t k = next_change(g, i, e->side);
        span *sp = add_span(g, e->side, 9, i, k, C_TW, tip);
        if (!sp) return;
        char dur[32];
        if (k >= r->count) {
            snprintf(sp->label, sizeof sp->label, "TIME_WAIT (2MSL)");
            continue;
        }
        view_duration(dt_between(e->t_us, r->ev[k].t_us), dur, sizeof dur);
        size_t restarts = count_notes(g, e->side, i, k, "restart 2MSL");
        const tcpw_rec_event *end = &r->ev[k];
        char what[sizeof end->what + 1], flags[48];
        if (is_timer(end, "2msl") && restarts)
            snprintf(sp->label, sizeof sp->label, "TIME_WAIT %s (2MSL, restarted %zu time%s)", dur,
                     restarts, restarts == 1 ? "" : "s");
        else if (is_timer(end, "2msl"))
            snprintf(sp->label, sizeof sp->label, "TIME_WAIT (2MSL) %s", dur);
        else if (end->cause == TCPW_CAUSE_USER &&
                 strstr(view_what(end, what, sizeof what), "tw_reuse"))
            snprintf(sp->label, sizeof sp->label, "TIME_WAIT %s, cut short: tw_reuse", dur);
        else if (end->cause == TCPW_CAUSE_SEGMENT)
            snprintf(sp->label, sizeof sp->label, "TIME_WAIT %s, ended by %s", dur,
                     view_flags_long(end->cause_seg.flags, "+", flags, sizeof flags));
        else
            snprintf(sp->label, sizeof sp->label, "TIME_WAIT %s", dur);
    }
}

/* The orphaned FIN_WAIT_2 timeout (Linux tcp_fin_timeout): from the entry into FIN_WAIT_2 to
 * the timer that closes it. */
static void fin_wait_2_spans(svg *g) {
    const tcpw_recording *r = g->c->r;
    const char *tip =
        g->c->zh ? "孤儿 FIN_WAIT_2：应用已关闭，最多等待对方的 FIN fin_timeout 这么久，然后关闭"
                   "（Linux tcp_fin_timeout）"
                 : "an orphaned FIN_WAIT_2 (its application has closed) waits fin_timeout for the "
                   "peer's FIN, then closes (Linux tcp_fin_timeout)";
    for (size_t k = 0; k < r->count; k++) {
        const tcpw_rec_event *e = &r->ev[k];
        if (!view_event_ok(g->c, k) || !is_timer(e, "fin_wait_2") || e->from != TCPW_FIN_WAIT_2)
            continue;
        size_t i = k;
        while (i-- > 0)
            if (r->ev[i].kind == TCPW_REC_STATE && r->ev[i].side == e->side) break;
        if (i == (size_t)-1 || r->ev[i].to != TCPW_FIN_WAIT_2) continue;
        span *sp = add_span(g, e->side, 9, i, k, C_FW2, tip);
        if (!sp) return;
        char dur[32];
        snprintf(sp->label, sizeof sp->label, "FIN_WAIT_2 timeout %s",
                 view_duration(dt_between(r->ev[i].t_us, e->t_us), dur, sizeof dur));
    }
}

/* Was the retransmission at i a fast retransmit (three duplicate ACKs), not a timeout? */
static bool fast_retransmit(const svg *g, size_t i) {
    const tcpw_recording *r = g->c->r;
    char what[sizeof r->ev[0].what + 1];
    for (size_t k = i; k-- > 0 && r->ev[k].t_us == r->ev[i].t_us;)
        if (r->ev[k].kind == TCPW_REC_NOTE && r->ev[k].side == r->ev[i].side)
            return strstr(view_what(&r->ev[k], what, sizeof what), "fast retransmit") != NULL;
    return false;
}

static void retransmission_spans(svg *g) {
    const tcpw_recording *r = g->c->r;
    for (size_t i = 0; i < r->count; i++) {
        uint64_t wait;
        if (!view_event_ok(g->c, i) || !view_retrans_wait(g->c, i, &wait)) continue;
        bool fast = fast_retransmit(g, i);
        const char *tip = fast
                              ? (g->c->zh ? "快速重传：收到三个重复 ACK 后立即重发（RFC 5681 §3.2）"
                                          : "fast retransmit after three duplicate ACKs "
                                            "(RFC 5681 §3.2)")
                              : (g->c->zh ? "超时重传：等待 RTO 后重发（RFC 6298）"
                                          : "retransmission after the RTO (RFC 6298)");
        span *sp = add_span(g, r->ev[i].side, 17, g->c->step[i].orig, i, C_RTO, tip);
        if (!sp) return;
        char dur[32];
        snprintf(sp->label, sizeof sp->label, "%s %s", fast ? "fast retransmit" : "RTO",
                 view_duration(wait, dur, sizeof dur));
    }
}

static double span_end_y(const svg *g, const span *sp) {
    return sp->to < g->c->r->count ? g->y[sp->to] : g->y_end - 4;
}

/* ---- the layout, with room for every label --------------------------------------------------- */

static double break_text_y(const svg *g, size_t i) {
    return (g->y[i - 1] + g->y[i]) / 2 + 20;
}

static void break_text(const svg *g, size_t i, char *buf, size_t cap) {
    char dur[32];
    snprintf(
        buf, cap, "≈ %s",
        view_duration(dt_between(g->c->r->ev[i - 1].t_us, g->c->r->ev[i].t_us), dur, sizeof dur));
}

/* The line of segment i as a thin quad. */
static quad line_quad(const seg_geo *s) {
    double dx = s->ex - s->x1, dy = s->ey - s->y1, len = sqrt(dx * dx + dy * dy);
    double a = atan2(dy, dx) * 180.0 / PI;
    return rect_turned(s->x1, s->y1, a, 0, len > 1 ? len : 1, -1.5, 1.5);
}

/* How many fixed obstacles and arrow lines (of the rows first..last) q covers. */
static size_t span_collisions(const svg *g, const quad *q, size_t first, size_t last) {
    const tcpw_recording *r = g->c->r;
    size_t n = 0;
    for (size_t k = 0; k < g->nfixed; k++)
        n += overlap(q, &g->fixed[k]);
    for (size_t i = first > 64 ? first - 64 : 0; i <= last && i < r->count; i++)
        if (r->ev[i].kind == TCPW_REC_SEG && view_event_ok(g->c, i)) n += overlap(q, &g->lines[i]);
    return n;
}

typedef struct stretch {
    double gap, y;
    size_t k;
} stretch;

static int stretch_cmp(const void *a, const void *b) {
    const stretch *x = a, *y = b;
    if (x->gap > y->gap + 0.5) return -1;
    if (y->gap > x->gap + 0.5) return 1;
    return x->k < y->k ? -1 : x->k > y->k;
}

/* Puts a timer's label in a stretch of its span (between two rows) where it covers nothing:
 * the longest stretch that is free, else the one it covers least in. */
static void place_span_label(svg *g, span *sp) {
    const tcpw_recording *r = g->c->r;
    double y_last = span_end_y(g, sp);
    size_t last = sp->to < r->count ? sp->to : r->count - 1;
    sp->label_y = (g->y[sp->from] + y_last) / 2;
    stretch *v = malloc((last - sp->from + 1) * sizeof *v);
    if (!v) return;
    size_t n = 0;
    for (size_t k = sp->from; k <= last; k++) {
        if (k < last)
            v[n++] = (stretch){g->y[k + 1] - g->y[k], gap_label_y(g, k), k};
        else if (sp->to >= r->count)
            v[n++] = (stretch){y_last - g->y[k], (g->y[k] + y_last) / 2, k};
    }
    qsort(v, n, sizeof *v, stretch_cmp);
    size_t best_n = SIZE_MAX;
    for (size_t j = 0; j < n && best_n; j++) {
        if (j > 0 && v[j].gap < 14) break; /* too tight for a label */
        double keep = sp->label_y;
        sp->label_y = v[j].y;
        quad q = span_label_quad(sp);
        size_t c = span_collisions(g, &q, sp->from, last);
        if (c < best_n)
            best_n = c;
        else
            sp->label_y = keep;
    }
    free(v);
}

/* Places every label; returns whether a row asked for more room. */
static bool place_labels(svg *g, bool grow) {
    const tcpw_recording *r = g->c->r;
    g->nfixed = g->nlabels = 0;
    for (size_t i = 0; i < r->count; i++) {
        if (r->ev[i].kind != TCPW_REC_SEG || !view_event_ok(g->c, i)) continue;
        seg_geo s = seg_geometry(g, i);
        g->lines[i] = line_quad(&s);
    }
    for (size_t i = 1; i < r->count; i++) {
        if (dt_between(r->ev[i - 1].t_us, r->ev[i].t_us) < BREAK_US) continue;
        char text[48];
        break_text(g, i, text, sizeof text);
        double w = (double)view_utf8_width(text, strlen(text)) * CHAR_W(11), y = break_text_y(g, i);
        push_quad(g, &g->fixed, &g->nfixed, &g->fixed_cap,
                  box((X_L + X_R) / 2 - w / 2 - 3, y - 11, (X_L + X_R) / 2 + w / 2 + 3, y + 4));
    }
    for (size_t i = 0; i < r->count; i++) {
        if (r->ev[i].kind != TCPW_REC_SEG || !view_event_ok(g->c, i) ||
            r->ev[i].fate != TCPW_FATE_DROPPED)
            continue;
        seg_geo s = seg_geometry(g, i);
        push_quad(g, &g->fixed, &g->nfixed, &g->fixed_cap,
                  box(s.ex - 9, s.ey - 9, s.ex + 9, s.ey + 9));
    }
    for (size_t k = 0; k < g->nspans; k++) {
        place_span_label(g, &g->spans[k]);
        push_quad(g, &g->fixed, &g->nfixed, &g->fixed_cap, span_label_quad(&g->spans[k]));
    }
    /* the labels along arrows in the order of the rows; then the level labels of steep
     * arrows, which have the most places to choose from */
    bool more = false;
    for (int level = 0; level < 2; level++) {
        for (size_t i = 0; i < r->count; i++) {
            if (r->ev[i].kind != TCPW_REC_SEG || !view_event_ok(g->c, i)) continue;
            if (seg_geometry(g, i).level != (level == 1)) continue;
            if (place_label(g, i) && grow && !level && g->extra[i] < GROW_MAX) {
                g->extra[i] += GROW_STEP;
                more = true;
            }
        }
    }
    return more && !g->oom;
}

static void layout(svg *g) {
    /* a long recording gets fewer rounds: its picture is for scrolling, not for reading whole */
    int rounds = g->c->r->count <= 4000 ? LAYOUT_ROUNDS : 2;
    for (int round = 0;; round++) {
        layout_rows(g);
        if (!place_labels(g, round < rounds)) break;
    }
}

/* Numbers the explanations; returns how many footnote lines they take. */
static size_t layout_footnotes(svg *g) {
    size_t lines = 0, number = 0;
    char text[EXPLAIN_MAX];
    if (!g->c->o.explain) return 0;
    for (size_t i = 0; i < g->c->r->count; i++) {
        if (view_explain(g->c, i, text, sizeof text) == 0) continue;
        g->foot[i] = ++number;
        for (const char *p = text; *p;) {
            view_wrap(p, FOOT_COLS - 6, &p);
            lines++;
        }
    }
    return lines ? lines + 2 : 0;
}

/* ---- pieces of the picture ------------------------------------------------------------------ */

static void header(const svg *g, double height) {
    FILE *out = g->out;
    fprintf(out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"%s\" font-size=\"12\">\n",
            WIDTH, height, WIDTH, height, FONT);
    fputs("<desc>TCP ladder diagram drawn by tcpwave</desc>\n", out);
    fputs("<style>.halo{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}"
          "</style>\n",
          out);
    fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", WIDTH,
            height);
    if (g->c->o.title[0]) {
        fprintf(out,
                "<text class=\"title\" x=\"%.0f\" y=\"28\" text-anchor=\"middle\" "
                "font-size=\"16\" font-weight=\"bold\" fill=\"%s\">",
                WIDTH / 2, C_TEXT);
        put_xml(out, g->c->o.title);
        fputs("</text>\n", out);
    }
}

static void participant(const svg *g, int side, double y) {
    const tcpw_recording *r = g->c->r;
    const char *name = g->c->name[side];
    double x = side_x(side);
    double w = (double)view_utf8_width(name, strlen(name)) * 9.5 + 28;
    if (w < 110) w = 110;
    fprintf(g->out,
            "<g class=\"participant\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"28\" "
            "rx=\"5\" fill=\"#eceff1\" stroke=\"#607d8b\"/><text x=\"%.1f\" y=\"%.1f\" "
            "text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\" fill=\"%s\">",
            x - w / 2, y - 19, w, x, y, C_TEXT);
    put_xml(g->out, name);
    fputs("</text>", g->out);
    if (r->ep[side].addr.family) {
        char ep[TCPW_EPSTRLEN];
        if (tcpw_endpoint_format(&r->ep[side], ep, sizeof ep)) {
            fprintf(g->out,
                    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\" "
                    "fill=\"%s\">",
                    x, y + 24, C_MUTED);
            put_xml(g->out, ep);
            fputs("</text>", g->out);
        }
    }
    fputs("</g>\n", g->out);
}

static void timeline(const svg *g, int side) {
    const tcpw_recording *r = g->c->r;
    double x = side_x(side), from = g->y_top;
    int st = g->c->init_st[side];
    fprintf(g->out,
            "<line class=\"timeline\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"%s\" stroke-width=\"1.2\"/>\n",
            x, g->y_top, x, g->y_end, C_GRID);
    for (size_t i = 0; i <= r->count; i++) {
        bool last = i == r->count;
        if (!last &&
            (r->ev[i].kind != TCPW_REC_STATE || !view_event_ok(g->c, i) || r->ev[i].side != side))
            continue;
        double to = last ? g->y_end : g->y[i];
        if (st != VIEW_STATE_UNKNOWN && to > from)
            fprintf(g->out,
                    "<line class=\"band\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                    "stroke=\"%s\" stroke-width=\"6\" stroke-opacity=\"0.35\"/>\n",
                    x, from, x, to, state_color(st));
        if (!last) {
            st = g->c->step[i].st[side];
            from = to;
        }
    }
}

static void break_marks(const svg *g) {
    const tcpw_recording *r = g->c->r;
    for (size_t i = 1; i < r->count; i++) {
        uint64_t dt = dt_between(r->ev[i - 1].t_us, r->ev[i].t_us);
        if (dt < BREAK_US) continue;
        double y = (g->y[i - 1] + g->y[i]) / 2;
        char text[48];
        break_text(g, i, text, sizeof text);
        fputs("<g class=\"gap\">", g->out);
        for (int s = 0; s < 2; s++) {
            double x = side_x(s);
            fprintf(g->out,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"9\" fill=\"#ffffff\"/>"
                    "<path d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\" stroke=\"%s\" "
                    "stroke-width=\"1.2\"/>",
                    x - 8, y - 4.5, x - 9, y - 1, x + 9, y - 6, x - 9, y + 6, x + 9, y + 1, C_GRID);
        }
        /* the duration below the marks: a lost segment's cross sits above them */
        fprintf(g->out,
                "<text class=\"halo\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                "font-size=\"11\" font-style=\"italic\" fill=\"%s\">",
                (X_L + X_R) / 2, break_text_y(g, i), C_MUTED);
        put_xml(g->out, text);
        fputs("</text></g>\n", g->out);
    }
}

/* A timer as a bracket beside its side's timeline, with its label. */
static void draw_span(const svg *g, const span *sp) {
    double x0 = side_x(sp->side), x = sp->side == 0 ? x0 + sp->inset : x0 - sp->inset;
    double y1 = g->y[sp->from], y2 = span_end_y(g, sp);
    fprintf(g->out, "<g class=\"timer\">");
    put_title(g->out, sp->tip);
    fprintf(g->out,
            "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1f\" fill=\"none\" stroke=\"%s\" "
            "stroke-width=\"2\"/><text class=\"halo\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" "
            "font-size=\"10\" font-weight=\"bold\" fill=\"%s\">",
            x0, y1, x, y1, x, y2, x0, y2, sp->color, span_text_x(sp), sp->label_y + 3.5,
            sp->side == 0 ? "start" : "end", sp->color);
    put_xml(g->out, sp->label);
    fputs("</text></g>\n", g->out);
}

static void time_labels(const svg *g) {
    const tcpw_recording *r = g->c->r;
    fprintf(g->out,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"10\" "
            "fill=\"%s\">time (s)</text>\n",
            X_TIME, g->y_init + 4, C_MUTED);
    for (size_t i = 0; i < r->count; i++) {
        if (i > 0 && r->ev[i].t_us == r->ev[i - 1].t_us) continue;
        char t[32];
        fprintf(g->out,
                "<text class=\"time\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                "font-size=\"10\" fill=\"%s\">%s</text>\n",
                X_TIME, g->y[i] + 3.5, C_MUTED, view_time(r->ev[i].t_us, t, sizeof t));
    }
}

static const char *role_name(const view_ctx *c, view_role role) {
    static const char *const en[] = {
        [VIEW_ROLE_SYN] = "handshake 1",    [VIEW_ROLE_SYNACK] = "handshake 2",
        [VIEW_ROLE_HS_ACK] = "handshake 3", [VIEW_ROLE_RST] = "reset",
        [VIEW_ROLE_WAVE1] = "1st wave",     [VIEW_ROLE_WAVE2] = "2nd wave",
        [VIEW_ROLE_WAVE3] = "3rd wave",     [VIEW_ROLE_WAVE23] = "2nd+3rd wave",
        [VIEW_ROLE_WAVE4] = "4th wave",
    };
    static const char *const zh[] = {
        [VIEW_ROLE_SYN] = "第一次握手",    [VIEW_ROLE_SYNACK] = "第二次握手",
        [VIEW_ROLE_HS_ACK] = "第三次握手", [VIEW_ROLE_RST] = "重置",
        [VIEW_ROLE_WAVE1] = "第一次挥手",  [VIEW_ROLE_WAVE2] = "第二次挥手",
        [VIEW_ROLE_WAVE3] = "第三次挥手",  [VIEW_ROLE_WAVE23] = "第二、三次挥手",
        [VIEW_ROLE_WAVE4] = "第四次挥手",
    };
    if ((unsigned)role >= sizeof en / sizeof en[0]) return NULL;
    return c->zh ? zh[role] : en[role];
}

static void seg_label(const svg *g, size_t i, char *buf, size_t cap) {
    const tcpw_rec_event *e = &g->c->r->ev[i];
    char flags[48];
    size_t n = (size_t)snprintf(buf, cap, "%s seq=%lu",
                                view_flags_long(e->flags, ", ", flags, sizeof flags),
                                (unsigned long)view_seq(g->c, e));
    if ((e->flags & TCPW_ACK) && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, " ack=%lu", (unsigned long)view_ack(g->c, e));
    if (e->len > 0 && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, " len=%lu", (unsigned long)e->len);
    if (g->c->step[i].retrans && n < cap) n += (size_t)snprintf(buf + n, cap - n, " (retrans.)");
    if (g->c->step[i].injected && n < cap) n += (size_t)snprintf(buf + n, cap - n, " (injected)");
    if (e->fate == TCPW_FATE_DUPLICATED && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, " (duplicated)");
    char late[64];
    if (view_late_tag(g->c, i, late, sizeof late)[0] && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, " %s", late);
    else if (e->fate == TCPW_FATE_REORDERED && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, " (reordered)");
    if (e->inferred && n < cap) n += (size_t)snprintf(buf + n, cap - n, " (inferred)");
    if (g->foot[i] && n < cap) snprintf(buf + n, cap - n, " [%zu]", g->foot[i]);
}

static void arrow_head(FILE *out, double x1, double y1, double x2, double y2, const char *color) {
    double dx = x2 - x1, dy = y2 - y1, len = sqrt(dx * dx + dy * dy);
    if (len < 1) return;
    double ux = dx / len, uy = dy / len, bx = x2 - ux * 10, by = y2 - uy * 10;
    fprintf(out, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fZ\" fill=\"%s\"/>", x2, y2, bx - uy * 4,
            by + ux * 4, bx + uy * 4, by - ux * 4, color);
}

static void cross(FILE *out, double x, double y) {
    fprintf(out,
            "<path d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\" stroke=\"%s\" "
            "stroke-width=\"2.4\"/>",
            x - 6, y - 6, x + 6, y + 6, x - 6, y + 6, x + 6, y - 6, C_DROP);
}

static const char *seg_role(const svg *g, size_t i) {
    const view_step *st = &g->c->step[i];
    const char *role = g->c->o.explain ? role_name(g->c, st->role) : NULL;
    if (role && st->role == VIEW_ROLE_WAVE3 && g->c->conns[st->conn].simultaneous)
        role = g->c->zh ? "同时关闭" : "simultaneous close";
    return role;
}

static void segment(const svg *g, size_t i) {
    const tcpw_rec_event *e = &g->c->r->ev[i];
    const char *color = seg_color(e);
    seg_geo s = seg_geometry(g, i);
    char label[256], tip[EXPLAIN_MAX];
    seg_label(g, i, label, sizeof label);
    if (view_explain(g->c, i, tip, sizeof tip) == 0) snprintf(tip, sizeof tip, "%s", label);

    fputs("<g class=\"seg\">", g->out);
    put_title(g->out, tip);
    fprintf(g->out,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"1.6\"%s/>",
            s.x1, s.y1, s.ex, s.ey, color, s.dropped ? " stroke-dasharray=\"6 3\"" : "");
    if (s.dropped)
        cross(g->out, s.ex, s.ey);
    else
        arrow_head(g->out, s.x1, s.y1, s.ex, s.ey, color);
    /* the label reads left to right along the arrow, above it (level beside a steep one),
     * where layout() found room */
    double ax, ay;
    label_anchor(&s, g->lab_t[i], &ax, &ay);
    double tx = s.level ? (s.x2 > s.x1 ? 8 : -8) : 0;
    const char *anchor = !s.level ? "middle" : s.x2 > s.x1 ? "start" : "end";
    fprintf(g->out, "<g transform=\"translate(%.1f %.1f) rotate(%.2f)\">", ax, ay, s.angle);
    fprintf(g->out,
            "<text class=\"halo\" x=\"%.0f\" y=\"%d\" text-anchor=\"%s\" font-size=\"11\" "
            "fill=\"%s\">",
            tx, s.level ? 4 : -5, anchor, color);
    put_xml(g->out, label);
    fputs("</text>", g->out);
    const char *role = seg_role(g, i);
    if (role) {
        fprintf(g->out,
                "<text class=\"halo\" x=\"%.0f\" y=\"%d\" text-anchor=\"%s\" "
                "font-size=\"10\" font-style=\"italic\" fill=\"%s\">",
                tx, s.level ? 17 : 12, anchor, color);
        put_xml(g->out, role);
        fputs("</text>", g->out);
    }
    fputs("</g></g>\n", g->out);
}

static void cause_short(const tcpw_rec_event *e, char *buf, size_t cap) {
    char what[sizeof e->what + 1];
    view_what(e, what, sizeof what);
    if (e->cause == TCPW_CAUSE_USER && strstr(what, "(tw_reuse)"))
        snprintf(buf, cap, "connect(): tw_reuse"); /* the long form is in the tooltip */
    else if (e->cause == TCPW_CAUSE_USER)
        snprintf(buf, cap, "%s", what);
    else if (e->cause == TCPW_CAUSE_TIMER)
        snprintf(buf, cap, "%s timer", strcmp(what, "2msl") == 0 ? "2MSL" : what);
    else if (e->cause == TCPW_CAUSE_SEGMENT)
        view_flags_long(e->cause_seg.flags, "+", buf, cap);
    else
        snprintf(buf, cap, "?");
    if (e->inferred) strncat(buf, " (inferred)", cap - strlen(buf) - 1);
}

/* The number of event i's explanation, before or after a label; returns whether there was
 * one (text that follows a marker is moved right by a space with dx). */
static bool marker(const svg *g, size_t i, bool before) {
    if (i == VIEW_NONE || !g->foot[i]) return false;
    fprintf(g->out, "<tspan%s fill=\"%s\" font-size=\"10\">[%zu]</tspan>",
            before ? "" : " dx=\"5\"", C_MARK, g->foot[i]);
    return true;
}

/* Columns of 10 px text that fit in px. */
static size_t cols_in(double px) {
    return px > CHAR_W(10) ? (size_t)(px / CHAR_W(10)) : 1;
}

static double marker_px(const svg *g, size_t i) {
    if (i == VIEW_NONE || !g->foot[i]) return 0;
    char m[32];
    snprintf(m, sizeof m, "[%zu]", g->foot[i]);
    return (double)strlen(m) * CHAR_W(10) + 5;
}

/* A state label beside side's timeline: "cause → STATE" on the left, "STATE ← cause" on the
 * right; the cause is shortened to stay clear of the time column and the picture's edge.
 * `mark`: a timer note after the state (a TIME_WAIT that lasts 0: "2MSL = 0"). */
static void state_label(const svg *g, int side, double y, int st, const char *cause, size_t i,
                        const char *mark) {
    double x = side_x(side);
    const char *color = state_color(st), *name = view_state_name(st);
    fprintf(g->out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\" stroke=\"#ffffff\"/>", x,
            y, color);
    fprintf(g->out, "<text class=\"state\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">",
            side == 0 ? x - 12 : x + 12, y + 4, side == 0 ? "end" : "start");
    double room = (side == 0 ? SIDE_ROOM_L : SIDE_ROOM_R) - marker_px(g, i) -
                  (double)strlen(name) * CHAR_W(12) -
                  (mark ? (double)strlen(mark) * CHAR_W(10) + 5 : 0) - 5 - 3 * CHAR_W(10);
    bool marked = side == 0 && marker(g, i, true);
    if (side == 0 && cause) {
        fprintf(g->out, "<tspan%s fill=\"%s\" font-size=\"10\">", marked ? " dx=\"5\"" : "",
                C_MUTED);
        put_clipped(g->out, cause, cols_in(room));
        fputs(" →</tspan>", g->out);
    }
    fprintf(g->out, "<tspan%s font-weight=\"bold\" fill=\"%s\">%s</tspan>",
            side == 0 && cause ? " dx=\"5\"" : "", color, name);
    if (mark)
        fprintf(g->out,
                "<tspan class=\"timer\" dx=\"5\" font-size=\"10\" font-weight=\"bold\" "
                "fill=\"%s\">%s</tspan>",
                C_TW, mark);
    if (side == 1 && cause) {
        fprintf(g->out, "<tspan dx=\"5\" fill=\"%s\" font-size=\"10\">← ", C_MUTED);
        put_clipped(g->out, cause, cols_in(room));
        fputs("</tspan>", g->out);
    }
    if (side == 1) marker(g, i, false);
    fputs("</text>\n", g->out);
}

static void state_change(const svg *g, size_t i) {
    const tcpw_rec_event *e = &g->c->r->ev[i];
    char cause[160], tip[EXPLAIN_MAX];
    cause_short(e, cause, sizeof cause);
    fputs("<g class=\"change\">", g->out);
    if (view_explain(g->c, i, tip, sizeof tip) > 0) put_title(g->out, tip);
    state_label(g, e->side, g->y[i], g->c->step[i].st[e->side], cause, i,
                time_wait_is_empty(g, i) ? "2MSL = 0" : NULL);
    fputs("</g>\n", g->out);
}

/* App events and notes: small italic text outside the ladder, where the state labels are. */
static void side_note(const svg *g, size_t i) {
    const tcpw_rec_event *e = &g->c->r->ev[i];
    char text[192], what[sizeof e->what + 1], tip[EXPLAIN_MAX];
    if (e->kind == TCPW_REC_APP)
        view_app_text(e, text, sizeof text);
    else
        snprintf(text, sizeof text, "%s", view_what(e, what, sizeof what));
    bool left = e->side == 0;
    fprintf(g->out, "<g class=\"%s\">", e->kind == TCPW_REC_APP ? "app" : "note");
    if (view_explain(g->c, i, tip, sizeof tip) > 0) put_title(g->out, tip);
    fprintf(g->out,
            "<text class=\"halo\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" "
            "font-size=\"10\" font-style=\"italic\" fill=\"%s\">",
            left ? X_L - 12 : X_R + 12, g->y[i] + 3.5, left ? "end" : "start",
            e->kind == TCPW_REC_APP ? "#00695c" : "#6d4c41");
    fprintf(g->out, "<tspan%s>", left && marker(g, i, true) ? " dx=\"5\"" : "");
    /* one column less than fits: the "…" of a clipped note */
    put_clipped(g->out, text, cols_in((left ? SIDE_ROOM_L : SIDE_ROOM_R) - marker_px(g, i)) - 1);
    fputs("</tspan>", g->out);
    if (!left) marker(g, i, false);
    fputs("</text></g>\n", g->out);
}

static void footnotes(const svg *g, double y) {
    char text[EXPLAIN_MAX], line[EXPLAIN_MAX];
    if (!g->c->o.explain) return;
    fprintf(g->out, "<g class=\"explain\" font-size=\"11\" fill=\"%s\">\n", C_TEXT);
    fprintf(g->out, "<text x=\"20\" y=\"%.1f\" font-weight=\"bold\">%s</text>\n", y,
            g->c->zh ? "说明" : "What happens");
    y += FOOT_LINE * 1.5;
    for (size_t i = 0; i < g->c->r->count; i++) {
        if (!g->foot[i] || view_explain(g->c, i, text, sizeof text) == 0) continue;
        bool first = true;
        for (const char *p = text; *p;) {
            const char *next;
            size_t n = view_wrap(p, FOOT_COLS - 6, &next);
            memcpy(line, p, n);
            line[n] = '\0';
            fprintf(g->out, "<text x=\"%d\" y=\"%.1f\">", first ? 20 : 56, y);
            if (first) fprintf(g->out, "<tspan fill=\"%s\">[%zu]</tspan> ", C_MARK, g->foot[i]);
            put_xml(g->out, line);
            fputs("</text>\n", g->out);
            first = false;
            y += FOOT_LINE;
            p = next;
        }
    }
    fputs("</g>\n", g->out);
}

static void draw_events(const svg *g) {
    const tcpw_recording *r = g->c->r;
    for (size_t i = 0; i < r->count; i++) {
        if (!view_event_ok(g->c, i)) continue;
        switch (r->ev[i].kind) {
        case TCPW_REC_SEG: segment(g, i); break;
        case TCPW_REC_STATE: state_change(g, i); break;
        case TCPW_REC_APP:
        case TCPW_REC_NOTE: side_note(g, i); break;
        default: break;
        }
    }
}

static void svg_free(svg *g) {
    free(g->y);
    free(g->extra);
    free(g->lab_t);
    free(g->foot);
    free(g->spans);
    free(g->fixed);
    free(g->labels);
    free(g->lines);
}

void view_render_svg(FILE *out, const view_ctx *c) {
    size_t n = c->r->count ? c->r->count : 1;
    svg g = {.out = out,
             .c = c,
             .y = calloc(n, sizeof(double)),
             .extra = calloc(n, sizeof(double)),
             .lab_t = calloc(n, sizeof(double)),
             .foot = calloc(n, sizeof(size_t)),
             .lines = calloc(n, sizeof(quad))};
    bool ep = c->r->ep[0].addr.family || c->r->ep[1].addr.family;
    double names_y = c->o.title[0] ? 62 : 34;
    g.y_top = names_y + (ep ? 36 : 14);
    g.y_init = g.y_top + 16;
    size_t foot_lines = 0;
    if (g.y && g.extra && g.lab_t && g.foot && g.lines) {
        foot_lines = layout_footnotes(&g); /* first: the numbers are part of the labels */
        time_wait_spans(&g);
        fin_wait_2_spans(&g);
        retransmission_spans(&g);
        layout(&g);
    }
    if (!g.y || !g.extra || !g.lab_t || !g.foot || !g.lines || g.oom) {
        svg_free(&g);
        fputs(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
            "width=\"200\" height=\"40\"><text x=\"10\" y=\"24\">out of memory</text></svg>\n",
            out);
        return;
    }
    double height = g.y_end + 24 + (double)foot_lines * FOOT_LINE + (foot_lines ? 10 : 0);

    header(&g, height);
    participant(&g, 0, names_y);
    participant(&g, 1, names_y);
    timeline(&g, 0);
    timeline(&g, 1);
    break_marks(&g);
    for (size_t k = 0; k < g.nspans; k++)
        draw_span(&g, &g.spans[k]);
    time_labels(&g);
    for (int s = 0; s < 2; s++)
        if (c->init_st[s] != VIEW_STATE_UNKNOWN)
            state_label(&g, s, g.y_init, c->init_st[s], NULL, VIEW_NONE, NULL);
    draw_events(&g);
    footnotes(&g, g.y_end + 30);
    fputs("</svg>\n", out);
    svg_free(&g);
}
