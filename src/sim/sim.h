/* sim.h — the deterministic simulated network: nodes (tcpwave stacks or anything else that
 * takes packets and time) joined by impaired links, driven by a virtual clock.
 *
 *   tcpw_sim_config sc; tcpw_sim_config_default(&sc); sc.seed = 42;
 *   tcpw_sim *sim; tcpw_sim_new(&sc, &sim);
 *   int c = tcpw_sim_add_stack(sim, "client", NULL, &cs);   // 192.0.2.1 / 2001:db8::1
 *   int s = tcpw_sim_add_stack(sim, "server", NULL, &ss);   // 192.0.2.2 / 2001:db8::2
 *   tcpw_sim_add_rule_str(sim, "server>client#2", err, sizeof err);
 *   tcpw_sim_pcap_open(sim, "run.pcap");
 *   ... tcpw_listen(ss, ...); tcpw_connect(cs, ..., tcpw_sim_now(sim), ...);
 *   tcpw_sim_run(sim, UINT64_MAX);       // until nothing is left to do
 *   tcpw_sim_free(sim);
 *
 * The model:
 * - A node is anything with input/tick/deadline callbacks. It sends by calling
 *   tcpw_sim_send(); a stack added with tcpw_sim_add_stack() is wired to do so itself.
 * - A packet goes to the node owning its destination IP address (each node has one IPv4 and
 *   one IPv6 address; node i defaults to 192.0.2.(i+1) and 2001:db8::(i+1), documentation
 *   ranges that never leave the process). Packets to nobody are counted and dropped.
 * - Each direction from->to has its own latency, loss, duplication and reordering, and
 *   scripted rules ("drop the 2nd segment from server to client", "hold the 1st FIN 200 ms")
 *   act on given segments. Scripted rules decide before the random impairments: a segment a
 *   rule drops or holds is not also lost, duplicated or reordered at random.
 * - Randomness: one seeded PRNG per simulation, drawn exactly three times per packet sent
 *   (loss, then duplication, then reordering), whatever the probabilities and whatever
 *   happens to the packet, so changing one impairment or adding a rule never shifts the
 *   draws of later packets. Same seed + same calls => the same run, bit for bit.
 * - The virtual clock jumps straight to the next thing that happens: a packet arrival, a
 *   scheduled callback, or a node's deadline. A 60 s TIME_WAIT costs one step.
 * - Ordering: things due at the same time run in a fixed order: packet arrivals first, in
 *   the order they were sent; then scheduled callbacks (the applications' own timing), in
 *   the order they were queued; then node deadlines, lowest node index first. A stack takes
 *   in what arrived at one instant before an application acting at that instant runs, as a
 *   kernel's receive path runs before the process it wakes. A deadline already in the past runs at
 * the current time (the clock never goes backwards).
 * - Recording: every segment between nodes 0 and 1 is recorded (TCPW_REC_SEG) in the sim's
 *   tcpw_recording, and stacks' traces become TCPW_REC_STATE / TCPW_REC_NOTE events.
 * - Capture: tcpw_sim_pcap_open() writes every packet *when it is sent* (a tap at the
 *   sender: dropped packets appear in the capture, a duplicated packet appears once, and
 *   timestamps are send times). The clock's zero is shown as 2026-01-01 00:00:00 UTC.
 *
 * Nothing here is global: any number of simulations may live in one process.
 */
#ifndef TCPW_SIM_H
#define TCPW_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpwave/tcpwave.h"
#include "view/recording.h"

/* The most nodes one simulation holds. */
#define TCPW_SIM_MAX_NODES 16
/* Longest node name kept (longer names are truncated). */
#define TCPW_SIM_NAME_MAX 31
/* "Any node" in tcpw_sim_set_link() and in rules. */
#define TCPW_SIM_ANY (-1)
/* Unix time shown for virtual time 0 in captures: 2026-01-01 00:00:00 UTC. */
#define TCPW_SIM_PCAP_EPOCH 1767225600u

typedef struct tcpw_sim tcpw_sim;

/* ---- links ------------------------------------------------------------------------------- */

/* The impairments of one direction of a link. */
typedef struct tcpw_sim_link {
    uint64_t latency_us;       /* one-way delay of every packet */
    double loss;               /* probability a packet is lost, 0..1 */
    double dup;                /* probability a packet is delivered twice (the copy arrives
                                  right after the original) */
    double reorder;            /* probability a packet is held back so that later ones
                                  overtake it */
    uint64_t reorder_delay_us; /* how long a reordered packet is held beyond latency_us;
                                  0 means max(latency_us, 1 ms) */
} tcpw_sim_link;

/* Counters of one direction, from->to (the "to" of a packet is the node it was routed to). */
typedef struct tcpw_sim_link_stats {
    uint64_t sent;         /* packets sent onto the link */
    uint64_t delivered;    /* copies handed to the receiver (a duplicated packet counts twice) */
    uint64_t dropped;      /* lost at random or dropped by a rule */
    uint64_t rule_dropped; /* of which dropped by a rule */
    uint64_t duplicated;   /* packets duplicated */
    uint64_t reordered;    /* packets held back for reordering */
    uint64_t held;         /* packets held by a rule */
} tcpw_sim_link_stats;

