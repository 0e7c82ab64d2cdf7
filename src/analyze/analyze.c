/* analyze.c — the analyzer object: decodes each captured packet down to its TCP header (with
 * core/wire.c's parser), splits the traffic into connections by 4-tuple — a new connection
 * on the same 4-tuple when a new SYN starts one (port reuse), as Wireshark and Zeek do — and
 * keeps each connection's packets as compact records for the inference (infer.c).
 */
#include "analyze/analyze.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/linklayer.h"
#include "core/seq.h"
#include "core/wire.h"

#define TABLE_INITIAL 1024u
#define SCRATCH_MAX   65600u

/* The 4-tuple in a canonical order (the lower endpoint first), so both directions meet. */
typedef struct conn_key {
    uint8_t fam;
    uint8_t a[16], b[16];
    uint16_t pa, pb;
} conn_key;

typedef struct slot {
    conn_key key;
    uint32_t conn; /* index + 1 of the newest connection on this 4-tuple; 0 = empty slot */
} slot;

struct tcpw_analyzer {
    tcpw_an_config cfg;
    tcpw_an_conn *conns;
    size_t nconns, conns_cap;
    slot *table;
    size_t table_cap, table_used;
    tcpw_an_totals tot;
    uint8_t *scratch; /* for packets the capture cut short */
    bool finished;
};

void tcpw_an_config_default(tcpw_an_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->msl_ms = 30000;
    cfg->rfc1337 = false;
    cfg->keep_packets = true;
}

tcpw_analyzer *tcpw_an_new(const tcpw_an_config *cfg) {
    tcpw_analyzer *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    if (cfg)
        a->cfg = *cfg;
    else
        tcpw_an_config_default(&a->cfg);
    if (a->cfg.msl_ms == 0) a->cfg.msl_ms = 30000;
    a->table = calloc(TABLE_INITIAL, sizeof *a->table);
    if (!a->table) {
        free(a);
        return NULL;
    }
    a->table_cap = TABLE_INITIAL;
    return a;
}

static void conn_release(tcpw_an_conn *c) {
    free(c->pkt);
    free(c->trans);
    free(c->anom);
    c->pkt = NULL;
    c->trans = NULL;
    c->anom = NULL;
}

void tcpw_an_free(tcpw_analyzer *a) {
    if (!a) return;
    for (size_t i = 0; i < a->nconns; i++)
        conn_release(&a->conns[i]);
    free(a->conns);
    free(a->table);
    free(a->scratch);
    free(a);
}

const tcpw_an_config *tcpw_an_get_config(const tcpw_analyzer *a) {
    return &a->cfg;
}

size_t tcpw_an_conn_count(const tcpw_analyzer *a) {
    return a ? a->nconns : 0;
}

const tcpw_an_conn *tcpw_an_conn_get(const tcpw_analyzer *a, size_t i) {
    return a && i < a->nconns ? &a->conns[i] : NULL;
}

const tcpw_an_totals *tcpw_an_get_totals(const tcpw_analyzer *a) {
    return &a->tot;
}

const tcpw_an_conn *tcpw_an_prev_conn(const tcpw_analyzer *a, const tcpw_an_conn *c) {
    if (!a || !c || c->prev_conn < 0 || (size_t)c->prev_conn >= a->nconns) return NULL;
    return &a->conns[c->prev_conn];
}

/* ---- the 4-tuple table (open addressing, linear probing) --------------------------------- */

static int ep_cmp(const tcpw_endpoint *x, const tcpw_endpoint *y) {
    size_t n = x->addr.family == 6 ? 16 : 4;
    int r = memcmp(x->addr.ip, y->addr.ip, n);
    if (r) return r;
    return (int)x->port - (int)y->port;
}

/* Fills k; returns whether src is the canonical "a" endpoint. */
static bool make_key(const tcpw_endpoint *src, const tcpw_endpoint *dst, conn_key *k) {
    memset(k, 0, sizeof *k);
    k->fam = src->addr.family;
    size_t n = k->fam == 6 ? 16 : 4;
    bool src_first = ep_cmp(src, dst) <= 0;
    const tcpw_endpoint *x = src_first ? src : dst, *y = src_first ? dst : src;
    memcpy(k->a, x->addr.ip, n);
    memcpy(k->b, y->addr.ip, n);
    k->pa = x->port;
    k->pb = y->port;
    return src_first;
}

