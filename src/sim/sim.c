/* sim.c — the simulated network: nodes, impaired links, scripted rules, the event queue
 * behind the virtual clock, the recording and the pcap tap. See sim.h for the model.
 *
 * The event queue is a binary min-heap of (time, packet before callback, insertion order)
 * holding packets in flight and scheduled callbacks; node deadlines are not queued but asked of
 * every node before each step (they change whenever the application calls into a stack). Packet
 * buffers come from a free list owned by the simulation, so a long run does not churn malloc per
 * packet.
 */
#ifndef _GNU_SOURCE
#define _DEFAULT_SOURCE /* u_char and friends, which pcap.h needs, are BSD types */
#endif
#include <limits.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/wire.h"
#include "sim/prng.h"
#include "sim/sim.h"
#include "util/duration.h"

/* Size of a packet buffer taken from the free list (holds a full 1500-byte MTU packet). */
#define PKT_BLOCK 2048
/* Snap length of the capture: no IP packet is longer. */
#define PCAP_SNAPLEN                  262144
#define DEFAULT_MAX_STEPS_PER_INSTANT 10000000u

typedef struct sim_pkt {
    struct sim_pkt *next; /* free-list link */
    size_t cap, len;
    int from, to;
    uint8_t data[];
} sim_pkt;

/* One queued thing: a packet arrival (fn == NULL, p = the packet) or a callback. */
typedef struct sim_event {
    uint64_t t, order;
    void (*fn)(tcpw_sim *sim, void *arg);
    void *p;
} sim_event;

typedef struct sim_node {
    char name[TCPW_SIM_NAME_MAX + 1];
    tcpw_sim_node_ops ops;
    void *ptr;
    tcpw_addr v4, v6;
} sim_node;

typedef struct sim_rule {
    tcpw_sim_rule r;
    uint32_t seen; /* segments counted so far */
    uint64_t fired;
} sim_rule;

struct tcpw_sim {
    tcpw_sim_config cfg;
    uint64_t now;
    tcpw_prng rng;

    sim_node nodes[TCPW_SIM_MAX_NODES];
    int nnodes;
    tcpw_sim_link link[TCPW_SIM_MAX_NODES][TCPW_SIM_MAX_NODES];
    tcpw_sim_link_stats lstats[TCPW_SIM_MAX_NODES][TCPW_SIM_MAX_NODES];

    sim_rule *rules;
    size_t nrules, caprules;

    sim_event *heap;
    size_t hlen, hcap;
    uint64_t order;     /* insertion counter: ties of one kind run in this order */
    uint64_t in_flight; /* packets in the heap */
    sim_pkt *free_pkts;

    tcpw_recording rec;
    tcpw_sim_stats stats;

    pcap_t *pcap;
    pcap_dumper_t *dumper;
    bool pcap_failed;

    uint64_t instant_steps; /* steps taken since the clock last moved */
    bool fatal;
    char err[256];
};

/* ---- small helpers ----------------------------------------------------------------------- */

static uint64_t add_sat(uint64_t a, uint64_t b) {
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void set_error(tcpw_sim *sim, bool fatal, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(tcpw_sim *sim, bool fatal, const char *fmt, ...) {
    if (sim->fatal) return; /* keep the first fatal error */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sim->err, sizeof sim->err, fmt, ap);
    va_end(ap);
    sim->fatal = fatal;
}

static bool valid_node(const tcpw_sim *sim, int idx) {
    return idx >= 0 && idx < sim->nnodes;
}

static tcpw_addr default_addr(int idx, int family) {
    tcpw_addr a;
    memset(&a, 0, sizeof a);
    if (family == 4) {
        a.family = 4;
        a.ip[0] = 192, a.ip[1] = 0, a.ip[2] = 2, a.ip[3] = (uint8_t)(idx + 1);
    } else {
        a.family = 6;
        a.ip[0] = 0x20, a.ip[1] = 0x01, a.ip[2] = 0x0d, a.ip[3] = 0xb8;
        a.ip[15] = (uint8_t)(idx + 1);
    }
    return a;
}

/* ---- the event heap ---------------------------------------------------------------------- */

/* Ties in time: arrivals before callbacks (sim.h, "Ordering"), then insertion order. */
static bool ev_before(const sim_event *a, const sim_event *b) {
    if (a->t != b->t) return a->t < b->t;
    if ((a->fn == NULL) != (b->fn == NULL)) return a->fn == NULL;
    return a->order < b->order;
}

static int heap_push(tcpw_sim *sim, uint64_t t, void (*fn)(tcpw_sim *, void *), void *p) {
    if (sim->hlen == sim->hcap) {
        size_t ncap = sim->hcap ? sim->hcap * 2 : 64;
        sim_event *nh = realloc(sim->heap, ncap * sizeof *nh);
        if (!nh) return TCPW_ENOMEM;
        sim->heap = nh;
        sim->hcap = ncap;
    }
    sim_event e = {.t = t, .order = sim->order++, .fn = fn, .p = p};
    size_t i = sim->hlen++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!ev_before(&e, &sim->heap[parent])) break;
        sim->heap[i] = sim->heap[parent];
        i = parent;
    }
    sim->heap[i] = e;
    return TCPW_OK;
}

