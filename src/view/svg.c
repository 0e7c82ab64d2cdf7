/* svg.c — the run as a standalone SVG ladder diagram.
 *
 * Two vertical timelines (client left, server right) coloured by the state each side is in,
 * with a label at every state change; one slanted arrow per segment from its send time on the
 * sender's line to its arrival time on the receiver's line (a dropped one stops half-way in a
 * cross); brackets beside the timelines for the timers (TIME_WAIT's 2MSL, the wait before each
 * retransmission). Each event gets a row; the space between rows grows with the logarithm of
 * the idle time, and gaps of a second or more are drawn as a break marked "≈ 60 s", so that a
 * 60 s TIME_WAIT and a 100 µs round trip both stay readable.
 *
 * Every segment is one <g class="seg">, every state label a <text class="state">. With
 * `explain`, arrows carry the name of their step (1st wave, ...), every element a <title>
 * tooltip, and numbered explanations follow the diagram.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/addr.h"
#include "view/view_internal.h"

#define WIDTH       1000.0
#define X_TIME      70.0
#define X_L         300.0
#define X_R         760.0
#define ROW         24.0
#define BREAK_US    1000000u
#define BREAK_H     76.0
#define LABEL_AT    0.28 /* where along an arrow its label sits, from the sender */
#define FOOT_COLS   138
#define FOOT_LINE   15.0
#define NOTE_COLS   36
#define EXPLAIN_MAX 1024
#define PI          3.14159265358979323846

#define FONT    "DejaVu Sans Mono, Menlo, Consolas, monospace"
#define C_GRID  "#90a4ae"
#define C_MUTED "#78909c"
#define C_TEXT  "#263238"
#define C_DROP  "#c62828"
#define C_TW    "#1565c0"
#define C_RTO   "#e65100"
#define C_MARK  "#1e88e5"

typedef struct svg {
    FILE *out;
    const view_ctx *c;
    double *y;     /* each event's row */
    double y_top;  /* where the timelines start */
    double y_init; /* the row of the initial states */
    double y_end;  /* where they end */
    double drop;   /* typical vertical travel of an arrow, for dropped ones */
    size_t *foot;  /* each event's explanation number, 0 for none */
} svg;

/* ---- XML text ------------------------------------------------------------------------------- */

static void put_xml(FILE *out, const char *s) {
    size_t n = strlen(s);
    while (n > 0) {
        bool bad;
        size_t ok = view_utf8_valid(s, n, &bad);
        for (size_t k = 0; k < ok; k++) {
            unsigned char ch = (unsigned char)s[k];
            switch (ch) {
            case '&': fputs("&amp;", out); break;
            case '<': fputs("&lt;", out); break;
            case '>': fputs("&gt;", out); break;
            case '"': fputs("&quot;", out); break;
            case '\'': fputs("&#39;", out); break;
            default: fputc(ch < 0x20 || ch == 0x7F ? ' ' : ch, out); break;
            }
        }
        if (!bad) break;
        fputs("\xEF\xBF\xBD", out); /* U+FFFD for a byte that is not UTF-8 */
        s += ok + 1;
        n -= ok + 1;
    }
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

static void layout_rows(svg *g) {
    const tcpw_recording *r = g->c->r;
    double y = g->y_init;
    for (size_t i = 0; i < r->count; i++) {
        uint64_t dt = i ? dt_between(r->ev[i - 1].t_us, r->ev[i].t_us) : 0;
        y += ROW + gap_px(dt);
        g->y[i] = y;
    }
    g->y_end = y + ROW;
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < r->count; i++) {
        if (!view_event_ok(g->c, i) || !delivered_seg(&r->ev[i])) continue;
        double end = arrival_y(g, i);
        sum += end - g->y[i];
        n++;
        if (end + ROW > g->y_end) g->y_end = end + ROW;
    }
    g->drop = n ? sum / (double)n : ROW + 20;
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
        char dur[32];
        fputs("<g class=\"gap\">", g->out);
        for (int s = 0; s < 2; s++) {
            double x = side_x(s);
            fprintf(g->out,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"9\" fill=\"#ffffff\"/>"
                    "<path d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\" stroke=\"%s\" "
                    "stroke-width=\"1.2\"/>",
                    x - 8, y - 4.5, x - 9, y - 1, x + 9, y - 6, x - 9, y + 6, x + 9, y + 1, C_GRID);
        }
        fprintf(g->out,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\" "
                "font-style=\"italic\" fill=\"%s\">≈ %s</text></g>\n",
                (X_L + X_R) / 2, y + 4, C_MUTED, view_duration(dt, dur, sizeof dur));
    }
}

