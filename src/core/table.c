/* table.c — demultiplexing: the hash table from 4-tuple to control block, the listener list,
 * and the keyed 4-tuple hash that the TIME_WAIT index (twstore.c) shares.
 *
 * Chained hashing with intrusive chains (no allocation per entry). The bucket array doubles
 * when the load passes one entry per bucket, incrementally: the old and the new array live
 * side by side while every insertion and removal splits a few more old buckets into the new
 * one (as Redis does), so no segment ever waits for a whole table to be rehashed. A bucket of
 * the new array is written only when its old bucket is split (until then insertions go to
 * the old bucket), so a lookup searches exactly one chain. The hash is keyed with the stack's
 * secret so a peer cannot aim packets at one chain.
 */
#include <string.h>

#include "tcb.h"

static uint64_t mix64(uint64_t x) {
    /* the finalizer of SplitMix64: every input bit affects every output bit */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint64_t load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* The hash of a 4-tuple given as raw addresses (4 or 16 bytes each) and ports. */
uint32_t tuple_hash_raw(const tcpw_stack *s, uint8_t addr_len, const uint8_t *laddr,
                        const uint8_t *raddr, uint16_t lport, uint16_t rport) {
    uint64_t h = load64(s->cfg.secret) ^ ((uint64_t)lport << 16 | rport);
    if (addr_len == 16) {
        h = mix64(h ^ load64(laddr)) ^ load64(laddr + 8);
        h = mix64(h ^ load64(raddr)) ^ load64(raddr + 8);
    } else {
        uint32_t la, ra;
        memcpy(&la, laddr, 4);
        memcpy(&ra, raddr, 4);
        h ^= (uint64_t)la << 32 | ra;
    }
    return (uint32_t)mix64(h ^ load64(s->cfg.secret + 8));
}

uint32_t tuple_hash(const tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote) {
    return tuple_hash_raw(s, local->addr.family == 6 ? 16 : 4, local->addr.ip, remote->addr.ip,
                          local->port, remote->port);
}

static bool tuple_match(const tcpw_endpoint *l1, const tcpw_endpoint *r1, const tcpw_endpoint *l2,
                        const tcpw_endpoint *r2) {
    return l1->port == l2->port && r1->port == r2->port && tcpw_addr_equal(&l1->addr, &l2->addr) &&
           tcpw_addr_equal(&r1->addr, &r2->addr);
}

#define TABLE_MIN          64u
#define TABLE_REHASH_STEPS 2

/* The bucket that holds hash h: in the old array until that bucket has been split. */
static tcpw_conn **bucket_for(const tcpw_table *t, uint32_t h) {
    size_t i = h & t->mask[0];
    if (t->b[1] && i < t->moved) return &t->b[1][h & t->mask[1]];
    return &t->b[0][i];
}

/* Splits up to n buckets of the old array into the new one. */
static void table_step(tcpw_stack *s, tcpw_table *t, int n) {
    for (; n > 0 && t->b[1]; n--) {
        size_t size = t->mask[0] + 1, i = t->moved;
        tcpw_conn *lo = NULL, *hi = NULL;
        for (tcpw_conn *c = t->b[0][i], *next; c; c = next) {
            next = c->hash_next;
            if (c->tuple_hash & size) {
                c->hash_next = hi;
                hi = c;
            } else {
                c->hash_next = lo;
                lo = c;
            }
        }
        t->b[1][i] = lo;
        t->b[1][i + size] = hi;
        if (++t->moved == size) {
            stack_free_mem(s, t->b[0]);
            t->b[0] = t->b[1];
            t->mask[0] = t->mask[1];
            t->b[1] = NULL;
            t->moved = 0;
        }
    }
}

/* Starts doubling the table (or creates it). Without memory for a larger array the table
 * goes on at a higher load; only the first array is required. */
static int table_grow_start(tcpw_stack *s, tcpw_table *t) {
    if (!t->b[0]) {
        t->b[0] = stack_alloc(s, TABLE_MIN * sizeof *t->b[0]);
        if (!t->b[0]) return TCPW_ENOMEM;
        memset(t->b[0], 0, TABLE_MIN * sizeof *t->b[0]);
        t->mask[0] = TABLE_MIN - 1;
        return TCPW_OK;
    }
    size_t size = t->mask[0] + 1;
    if (t->b[1] || size > ((size_t)1 << 31)) return TCPW_OK;
    t->b[1] = stack_alloc(s, 2 * size * sizeof *t->b[1]);
    if (!t->b[1]) return TCPW_OK;
    t->mask[1] = 2 * size - 1;
    t->moved = 0;
    return TCPW_OK;
}

void table_free(tcpw_stack *s, tcpw_table *t) {
    stack_free_mem(s, t->b[0]);
    stack_free_mem(s, t->b[1]);
    memset(t, 0, sizeof *t);
}

static inline int insert_conn(tcpw_stack *s, tcpw_conn *c, uint32_t h) {
    tcpw_table *t = &s->conns;
    if (!t->b[0] || t->count > t->mask[0]) {
        int err = table_grow_start(s, t);
        if (err) return err;
    }
    c->tuple_hash = h;
    c->in_table = true;
    tcpw_conn **b = bucket_for(t, c->tuple_hash);
    c->hash_next = *b;
    *b = c;
    t->count++;
    if (t->b[1]) table_step(s, t, TABLE_REHASH_STEPS);
    return TCPW_OK;
}

int table_insert_conn(tcpw_stack *s, tcpw_conn *c) {
    return insert_conn(s, c, tuple_hash(s, &c->local, &c->remote));
}

/* h is tuple_hash() of the connection's 4-tuple, already known to the caller. */
int table_insert_conn_hashed(tcpw_stack *s, tcpw_conn *c, uint32_t h) {
    return insert_conn(s, c, h);
}

/* Removing a control block that is not in the table (a listener, one never inserted or
 * already removed) is harmless. */
void table_remove_conn(tcpw_stack *s, tcpw_conn *c) {
    tcpw_table *t = &s->conns;
    if (!c->in_table) return;
    for (tcpw_conn **pp = bucket_for(t, c->tuple_hash); *pp; pp = &(*pp)->hash_next)
        if (*pp == c) {
            *pp = c->hash_next;
            c->hash_next = NULL;
            c->in_table = false;
            t->count--;
            if (t->b[1]) table_step(s, t, TABLE_REHASH_STEPS);
            return;
        }
}

static inline tcpw_conn *find_conn(const tcpw_table *t, const tcpw_endpoint *local,
                                   const tcpw_endpoint *remote, uint32_t h) {
    for (tcpw_conn *c = *bucket_for(t, h); c; c = c->hash_next)
        if (tuple_match(&c->local, &c->remote, local, remote)) return c;
    return NULL;
}

tcpw_conn *table_find_conn(const tcpw_stack *s, const tcpw_endpoint *local,
                           const tcpw_endpoint *remote) {
    if (!s->conns.count) return NULL;
    return find_conn(&s->conns, local, remote, tuple_hash(s, local, remote));
}

/* h is tuple_hash(s, local, remote), already known to the caller. */
tcpw_conn *table_find_conn_hashed(const tcpw_stack *s, const tcpw_endpoint *local,
                                  const tcpw_endpoint *remote, uint32_t h) {
    if (!s->conns.count) return NULL;
    return find_conn(&s->conns, local, remote, h);
}

/* A listener bound to the exact address wins over one bound to any address. */
tcpw_conn *listener_find(const tcpw_stack *s, const tcpw_endpoint *local) {
    tcpw_conn *any = NULL;
    for (tcpw_conn *l = s->listeners; l; l = l->hash_next) {
        if (l->local.port != local->port) continue;
        if (l->local.addr.family == 0) {
            any = l;
        } else if (tcpw_addr_equal(&l->local.addr, &local->addr)) {
            return l;
        }
    }
    return any;
}