static sim_event heap_pop(tcpw_sim *sim) {
    sim_event top = sim->heap[0];
    sim_event last = sim->heap[--sim->hlen];
    size_t n = sim->hlen, i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const sim_event *best = &last;
        if (l < n && ev_before(&sim->heap[l], best)) m = l, best = &sim->heap[l];
        if (r < n && ev_before(&sim->heap[r], best)) m = r;
        if (m == i) break;
        sim->heap[i] = sim->heap[m];
        i = m;
    }
    if (n > 0) sim->heap[i] = last;
    return top;
}

/* ---- packet buffers ---------------------------------------------------------------------- */

static sim_pkt *pkt_alloc(tcpw_sim *sim, const uint8_t *data, size_t len) {
    sim_pkt *p = sim->free_pkts;
    if (p && p->cap >= len) {
        sim->free_pkts = p->next;
    } else {
        size_t cap = len > PKT_BLOCK ? len : PKT_BLOCK;
        p = malloc(sizeof *p + cap);
        if (!p) return NULL;
        p->cap = cap;
    }
    p->next = NULL;
    p->len = len;
    memcpy(p->data, data, len);
    return p;
}

static void pkt_release(tcpw_sim *sim, sim_pkt *p) {
    p->next = sim->free_pkts;
    sim->free_pkts = p;
}

/* ---- configuration, creation ------------------------------------------------------------- */

void tcpw_sim_config_default(tcpw_sim_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->link.latency_us = 10000;
}

int tcpw_sim_new(const tcpw_sim_config *cfg, tcpw_sim **out) {
    if (!out) return TCPW_EINVAL;
    *out = NULL;
    tcpw_sim *sim = calloc(1, sizeof *sim);
    if (!sim) return TCPW_ENOMEM;
    if (cfg)
        sim->cfg = *cfg;
    else
        tcpw_sim_config_default(&sim->cfg);
    if (sim->cfg.max_steps_per_instant == 0)
        sim->cfg.max_steps_per_instant = DEFAULT_MAX_STEPS_PER_INSTANT;
    tcpw_prng_seed(&sim->rng, sim->cfg.seed);
    for (int i = 0; i < TCPW_SIM_MAX_NODES; i++)
        for (int j = 0; j < TCPW_SIM_MAX_NODES; j++)
            sim->link[i][j] = sim->cfg.link;
    tcpw_rec_init(&sim->rec, NULL, NULL); /* "client", "server" until nodes are named */
    *out = sim;
    return TCPW_OK;
}

void tcpw_sim_free(tcpw_sim *sim) {
    if (!sim) return;
    /* Nodes first, while everything they might touch still exists. */
    for (int i = 0; i < sim->nnodes; i++)
        if (sim->nodes[i].ops.destroy) sim->nodes[i].ops.destroy(sim->nodes[i].ptr);
    sim->nnodes = 0;
    tcpw_sim_pcap_close(sim);
    for (size_t i = 0; i < sim->hlen; i++)
        if (!sim->heap[i].fn) free(sim->heap[i].p);
    free(sim->heap);
    while (sim->free_pkts) {
        sim_pkt *p = sim->free_pkts;
        sim->free_pkts = p->next;
        free(p);
    }
    free(sim->rules);
    tcpw_rec_free(&sim->rec);
    free(sim);
}