/* The middle of the longest stretch between rows first..last: where a label stays clear. */
static double quiet_y(const svg *g, size_t first, size_t last, double y_last) {
    double best = -1, y = (g->y[first] + y_last) / 2;
    for (size_t k = first; k < last && k + 1 < g->c->r->count; k++) {
        double gap = g->y[k + 1] - g->y[k];
        if (gap > best + 0.5) {
            best = gap;
            y = (g->y[k] + g->y[k + 1]) / 2;
        }
    }
    if (last >= g->c->r->count && y_last - g->y[g->c->r->count - 1] > best)
        y = (g->y[g->c->r->count - 1] + y_last) / 2;
    return y;
}

/* A bracket beside side's timeline from y1 to y2, with a label at label_y. */
static void bracket(const svg *g, int side, double inset, double y1, double y2, double label_y,
                    const char *color, const char *label, const char *tip) {
    double x0 = side_x(side), x = side == 0 ? x0 + inset : x0 - inset;
    double tx = side == 0 ? x + 5 : x - 5;
    fprintf(g->out, "<g class=\"timer\">");
    put_title(g->out, tip);
    fprintf(g->out,
            "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1f\" fill=\"none\" stroke=\"%s\" "
            "stroke-width=\"2\"/><text class=\"halo\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" "
            "font-size=\"10\" font-weight=\"bold\" fill=\"%s\">",
            x0, y1, x, y1, x, y2, x0, y2, color, tx, label_y + 3.5, side == 0 ? "start" : "end",
            color);
    put_xml(g->out, label);
    fputs("</text></g>\n", g->out);
}

static void time_wait_spans(const svg *g) {
    const tcpw_recording *r = g->c->r;
    for (size_t i = 0; i < r->count; i++) {
        const tcpw_rec_event *e = &r->ev[i];
        if (e->kind != TCPW_REC_STATE || !view_event_ok(g->c, i) || e->to != TCPW_TIME_WAIT)
            continue;
        size_t k = i + 1;
        while (k < r->count && !(r->ev[k].kind == TCPW_REC_STATE && r->ev[k].side == e->side))
            k++;
        char label[64], dur[32];
        double y2 = k < r->count ? g->y[k] : g->y_end - 4;
        if (k < r->count)
            snprintf(label, sizeof label, "TIME_WAIT (2MSL) %s",
                     view_duration(dt_between(e->t_us, r->ev[k].t_us), dur, sizeof dur));
        else
            snprintf(label, sizeof label, "TIME_WAIT (2MSL)");
        bracket(g, e->side, 9, g->y[i], y2, quiet_y(g, i, k, y2), C_TW, label,
                g->c->zh ? "TIME_WAIT：等待 2MSL，让本连接的报文在网络中消失（RFC 9293 §3.6.1）"
                         : "TIME_WAIT lasts 2MSL so that old segments die out (RFC 9293 §3.6.1)");
    }
}

