/* mermaid.c — the run as a mermaid sequenceDiagram, drawn like the blog posts that teach the
 * four-way close:
 *
 *   sequenceDiagram
 *       participant Client
 *       participant Server
 *       Client->>Server: FIN, ACK, seq=101, ack=1
 *       Note over Client: FIN_WAIT_1 (close())
 *
 * State changes are notes over their side, dropped segments end in a cross (-x), long idle
 * gaps and explanations are notes over both sides. Text is escaped with mermaid's entity
 * codes (#59; for ';' and so on) so that no recording can break the diagram.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "view/view_internal.h"

#define GAP_MARK_US 200000
#define NOTE_WIDTH  64

typedef struct mm {
    FILE *out;
    const view_ctx *c;
    char id[2][40];
} mm;

/* One byte of text after a ':' in a message or note: entity codes for what mermaid would
 * parse. */
static void put_text_byte(FILE *out, unsigned char ch) {
    switch (ch) {
    case ';': fputs("#59;", out); break;
    case '#': fputs("#35;", out); break;
    case '<': fputs("#60;", out); break;
    case '>': fputs("#62;", out); break;
    case '%': fputs("#37;", out); break;
    case '"': fputs("#quot;", out); break;
    default: fputc(ch < 0x20 || ch == 0x7F ? ' ' : ch, out); break;
    }
}

static void put_text(FILE *out, const char *s) {
    view_put_escaped(out, s, put_text_byte, "?");
}

static bool is_keyword(const char *id) {
    static const char *const words[] = {
        "end",      "note",       "participant", "actor",   "loop",   "alt",
        "else",     "opt",        "par",         "and",     "rect",   "critical",
        "break",    "title",      "over",        "left",    "right",  "of",
        "activate", "deactivate", "autonumber",  "box",     "create", "destroy",
        "link",     "links",      "properties",  "details", "as",     "sequencediagram"};
    char low[40];
    size_t n = strlen(id);
    if (n >= sizeof low) return false;
    for (size_t k = 0; k <= n; k++)
        low[k] = (char)tolower((unsigned char)id[k]);
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
        if (strcmp(low, words[k]) == 0) return true;
    return false;
}

/* "client" -> "Client": letters, digits and '_' of the name, capitalised. */
static void make_id(const char *name, char *id, size_t cap, int side) {
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < cap; p++)
        if (isalnum((unsigned char)*p) || *p == '_') id[n++] = *p;
    id[n] = '\0';
    if (n == 0 || isdigit((unsigned char)id[0]) || is_keyword(id) || n + 4 >= cap)
        snprintf(id, cap, "Side%d", side);
    id[0] = (char)toupper((unsigned char)id[0]);
}

static void declare(mm *m) {
    for (int s = 0; s < 2; s++)
        make_id(m->c->name[s], m->id[s], sizeof m->id[s], s);
    if (strcmp(m->id[0], m->id[1]) == 0) {
        snprintf(m->id[0], sizeof m->id[0], "Side0");
        snprintf(m->id[1], sizeof m->id[1], "Side1");
    }
    for (int s = 0; s < 2; s++) {
        char cap[64];
        snprintf(cap, sizeof cap, "%s", m->c->name[s]);
        cap[0] = (char)toupper((unsigned char)cap[0]);
        fprintf(m->out, "    participant %s", m->id[s]);
        if (strcmp(cap, m->id[s]) != 0) {
            fputs(" as ", m->out);
            put_text(m->out, m->c->name[s]);
        }
        fputc('\n', m->out);
    }
}

static void note_over(const mm *m, int side, const char *text) {
    fprintf(m->out, "    Note over %s: ", m->id[side]);
    put_text(m->out, text);
    fputc('\n', m->out);
}

/* A note over both sides, wrapped with <br/>. */
static void note_both(const mm *m, const char *text) {
    fprintf(m->out, "    Note over %s,%s: ", m->id[0], m->id[1]);
    const char *p = text;
    char line[512];
    while (*p) {
        const char *next;
        size_t n = view_wrap(p, NOTE_WIDTH, &next);
        if (n >= sizeof line) n = sizeof line - 1;
        memcpy(line, p, n);
        line[n] = '\0';
        put_text(m->out, line);
        p = next;
        if (*p) fputs("<br/>", m->out);
    }
    fputc('\n', m->out);
}

static void segment(const mm *m, size_t i) {
    const tcpw_rec_event *e = &m->c->r->ev[i];
    const view_step *s = &m->c->step[i];
    char flags[48], label[256];
    int peer = view_peer(e);
    snprintf(label, sizeof label, "%s, seq=%lu",
             view_flags_long(e->flags, ", ", flags, sizeof flags),
             (unsigned long)view_seq(m->c, e));
    size_t n = strlen(label);
    if (e->flags & TCPW_ACK)
        n += (size_t)snprintf(label + n, sizeof label - n, ", ack=%lu",
                              (unsigned long)view_ack(m->c, e));
    if (e->len > 0 && n < sizeof label)
        n += (size_t)snprintf(label + n, sizeof label - n, ", len=%lu", (unsigned long)e->len);
    if (s->retrans && n < sizeof label)
        n += (size_t)snprintf(label + n, sizeof label - n, " (retransmission)");
    if (s->injected && n < sizeof label)
        n += (size_t)snprintf(label + n, sizeof label - n, " (injected)");
    char late[64];
    if (view_late_tag(m->c, i, late, sizeof late)[0]) {
        if (e->fate == TCPW_FATE_DUPLICATED && n < sizeof label)
            n += (size_t)snprintf(label + n, sizeof label - n, " (duplicated)");
        if (n < sizeof label) n += (size_t)snprintf(label + n, sizeof label - n, " %s", late);
    } else if (e->fate != TCPW_FATE_DELIVERED && n < sizeof label) {
        n += (size_t)snprintf(label + n, sizeof label - n, " (%s)", tcpw_seg_fate_name(e->fate));
    }
    if (e->inferred && n < sizeof label) snprintf(label + n, sizeof label - n, " (inferred)");
    fprintf(m->out, "    %s%s%s: ", m->id[e->side], e->fate == TCPW_FATE_DROPPED ? "-x" : "->>",
            m->id[peer]);
    put_text(m->out, label);
    fputc('\n', m->out);
}

