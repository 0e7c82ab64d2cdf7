/* view_internal.h — what the renderers of view.h share: the analysis of a recording (what
 * each segment is in the life of the connection: handshake step, data, 1st..4th wave of the
 * close, retransmission) and small text helpers (numbers, flags, times, UTF-8 widths).
 *
 * Not a public header: only the files of src/view include it.
 */
#ifndef TCPW_VIEW_INTERNAL_H
#define TCPW_VIEW_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "view/recording.h"
#include "view/view.h"

#define VIEW_NONE          ((size_t)-1)
#define VIEW_STATE_UNKNOWN (-1)

/* What a segment is, in the words of the seeds. */
typedef enum view_role {
    VIEW_ROLE_OTHER = 0, /* not a segment, or nothing notable */
    VIEW_ROLE_SYN,       /* 1st step of the three-way handshake */
    VIEW_ROLE_SYNACK,    /* 2nd step */
    VIEW_ROLE_HS_ACK,    /* 3rd step: the ACK of the SYN+ACK */
    VIEW_ROLE_DATA,      /* carries payload */
    VIEW_ROLE_ACK,       /* a plain acknowledgment */
    VIEW_ROLE_RST,
    VIEW_ROLE_WAVE1,  /* 第一次挥手: the first FIN (the active closer's) */
    VIEW_ROLE_WAVE2,  /* 第二次挥手: the peer's ACK of that FIN */
    VIEW_ROLE_WAVE3,  /* 第三次挥手: the peer's FIN */
    VIEW_ROLE_WAVE23, /* 2nd and 3rd wave in one FIN+ACK */
    VIEW_ROLE_WAVE4,  /* 第四次挥手: the active closer's ACK of the peer's FIN */
} view_role;

/* One connection on the 4-tuple (a new one starts with a SYN after a FIN or RST). */
typedef struct view_conn {
    int closer;        /* the side that sent the first FIN (active closer), -1 none yet */
    bool simultaneous; /* the peer's FIN did not acknowledge the first FIN: both closed */
    size_t syn[2];     /* each side's first SYN segment */
    size_t hs3;        /* the 3rd step of the handshake */
    size_t fin1, ack2, fin3, ack4; /* the four waves (event indexes), VIEW_NONE if absent */
} view_conn;

/* The analysis of one event. */
typedef struct view_step {
    view_role role;
    bool retrans;   /* segment: repeats sequence space sent before (a retransmission) */
    bool injected;  /* segment: put on the wire by the test, not by the stack (a note says so:
                       "injected: ..."), such as a copy of an old segment */
    bool repeat;    /* segment: a repeated 4th wave (answer to a retransmitted FIN) */
    size_t orig;    /* retrans: the earlier transmission */
    size_t conn;    /* index into view_ctx.conns */
    int st[2];      /* each side's state after the event, VIEW_STATE_UNKNOWN if not known */
    uint64_t since; /* state change: when the side had entered `from`, UINT64_MAX unknown */
} view_step;

typedef struct view_ctx {
    const tcpw_recording *r;
    tcpw_view_opts o; /* resolved: lang and title never NULL */
    bool zh;
    const char *name[2];
    int init_st[2];   /* each side's state before the first event */
    view_step *step;  /* r->count entries */
    view_conn *conns; /* one per connection: there are at most one per SYN, plus one */
    size_t nconns, nconns_cap;
    uint64_t base_lat[2]; /* the shortest travel time of a segment sent by each side (one
                             that took some time), UINT64_MAX when none */
} view_ctx;

/* ---- analysis (common.c) ------------------------------------------------------------------ */

/* Analyses r; 0, or -1 when out of memory. o may be NULL (defaults). */
int view_ctx_init(view_ctx *c, const tcpw_recording *r, const tcpw_view_opts *o);
void view_ctx_free(view_ctx *c);
/* Whether event i can be drawn (its side is 0 or 1). */
bool view_event_ok(const view_ctx *c, size_t i);
/* The receiving side of a segment event. */
int view_peer(const tcpw_rec_event *e);
/* The segment's sequence / acknowledgment number as shown: relative unless opts.absolute or
 * unknown. */