/* ---- nodes ------------------------------------------------------------------------------- */

int tcpw_sim_add_node(tcpw_sim *sim, const char *name, const tcpw_sim_node_ops *ops, void *node) {
    if (!sim || !name || !*name || !ops || sim->nnodes >= TCPW_SIM_MAX_NODES) return TCPW_EINVAL;
    if (ops->deadline && !ops->tick)
        return TCPW_EINVAL; /* a deadline nobody can serve would never pass */
    if (tcpw_sim_node_find(sim, name) >= 0) return TCPW_EINVAL;
    int idx = sim->nnodes++;
    sim_node *n = &sim->nodes[idx];
    snprintf(n->name, sizeof n->name, "%s", name);
    n->ops = *ops;
    n->ptr = node;
    n->v4 = default_addr(idx, 4);
    n->v6 = default_addr(idx, 6);
    if (idx < TCPW_REC_MAX_SIDES) sim->rec.names[idx] = n->name;
    return idx;
}

int tcpw_sim_node_count(const tcpw_sim *sim) {
    return sim->nnodes;
}

const char *tcpw_sim_node_name(const tcpw_sim *sim, int idx) {
    return valid_node(sim, idx) ? sim->nodes[idx].name : NULL;
}

int tcpw_sim_node_find(const tcpw_sim *sim, const char *name) {
    for (int i = 0; i < sim->nnodes; i++)
        if (strcmp(sim->nodes[i].name, name) == 0) return i;
    return -1;
}

void *tcpw_sim_node_ptr(const tcpw_sim *sim, int idx) {
    return valid_node(sim, idx) ? sim->nodes[idx].ptr : NULL;
}

const tcpw_sim_node_ops *tcpw_sim_node_ops_of(const tcpw_sim *sim, int idx) {
    return valid_node(sim, idx) ? &sim->nodes[idx].ops : NULL;
}

tcpw_addr tcpw_sim_node_addr(const tcpw_sim *sim, int idx, int family) {
    tcpw_addr none;
    memset(&none, 0, sizeof none);
    if (!valid_node(sim, idx)) return none;
    if (family == 4) return sim->nodes[idx].v4;
    if (family == 6) return sim->nodes[idx].v6;
    return none;
}

int tcpw_sim_set_node_addr(tcpw_sim *sim, int idx, const tcpw_addr *addr) {
    if (!valid_node(sim, idx) || !addr) return TCPW_EINVAL;
    if (addr->family == 4)
        sim->nodes[idx].v4 = *addr;
    else if (addr->family == 6)
        sim->nodes[idx].v6 = *addr;
    else
        return TCPW_EINVAL;
    return TCPW_OK;
}

/* The node owning the packet's destination address, read straight from the IP header so
 * that even a malformed TCP segment reaches its receiver; -1 when none. */
static int route(const tcpw_sim *sim, const uint8_t *pkt, size_t len) {
    unsigned version = pkt[0] >> 4;
    for (int i = 0; i < sim->nnodes; i++) {
        const sim_node *n = &sim->nodes[i];
        if (version == 4 && len >= 20 && memcmp(pkt + 16, n->v4.ip, 4) == 0) return i;
        if (version == 6 && len >= 40 && memcmp(pkt + 24, n->v6.ip, 16) == 0) return i;
    }
    return -1;
}

/* ---- links and rules --------------------------------------------------------------------- */

static bool valid_link(const tcpw_sim_link *l) {
    /* Written so that NaN fails too. */
    return l->loss >= 0 && l->loss <= 1 && l->dup >= 0 && l->dup <= 1 && l->reorder >= 0 &&
           l->reorder <= 1;
}