static uint64_t key_hash(const conn_key *k) {
    /* FNV-1a over the key bytes */
    const uint8_t *p = (const uint8_t *)k;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof *k; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static slot *table_find(tcpw_analyzer *a, const conn_key *k) {
    size_t mask = a->table_cap - 1;
    for (size_t i = key_hash(k) & mask;; i = (i + 1) & mask) {
        slot *s = &a->table[i];
        if (!s->conn || memcmp(&s->key, k, sizeof *k) == 0) return s;
    }
}

static bool table_grow(tcpw_analyzer *a) {
    size_t cap = a->table_cap * 2;
    slot *old = a->table;
    size_t oldcap = a->table_cap;
    slot *t = calloc(cap, sizeof *t);
    if (!t) return false;
    a->table = t;
    a->table_cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].conn) *table_find(a, &old[i].key) = old[i];
    free(old);
    return true;
}

/* ---- connections -------------------------------------------------------------------------- */

static tcpw_an_conn *conn_new(tcpw_analyzer *a, const tcpw_endpoint *src,
                              const tcpw_endpoint *dst) {
    if (a->nconns == a->conns_cap) {
        size_t cap = a->conns_cap ? a->conns_cap * 2 : 64;
        tcpw_an_conn *n = realloc(a->conns, cap * sizeof *n);
        if (!n) return NULL;
        a->conns = n;
        a->conns_cap = cap;
    }
    tcpw_an_conn *c = &a->conns[a->nconns];
    memset(c, 0, sizeof *c);
    c->id = (uint32_t)(a->nconns + 1);
    /* side 0 is the first sender until tcpw_an_infer() names client and server */
    c->ep[0] = *src;
    c->ep[1] = *dst;
    c->prev_conn = -1;
    c->rst_by = -1;
    c->closed_first_by = -1;
    c->opened_by = -1;
    a->nconns++;
    return c;
}

static int conn_push(tcpw_an_conn *c, const tcpw_an_pkt *p) {
    if (c->npkt == c->pkt_cap) {
        size_t cap = c->pkt_cap ? c->pkt_cap * 2 : 8;
        tcpw_an_pkt *n = realloc(c->pkt, cap * sizeof *n);
        if (!n) return TCPW_ENOMEM;
        c->pkt = n;
        c->pkt_cap = cap;
    }
    c->pkt[c->npkt++] = *p;
    return 0;
}

int tcpw_an_conn_add_trans(tcpw_an_conn *c, const tcpw_an_trans *t) {
    if (c->ntrans == c->trans_cap) {
        size_t cap = c->trans_cap ? c->trans_cap * 2 : 16;
        tcpw_an_trans *n = realloc(c->trans, cap * sizeof *n);
        if (!n) return TCPW_ENOMEM;
        c->trans = n;
        c->trans_cap = cap;
    }
    c->trans[c->ntrans++] = *t;
    return 0;
}

int tcpw_an_conn_add_anomaly(tcpw_an_conn *c, tcpw_an_rule rule, uint32_t pkt, int side,
                             const char *detail) {
    /* one report per rule and side is enough to name the problem; the detail says where */
    for (size_t i = 0; i < c->nanom; i++)
        if (c->anom[i].rule == rule && c->anom[i].side == side) return 0;
    if (c->nanom == c->anom_cap) {
        size_t cap = c->anom_cap ? c->anom_cap * 2 : 4;
        tcpw_an_anomaly *n = realloc(c->anom, cap * sizeof *n);
        if (!n) return TCPW_ENOMEM;
        c->anom = n;
        c->anom_cap = cap;
    }
    tcpw_an_anomaly *an = &c->anom[c->nanom++];
    memset(an, 0, sizeof *an);
    an->rule = rule;
    an->pkt = pkt;
    an->side = (uint8_t)side;
    snprintf(an->detail, sizeof an->detail, "%s", detail ? detail : "");
    return 0;
}

/* Whether a SYN from `side` starts a new connection on the 4-tuple of c (port reuse): the
 * old one ended (FIN or RST seen), or the sender's earlier SYN had another ISN, or the old
 * one was seen only mid-stream with data. A retransmitted SYN (same ISN) never does. */
