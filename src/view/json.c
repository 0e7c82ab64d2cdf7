/* json.c — the run as JSON lines: one object per event, keys in a fixed order, so that other
 * tools and tests can read it (and diff it). The schema is docs/trace-json.md.
 */
#include <string.h>

#include "core/wire.h"
#include "view/view_internal.h"

static void put_string_byte(FILE *out, unsigned char ch) {
    if (ch == '"' || ch == '\\')
        fprintf(out, "\\%c", ch);
    else if (ch == '\n')
        fputs("\\n", out);
    else if (ch == '\t')
        fputs("\\t", out);
    else if (ch < 0x20 || ch == 0x7F)
        fprintf(out, "\\u%04x", ch);
    else
        fputc(ch, out);
}

/* A JSON string: quotes, escapes, control characters as \u00XX, invalid UTF-8 as U+FFFD. */
static void put_string(FILE *out, const char *s) {
    fputc('"', out);
    view_put_escaped(out, s, put_string_byte, "\\ufffd");
    fputc('"', out);
}

static void put_head(FILE *out, const tcpw_rec_event *e, const char *ev) {
    fprintf(out, "{\"t_us\":%llu,\"ev\":\"%s\"", (unsigned long long)e->t_us, ev);
}

static void put_key_string(FILE *out, const char *key, const char *value) {
    fprintf(out, ",\"%s\":", key);
    put_string(out, value);
}

static void put_segment(FILE *out, const view_ctx *c, const tcpw_rec_event *e) {
    char flags[16];
    put_head(out, e, "seg");
    put_key_string(out, "from", c->name[e->side]);
    put_key_string(out, "to", c->name[view_peer(e)]);
    put_key_string(out, "flags", tcpw_flags_str(e->flags, flags));
    fprintf(out, ",\"seq\":%lu,\"ack\":%lu,\"rel_seq\":%lu,\"rel_ack\":%lu,\"len\":%lu,\"win\":%u",
            (unsigned long)e->seq, (unsigned long)e->ack, (unsigned long)e->rel_seq,
            (unsigned long)e->rel_ack, (unsigned long)e->len, (unsigned)e->win);
    put_key_string(out, "fate", tcpw_seg_fate_name(e->fate));
    if (e->fate != TCPW_FATE_DROPPED)
        fprintf(out, ",\"arrive_us\":%llu", (unsigned long long)e->arrive_us);
}

/* "close()", "timer:2msl" or "seg:FA seq=1000 ack=2000" (absolute numbers). */
static void cause_string(const tcpw_rec_event *e, char *buf, size_t cap) {
    char what[sizeof e->what + 1], flags[16];
    view_what(e, what, sizeof what);
    switch (e->cause) {
    case TCPW_CAUSE_USER: snprintf(buf, cap, "%s", what); break;
    case TCPW_CAUSE_TIMER: snprintf(buf, cap, "timer:%s", what); break;
    case TCPW_CAUSE_SEGMENT:
        snprintf(buf, cap, "seg:%s seq=%lu ack=%lu", tcpw_flags_str(e->cause_seg.flags, flags),
                 (unsigned long)e->cause_seg.seq, (unsigned long)e->cause_seg.ack);
        break;
    default: snprintf(buf, cap, "?"); break;
    }
}

static const char *state_or_unknown(tcpw_state st) {
    return (unsigned)st < TCPW_STATE_COUNT ? tcpw_state_name(st) : "?";
}

static void put_state(FILE *out, const view_ctx *c, const tcpw_rec_event *e) {
    char cause[160];
    put_head(out, e, "state");
    put_key_string(out, "who", c->name[e->side]);
    put_key_string(out, "from", state_or_unknown(e->from));
    put_key_string(out, "to", state_or_unknown(e->to));
    cause_string(e, cause, sizeof cause);
    put_key_string(out, "cause", cause);
}

static void put_app(FILE *out, const view_ctx *c, const tcpw_rec_event *e) {
    put_head(out, e, "app");
    put_key_string(out, "who", c->name[e->side]);
    put_key_string(out, "what", tcpw_app_what_name(e->app));
    fprintf(out, ",\"bytes\":%llu", (unsigned long long)e->bytes);
}

static void put_note(FILE *out, const view_ctx *c, const tcpw_rec_event *e) {
    char text[sizeof e->what + 1];
    put_head(out, e, "note");
    put_key_string(out, "who", c->name[e->side]);
    put_key_string(out, "text", view_what(e, text, sizeof text));
}

static void put_event(FILE *out, const view_ctx *c, size_t i) {
    const tcpw_rec_event *e = &c->r->ev[i];
    switch (e->kind) {
    case TCPW_REC_SEG: put_segment(out, c, e); break;
    case TCPW_REC_STATE: put_state(out, c, e); break;
    case TCPW_REC_APP: put_app(out, c, e); break;
    case TCPW_REC_NOTE: put_note(out, c, e); break;
    default: return;
    }
    if (e->inferred) fputs(",\"inferred\":true", out);
    char explain[1024];
    if (c->o.explain && view_explain(c, i, explain, sizeof explain) > 0)
        put_key_string(out, "explain", explain);
    fputs("}\n", out);
}

void view_render_json(FILE *out, const view_ctx *c) {
    for (size_t i = 0; i < c->r->count; i++)
        if (view_event_ok(c, i)) put_event(out, c, i);
}