int tcpw_sim_set_link(tcpw_sim *sim, int from, int to, const tcpw_sim_link *params) {
    if (!sim || !params || !valid_link(params)) return TCPW_EINVAL;
    if ((from != TCPW_SIM_ANY && (from < 0 || from >= TCPW_SIM_MAX_NODES)) ||
        (to != TCPW_SIM_ANY && (to < 0 || to >= TCPW_SIM_MAX_NODES)))
        return TCPW_EINVAL;
    for (int i = 0; i < TCPW_SIM_MAX_NODES; i++)
        for (int j = 0; j < TCPW_SIM_MAX_NODES; j++)
            if ((from == TCPW_SIM_ANY || from == i) && (to == TCPW_SIM_ANY || to == j))
                sim->link[i][j] = *params;
    return TCPW_OK;
}

int tcpw_sim_get_link(const tcpw_sim *sim, int from, int to, tcpw_sim_link *out) {
    if (!sim || !out || from < 0 || from >= TCPW_SIM_MAX_NODES || to < 0 ||
        to >= TCPW_SIM_MAX_NODES)
        return TCPW_EINVAL;
    *out = sim->link[from][to];
    return TCPW_OK;
}

int tcpw_sim_add_rule(tcpw_sim *sim, const tcpw_sim_rule *rule) {
    if (!sim || !rule || rule->nth == 0) return TCPW_EINVAL;
    if ((rule->from != TCPW_SIM_ANY && (rule->from < 0 || rule->from >= TCPW_SIM_MAX_NODES)) ||
        (rule->to != TCPW_SIM_ANY && (rule->to < 0 || rule->to >= TCPW_SIM_MAX_NODES)))
        return TCPW_EINVAL;
    if (rule->action != TCPW_SIM_DROP && rule->action != TCPW_SIM_HOLD) return TCPW_EINVAL;
    if (sim->nrules == sim->caprules) {
        size_t ncap = sim->caprules ? sim->caprules * 2 : 8;
        sim_rule *nr = realloc(sim->rules, ncap * sizeof *nr);
        if (!nr) return TCPW_ENOMEM;
        sim->rules = nr;
        sim->caprules = ncap;
    }
    sim_rule *r = &sim->rules[sim->nrules];
    memset(r, 0, sizeof *r);
    r->r = *rule;
    return (int)sim->nrules++;
}

uint64_t tcpw_sim_rule_fired(const tcpw_sim *sim, int i) {
    return i >= 0 && (size_t)i < sim->nrules ? sim->rules[i].fired : 0;
}

int tcpw_sim_add_rule_str(tcpw_sim *sim, const char *s, char *err, size_t errlen) {
    const char *names[TCPW_SIM_MAX_NODES];
    for (int i = 0; i < sim->nnodes; i++)
        names[i] = sim->nodes[i].name;
    tcpw_sim_rule r;
    int rc = tcpw_sim_rule_parse(s, names, sim->nnodes, &r, err, errlen);
    if (rc < 0) return rc;
    return tcpw_sim_add_rule(sim, &r);
}

/* ---- the rule syntax --------------------------------------------------------------------- */