static bool syn_starts_new(const tcpw_an_conn *c, int side, uint32_t seq) {
    bool ended = false, syn_same = false, syn_other = false, any_syn = false;
    for (size_t i = 0; i < c->npkt; i++) {
        const tcpw_an_pkt *p = &c->pkt[i];
        if (p->flags & (TCPW_FIN | TCPW_RST)) ended = true;
        if (p->flags & TCPW_SYN) {
            any_syn = true;
            if (p->side == side && !(p->flags & TCPW_ACK)) {
                if (p->seq == seq)
                    syn_same = true;
                else
                    syn_other = true;
            }
        }
    }
    if (syn_same) return false;
    if (ended || syn_other) return true;
    return !any_syn && c->npkt > 0;
}

static tcpw_an_add_status add_parsed(tcpw_analyzer *a, const tcpw_packet *pp, size_t payload,
                                     bool snapcut, uint64_t t_us, uint32_t recno) {
    conn_key k;
    make_key(&pp->src, &pp->dst, &k);
    slot *s = table_find(a, &k);
    tcpw_an_conn *c = s->conn ? &a->conns[s->conn - 1] : NULL;
    int side = 0;
    if (c) side = tcpw_endpoint_equal(&c->ep[0], &pp->src) ? 0 : 1;
    uint8_t fl = pp->flags;
    if (c && (fl & (TCPW_SYN | TCPW_ACK | TCPW_RST)) == TCPW_SYN &&
        syn_starts_new(c, side, pp->seq)) {
        int prev = (int)(s->conn - 1);
        c = conn_new(a, &pp->src, &pp->dst);
        if (!c) return TCPW_AN_NOMEM;
        c->prev_conn = prev;
        side = 0;
        s->conn = (uint32_t)a->nconns;
    } else if (!c) {
        if ((a->table_used + 1) * 2 > a->table_cap) {
            if (!table_grow(a)) return TCPW_AN_NOMEM;
            s = table_find(a, &k);
        }
        c = conn_new(a, &pp->src, &pp->dst);
        if (!c) return TCPW_AN_NOMEM;
        s->key = k;
        s->conn = (uint32_t)a->nconns;
        a->table_used++;
    }
    tcpw_an_pkt p;
    memset(&p, 0, sizeof p);
    p.t_us = t_us;
    p.recno = recno;
    p.seq = pp->seq;
    p.ack = pp->ack;
    p.len = payload > UINT32_MAX ? UINT32_MAX : (uint32_t)payload;
    p.win = pp->win;
    p.flags = fl;
    p.side = (uint8_t)side;
    p.wscale = (fl & TCPW_SYN) && pp->opts.has_wscale ? pp->opts.wscale : 0xff;
    if (pp->opts.has_ts) {
        p.has_ts = 1;
        p.tsval = pp->opts.tsval;
        p.tsecr = pp->opts.tsecr;
    }
    if (snapcut) p.marks |= TCPW_AN_SNAPLEN;
    if (conn_push(c, &p)) return TCPW_AN_NOMEM;
    if (c->npkt == 1) {
        c->t_first = t_us;
        c->rec_first = recno;
    }
    c->t_last = t_us;
    a->tot.tcp++;
    return TCPW_AN_ADDED;
}

static tcpw_an_add_status malformed(tcpw_analyzer *a, uint32_t recno, const char *text,
                                    const char **why) {
    a->tot.malformed++;
    if (!a->tot.first_malformed_rec) {
        a->tot.first_malformed_rec = recno;
        snprintf(a->tot.first_malformed_why, sizeof a->tot.first_malformed_why, "%s", text);
    }
    if (why) *why = text;
    return TCPW_AN_MALFORMED;
}

static void note_time(tcpw_analyzer *a, uint64_t t_us) {
    if (!a->tot.t_first || t_us < a->tot.t_first) a->tot.t_first = t_us;
    if (t_us > a->tot.t_last) a->tot.t_last = t_us;
}

/* Errors of tcpw_parse() that mean "this is not a TCP segment we can use" rather than "a TCP
 * segment with broken headers". */
static bool not_tcp_error(int rc) {
    return rc == TCPW_WIRE_EMPTY || rc == TCPW_WIRE_BAD_VERSION || rc == TCPW_WIRE_NOT_TCP ||
           rc == TCPW_WIRE_FRAGMENT;
}

