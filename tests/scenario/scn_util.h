/* scn_util.h — helpers for the scenario tests: the segments and state changes of a recorded
 * run, in the forms the tests compare against.
 *
 *   - scn_states(rec, side): one side's state changes as a path, "CLOSED SYN_SENT ESTABLISHED
 *     ...". A change that does not start where the previous one ended (another connection of
 *     the same stack) starts a new piece after " | ".
 *   - scn_seg(rec, i): the i-th segment (0-based) of the run, any side.
 *   - SEG_IS(e, side, flags, rel_seq, rel_ack, len): checks one segment exactly.
 */
#ifndef TCPW_SCN_UTIL_H
#define TCPW_SCN_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sim/scenario.h"
#include "test.h"

#define C_  TCPW_SCN_CLIENT
#define S_  TCPW_SCN_SERVER
#define MS  1000ull
#define SEC 1000000ull

static inline const char *scn_states(const tcpw_recording *r, int side) {
    static char buf[2][4096];
    char *out = buf[side & 1];
    size_t used = 0;
    int last = -1;
    out[0] = '\0';
    for (size_t i = 0; i < r->count; i++) {
        const tcpw_rec_event *e = &r->ev[i];
        if (e->kind != TCPW_REC_STATE || e->side != side) continue;
        int n;
        if ((int)e->from == last)
            n = snprintf(out + used, sizeof buf[0] - used, " %s", tcpw_state_name(e->to));
        else
            n = snprintf(out + used, sizeof buf[0] - used, "%s%s %s", used ? " | " : "",
                         tcpw_state_name(e->from), tcpw_state_name(e->to));
        if (n < 0 || (size_t)n >= sizeof buf[0] - used) break;
        used += (size_t)n;
        last = (int)e->to;
    }
    return out;
}

static inline size_t scn_seg_count(const tcpw_recording *r) {
    size_t n = 0;
    for (size_t i = 0; i < r->count; i++)
        n += r->ev[i].kind == TCPW_REC_SEG;
    return n;
}

static inline const tcpw_rec_event *scn_seg(const tcpw_recording *r, size_t k) {
    for (size_t i = 0; i < r->count; i++)
        if (r->ev[i].kind == TCPW_REC_SEG && k-- == 0) return &r->ev[i];
    return NULL;
}

/* The k-th segment (0-based) sent by `side` carrying all of `flags`; NULL if none. */
static inline const tcpw_rec_event *scn_seg_by(const tcpw_recording *r, int side, uint8_t flags,
                                               size_t k) {
    for (size_t i = 0; i < r->count; i++) {
        const tcpw_rec_event *e = &r->ev[i];
        if (e->kind == TCPW_REC_SEG && e->side == side && (e->flags & flags) == flags && k-- == 0)
            return e;
    }
    return NULL;
}

/* Index in r->ev of the first segment sent by `side` with all of `flags`, or r->count. */
static inline size_t scn_index_of(const tcpw_recording *r, int side, uint8_t flags) {
    for (size_t i = 0; i < r->count; i++) {
        const tcpw_rec_event *e = &r->ev[i];
        if (e->kind == TCPW_REC_SEG && e->side == side && (e->flags & flags) == flags) return i;
    }
    return r->count;
}

/* The time `side` entered `to` for the n-th time (0-based); UINT64_MAX if it did not. */
static inline uint64_t scn_state_time(const tcpw_recording *r, int side, tcpw_state to, int n) {
    for (size_t i = 0; i < r->count; i++) {
        const tcpw_rec_event *e = &r->ev[i];
        if (e->kind == TCPW_REC_STATE && e->side == side && e->to == to && n-- == 0) return e->t_us;
    }
    return UINT64_MAX;
}

/* The state change of `side` from `from` to `to`; NULL if none. */
static inline const tcpw_rec_event *scn_transition(const tcpw_recording *r, int side,
                                                   tcpw_state from, tcpw_state to) {
    for (size_t i = 0; i < r->count; i++) {
        const tcpw_rec_event *e = &r->ev[i];
        if (e->kind == TCPW_REC_STATE && e->side == side && e->from == from && e->to == to)
            return e;
    }
    return NULL;
}