static int parse_fail(char *err, size_t errlen, const char *s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int parse_fail(char *err, size_t errlen, const char *s, const char *fmt, ...) {
    if (err && errlen > 0) {
        char why[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
        snprintf(err, errlen, "bad rule '%s': %s", s ? s : "(null)", why);
    }
    return TCPW_EINVAL;
}

/* Resolves the name s[0..len) against names[]; '*' is TCPW_SIM_ANY. -2 when unknown. */
static int rule_node(const char *s, size_t len, const char *const names[], int nnames) {
    if (len == 1 && s[0] == '*') return TCPW_SIM_ANY;
    for (int i = 0; i < nnames; i++)
        if (names[i] && strlen(names[i]) == len && strncmp(names[i], s, len) == 0) return i;
    return -2;
}

static void known_names(char *buf, size_t cap, const char *const names[], int nnames) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < nnames && used < cap; i++) {
        int n = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", names[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
}

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

int tcpw_sim_rule_parse(const char *s, const char *const names[], int nnames, tcpw_sim_rule *out,
                        char *err, size_t errlen) {
    if (err && errlen > 0) err[0] = '\0';
    if (!s || !out || (nnames > 0 && !names) || nnames < 0)
        return parse_fail(err, errlen, s, "no rule given");
    memset(out, 0, sizeof *out);
    out->action = TCPW_SIM_DROP;

    const char *gt = strchr(s, '>');
    if (!gt) return parse_fail(err, errlen, s, "expected FROM>TO#N, e.g. 'server>client#2'");
    const char *hash = strchr(gt + 1, '#');
    if (!hash) return parse_fail(err, errlen, s, "missing '#N' (which segment: #1 is the first)");
    char known[200];
    known_names(known, sizeof known, names, nnames);
    if (gt == s) return parse_fail(err, errlen, s, "missing the sending node before '>'");
    if (hash == gt + 1) return parse_fail(err, errlen, s, "missing the receiving node after '>'");
    out->from = rule_node(s, (size_t)(gt - s), names, nnames);
    if (out->from == -2)
        return parse_fail(err, errlen, s, "unknown node '%.*s' (known: %s, or *)", (int)(gt - s), s,
                          known);
    out->to = rule_node(gt + 1, (size_t)(hash - gt - 1), names, nnames);
    if (out->to == -2)
        return parse_fail(err, errlen, s, "unknown node '%.*s' (known: %s, or *)",
                          (int)(hash - gt - 1), gt + 1, known);

    const char *p = hash + 1;
    if (!is_digit(*p))
        return parse_fail(err, errlen, s, "'#' must be followed by a segment number >= 1");
    uint64_t nth = 0;
    while (is_digit(*p)) {
        nth = nth * 10 + (uint64_t)(*p++ - '0');
        if (nth > UINT32_MAX) return parse_fail(err, errlen, s, "segment number too large");
    }
    if (nth == 0) return parse_fail(err, errlen, s, "segments are counted from #1");
    out->nth = (uint32_t)nth;

    if (*p == ':') {
        p++;
        if (*p == '\0' || *p == '@')
            return parse_fail(err, errlen, s, "':' must be followed by flags (S F R P A U)");
        while (*p && *p != '@') {
            switch (*p) {
            case 'S':
            case 's': out->flags |= TCPW_SYN; break;
            case 'F':
            case 'f': out->flags |= TCPW_FIN; break;
            case 'R':
            case 'r': out->flags |= TCPW_RST; break;
            case 'P':
            case 'p': out->flags |= TCPW_PSH; break;
            case 'A':
            case 'a': out->flags |= TCPW_ACK; break;
            case 'U':
            case 'u': out->flags |= TCPW_URG; break;
            default: return parse_fail(err, errlen, s, "unknown flag '%c' (use S F R P A U)", *p);
            }
            p++;
        }
    }

    if (*p == '@') {
        p++;
        if (strcmp(p, "drop") == 0) {
            out->action = TCPW_SIM_DROP;
            p += 4;
        } else if (strncmp(p, "hold=", 5) == 0) {
            p += 5;
            if (!tcpw_duration_scan(&p, TCPW_DUR_MS, &out->hold_us))
                return parse_fail(err, errlen, s,
                                  "hold needs a duration such as 200ms, 1.5s or 300us");
            out->action = TCPW_SIM_HOLD;
        } else if (strncmp(p, "hold", 4) == 0) {
            return parse_fail(err, errlen, s, "write the hold time as @hold=200ms");
        } else {
            return parse_fail(err, errlen, s, "unknown action '%s' (use @drop or @hold=T)", p);
        }
    }
    if (*p != '\0') return parse_fail(err, errlen, s, "unexpected '%s' at the end", p);
    return TCPW_OK;
}

/* ---- sending ----------------------------------------------------------------------------- */

static void pcap_write(tcpw_sim *sim, const uint8_t *pkt, size_t len) {
    if (!sim->dumper || sim->pcap_failed) return;
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof h);
    h.ts.tv_sec = (long)(TCPW_SIM_PCAP_EPOCH + sim->now / 1000000);
    h.ts.tv_usec = (long)(sim->now % 1000000);
    h.len = (bpf_u_int32)len;
    h.caplen = (bpf_u_int32)(len < PCAP_SNAPLEN ? len : PCAP_SNAPLEN);
    pcap_dump((u_char *)sim->dumper, &h, pkt);
    if (ferror(pcap_dump_file(sim->dumper))) {
        sim->pcap_failed = true;
        set_error(sim, true, "writing the capture failed");
        return;
    }
    sim->stats.pcap_packets++;
}