tcpw_an_add_status tcpw_an_add_ip(tcpw_analyzer *a, const uint8_t *ip, size_t caplen,
                                  size_t wirelen, uint64_t t_us, uint32_t recno, const char **why) {
    a->tot.records++;
    note_time(a, t_us);
    tcpw_packet pp;
    /* Captures hold Ethernet padding after the IP packet, and checksums that offload has not
     * filled in yet: neither is an error here. */
    unsigned flags = TCPW_PARSE_NO_CHECKSUM | TCPW_PARSE_ALLOW_TRAILER;
    int rc = tcpw_parse(ip, caplen, flags, &pp);
    bool snapcut = false;
    size_t payload = pp.payload_len;
    if (rc == TCPW_WIRE_IP_LENGTH && wirelen > caplen && caplen >= 20) {
        /* The capture's snap length cut the packet: parse the headers that are there, with
         * the IP length patched to what was captured, and take the payload length from the
         * original IP header. */
        if (!a->scratch && !(a->scratch = malloc(SCRATCH_MAX))) return TCPW_AN_NOMEM;
        size_t n = caplen < SCRATCH_MAX ? caplen : SCRATCH_MAX;
        memcpy(a->scratch, ip, n);
        size_t declared;
        uint8_t v = ip[0] >> 4;
        if (v == 4) {
            declared = (size_t)(ip[2] << 8 | ip[3]);
            a->scratch[2] = (uint8_t)(n >> 8);
            a->scratch[3] = (uint8_t)n;
        } else if (v == 6 && n >= 40) {
            declared = 40 + (size_t)(ip[4] << 8 | ip[5]);
            a->scratch[4] = (uint8_t)((n - 40) >> 8);
            a->scratch[5] = (uint8_t)(n - 40);
        } else {
            declared = 0;
        }
        rc = tcpw_parse(a->scratch, n, flags, &pp);
        if ((rc == TCPW_WIRE_DOFF_PAST_END || rc == TCPW_WIRE_OPT_PAST_END) && pp.tcp) {
            /* options cut too: keep the fixed header */
            size_t tcpoff = (size_t)(pp.tcp - a->scratch);
            if (tcpoff + 20 <= n) {
                a->scratch[tcpoff + 12] = (uint8_t)((5u << 4) | (a->scratch[tcpoff + 12] & 0x0f));
                rc = tcpw_parse(a->scratch, n, flags, &pp);
            }
        }
        if (rc == TCPW_WIRE_OK || rc == TCPW_WIRE_BAD_ADDRESS) {
            size_t hdr = (size_t)(pp.payload - a->scratch);
            size_t orig_tcp_hdr = (size_t)((ip[(size_t)(pp.tcp - a->scratch) + 12] >> 4) * 4);
            hdr = (size_t)(pp.tcp - a->scratch) + orig_tcp_hdr;
            payload = declared > hdr ? declared - hdr : 0;
            snapcut = true;
        }
    }
    if (rc == TCPW_WIRE_BAD_ADDRESS) rc = TCPW_WIRE_OK; /* every field is there */
    if (rc == TCPW_WIRE_OPT_LENGTH || rc == TCPW_WIRE_OPT_PAST_END ||
        rc == TCPW_WIRE_OPT_BAD_SIZE) {
        /* Broken options: the fixed header is sound, so the segment still counts for the
         * connection, but the capture is reported damaged. */
        memset(&pp.opts, 0, sizeof pp.opts);
        malformed(a, recno, tcpw_wire_strerror(rc), why);
        if (!snapcut) payload = pp.payload_len;
        tcpw_an_add_status st = add_parsed(a, &pp, payload, snapcut, t_us, recno);
        return st == TCPW_AN_ADDED ? TCPW_AN_MALFORMED : st;
    }
    if (rc != TCPW_WIRE_OK) {
        if (not_tcp_error(rc)) {
            a->tot.not_tcp++;
            return TCPW_AN_NOT_TCP;
        }
        return malformed(a, recno, tcpw_wire_strerror(rc), why);
    }
    if (!snapcut) payload = pp.payload_len;
    return add_parsed(a, &pp, payload, snapcut, t_us, recno);
}

