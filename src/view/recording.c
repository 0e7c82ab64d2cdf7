/* recording.c — the recorded run: a growing, time-ordered array of events, and the relative
 * sequence numbers (as Wireshark shows them) computed as segments are added.
 */
#include "view/recording.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REC_INITIAL_CAP 64

void tcpw_rec_init(tcpw_recording *r, const char *name0, const char *name1) {
    if (!r) return;
    memset(r, 0, sizeof *r);
    r->names[0] = name0 ? name0 : "client";
    r->names[1] = name1 ? name1 : "server";
    r->reopened_by = -1;
}

void tcpw_rec_free(tcpw_recording *r) {
    if (!r) return;
    free(r->ev);
    r->ev = NULL;
    r->count = r->cap = 0;
}

static bool valid_side(int side) {
    return side >= 0 && side < TCPW_REC_MAX_SIDES;
}

/* Makes room for one more event; false when out of memory. */
static bool grow(tcpw_recording *r) {
    if (r->count < r->cap) return true;
    size_t cap = r->cap ? r->cap : REC_INITIAL_CAP / 2;
    if (cap > SIZE_MAX / 2 / sizeof *r->ev) return false;
    cap *= 2;
    tcpw_rec_event *ev = realloc(r->ev, cap * sizeof *ev);
    if (!ev) return false;
    r->ev = ev;
    r->cap = cap;
    return true;
}

/* A SYN tells its sender's ISN. After a FIN or RST, a SYN (without ACK) with a new sequence
 * number opens a new connection on the same 4-tuple: both ISNs are learnt afresh. */
static void learn_isn(tcpw_recording *r, const tcpw_rec_event *e) {
    if (!(e->flags & TCPW_SYN)) return;
    int s = e->side;
    if (r->conn_ended && !(e->flags & TCPW_ACK) && r->isn_known[s] && e->seq != r->isn[s]) {
        memcpy(r->old_isn, r->isn, sizeof r->old_isn);
        memcpy(r->old_isn_known, r->isn_known, sizeof r->old_isn_known);
        r->isn_known[0] = r->isn_known[1] = false;
        r->conn_ended = false;
        r->reopened_by = s;
    }
    if (r->reopened_by >= 0 && s != r->reopened_by) r->reopened_by = -1; /* answered */
    if (!r->isn_known[s]) {
        r->isn[s] = e->seq;
        r->isn_known[s] = true;
    }
}

static void fill_relative(tcpw_recording *r, tcpw_rec_event *e) {
    e->rel_seq = e->rel_ack = 0;
    e->rel_seq_known = e->rel_ack_known = false;
    if (!valid_side(e->side)) return;
    int peer = valid_side(e->peer) && e->peer != e->side ? e->peer : 1 - e->side;
    learn_isn(r, e);
    /* (before the new connection's answer, a segment without SYN is the old connection's) */
    bool old = r->reopened_by >= 0 && !(e->flags & TCPW_SYN);
    const uint32_t *isn = old ? r->old_isn : r->isn;
    const bool *known = old ? r->old_isn_known : r->isn_known;
    if (known[e->side]) {
        e->rel_seq = e->seq - isn[e->side];
        e->rel_seq_known = true;
    }
    if ((e->flags & TCPW_ACK) && known[peer]) {
        e->rel_ack = e->ack - isn[peer];
        e->rel_ack_known = true;
    }
    if (e->flags & (TCPW_FIN | TCPW_RST)) r->conn_ended = true;
}

tcpw_rec_event *tcpw_rec_add(tcpw_recording *r, const tcpw_rec_event *e) {
    if (!r || !e || !grow(r)) return NULL;
    tcpw_rec_event *slot = &r->ev[r->count++];
    *slot = *e;
    if (slot->kind == TCPW_REC_SEG) fill_relative(r, slot);
    return slot;
}

const char *tcpw_app_what_name(tcpw_app_what w) {
    switch (w) {
    case TCPW_APP_DATA: return "data";
    case TCPW_APP_EOF: return "eof";
    case TCPW_APP_RESET: return "reset";
    case TCPW_APP_CLOSED: return "closed";
    case TCPW_APP_REFUSED: return "refused";
    case TCPW_APP_TIMEOUT: return "timeout";
    case TCPW_APP_CONNECTED: return "connected";
    }
    return "?";
}

const char *tcpw_seg_fate_name(tcpw_seg_fate f) {
    switch (f) {
    case TCPW_FATE_DELIVERED: return "delivered";
    case TCPW_FATE_DROPPED: return "dropped";
    case TCPW_FATE_DUPLICATED: return "duplicated";
    case TCPW_FATE_REORDERED: return "reordered";
    }
    return "?";
}