static void record_segment(tcpw_sim *sim, int from, int to, const tcpw_packet *pp, uint64_t arrive,
                           tcpw_seg_fate fate) {
    tcpw_rec_event e;
    memset(&e, 0, sizeof e);
    e.kind = TCPW_REC_SEG;
    e.t_us = sim->now;
    e.side = from;
    e.peer = to;
    e.arrive_us = fate == TCPW_FATE_DROPPED ? 0 : arrive;
    e.fate = fate;
    e.flags = pp->flags;
    e.seq = pp->seq;
    e.ack = pp->ack;
    e.len = (uint32_t)pp->payload_len;
    e.win = pp->win;
    if (sim->rec.ep[from].addr.family == 0) sim->rec.ep[from] = pp->src;
    if (sim->rec.ep[to].addr.family == 0) sim->rec.ep[to] = pp->dst;
    if (!tcpw_rec_add(&sim->rec, &e)) set_error(sim, true, "out of memory (recording)");
}

static int enqueue(tcpw_sim *sim, int from, int to, const uint8_t *pkt, size_t len,
                   uint64_t arrive) {
    sim_pkt *p = pkt_alloc(sim, pkt, len);
    if (!p || heap_push(sim, arrive, NULL, p) < 0) {
        free(p);
        set_error(sim, true, "out of memory (packet queue)");
        return TCPW_ENOMEM;
    }
    p->from = from;
    p->to = to;
    if (++sim->in_flight > sim->stats.max_in_flight) sim->stats.max_in_flight = sim->in_flight;
    return TCPW_OK;
}

int tcpw_sim_send(tcpw_sim *sim, int from, const uint8_t *pkt, size_t len) {
    if (!sim || !valid_node(sim, from) || !pkt || len == 0) return TCPW_EINVAL;
    pcap_write(sim, pkt, len);

    /* The three draws, always, in this order (see sim.h). */
    double r_loss = tcpw_prng_double(&sim->rng);
    double r_dup = tcpw_prng_double(&sim->rng);
    double r_reorder = tcpw_prng_double(&sim->rng);

    int to = route(sim, pkt, len);
    if (to < 0) {
        sim->stats.unroutable++;
        return TCPW_OK;
    }
    /* Parsed for the rules and the recording only (checksums are the receiver's business). */
    bool record = !sim->cfg.no_recording && from < TCPW_REC_MAX_SIDES && to < TCPW_REC_MAX_SIDES;
    tcpw_packet pp;
    memset(&pp, 0, sizeof pp);
    bool parsed = (record || sim->nrules > 0) &&
                  tcpw_parse(pkt, len, TCPW_PARSE_NO_CHECKSUM, &pp) == TCPW_WIRE_OK;
    uint8_t flags = parsed ? pp.flags : 0;

    const tcpw_sim_link *l = &sim->link[from][to];
    tcpw_sim_link_stats *st = &sim->lstats[from][to];
    st->sent++;

    /* Scripted rules first: every matching rule counts the segment. */
    bool rule_drop = false, rule_hold = false;
    uint64_t hold = 0;
    for (size_t i = 0; i < sim->nrules; i++) {
        sim_rule *r = &sim->rules[i];
        if ((r->r.from != TCPW_SIM_ANY && r->r.from != from) ||
            (r->r.to != TCPW_SIM_ANY && r->r.to != to))
            continue;
        if (r->r.flags && (flags & r->r.flags) != r->r.flags) continue;
        if (++r->seen != r->r.nth) continue;
        r->fired++;
        if (r->r.action == TCPW_SIM_DROP) {
            rule_drop = true;
        } else {
            rule_hold = true;
            hold = add_sat(hold, r->r.hold_us);
        }
    }

    uint64_t arrive = add_sat(sim->now, l->latency_us);
    tcpw_seg_fate fate = TCPW_FATE_DELIVERED;
    bool dup = false;
    if (rule_drop) {
        fate = TCPW_FATE_DROPPED;
        st->dropped++;
        st->rule_dropped++;
    } else if (rule_hold) {
        arrive = add_sat(arrive, hold);
        st->held++;
    } else if (r_loss < l->loss) {
        fate = TCPW_FATE_DROPPED;
        st->dropped++;
    } else {
        if (r_reorder < l->reorder) {
            uint64_t extra = l->reorder_delay_us;
            if (extra == 0) extra = l->latency_us > 1000 ? l->latency_us : 1000;
            arrive = add_sat(arrive, extra);
            fate = TCPW_FATE_REORDERED;
            st->reordered++;
        }
        if (r_dup < l->dup) {
            dup = true;
            fate = TCPW_FATE_DUPLICATED;
            st->duplicated++;
        }
    }

    if (parsed && record) record_segment(sim, from, to, &pp, arrive, fate);

    if (fate == TCPW_FATE_DROPPED) return TCPW_OK;
    int rc = enqueue(sim, from, to, pkt, len, arrive);
    if (rc == TCPW_OK && dup) rc = enqueue(sim, from, to, pkt, len, arrive);
    return rc;
}