tcpw_an_add_status tcpw_an_add_frame(tcpw_analyzer *a, int dlt, const uint8_t *frame, size_t caplen,
                                     size_t wirelen, uint64_t t_us, uint32_t recno,
                                     const char **why) {
    size_t off = 0;
    tcpw_an_link l = tcpw_an_link_ip(dlt, frame, caplen, &off);
    if (l != TCPW_AN_LINK_IP) {
        a->tot.records++;
        note_time(a, t_us);
        if (l == TCPW_AN_LINK_TRUNCATED)
            return malformed(a, recno, "truncated link-layer header", why);
        a->tot.not_tcp++;
        return TCPW_AN_NOT_TCP;
    }
    size_t wire_ip = wirelen > off ? wirelen - off : 0;
    return tcpw_an_add_ip(a, frame + off, caplen - off, wire_ip, t_us, recno, why);
}

/* A SYN that starts connection n on the 4-tuple of connection `prev` may have met the old
 * connection still open at the other end (in LAST_ACK, its FIN unacknowledged): that end
 * answers with a challenge ACK in the old connection's numbers (RFC 5961 §4.2; RFC 9293
 * §3.10.7.4 fourth), the SYN's sender in SYN-SENT finds it unacceptable and answers with
 * <SEQ=SEG.ACK><CTL=RST> (§3.10.7.3 first), which ends the old connection; only the next copy
 * of the SYN starts the new one. Those packets — the copies of the SYN until then, the
 * challenge ACKs, the RSTs and anything else the old connection's end sent meanwhile — belong
 * to the old connection: moved there, in capture order. */
static int resplit(tcpw_analyzer *a, tcpw_an_conn *n) {
    if (n->prev_conn < 0 || n->npkt < 2) return 0;
    const tcpw_an_pkt *syn = &n->pkt[0];
    if ((syn->flags & (TCPW_SYN | TCPW_ACK | TCPW_RST)) != TCPW_SYN || syn->side != 0) return 0;
    size_t cut = SIZE_MAX;
    bool challenged = false;
    uint32_t challenge_ack = 0;
    for (size_t k = 1; k < n->npkt && k < 64; k++) {
        const tcpw_an_pkt *q = &n->pkt[k];
        if (q->side == 1) {
            if (q->flags & (TCPW_SYN | TCPW_RST)) break; /* the new connection's answer */
            if ((q->flags & TCPW_ACK) && q->ack != syn->seq + 1) {
                challenged = true;
                challenge_ack = q->ack;
            }
        } else if ((q->flags & (TCPW_RST | TCPW_ACK | TCPW_SYN)) == TCPW_RST && challenged &&
                   q->seq == challenge_ack) {
            cut = k;
        } else if (!(q->flags & TCPW_SYN) || q->seq != syn->seq) {
            break; /* the SYN's sender went on otherwise */
        }
    }
    if (cut == SIZE_MAX || cut + 1 >= n->npkt) return 0;
    tcpw_an_conn *p = &a->conns[n->prev_conn];
    int same = tcpw_endpoint_equal(&p->ep[0], &n->ep[0]) ? 0 : 1;
    for (size_t k = 0; k <= cut; k++) {
        tcpw_an_pkt q = n->pkt[k];
        q.side = (uint8_t)(q.side ^ same);
        if (conn_push(p, &q)) return TCPW_ENOMEM;
        p->t_last = q.t_us;
    }
    memmove(n->pkt, n->pkt + cut + 1, (n->npkt - cut - 1) * sizeof *n->pkt);
    n->npkt -= cut + 1;
    /* the new connection begins with its sender's next packet: side 0 stays its first sender */
    int first = n->pkt[0].side;
    if (first) {
        tcpw_endpoint e = n->ep[0];
        n->ep[0] = n->ep[1];
        n->ep[1] = e;
        for (size_t k = 0; k < n->npkt; k++)
            n->pkt[k].side ^= 1;
    }
    n->t_first = n->pkt[0].t_us;
    n->rec_first = n->pkt[0].recno;
    return 0;
}