/* Whole-simulation counters. */
typedef struct tcpw_sim_stats {
    uint64_t steps;         /* things processed by tcpw_sim_step() */
    uint64_t deliveries;    /* packet arrivals processed */
    uint64_t ticks;         /* node deadlines processed */
    uint64_t callbacks;     /* scheduled callbacks run */
    uint64_t unroutable;    /* packets whose destination is no node (dropped) */
    uint64_t pcap_packets;  /* packets written to the capture */
    uint64_t max_in_flight; /* largest number of packets queued at once */
} tcpw_sim_stats;

/* ---- nodes ------------------------------------------------------------------------------- */

/* What the simulation calls on a node. `node` is the pointer given to tcpw_sim_add_node(). */
typedef struct tcpw_sim_node_ops {
    /* A packet arrived (the buffer is only valid during the call). */
    void (*input)(void *node, const uint8_t *pkt, size_t len, uint64_t now);
    /* The node's deadline is due (now >= deadline). May be NULL if deadline is. */
    void (*tick)(void *node, uint64_t now);
    /* The next time tick() has work; UINT64_MAX for none. NULL means never. Asked before
     * every step, so it may change at any time. */
    uint64_t (*deadline)(void *node);
    /* Optional: called by tcpw_sim_free() to release the node. */
    void (*destroy)(void *node);
} tcpw_sim_node_ops;

/* ---- scripted rules ---------------------------------------------------------------------- */

typedef enum tcpw_sim_action {
    TCPW_SIM_DROP, /* the segment is lost */
    TCPW_SIM_HOLD, /* the segment arrives hold_us later than it would have */
} tcpw_sim_action;

/* Acts on the nth segment (1-based) sent from node `from` to node `to` (either may be
 * TCPW_SIM_ANY). Every segment sent counts, retransmissions included; when `flags` is not 0
 * only segments carrying all of those flags count ("the 1st FIN": flags = TCPW_FIN, which a
 * FIN+ACK matches). */
typedef struct tcpw_sim_rule {
    int from, to;
    uint32_t nth;
    uint8_t flags;
    tcpw_sim_action action;
    uint64_t hold_us;
} tcpw_sim_rule;

/* Parses the CLI syntax  FROM>TO#N[:FLAGS][@ACTION]  where FROM and TO are names from
 * names[0..nnames) or '*', N >= 1, FLAGS are letters of S F R P A U (any case), and ACTION
 * is "drop" (the default) or "hold=T" with T a number (decimals allowed: 1.5s) and a unit
 * us, ms or s (ms when omitted, as for --delay). Examples: "server>client#2", "client>server#1:F",
 * "server>client#3@hold=200ms". Returns 0, or TCPW_EINVAL with a message in err (when err is not
 * NULL). */
int tcpw_sim_rule_parse(const char *s, const char *const names[], int nnames, tcpw_sim_rule *out,
                        char *err, size_t errlen);

/* ---- the simulation ---------------------------------------------------------------------- */

typedef struct tcpw_sim_config {
    uint64_t seed;
    /* Impairments of every direction until tcpw_sim_set_link() changes one. */
    tcpw_sim_link link;
    /* Optional: called after every packet delivery to a node and every tick of a node (node
     * = its index), and after a scheduled callback once per node in index order, so that the
     * application layer can poll that node's events and act. */
    void (*after)(void *user, tcpw_sim *sim, int node);
    void *user;
    /* Do not keep a recording (long randomized runs). */
    bool no_recording;
    /* Livelock guard: tcpw_sim_step() stops with an error after this many steps without the
     * clock moving. 0 means 10,000,000. */
    uint64_t max_steps_per_instant;
} tcpw_sim_config;

/* seed 1, 10 ms latency each way, no impairments, no callback, recording on. */
void tcpw_sim_config_default(tcpw_sim_config *cfg);

/* cfg may be NULL for the defaults. Returns TCPW_OK, TCPW_ENOMEM. */
int tcpw_sim_new(const tcpw_sim_config *cfg, tcpw_sim **out);
/* Frees queued packets, nodes' destroy hooks, stacks it created, the recording; closes the
 * capture. NULL is fine. */
void tcpw_sim_free(tcpw_sim *sim);

/* Adds a node; returns its index (0, 1, ...) or TCPW_EINVAL (bad arguments, too many
 * nodes). The name is copied. Its addresses default to 192.0.2.(i+1) and 2001:db8::(i+1). */
int tcpw_sim_add_node(tcpw_sim *sim, const char *name, const tcpw_sim_node_ops *ops, void *node);
/* Creates a tcpwave stack from cfg_in (NULL: tcpw_config_default) and adds it as a node.
 * The sim sets output (to the link), trace (to the recording, then to cfg_in->trace if any,
 * with cfg_in->user), user, alloc/free when unset (libc), and the secret when it is all zero
 * (derived from the seed and the node index, so runs replay). The sim owns the stack and
 * frees it in tcpw_sim_free(). Returns the node index or a negative error. */