int tcpw_sim_at(tcpw_sim *sim, uint64_t t_us, void (*fn)(tcpw_sim *sim, void *arg), void *arg) {
    if (!sim || !fn) return TCPW_EINVAL;
    if (heap_push(sim, t_us < sim->now ? sim->now : t_us, fn, arg) < 0) {
        set_error(sim, true, "out of memory (callback queue)");
        return TCPW_ENOMEM;
    }
    return TCPW_OK;
}

/* ---- running ----------------------------------------------------------------------------- */

uint64_t tcpw_sim_now(const tcpw_sim *sim) {
    return sim->now;
}
uint64_t tcpw_sim_seed(const tcpw_sim *sim) {
    return sim->cfg.seed;
}

static uint64_t earliest_deadline(const tcpw_sim *sim, int *node) {
    uint64_t best = UINT64_MAX;
    *node = -1;
    for (int i = 0; i < sim->nnodes; i++) {
        const sim_node *n = &sim->nodes[i];
        if (!n->ops.deadline) continue;
        uint64_t d = n->ops.deadline(n->ptr);
        if (d < best) best = d, *node = i;
    }
    return best;
}

uint64_t tcpw_sim_next_time(const tcpw_sim *sim) {
    int node;
    uint64_t t = earliest_deadline(sim, &node);
    if (sim->hlen && sim->heap[0].t < t) t = sim->heap[0].t;
    return t != UINT64_MAX && t < sim->now ? sim->now : t;
}

static void call_after(tcpw_sim *sim, int node) {
    if (sim->cfg.after) sim->cfg.after(sim->cfg.user, sim, node);
}

/* One step, unless the next thing is due after `until`. */
static bool step_until(tcpw_sim *sim, uint64_t until) {
    if (sim->fatal) return false;
    int node;
    uint64_t deadline = earliest_deadline(sim, &node);
    bool from_heap = sim->hlen > 0 && sim->heap[0].t <= deadline;
    if (!from_heap && deadline == UINT64_MAX) return false; /* nothing left */
    uint64_t t = from_heap ? sim->heap[0].t : deadline;
    if (t < sim->now) t = sim->now;
    if (t > until) return false;

    if (t == sim->now && sim->stats.steps > 0) {
        if (++sim->instant_steps >= sim->cfg.max_steps_per_instant) {
            set_error(sim, true,
                      "livelock: %llu steps without the clock moving at t=%llu us "
                      "(a node's deadline that does not advance, or a zero-latency loop)",
                      (unsigned long long)sim->instant_steps, (unsigned long long)t);
            return false;
        }
    } else {
        sim->instant_steps = 0;
    }
    sim->now = t;
    sim->stats.steps++;

    if (from_heap) {
        sim_event e = heap_pop(sim);
        if (e.fn) {
            sim->stats.callbacks++;
            e.fn(sim, e.p);
            for (int i = 0; i < sim->nnodes; i++)
                call_after(sim, i);
        } else {
            sim_pkt *p = e.p;
            sim->in_flight--;
            sim_node *n = &sim->nodes[p->to];
            sim->stats.deliveries++;
            sim->lstats[p->from][p->to].delivered++;
            if (n->ops.input) n->ops.input(n->ptr, p->data, p->len, sim->now);
            int to = p->to;
            pkt_release(sim, p);
            call_after(sim, to);
        }
    } else {
        sim_node *n = &sim->nodes[node];
        sim->stats.ticks++;
        n->ops.tick(n->ptr, sim->now);
        call_after(sim, node);
    }
    return true;
}