uint32_t view_seq(const view_ctx *c, const tcpw_rec_event *e);
uint32_t view_ack(const view_ctx *c, const tcpw_rec_event *e);
/* The seeds' letters: u = seq of the active closer's FIN, v = seq of the 2nd wave, w = seq of
 * the passive closer's FIN, as shown. False when that segment is not in the recording. */
bool view_letter(const view_ctx *c, size_t conn, char letter, uint32_t *out);
/* When event i is a retransmission: the time it waited since the earlier transmission. */
bool view_retrans_wait(const view_ctx *c, size_t i, uint64_t *wait_us);
/* A note that marks a retransmission ("retransmit...", "retransmission timeout..."). */
bool view_note_is_retransmit(const char *text);
/* A note that says the next segment of its side was injected ("injected: ..."). */
bool view_note_is_injection(const char *text);
/* When segment i arrives late — held by a rule, reordered: at least 1 ms, and at least the
 * shortest travel time of its direction, later than that shortest travel time — how much
 * later. Its arrival is then far from its send time and worth a row of its own. */
bool view_seg_late(const view_ctx *c, size_t i, uint64_t *late_us);
/* The late segments (view_seg_late) in the order of their arrival (then of their sending):
 * a malloc'd array of event indexes in *out (NULL when none or out of memory); returns how
 * many. */
size_t view_late_arrivals(const view_ctx *c, size_t **out);
/* "(held 70 ms)" or "(reordered: 10 ms late)" for a late segment; "" otherwise. */
const char *view_late_tag(const view_ctx *c, size_t i, char *buf, size_t cap);
/* The same at its arrival: "(held 70 ms)", or just "(reordered)" (how late is said where it
 * was sent). */
const char *view_arrival_tag(const view_ctx *c, size_t i, char *buf, size_t cap);

/* ---- text helpers (common.c) --------------------------------------------------------------- */

/* "FIN, ACK" (sep ", ") or "FIN+ACK" (sep "+"), bit order as Wireshark; "none" for 0. */
const char *view_flags_long(uint8_t flags, const char *sep, char *buf, size_t cap);
/* "12.000345" seconds with six decimals (no unit). buf >= 32. */
const char *view_time(uint64_t us, char *buf, size_t cap);
/* "60 s", "1.5 s", "40 ms", "100 µs". buf >= 32. */
const char *view_duration(uint64_t us, char *buf, size_t cap);
/* tcpw_state_name(), or "-" for an unknown state. */
const char *view_state_name(int st);
/* Side i's name as the explanation says it ("the client" is "client"; zh: 客户端). */
const char *view_who(const view_ctx *c, int side);
/* What an application saw, in a few words: "app: EOF (read returns 0)". */
const char *view_app_text(const tcpw_rec_event *e, char *buf, size_t cap);
/* The event's `what` text, NUL-terminated whatever the buffer held. */
const char *view_what(const tcpw_rec_event *e, char *buf, size_t cap);
/* Columns the UTF-8 text s[0..n) takes in a terminal (CJK 2, combining 0). */
size_t view_utf8_width(const char *s, size_t n);
/* Bytes of s to put on one line of at most `width` columns, breaking after a space or between
 * wide characters; *next is where the next line starts (spaces skipped). */
size_t view_wrap(const char *s, size_t width, const char **next);
/* The length of the longest prefix of s[0..n) that is valid UTF-8 cut at a character boundary;
 * with *bad set when an invalid byte stopped it (n when all is valid). */
size_t view_utf8_valid(const char *s, size_t n, bool *bad);
/* Writes s to out for one format: every byte of valid UTF-8 through put_byte (the format's
 * escaping), every byte that is not UTF-8 as `replacement`. */
void view_put_escaped(FILE *out, const char *s, void (*put_byte)(FILE *out, unsigned char ch),
                      const char *replacement);

/* ---- explanations (explain.c) ------------------------------------------------------------- */

/* Writes the plain-words explanation of event i into buf (in opts.lang); returns its length,
 * 0 when there is nothing to say. */
size_t view_explain(const view_ctx *c, size_t i, char *buf, size_t cap);

/* ---- renderers ----------------------------------------------------------------------------- */

void view_render_text(FILE *out, const view_ctx *c);
void view_render_mermaid(FILE *out, const view_ctx *c);
void view_render_svg(FILE *out, const view_ctx *c);
void view_render_json(FILE *out, const view_ctx *c);

#endif