/* How many notes of `side` contain `text`. */
static inline int scn_notes(const tcpw_recording *r, int side, const char *text) {
    int n = 0;
    for (size_t i = 0; i < r->count; i++) {
        const tcpw_rec_event *e = &r->ev[i];
        if (e->kind == TCPW_REC_NOTE && e->side == side && strstr(e->what, text)) n++;
    }
    return n;
}

/* Prints the recording (when a test fails, to see why). */
static inline void scn_dump(const tcpw_recording *r) {
    for (size_t i = 0; i < r->count; i++) {
        const tcpw_rec_event *e = &r->ev[i];
        char f[16];
        const char *who = e->side ? "server" : "client";
        switch (e->kind) {
        case TCPW_REC_SEG:
            snprintf(f, sizeof f, "%s%s%s%s%s", e->flags & TCPW_SYN ? "S" : "",
                     e->flags & TCPW_FIN ? "F" : "", e->flags & TCPW_RST ? "R" : "",
                     e->flags & TCPW_PSH ? "P" : "", e->flags & TCPW_ACK ? "A" : "");
            fprintf(stderr, "  %11.6f %s> %-4s seq=%u ack=%u len=%u %s\n", (double)e->t_us / 1e6,
                    who, f, e->rel_seq, e->rel_ack, e->len, tcpw_seg_fate_name(e->fate));
            break;
        case TCPW_REC_STATE:
            fprintf(stderr, "  %11.6f %s  %s -> %s %s\n", (double)e->t_us / 1e6, who,
                    tcpw_state_name(e->from), tcpw_state_name(e->to), e->what);
            break;
        case TCPW_REC_APP:
            fprintf(stderr, "  %11.6f %s  app %s %llu\n", (double)e->t_us / 1e6, who,
                    tcpw_app_what_name(e->app), (unsigned long long)e->bytes);
            break;
        case TCPW_REC_NOTE:
            fprintf(stderr, "  %11.6f %s  note %s\n", (double)e->t_us / 1e6, who, e->what);
            break;
        }
    }
}

#define SEG_IS(e, side_, flags_, rseq, rack, len_)                                                 \
    do {                                                                                           \
        const tcpw_rec_event *se_ = (e);                                                           \
        CHECK(se_ != NULL);                                                                        \
        if (se_) {                                                                                 \
            CHECK_EQ_U(se_->side, side_);                                                          \
            CHECK_EQ_U(se_->flags, flags_);                                                        \
            CHECK_EQ_U(se_->rel_seq, rseq);                                                        \
            CHECK_EQ_U(se_->rel_ack, rack);                                                        \
            CHECK_EQ_U(se_->len, len_);                                                            \
        }                                                                                          \
    } while (0)

#define SA  (TCPW_SYN | TCPW_ACK)
#define A   TCPW_ACK
#define PA  (TCPW_PSH | TCPW_ACK)
#define FA  (TCPW_FIN | TCPW_ACK)
#define FPA (TCPW_FIN | TCPW_PSH | TCPW_ACK)

/* Runs a registry scenario with "key", "value" override pairs (NULL-terminated). */
static inline int scn_run(tcpw_scn_result *r, const char *name, ...) {
    tcpw_scn_options o;
    tcpw_scn_options_init(&o);
    va_list ap;
    va_start(ap, name);
    const char *k;
    char err[256];
    while ((k = va_arg(ap, const char *))) {
        const char *v = va_arg(ap, const char *);
        if (tcpw_scn_option_set(&o, k, v, err, sizeof err) < 0) {
            fprintf(stderr, "option %s=%s: %s\n", k, v, err);
            va_end(ap);
            memset(r, 0, sizeof *r);
            return -100;
        }
    }
    va_end(ap);
    int rc = tcpw_scn_run_named(name, &o, r);
    if (rc < 0) fprintf(stderr, "%s: %s\n", name, r->error);
    return rc;
}

#endif