int tcpw_an_finish(tcpw_analyzer *a) {
    if (!a || a->finished) return 0;
    a->finished = true;
    for (size_t i = 0; i < a->nconns; i++)
        if (resplit(a, &a->conns[i])) return TCPW_ENOMEM;
    uint64_t end = a->tot.t_last;
    for (size_t i = 0; i < a->nconns; i++) {
        tcpw_an_conn *c = &a->conns[i];
        int rc = tcpw_an_infer(c, &a->cfg, end);
        if (rc) return rc;
        tcpw_an_zeek(c);
        c->finished = true;
    }
    /* A SYN that reopened a 4-tuple ends the old connection's TIME_WAIT (RFC 6191), and one
     * that came within 2MSL of the old close is worth naming. */
    for (size_t i = 0; i < a->nconns; i++) {
        tcpw_an_conn *c = &a->conns[i];
        if (c->prev_conn < 0 || c->npkt == 0) continue;
        tcpw_an_conn *old = &a->conns[c->prev_conn];
        uint64_t syn_t = c->pkt[0].t_us;
        for (int s = 0; s < 2; s++) {
            if (old->final[s] != TCPW_TIME_WAIT) continue;
            uint64_t since = old->final_since[s];
            if (syn_t < since + 2ull * a->cfg.msl_ms * 1000u) {
                char d[120];
                snprintf(d, sizeof d,
                         "SYN %.3f s after the previous connection's %s entered TIME_WAIT",
                         (double)(syn_t - since) / 1e6, tcpw_an_side_name(s));
                tcpw_an_conn_add_anomaly(c, TCPW_AN_RULE_SYN_IN_2MSL, 0, c->pkt[0].side, d);
                old->final[s] = TCPW_CLOSED;
                old->final_why[s] = TCPW_AN_WHY_REOPENED;
                old->final_since[s] = syn_t;
            }
        }
    }
    if (!a->cfg.keep_packets)
        for (size_t i = 0; i < a->nconns; i++) {
            free(a->conns[i].pkt);
            a->conns[i].pkt = NULL;
            a->conns[i].pkt_cap = 0;
        }
    return 0;
}

/* ---- names -------------------------------------------------------------------------------- */

const char *tcpw_an_close_name(tcpw_an_close c) {
    switch (c) {
    case TCPW_AN_CLOSE_NONE: return "none";
    case TCPW_AN_CLOSE_FOUR_WAY: return "four-way";
    case TCPW_AN_CLOSE_THREE_SEGMENT: return "three-segment";
    case TCPW_AN_CLOSE_SIMULTANEOUS: return "simultaneous";
    case TCPW_AN_CLOSE_HALF: return "half-close";
    case TCPW_AN_CLOSE_RST: return "rst";
    }
    return "?";
}

const char *tcpw_an_rule_name(tcpw_an_rule r) {
    switch (r) {
    case TCPW_AN_RULE_DATA_AFTER_FIN: return "data-after-fin";
    case TCPW_AN_RULE_FIN_SEQ_CHANGED: return "fin-seq-changed";
    case TCPW_AN_RULE_ACK_UNSENT: return "ack-of-unsent-data";
    case TCPW_AN_RULE_RST_AFTER_FIN: return "rst-after-fin";
    case TCPW_AN_RULE_RST_UNREAD_DATA: return "rst-on-unread-data";
    case TCPW_AN_RULE_SYN_IN_2MSL: return "syn-within-2msl";
    case TCPW_AN_RULE_OUT_OF_WINDOW: return "out-of-window";
    case TCPW_AN_RULE_COUNT: break;
    }
    return "?";
}

const char *tcpw_an_rule_ref(tcpw_an_rule r) {
    switch (r) {
    case TCPW_AN_RULE_DATA_AFTER_FIN:
        return "RFC 9293 §3.10.2 (no SEND after CLOSE) and §3.10.7.4 (FIN: no more data)";
    case TCPW_AN_RULE_FIN_SEQ_CHANGED:
        return "RFC 9293 §3.4 (a retransmission repeats its sequence numbers), §3.10.7.4 eighth";
    case TCPW_AN_RULE_ACK_UNSENT:
        return "RFC 9293 §3.10.7.4 fifth (SEG.ACK > SND.NXT), RFC 5961 §5.2";
    case TCPW_AN_RULE_RST_AFTER_FIN:
        return "RFC 9293 §3.6 (an orderly close ends with ACKs), §3.10.7.4 second";
    case TCPW_AN_RULE_RST_UNREAD_DATA: return "RFC 2525 §2.17, RFC 9293 §3.10.4";
    case TCPW_AN_RULE_SYN_IN_2MSL:
        return "RFC 9293 §3.4.3 and §3.10.8 (TIME-WAIT 2MSL), RFC 1122 §4.2.2.13, RFC 6191";
    case TCPW_AN_RULE_OUT_OF_WINDOW: return "RFC 9293 §3.10.7.4 first (segment acceptability test)";
    case TCPW_AN_RULE_COUNT: break;
    }
    return "?";
}