static void retransmission_spans(const svg *g) {
    const tcpw_recording *r = g->c->r;
    for (size_t i = 0; i < r->count; i++) {
        uint64_t wait;
        if (!view_event_ok(g->c, i) || !view_retrans_wait(g->c, i, &wait)) continue;
        char label[48], dur[32];
        snprintf(label, sizeof label, "RTO %s", view_duration(wait, dur, sizeof dur));
        size_t orig = g->c->step[i].orig;
        bracket(g, r->ev[i].side, 17, g->y[orig], g->y[i], quiet_y(g, orig, i, g->y[i]), C_RTO,
                label,
                g->c->zh ? "超时重传：等待 RTO 后重发（RFC 6298）"
                         : "retransmission after the RTO (RFC 6298)");
    }
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
    if (e->fate == TCPW_FATE_DUPLICATED && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, " (duplicated)");
    if (e->fate == TCPW_FATE_REORDERED && n < cap)
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

static void segment(const svg *g, size_t i) {
    const tcpw_rec_event *e = &g->c->r->ev[i];
    const char *color = seg_color(e);
    bool dropped = e->fate == TCPW_FATE_DROPPED;
    double x1 = side_x(e->side), y1 = g->y[i], x2 = side_x(view_peer(e));
    double y2 = dropped ? y1 + g->drop : arrival_y(g, i);
    double ex = dropped ? x1 + (x2 - x1) * 0.55 : x2, ey = dropped ? y1 + (y2 - y1) * 0.55 : y2;
    char label[256], tip[EXPLAIN_MAX];
    seg_label(g, i, label, sizeof label);
    if (view_explain(g->c, i, tip, sizeof tip) == 0) snprintf(tip, sizeof tip, "%s", label);

    fputs("<g class=\"seg\">", g->out);
    put_title(g->out, tip);
    fprintf(g->out,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"1.6\"%s/>",
            x1, y1, ex, ey, color, dropped ? " stroke-dasharray=\"6 3\"" : "");
    if (dropped)
        cross(g->out, ex, ey);
    else
        arrow_head(g->out, x1, y1, ex, ey, color);
    /* the label reads left to right along the arrow, above it */
    double lx = x1 + (x2 - x1) * LABEL_AT, ly = y1 + (y2 - y1) * LABEL_AT;
    double angle = atan2(x2 > x1 ? y2 - y1 : y1 - y2, fabs(x2 - x1)) * 180.0 / PI;
    fprintf(g->out, "<g transform=\"translate(%.1f %.1f) rotate(%.2f)\">", lx, ly, angle);
    fprintf(g->out,
            "<text class=\"halo\" x=\"0\" y=\"-5\" text-anchor=\"middle\" "
            "font-size=\"11\" fill=\"%s\">",
            color);
    put_xml(g->out, label);
    fputs("</text>", g->out);
    const view_step *st = &g->c->step[i];
    const char *role = g->c->o.explain ? role_name(g->c, st->role) : NULL;
    if (role && st->role == VIEW_ROLE_WAVE3 && g->c->conns[st->conn].simultaneous)
        role = g->c->zh ? "同时关闭" : "simultaneous close";
    if (role) {
        fprintf(g->out,
                "<text class=\"halo\" x=\"0\" y=\"12\" text-anchor=\"middle\" "
                "font-size=\"10\" font-style=\"italic\" fill=\"%s\">",
                color);
        put_xml(g->out, role);
        fputs("</text>", g->out);
    }
    fputs("</g></g>\n", g->out);
}

static void cause_short(const tcpw_rec_event *e, char *buf, size_t cap) {
    char what[sizeof e->what + 1];
    view_what(e, what, sizeof what);
    if (e->cause == TCPW_CAUSE_USER)
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

/* A state label beside side's timeline: "cause → STATE" on the left, "STATE ← cause" on the
 * right. */
static void state_label(const svg *g, int side, double y, int st, const char *cause, size_t i) {
    double x = side_x(side);
    const char *color = state_color(st);
    fprintf(g->out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\" stroke=\"#ffffff\"/>", x,
            y, color);
    fprintf(g->out, "<text class=\"state\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">",
            side == 0 ? x - 12 : x + 12, y + 4, side == 0 ? "end" : "start");
    bool marked = side == 0 && marker(g, i, true);
    if (side == 0 && cause) {
        fprintf(g->out, "<tspan%s fill=\"%s\" font-size=\"10\">", marked ? " dx=\"5\"" : "",
                C_MUTED);
        put_xml(g->out, cause);
        fputs(" →</tspan>", g->out);
    }
    fprintf(g->out, "<tspan%s font-weight=\"bold\" fill=\"%s\">%s</tspan>",
            side == 0 && cause ? " dx=\"5\"" : "", color, view_state_name(st));
    if (side == 1 && cause) {
        fprintf(g->out, "<tspan dx=\"5\" fill=\"%s\" font-size=\"10\">← ", C_MUTED);
        put_xml(g->out, cause);
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
    state_label(g, e->side, g->y[i], g->c->step[i].st[e->side], cause, i);
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
    put_clipped(g->out, text, NOTE_COLS);
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

void view_render_svg(FILE *out, const view_ctx *c) {
    size_t n = c->r->count ? c->r->count : 1;
    svg g = {.out = out, .c = c, .y = calloc(n, sizeof(double)), .foot = calloc(n, sizeof(size_t))};
    if (!g.y || !g.foot) {
        free(g.y);
        free(g.foot);
        fputs(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
            "width=\"200\" height=\"40\"><text x=\"10\" y=\"24\">out of memory</text></svg>\n",
            out);
        return;
    }
    bool ep = c->r->ep[0].addr.family || c->r->ep[1].addr.family;
    double names_y = c->o.title[0] ? 62 : 34;
    g.y_top = names_y + (ep ? 36 : 14);
    g.y_init = g.y_top + 16;
    layout_rows(&g);
    size_t foot_lines = layout_footnotes(&g);
    double height = g.y_end + 24 + (double)foot_lines * FOOT_LINE + (foot_lines ? 10 : 0);

    header(&g, height);
    participant(&g, 0, names_y);
    participant(&g, 1, names_y);
    timeline(&g, 0);
    timeline(&g, 1);
    break_marks(&g);
    time_wait_spans(&g);
    retransmission_spans(&g);
    time_labels(&g);
    for (int s = 0; s < 2; s++)
        if (c->init_st[s] != VIEW_STATE_UNKNOWN)
            state_label(&g, s, g.y_init, c->init_st[s], NULL, VIEW_NONE);
    draw_events(&g);
    footnotes(&g, g.y_end + 30);
    fputs("</svg>\n", out);
    free(g.y);
    free(g.foot);
}