bool tcpw_sim_step(tcpw_sim *sim) {
    return step_until(sim, UINT64_MAX);
}

uint64_t tcpw_sim_run(tcpw_sim *sim, uint64_t until_us) {
    uint64_t steps = 0;
    while (step_until(sim, until_us))
        steps++;
    if (until_us != UINT64_MAX && sim->now < until_us && !sim->fatal) {
        sim->now = until_us;
        sim->instant_steps = 0;
    }
    return steps;
}

const char *tcpw_sim_error(const tcpw_sim *sim) {
    return sim->err[0] ? sim->err : NULL;
}

/* ---- observing --------------------------------------------------------------------------- */

const tcpw_recording *tcpw_sim_recording(const tcpw_sim *sim) {
    return &sim->rec;
}
tcpw_recording *tcpw_sim_recording_mut(tcpw_sim *sim) {
    return &sim->rec;
}

int tcpw_sim_record(tcpw_sim *sim, const tcpw_rec_event *e) {
    if (!sim || !e || e->side < 0 || e->side >= TCPW_REC_MAX_SIDES) return TCPW_EINVAL;
    if (sim->cfg.no_recording) return TCPW_OK;
    if (!tcpw_rec_add(&sim->rec, e)) {
        set_error(sim, true, "out of memory (recording)");
        return TCPW_ENOMEM;
    }
    return TCPW_OK;
}

const tcpw_sim_stats *tcpw_sim_get_stats(const tcpw_sim *sim) {
    return &sim->stats;
}

tcpw_sim_link_stats tcpw_sim_get_link_stats(const tcpw_sim *sim, int from, int to) {
    tcpw_sim_link_stats zero;
    memset(&zero, 0, sizeof zero);
    if (!sim || from < 0 || from >= TCPW_SIM_MAX_NODES || to < 0 || to >= TCPW_SIM_MAX_NODES)
        return zero;
    return sim->lstats[from][to];
}

/* ---- capture ----------------------------------------------------------------------------- */

int tcpw_sim_pcap_open(tcpw_sim *sim, const char *path) {
    if (!sim || !path) return TCPW_EINVAL;
    tcpw_sim_pcap_close(sim);
    sim->pcap = pcap_open_dead(DLT_RAW, PCAP_SNAPLEN);
    if (!sim->pcap) {
        set_error(sim, false, "pcap: cannot create a capture handle");
        return TCPW_EINVAL;
    }
    sim->dumper = pcap_dump_open(sim->pcap, path);
    if (!sim->dumper) {
        set_error(sim, false, "pcap: %s", pcap_geterr(sim->pcap));
        pcap_close(sim->pcap);
        sim->pcap = NULL;
        return TCPW_EINVAL;
    }
    sim->pcap_failed = false;
    return TCPW_OK;
}

int tcpw_sim_pcap_close(tcpw_sim *sim) {
    if (!sim || !sim->pcap) return TCPW_OK;
    int rc = TCPW_OK;
    if (sim->dumper) {
        if (pcap_dump_flush(sim->dumper) != 0 || ferror(pcap_dump_file(sim->dumper)))
            sim->pcap_failed = true;
        pcap_dump_close(sim->dumper);
        sim->dumper = NULL;
    }
    pcap_close(sim->pcap);
    sim->pcap = NULL;
    if (sim->pcap_failed) {
        set_error(sim, true, "writing the capture failed");
        rc = TCPW_EINVAL;
    }
    sim->pcap_failed = false;
    return rc;
}
