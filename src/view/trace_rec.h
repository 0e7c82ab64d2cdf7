/* trace_rec.h — turning what a driver observes into recording events (view/recording.h):
 * an engine trace (tcpw_trace) into a TCPW_REC_STATE / TCPW_REC_NOTE event, and a parsed
 * packet into a TCPW_REC_SEG event.
 *
 * Every driver that records a run (the simulator, the TUN driver, the analyzer) fills the
 * same events the same way, so their pictures cannot drift apart.
 */
#ifndef TCPW_VIEW_TRACE_REC_H
#define TCPW_VIEW_TRACE_REC_H

#include <stdint.h>

#include "core/wire.h"
#include "tcpwave/tcpwave.h"
#include "view/recording.h"

/* A state change or note of the engine, happening at `side` (its peer is the other side). */
void tcpw_rec_event_from_trace(tcpw_rec_event *e, const tcpw_trace *ev, int side);

/* A segment that left `side` for `peer` at t_us and arrives at arrive_us (ignored when
 * dropped), with its fate on the way. */
void tcpw_rec_event_from_packet(tcpw_rec_event *e, const tcpw_packet *p, int side, int peer,
                                uint64_t t_us, uint64_t arrive_us, tcpw_seg_fate fate);

#endif