const char *tcpw_an_why_text(tcpw_an_why w) {
    switch (w) {
    case TCPW_AN_WHY_NONE: return "";
    case TCPW_AN_WHY_MIDSTREAM: return "the capture starts inside the connection (no SYN seen)";
    case TCPW_AN_WHY_LISTENER: return "the SYN was answered: a listener was there";
    case TCPW_AN_WHY_SYN_UNSEEN: return "it sent a SYN+ACK for a SYN that is not in the capture";
    case TCPW_AN_WHY_SYNACK_UNSEEN: return "it acknowledged a SYN+ACK that is not in the capture";
    case TCPW_AN_WHY_LOST:
        return "the packet did not arrive: its sender repeated it and no acknowledgment covered it";
    case TCPW_AN_WHY_TIMEWAIT_EXPIRED: return "2MSL passed since it entered TIME_WAIT";
    case TCPW_AN_WHY_FIN_TIMEOUT:
        return "it answered the FIN with RST, so it had already closed (orphaned FIN_WAIT_2 "
               "timeout, Linux tcp_fin_timeout)";
    case TCPW_AN_WHY_DATA_AFTER_CLOSE:
        return "it answered data with RST after closing (RFC 2525 §2.17)";
    case TCPW_AN_WHY_REOPENED: return "a new SYN on the 4-tuple ended TIME_WAIT (RFC 6191)";
    case TCPW_AN_WHY_ACK_UNSEEN: return "acknowledgments show a packet the capture missed";
    case TCPW_AN_WHY_LOST_ACK:
        return "the packet did not arrive: its receiver later sent again what it acknowledged";
    case TCPW_AN_WHY_LOST_SYN:
        return "the SYN did not arrive: its receiver acknowledged the sender's SYN without ever "
               "answering this one with SYN+ACK";
    case TCPW_AN_WHY_LOST_RST: return "the RST did not arrive: its receiver went on sending";
    case TCPW_AN_WHY_LOST_UNACKED:
        return "the packet did not arrive: its receiver's acknowledgment stopped right before it "
               "well after it would have arrived";
    case TCPW_AN_WHY_LOST_LATE_ANSWER:
        return "the packet did not arrive: its receiver, bound to answer at once (RFC 9293 "
               "§3.10.7.3), answered only a later copy";
    case TCPW_AN_WHY_LOST_NO_DUPACK:
        return "the packet did not arrive: beyond a hole it would have drawn an immediate "
               "duplicate ACK (RFC 5681 §4.2), and its receiver sent nothing then";
    case TCPW_AN_WHY_LOST_TS:
        return "the packet did not arrive: its receiver's next timestamp echo is older than "
               "this packet's timestamp, which it would have echoed (RFC 7323 §4.3)";
    case TCPW_AN_WHY_DELAYED:
        return "it arrived late, held back in the network: the receiver's RST of a closed port "
               "(RFC 9293 §3.10.7.1) answered it long after the sender's last segment arrived";
    case TCPW_AN_WHY_CLOSED_UNSEEN:
        return "it answered with a closed port's RST (RFC 9293 §3.10.7.1): it had closed before "
               "this arrived, by a call that sent nothing";
    case TCPW_AN_WHY_LOST_NO_RST:
        return "the packet did not arrive: it acknowledged the FIN of an endpoint in LAST_ACK, "
               "which it would have closed, and that endpoint let a later segment pass without "
               "the RST a closed port sends (RFC 9293 §3.10.7.1)";
    case TCPW_AN_WHY_DELAYED_ACKED:
        return "it arrived late, held back in the network: its receiver acknowledged its bytes, "
               "which no other copy carried, only long after it would have arrived (RFC 9293 "
               "§3.4, §3.10.7.4 seventh)";
    case TCPW_AN_WHY_LOST_NO_FILL_ACK:
        return "the packet did not arrive: it would have filled its receiver's hole, which is "
               "acknowledged at once (RFC 5681 §4.2), and its receiver sent nothing then";
    case TCPW_AN_WHY_RESET: return "a RST from its peer closed it (RFC 9293 §3.10.7.4 second)";
    case TCPW_AN_WHY_LOST_RTO:
        return "the packet did not arrive: its receiver's retransmission timer later ran as long "
               "as the RTT sample of a later segment makes it, not this one's (RFC 7323 §4.1, "
               "RFC 6298 §2.2)";
    case TCPW_AN_WHY_COUNT: break;
    }
    return "";
}