/* The arrival of a late segment (held, reordered), at its arrival time: a note over the
 * receiver, since a message of a sequenceDiagram has no travel time of its own. */
static void arrival(const mm *m, size_t i) {
    const tcpw_rec_event *e = &m->c->r->ev[i];
    char flags[48], late[64], text[256];
    int n = snprintf(
        text, sizeof text, "arrives %s: %s, seq=%lu", view_arrival_tag(m->c, i, late, sizeof late),
        view_flags_long(e->flags, ", ", flags, sizeof flags), (unsigned long)view_seq(m->c, e));
    if ((e->flags & TCPW_ACK) && n > 0 && (size_t)n < sizeof text)
        n += snprintf(text + n, sizeof text - (size_t)n, ", ack=%lu",
                      (unsigned long)view_ack(m->c, e));
    if (e->len > 0 && n > 0 && (size_t)n < sizeof text)
        snprintf(text + n, sizeof text - (size_t)n, ", len=%lu", (unsigned long)e->len);
    note_over(m, view_peer(e), text);
}

static void state_change(const mm *m, const tcpw_rec_event *e) {
    char what[sizeof e->what + 1], text[256];
    const char *to = view_state_name((unsigned)e->to < TCPW_STATE_COUNT ? (int)e->to : -1);
    view_what(e, what, sizeof what);
    if (e->cause == TCPW_CAUSE_USER)
        snprintf(text, sizeof text, "%s (%s)", to, what);
    else if (e->cause == TCPW_CAUSE_TIMER)
        snprintf(text, sizeof text, "%s (%s timer)", to, strcmp(what, "2msl") == 0 ? "2MSL" : what);
    else
        snprintf(text, sizeof text, "%s", to);
    if (e->inferred) strncat(text, " (inferred)", sizeof text - strlen(text) - 1);
    note_over(m, e->side, text);
}

static void event(const mm *m, size_t i) {
    const tcpw_rec_event *e = &m->c->r->ev[i];
    char text[256], what[sizeof e->what + 1];
    switch (e->kind) {
    case TCPW_REC_SEG: segment(m, i); break;
    case TCPW_REC_STATE: state_change(m, e); break;
    case TCPW_REC_APP: note_over(m, e->side, view_app_text(e, text, sizeof text)); break;
    case TCPW_REC_NOTE: note_over(m, e->side, view_what(e, what, sizeof what)); break;
    default: break;
    }
    char explain[1024];
    if (m->c->o.explain && view_explain(m->c, i, explain, sizeof explain) > 0)
        note_both(m, explain);
}

/* A note over both sides for an idle gap of GAP_MARK_US or more. */
static void gap(const mm *m, bool have_prev, uint64_t prev, uint64_t now) {
    if (!have_prev || now <= prev || now - prev < GAP_MARK_US) return;
    char dur[32], text[64];
    snprintf(text, sizeof text, m->c->zh ? "~ %s 后 ~" : "~ %s later ~",
             view_duration(now - prev, dur, sizeof dur));
    note_both(m, text);
}

void view_render_mermaid(FILE *out, const view_ctx *c) {
    mm m = {.out = out, .c = c};
    fputs("sequenceDiagram\n", out);
    if (c->o.title[0]) {
        /* the title runs to the end of the line and may hold neither '#' nor ';' */
        fputs("    title ", out);
        for (const char *p = c->o.title; *p; p++)
            fputc(*p == '#' || *p == ';' || (unsigned char)*p < 0x20 ? ' ' : *p, out);
        fputc('\n', out);
    }
    declare(&m);
    for (int s = 0; s < 2; s++)
        if (c->init_st[s] != VIEW_STATE_UNKNOWN) note_over(&m, s, view_state_name(c->init_st[s]));
    size_t *late = NULL, nlate = view_late_arrivals(c, &late), next = 0;
    bool have_prev = false;
    uint64_t prev = 0;
    for (size_t i = 0; i <= c->r->count; i++) {
        bool end = i == c->r->count;
        if (!end && !view_event_ok(c, i)) continue;
        uint64_t now = end ? UINT64_MAX : c->r->ev[i].t_us;
        /* late arrivals first, at their own time, before the events of that instant */
        for (; next < nlate && c->r->ev[late[next]].arrive_us <= now; next++) {
            gap(&m, have_prev, prev, c->r->ev[late[next]].arrive_us);
            arrival(&m, late[next]);
            prev = c->r->ev[late[next]].arrive_us;
            have_prev = true;
        }
        if (end) break;
        gap(&m, have_prev, prev, now);
        event(&m, i);
        prev = now;
        have_prev = true;
    }
    free(late);
}
