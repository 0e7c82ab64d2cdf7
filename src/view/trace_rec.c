/* trace_rec.c — recording events from engine traces and from packets (see trace_rec.h). */
#include "view/trace_rec.h"

#include <stdio.h>
#include <string.h>

void tcpw_rec_event_from_trace(tcpw_rec_event *e, const tcpw_trace *ev, int side) {
    memset(e, 0, sizeof *e);
    e->kind = ev->kind == TCPW_TRACE_STATE ? TCPW_REC_STATE : TCPW_REC_NOTE;
    e->t_us = ev->now;
    e->side = side;
    e->peer = 1 - side;
    e->from = ev->from;
    e->to = ev->to;
    e->cause = ev->cause;
    e->cause_seg = ev->seg;
    snprintf(e->what, sizeof e->what, "%s", ev->what ? ev->what : "");
}

void tcpw_rec_event_from_packet(tcpw_rec_event *e, const tcpw_packet *p, int side, int peer,
                                uint64_t t_us, uint64_t arrive_us, tcpw_seg_fate fate) {
    memset(e, 0, sizeof *e);
    e->kind = TCPW_REC_SEG;
    e->t_us = t_us;
    e->side = side;
    e->peer = peer;
    e->arrive_us = fate == TCPW_FATE_DROPPED ? 0 : arrive_us;
    e->fate = fate;
    e->flags = p->flags;
    e->seq = p->seq;
    e->ack = p->ack;
    e->len = (uint32_t)p->payload_len;
    e->win = p->win;
}
