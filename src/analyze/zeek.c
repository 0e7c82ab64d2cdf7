/* zeek.c — Zeek's view of a connection, so that users can set the analyzer's verdict beside
 * their conn.log: the conn_state label (S0, SF, RSTO, ...) and the history string (ShADadFf).
 *
 * It follows Zeek's TCP analyzer (src/analyzer/protocol/tcp/TCP.cc, TCP_Endpoint.cc) and the
 * conn_state() function of base/protocols/conn/main.zeek: Zeek's own coarse endpoint states
 * (INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET), its history letters
 * (upper case for the originator — here the client — lower case for the responder; S H A D
 * F R once per direction unless the SYN/FIN/RST sequence number changes; T W G logarithmic:
 * at the 1st, 10th, 100th... occurrence), and '^' when the first packet came from the
 * responder. Zeek is run with checksums ignored (-C), as for captures with offload.
 */
#include <stdio.h>
#include <string.h>

#include "analyze/analyze.h"
#include "core/seq.h"

typedef enum {
    Z_INACTIVE,
    Z_SYN_SENT,
    Z_SYN_ACK_SENT,
    Z_PARTIAL,
    Z_ESTABLISHED,
    Z_CLOSED,
    Z_RESET
} zst;

enum { H_SYN = 1, H_FIN = 2, H_RST = 4, H_DATA = 8, H_ACK = 16, H_FINRST = 32, H_MULTI = 64 };

typedef struct zep {
    zst state, prev;
    bool started;
    uint32_t start_seq, last_seq;
    uint64_t size;
    unsigned seen; /* H_* letters already recorded */
    uint32_t last_syn, last_fin, last_rst;
    uint32_t rxmt, rxmt_th, win0, win0_th, gap, gap_th;
} zep;

typedef struct zconn {
    zep e[2];
    char *h;
    size_t n, cap;
} zconn;

static void add(zconn *z, int side, char code) {
    if (z->n + 1 < z->cap) {
        z->h[z->n++] = side == 0 ? code : (char)(code - 'A' + 'a');
        z->h[z->n] = '\0';
    }
}

/* Zeek's CheckHistory: records the letter the first time; true when already recorded. */
static bool check(zconn *z, int side, unsigned mask, char code) {
    if (z->e[side].seen & mask) return true;
    z->e[side].seen |= mask;
    add(z, side, code);
    return false;
}

static void scaled(zconn *z, int side, char code, uint32_t *count, uint32_t *th) {
    if (*th == 0) *th = 1;
    if (++*count == *th) {
        add(z, side, code);
        *th = *th >= 100000000u ? *th : *th * 10;
    }
}

static void set(zep *e, zst s) {
    if (e->state != s) {
        e->prev = e->state;
        e->state = s;
    }
}

static void history(zconn *z, int side, uint8_t fl, uint32_t rel, uint32_t len) {
    zep *e = &z->e[side];
    int bits = !!(fl & TCPW_SYN) + !!(fl & TCPW_FIN) + !!(fl & TCPW_RST);
    if (bits > 1) {
        if ((fl & TCPW_FIN) && (fl & TCPW_RST))
            check(z, side, H_FINRST, 'I');
        else
            check(z, side, H_MULTI, 'Q');
    } else if (bits == 1) {
        if (fl & TCPW_SYN) {
            char code = (fl & TCPW_ACK) ? 'H' : 'S';
            if (check(z, side, H_SYN, code) && rel != e->last_syn) add(z, side, code);
            e->last_syn = rel;
        }
        if (fl & TCPW_FIN) {
            if (check(z, side, H_FIN, 'F') && rel + len != e->last_fin) add(z, side, 'F');
            e->last_fin = rel + len;
        }
        if (fl & TCPW_RST) {
            if (check(z, side, H_RST, 'R') && rel != e->last_rst) add(z, side, 'R');
            e->last_rst = rel;
        }
    } else if (len) {
        check(z, side, H_DATA, 'D');
    } else if (fl & TCPW_ACK) {
        check(z, side, H_ACK, 'A');
    }
}

/* TCP_Analyzer::UpdateStateMachine and its helpers. */
static void state_machine(zconn *z, int side, uint8_t fl, uint32_t len) {
    zep *e = &z->e[side], *peer = &z->e[1 - side];
    bool syn = fl & TCPW_SYN, ack = fl & TCPW_ACK, fin = fl & TCPW_FIN, rst = fl & TCPW_RST;
    bool orig = side == 0;
    switch (e->state) {
    case Z_INACTIVE:
        if (syn) {
            if (orig) {
                set(e, ack ? Z_SYN_ACK_SENT : Z_SYN_SENT);
            } else {
                if (peer->state == Z_SYN_SENT) set(peer, Z_ESTABLISHED);
                set(e, Z_ESTABLISHED);
            }
        }
        if (fin) set(e, Z_CLOSED);
        if (rst) set(e, Z_RESET);
        if (e->state == Z_INACTIVE) {
            if (!orig && len == 0 && z->e[0].state == Z_SYN_SENT)
                ; /* an ACK of the SYN before the SYN+ACK */
            else if (ack && peer->state == Z_ESTABLISHED)
                set(e, Z_ESTABLISHED);
            else
                set(e, Z_PARTIAL);
        }
        break;
    case Z_SYN_SENT:
    case Z_SYN_ACK_SENT:
        if (fin) set(e, Z_CLOSED);
        if (rst) set(e, Z_RESET);
        break;
    case Z_ESTABLISHED:
    case Z_PARTIAL:
        if (syn && e->state == Z_PARTIAL && peer->state == Z_INACTIVE && !ack) set(e, Z_SYN_SENT);
        if (fin && !rst) {
            set(e, Z_CLOSED);
            if (peer->state == Z_RESET && peer->prev == Z_CLOSED) set(peer, Z_CLOSED);
        }
        if (rst) set(e, Z_RESET);
        break;
    case Z_CLOSED:
        if (rst && peer->state != Z_CLOSED) set(e, Z_RESET);
        break;
    case Z_RESET: break;
    }
}