const char *tcpw_an_side_name(int side) {
    switch (side) {
    case 0: return "client";
    case 1: return "server";
    case 2: return "both";
    default: return "none";
    }
}

void tcpw_an_final_meaning(const tcpw_an_conn *c, int side, const tcpw_an_config *cfg,
                           uint64_t capture_end, char *buf, size_t cap) {
    const char *me = tcpw_an_side_name(side), *peer = tcpw_an_side_name(1 - side);
    uint64_t since = c->final_since[side];
    double rel = since >= c->t_first ? (double)(since - c->t_first) / 1e6 : 0.0;
    uint64_t two_msl = 2ull * cfg->msl_ms * 1000u;
    switch ((tcpw_state)c->final[side]) {
    case TCPW_TIME_WAIT: {
        double left =
            since + two_msl > capture_end ? (double)(since + two_msl - capture_end) / 1e6 : 0.0;
        snprintf(buf, cap,
                 "%s in TIME_WAIT since t=%.3f s, until t+2MSL = %.3f s (%.0f s after the end "
                 "of the capture); it holds the 4-tuple",
                 me, rel, rel + (double)two_msl / 1e6, left);
        break;
    }
    case TCPW_CLOSE_WAIT:
        snprintf(buf, cap,
                 "%s in CLOSE_WAIT since t=%.3f s: the %s closed, the %s application has not "
                 "called close() (a leak if it stays)",
                 me, rel, peer, me);
        break;
    case TCPW_LAST_ACK: snprintf(buf, cap, "%s left in LAST_ACK: final ACK not seen", me); break;
    case TCPW_FIN_WAIT_1:
        snprintf(buf, cap, "%s in FIN_WAIT_1: its FIN is not acknowledged", me);
        break;
    case TCPW_FIN_WAIT_2:
        snprintf(buf, cap,
                 "%s in FIN_WAIT_2 since t=%.3f s: waiting for the %s's FIN (Linux drops an "
                 "orphaned FIN_WAIT_2 after tcp_fin_timeout, 60 s)",
                 me, rel, peer);
        break;
    case TCPW_CLOSING:
        snprintf(buf, cap, "%s in CLOSING: both FINs sent, its own FIN not acknowledged", me);
        break;
    case TCPW_ESTABLISHED: snprintf(buf, cap, "%s still ESTABLISHED: open at the end", me); break;
    case TCPW_SYN_SENT: snprintf(buf, cap, "%s in SYN_SENT: the SYN was not answered", me); break;
    case TCPW_SYN_RCVD:
        snprintf(buf, cap, "%s in SYN_RCVD: the ACK of its SYN+ACK was not seen", me);
        break;
    case TCPW_LISTEN: snprintf(buf, cap, "%s listening; no connection", me); break;
    case TCPW_CLOSED:
        if (c->final_why[side] == TCPW_AN_WHY_TIMEWAIT_EXPIRED)
            snprintf(buf, cap, "%s CLOSED: TIME_WAIT ended 2MSL after t=%.3f s", me,
                     (double)(since - two_msl - c->t_first) / 1e6);
        else if (c->final_why[side] == TCPW_AN_WHY_REOPENED)
            snprintf(buf, cap, "%s CLOSED: a new SYN reopened the 4-tuple (RFC 6191)", me);
        else if (c->rst_by == side)
            snprintf(buf, cap, "%s CLOSED: it sent the RST", me);
        else if (c->rst_by == 1 - side || c->final_why[side] == TCPW_AN_WHY_RESET)
            snprintf(buf, cap, "%s CLOSED: reset by the %s", me, peer);
        else if (c->closed_first_by == 1 - side || c->closed_first_by == side)
            snprintf(buf, cap, "%s CLOSED: its FIN was acknowledged", me);
        else
            snprintf(buf, cap, "%s CLOSED", me);
        break;
    default: snprintf(buf, cap, "%s in %s", me, tcpw_state_name(c->final[side])); break;
    }
}