int tcpw_sim_add_stack(tcpw_sim *sim, const char *name, const tcpw_config *cfg_in,
                       tcpw_stack **out);
/* The stack of a node made by tcpw_sim_add_stack(), else NULL. */
tcpw_stack *tcpw_sim_stack(const tcpw_sim *sim, int idx);

int tcpw_sim_node_count(const tcpw_sim *sim);
const char *tcpw_sim_node_name(const tcpw_sim *sim, int idx);  /* NULL if no such node */
int tcpw_sim_node_find(const tcpw_sim *sim, const char *name); /* index or -1 */
void *tcpw_sim_node_ptr(const tcpw_sim *sim, int idx);         /* as given to add_node */
const tcpw_sim_node_ops *tcpw_sim_node_ops_of(const tcpw_sim *sim, int idx);
/* The node's address of family 4 or 6 (family 0 in the result if no such node/family). */
tcpw_addr tcpw_sim_node_addr(const tcpw_sim *sim, int idx, int family);
/* Replaces the node's address of addr->family. Returns 0 or TCPW_EINVAL. */
int tcpw_sim_set_node_addr(tcpw_sim *sim, int idx, const tcpw_addr *addr);

/* Sets the impairments of from->to (either may be TCPW_SIM_ANY for all). 0 or TCPW_EINVAL. */
int tcpw_sim_set_link(tcpw_sim *sim, int from, int to, const tcpw_sim_link *params);
int tcpw_sim_get_link(const tcpw_sim *sim, int from, int to, tcpw_sim_link *out);

/* Adds a scripted rule; returns its index or TCPW_EINVAL / TCPW_ENOMEM. */
int tcpw_sim_add_rule(tcpw_sim *sim, const tcpw_sim_rule *rule);
/* Parses s with the sim's node names (see tcpw_sim_rule_parse) and adds it. */
int tcpw_sim_add_rule_str(tcpw_sim *sim, const char *s, char *err, size_t errlen);
/* How many segments rule i has acted on (0 or 1 — a rule fires once). */
uint64_t tcpw_sim_rule_fired(const tcpw_sim *sim, int i);

/* A node sends an IP packet (copied). Returns 0, TCPW_EINVAL (bad node, empty packet) or
 * TCPW_ENOMEM. Unroutable packets count as sent and return 0. */
int tcpw_sim_send(tcpw_sim *sim, int from, const uint8_t *pkt, size_t len);

/* Runs fn(sim, arg) at virtual time t_us (now, if t_us is in the past). 0 or TCPW_ENOMEM. */
int tcpw_sim_at(tcpw_sim *sim, uint64_t t_us, void (*fn)(tcpw_sim *sim, void *arg), void *arg);

/* ---- running ----------------------------------------------------------------------------- */

uint64_t tcpw_sim_now(const tcpw_sim *sim);
uint64_t tcpw_sim_seed(const tcpw_sim *sim);
/* When the next thing happens (arrival, callback, deadline), UINT64_MAX when nothing will. */
uint64_t tcpw_sim_next_time(const tcpw_sim *sim);
/* Processes the earliest thing, advancing the clock to it. false when nothing remains (no
 * packet in flight, no callback, every deadline UINT64_MAX) or after an error. */
bool tcpw_sim_step(tcpw_sim *sim);
/* Steps while the next thing is due at or before until_us; then, unless until_us is
 * UINT64_MAX, moves the clock to until_us. Returns the number of steps taken. */
uint64_t tcpw_sim_run(tcpw_sim *sim, uint64_t until_us);
/* The latest error message, or NULL. Fatal errors (livelock, out of memory, a failed
 * capture write) stop the simulation: tcpw_sim_step() returns false from then on and the
 * first fatal message is kept. A capture that cannot be opened is reported here too, but
 * the simulation goes on. */
const char *tcpw_sim_error(const tcpw_sim *sim);

/* ---- observing --------------------------------------------------------------------------- */

const tcpw_recording *tcpw_sim_recording(const tcpw_sim *sim);
tcpw_recording *tcpw_sim_recording_mut(tcpw_sim *sim);
/* Adds e (side 0 or 1) to the recording unless recording is off: the way for the
 * application layer to add TCPW_REC_APP events. 0, TCPW_EINVAL or TCPW_ENOMEM. */
int tcpw_sim_record(tcpw_sim *sim, const tcpw_rec_event *e);

const tcpw_sim_stats *tcpw_sim_get_stats(const tcpw_sim *sim);
/* Counters of from->to; zeros for a bad pair. */
tcpw_sim_link_stats tcpw_sim_get_link_stats(const tcpw_sim *sim, int from, int to);

/* Starts writing every packet sent to a pcap file (LINKTYPE_RAW: IPv4 and IPv6). Replaces
 * an open capture. Returns 0 or TCPW_EINVAL with the reason in tcpw_sim_error(). */
int tcpw_sim_pcap_open(tcpw_sim *sim, const char *path);
/* Flushes and closes the capture. Returns 0, or TCPW_EINVAL if any write failed. */
int tcpw_sim_pcap_close(tcpw_sim *sim);

#endif
