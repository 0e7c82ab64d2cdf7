/* table.c — demultiplexing: hash tables from 4-tuple to control block and to TIME_WAIT record,
 * and the listener list.
 *
 * Chained hashing with intrusive chains (no allocation per entry); the bucket array doubles
 * when the load passes one entry per bucket. The hash is keyed with the stack's secret so a
 * peer cannot aim packets at one chain.
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

uint32_t tuple_hash(const tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote) {
    uint64_t h = load64(s->cfg.secret) ^ ((uint64_t)local->port << 16 | remote->port);
    if (local->addr.family == 6) {
        h = mix64(h ^ load64(local->addr.ip)) ^ load64(local->addr.ip + 8);
        h = mix64(h ^ load64(remote->addr.ip)) ^ load64(remote->addr.ip + 8);
    } else {
        uint32_t la, ra;
        memcpy(&la, local->addr.ip, 4);
        memcpy(&ra, remote->addr.ip, 4);
        h ^= (uint64_t)la << 32 | ra;
    }
    return (uint32_t)mix64(h ^ load64(s->cfg.secret + 8));
}

static bool tuple_match(const tcpw_endpoint *l1, const tcpw_endpoint *r1, const tcpw_endpoint *l2,
                        const tcpw_endpoint *r2) {
    return l1->port == l2->port && r1->port == r2->port && tcpw_addr_equal(&l1->addr, &l2->addr) &&
           tcpw_addr_equal(&r1->addr, &r2->addr);
}

/* Both tables are the same code: an entry type is described by where its chain pointer and
 * its endpoints sit. */
typedef struct entry_layout {
    size_t next, local, remote;
} entry_layout;

static const entry_layout conn_layout = {offsetof(tcpw_conn, hash_next), offsetof(tcpw_conn, local),
                                         offsetof(tcpw_conn, remote)};
static const entry_layout tw_layout = {offsetof(tcpw_tw, hash_next), offsetof(tcpw_tw, local),
                                       offsetof(tcpw_tw, remote)};

static void **next_of(void *e, const entry_layout *L) {
    return (void **)((char *)e + L->next);
}
static const tcpw_endpoint *local_of(const void *e, const entry_layout *L) {
    return (const tcpw_endpoint *)((const char *)e + L->local);
}
static const tcpw_endpoint *remote_of(const void *e, const entry_layout *L) {
    return (const tcpw_endpoint *)((const char *)e + L->remote);
}

static int table_grow(tcpw_stack *s, tcpw_table *t, const entry_layout *L) {
    size_t nb = t->mask ? (t->mask + 1) * 2 : 64;
    void **b = stack_alloc(s, nb * sizeof *b);
    if (!b) return TCPW_ENOMEM;
    memset(b, 0, nb * sizeof *b);
    for (size_t i = 0; t->mask && i <= t->mask; i++) {
        void *e = t->buckets[i];
        while (e) {
            void *next = *next_of(e, L);
            size_t h = tuple_hash(s, local_of(e, L), remote_of(e, L)) & (nb - 1);
            *next_of(e, L) = b[h];
            b[h] = e;
            e = next;
        }
    }
    stack_free_mem(s, t->buckets);
    t->buckets = b;
    t->mask = nb - 1;
    return TCPW_OK;
}

static int table_insert(tcpw_stack *s, tcpw_table *t, void *e, const entry_layout *L) {
    if (t->count >= t->mask + (t->mask ? 1 : 0)) {
        int err = table_grow(s, t, L);
        if (err) return err;
    }
    size_t h = tuple_hash(s, local_of(e, L), remote_of(e, L)) & t->mask;
    *next_of(e, L) = t->buckets[h];
    t->buckets[h] = e;
    t->count++;
    return TCPW_OK;
}

static bool table_remove(tcpw_stack *s, tcpw_table *t, void *e, const entry_layout *L) {
    if (!t->mask) return false;
    size_t h = tuple_hash(s, local_of(e, L), remote_of(e, L)) & t->mask;
    for (void **pp = &t->buckets[h]; *pp; pp = next_of(*pp, L))
        if (*pp == e) {
            *pp = *next_of(e, L);
            *next_of(e, L) = NULL;
            t->count--;
            return true;
        }
    return false;
}

static void *table_find(const tcpw_stack *s, const tcpw_table *t, const tcpw_endpoint *local,
                        const tcpw_endpoint *remote, const entry_layout *L) {
    if (!t->mask) return NULL;
    size_t h = tuple_hash(s, local, remote) & t->mask;
    for (void *e = t->buckets[h]; e; e = *next_of(e, L))
        if (tuple_match(local_of(e, L), remote_of(e, L), local, remote)) return e;
    return NULL;
}

void table_free(tcpw_stack *s, tcpw_table *t) {
    stack_free_mem(s, t->buckets);
    memset(t, 0, sizeof *t);
}

int table_insert_conn(tcpw_stack *s, tcpw_conn *c) {
    return table_insert(s, &s->conns, c, &conn_layout);
}

/* Removing a control block that is not in the table (a listener, one never inserted or
 * already removed) is harmless. */
void table_remove_conn(tcpw_stack *s, tcpw_conn *c) {
    table_remove(s, &s->conns, c, &conn_layout);
}

tcpw_conn *table_find_conn(const tcpw_stack *s, const tcpw_endpoint *local,
                           const tcpw_endpoint *remote) {
    return table_find(s, &s->conns, local, remote, &conn_layout);
}

int table_insert_tw(tcpw_stack *s, tcpw_tw *tw) {
    return table_insert(s, &s->tws, tw, &tw_layout);
}

void table_remove_tw(tcpw_stack *s, tcpw_tw *tw) {
    table_remove(s, &s->tws, tw, &tw_layout);
}

tcpw_tw *table_find_tw(const tcpw_stack *s, const tcpw_endpoint *local,
                       const tcpw_endpoint *remote) {
    return table_find(s, &s->tws, local, remote, &tw_layout);
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