static const char *conn_state(const zconn *z) {
    zst os = z->e[0].state, rs = z->e[1].state;
    bool o_inactive = os == Z_INACTIVE || os == Z_PARTIAL;
    bool r_inactive = rs == Z_INACTIVE || rs == Z_PARTIAL;
    if (rs == Z_RESET) {
        if (os == Z_SYN_SENT || os == Z_SYN_ACK_SENT ||
            (os == Z_RESET && z->e[0].size == 0 && z->e[1].size == 0))
            return "REJ";
        return o_inactive ? "RSTRH" : "RSTR";
    }
    if (os == Z_RESET) {
        if (r_inactive) {
            /* the history matches ^?S[^HAFGIQ]*R (Zeek's RSTOS0 pattern) */
            const char *h = z->h;
            if (*h == '^') h++;
            if (*h == 'S') {
                for (const char *p = h + 1; *p; p++) {
                    if (*p == 'R') return "RSTOS0";
                    if (strchr("HAFGIQ", *p)) break;
                }
            }
            return "OTH";
        }
        return "RSTO";
    }
    if (rs == Z_CLOSED && os == Z_CLOSED) return "SF";
    if (os == Z_CLOSED) return r_inactive ? "SH" : "S2";
    if (rs == Z_CLOSED) return o_inactive ? "SHR" : "S3";
    if (os == Z_SYN_SENT && rs == Z_INACTIVE) return "S0";
    if (os == Z_ESTABLISHED && rs == Z_ESTABLISHED) return "S1";
    return "OTH";
}

void tcpw_an_zeek(tcpw_an_conn *c) {
    zconn z;
    memset(&z, 0, sizeof z);
    z.h = c->zeek_history;
    z.cap = sizeof c->zeek_history;
    z.h[0] = '\0';
    if (c->npkt && c->pkt[0].side == 1) {
        z.h[z.n++] = '^';
        z.h[z.n] = '\0';
    }
    for (size_t i = 0; i < c->npkt; i++) {
        const tcpw_an_pkt *p = &c->pkt[i];
        int s = p->side;
        zep *e = &z.e[s], *peer = &z.e[1 - s];
        uint32_t sl = p->len + !!(p->flags & TCPW_SYN) + !!(p->flags & TCPW_FIN);
        if (p->flags & TCPW_RST) sl -= p->len; /* RST data is not stream data */
        if (!e->started) {
            /* init_endpoint: as if a SYN had been seen */
            e->start_seq = (p->flags & TCPW_SYN) ? p->seq : p->seq - 1;
            e->last_seq = (p->flags & TCPW_SYN) ? p->seq + sl : p->seq;
            e->started = true;
        } else if ((p->flags & TCPW_SYN) &&
                   (e->state == Z_SYN_SENT || e->state == Z_SYN_ACK_SENT) &&
                   p->seq != e->start_seq) {
            e->start_seq = p->seq;
            e->last_seq = p->seq + sl;
        }
        history(&z, s, p->flags, p->seq - e->start_seq, p->len);
        if (p->win == 0 && !(p->flags & TCPW_RST) && peer->state != Z_CLOSED && e->state != Z_RESET)
            scaled(&z, s, 'W', &e->win0, &e->win0_th);
        if (p->flags & TCPW_ACK) {
            if (!peer->started) {
                peer->start_seq = peer->last_seq = p->ack - 1;
                peer->started = true;
            }
        }
        /* update_last_seq: a payload that does not advance the sequence is a retransmission */
        uint32_t end = p->seq + sl;
        int32_t delta = (int32_t)(end - e->last_seq);
        if ((p->flags & (TCPW_SYN | TCPW_RST)) && (delta > 1048576 || delta < -1048576))
            ;
        else if ((p->flags & TCPW_FIN) && e->last_seq == e->start_seq + 1)
            e->last_seq = end;
        else if (e->state == Z_RESET)
            ;
        else if (delta > 0)
            e->last_seq = end;
        else if (p->len > 0)
            scaled(&z, s, 'T', &e->rxmt, &e->rxmt_th);
        state_machine(&z, s, p->flags, p->len);
        /* a content gap: acknowledged bytes of the peer never seen (not at FIN/RST) */
        if ((p->flags & TCPW_ACK) && !(p->flags & (TCPW_FIN | TCPW_RST)) && peer->started &&
            peer->state != Z_INACTIVE && seq_gt(p->ack, peer->last_seq) &&
            p->ack - peer->last_seq > 1)
            scaled(&z, 1 - s, 'G', &peer->gap, &peer->gap_th);
    }
    for (int s = 0; s < 2; s++) {
        zep *e = &z.e[s];
        /* Size(): payload bytes by sequence numbers, without SYN and FIN */
        uint32_t span = e->last_seq - e->start_seq;
        uint64_t size = span;
        if (size) size--;
        bool fin = false;
        for (size_t i = 0; i < c->npkt; i++)
            if (c->pkt[i].side == s && (c->pkt[i].flags & TCPW_FIN)) fin = true;
        if (fin && size) size--;
        e->size = e->started ? size : 0;
    }
    snprintf(c->zeek_state, sizeof c->zeek_state, "%s", conn_state(&z));
}
