/* twstore.c — where compact TIME_WAIT records live: one store per address family, each a
 * ring of records, a hash index over them and a small heap. timewait.c holds the protocol.
 *
 * The ring. Records are fixed-size (48 bytes for IPv4, 72 for IPv6) and sit in chunks of
 * TW_CHUNK_RECS records, addressed by a 31-bit position that only grows (and wraps). A record
 * is appended at the tail; the head is the oldest. Every record lives exactly 2MSL from its
 * last ACK of the peer's FIN, so appending in time order is appending in expiry order: the
 * ring is the expiry FIFO, with O(1) insertion and expiry, no link in the record, nothing
 * allocated per record, and growth that adds a chunk and copies nothing.
 *
 * Lazy deletion. A record removed before it expires (reopened by a SYN, taken over by
 * tw_reuse, reset with RFC 1337 off) leaves the hash index at once and is marked dead; its
 * slot is reclaimed when the head reaches it. A record whose 2MSL restarts (the peer's FIN
 * again) takes its new expiry in place and is marked restarted; when it reaches the head it
 * is copied to the tail, its new expiry being at least that of every record appended before
 * the restart. So each record moves at most once per 2MSL however many FINs arrive. The head
 * is kept live and not restarted after every change, so the next expiry is read in O(1).
 *
 * The heap. A control block that enters TIME_WAIT while the application still holds it
 * becomes a record only at close(), with the expiry it got on entering: it may be earlier
 * than the tail's. Such a record goes into the ring (for its storage) and into a binary heap
 * of positions keyed by (expiry, position) (for its expiry). The ring's head stops at a record
 * in the heap until the heap lets it go; every in-order record behind it expires later anyway.
 *
 * The index. An array of buckets of one cache line each (tw_bucket, tcb.h): the 32-bit tuple
 * hash and the ring position of up to TW_BUCKET_SLOTS records. A lookup compares hashes in
 * the bucket and reads a record only when its hash is the one sought, so a connect() that
 * checks its 4-tuple against a million records, the insertion at close() and the removal at
 * expiry each touch one line of the index and no record: with the records far larger than
 * the cache, that is the difference between one cache miss and two or three. A bucket that
 * is full chains further records through their hash_next (the overflow chain; at the
 * TW_BUCKET_LOAD records per bucket the index allows on average, a few per cent of the
 * records); a slot freed in such a bucket takes the chain's first record. The index doubles
 * when the load passes TW_BUCKET_LOAD, incrementally (as Redis does): the old and the new
 * array live side by side and every insertion or removal splits TW_REHASH_STEPS more old
 * buckets into the new array (by the stored hashes: a record is read only when it sits in an
 * overflow chain), so no operation ever rehashes the whole table. A bucket of the new array is
 * written only by the split of its old bucket (insertions go to the old bucket until it is
 * split), so the new array needs no initialization pass either, and a lookup searches exactly
 * one bucket.
 */
#include <string.h>

#include "tcb.h"

#define TW_CHUNK_SHIFT    10
#define TW_CHUNK_RECS     (1u << TW_CHUNK_SHIFT)
#define TW_POS_MASK       0x7fffffffu
#define TW_CHUNK_NUM_MASK (TW_POS_MASK >> TW_CHUNK_SHIFT)
#define TW_MAX_SPAN       (TW_POS_MASK - 2 * TW_CHUNK_RECS)
#define TW_INDEX_MIN      16u /* buckets */
#define TW_REHASH_STEPS   2
#define TW_REHASH_AHEAD   16 /* buckets between the split and the prefetch (index_step) */
#define TW_LINE           64 /* cache line: the size and alignment of an index bucket */

_Static_assert(offsetof(tcpw_tw4, b) == 16 && offsetof(tcpw_tw6, b) == 40,
               "records: key, then the 8-aligned body");
_Static_assert(offsetof(tcpw_tw4, lport) == 4 && offsetof(tcpw_tw6, lport) == 4 &&
                   offsetof(tcpw_tw4, rport) == 6 && offsetof(tcpw_tw6, rport) == 6 &&
                   offsetof(tcpw_tw4, laddr) == 8 && offsetof(tcpw_tw6, laddr) == 8,
               "records share the layout of their key");

/* ---- records ----------------------------------------------------------------------------- */

static uint8_t *rec_at(const tcpw_tw_store *st, uint32_t pos) {
    return st->chunks[(pos >> TW_CHUNK_SHIFT) & st->chunk_mask] +
           (size_t)(pos & (TW_CHUNK_RECS - 1)) * st->rec_size;
}

/* The two record types share their layout up to the addresses (static asserts above): the
 * chain link at 0, the ports at 4, the addresses at 8. */
static uint32_t *link_of(uint8_t *rec) {
    return (uint32_t *)(void *)rec;
}

static uint16_t *ports_of(uint8_t *rec) {
    return (uint16_t *)(void *)(rec + 4); /* [0] local, [1] remote */
}

static tcpw_tw_body *body_of(const tcpw_tw_store *st, uint8_t *rec) {
    return (tcpw_tw_body *)(void *)(rec + 8 + 2 * (size_t)st->addr_len);
}

tcpw_tw_body *tw_body(const tcpw_tw_store *st, uint32_t pos) {
    return body_of(st, rec_at(st, pos));
}

static uint32_t rec_hash(const tcpw_stack *s, const tcpw_tw_store *st, uint8_t *rec) {
    const uint16_t *ports = ports_of(rec);
    return tuple_hash_raw(s, st->addr_len, rec + 8, rec + 8 + st->addr_len, ports[0], ports[1]);
}

static bool rec_matches(const tcpw_tw_store *st, uint8_t *rec, const tcpw_endpoint *local,
                        const tcpw_endpoint *remote) {
    if (st->addr_len == 4) {
        const tcpw_tw4 *k = (const tcpw_tw4 *)(const void *)rec;
        return k->lport == local->port && k->rport == remote->port &&
               memcmp(k->laddr, local->addr.ip, 4) == 0 &&
               memcmp(k->raddr, remote->addr.ip, 4) == 0;
    }
    const tcpw_tw6 *k = (const tcpw_tw6 *)(const void *)rec;
    return k->lport == local->port && k->rport == remote->port &&
           memcmp(k->laddr, local->addr.ip, 16) == 0 && memcmp(k->raddr, remote->addr.ip, 16) == 0;
}

void tw_endpoints(const tcpw_tw_store *st, uint32_t pos, tcpw_endpoint *local,
                  tcpw_endpoint *remote) {
    uint8_t *rec = rec_at(st, pos);
    memset(local, 0, sizeof *local);
    memset(remote, 0, sizeof *remote);
    local->addr.family = remote->addr.family = st->addr_len == 4 ? 4 : 6;
    memcpy(local->addr.ip, rec + 8, st->addr_len);
    memcpy(remote->addr.ip, rec + 8 + st->addr_len, st->addr_len);
    local->port = ports_of(rec)[0];
    remote->port = ports_of(rec)[1];
}

void tw_stores_init(tcpw_stack *s) {
    s->tw4.addr_len = 4;
    s->tw4.rec_size = sizeof(tcpw_tw4);
    s->tw6.addr_len = 16;
    s->tw6.rec_size = sizeof(tcpw_tw6);
    s->tw4.first_pos = s->tw6.first_pos = TW_NIL;
    s->tw4.first_expire = s->tw6.first_expire = TCPW_NEVER;
}

tcpw_tw_store *tw_store_for(tcpw_stack *s, uint8_t family) {
    return family == 4 ? &s->tw4 : family == 6 ? &s->tw6 : NULL;
}

/* ---- the hash index ------------------------------------------------------------------------ */

/* The bucket that holds hash h: in the old array until that bucket has been split. */
static tw_bucket *bucket_for(const tw_index *ix, uint32_t h) {
    uint32_t i = h & ix->mask[0];
    if (ix->b[1] && i < ix->moved) return &ix->b[1][h & ix->mask[1]];
    return &ix->b[0][i];
}

static void bucket_clear(tw_bucket *bk) {
    bk->n = 0;
    bk->over = TW_NIL;
}

/* An array of n buckets aligned to a cache line (the allocator promises less), so that a
 * bucket is one line, not parts of two; *mem is what to free. */
static tw_bucket *buckets_alloc(tcpw_stack *s, size_t n, void **mem) {
    uint8_t *p = stack_alloc(s, n * sizeof(tw_bucket) + TW_LINE - 1);
    *mem = p;
    if (!p) return NULL;
    uintptr_t skip = (TW_LINE - (uintptr_t)p % TW_LINE) % TW_LINE;
    return (tw_bucket *)(void *)(p + skip);
}

static bool index_init(tcpw_stack *s, tw_index *ix) {
    ix->b[0] = buckets_alloc(s, TW_INDEX_MIN, &ix->mem[0]);
    if (!ix->b[0]) return false;
    for (uint32_t i = 0; i < TW_INDEX_MIN; i++)
        bucket_clear(&ix->b[0][i]);
    ix->mask[0] = TW_INDEX_MIN - 1;
    return true;
}

/* Appends the record at pos to the end of the bucket's overflow chain. */
static void overflow_append(tcpw_tw_store *st, tw_bucket *bk, uint32_t pos) {
    uint32_t *link = &bk->over;
    while (*link != TW_NIL)
        link = link_of(rec_at(st, *link));
    *link = pos;
    *link_of(rec_at(st, pos)) = TW_NIL;
}

/* Puts (h, pos) in the bucket: in a free slot, else at the end of the overflow chain. */
static void bucket_put(tcpw_tw_store *st, tw_bucket *bk, uint32_t h, uint32_t pos) {
    if (bk->n < TW_BUCKET_SLOTS) {
        bk->hash[bk->n] = h;
        bk->pos[bk->n] = pos;
        bk->n++;
        return;
    }
    overflow_append(st, bk, pos);
}

/* Splits up to n buckets of the old array into the new one. A slot goes by its stored hash;
 * a record in an overflow chain is read for its hash (rare: a bucket overflows only when it
 * holds more than TW_BUCKET_SLOTS records). */
static void index_split(tcpw_stack *s, tcpw_tw_store *st, int n) {
    tw_index *ix = &st->index;
    for (int k = n; k > 0 && ix->b[1]; k--) {
        uint32_t size = ix->mask[0] + 1, i = ix->moved;
        const tw_bucket *old = &ix->b[0][i];
        tw_bucket *lo = &ix->b[1][i], *hi = &ix->b[1][i + size];
        bucket_clear(lo);
        bucket_clear(hi);
        for (uint32_t j = 0; j < old->n; j++)
            bucket_put(st, old->hash[j] & size ? hi : lo, old->hash[j], old->pos[j]);
        for (uint32_t p = old->over; p != TW_NIL;) {
            uint8_t *rec = rec_at(st, p);
            uint32_t next = *link_of(rec), h = rec_hash(s, st, rec);
            bucket_put(st, h & size ? hi : lo, h, p);
            p = next;
        }
        if (++ix->moved == size) {
            stack_free_mem(s, ix->mem[0]);
            ix->mem[0] = ix->mem[1];
            ix->mem[1] = NULL;
            ix->b[0] = ix->b[1];
            ix->mask[0] = ix->mask[1];
            ix->b[1] = NULL;
            ix->moved = 0;
            return;
        }
    }
#if defined(__GNUC__) || defined(__clang__)
    /* The old buckets a few operations ahead are fetched now, so that they are in cache when
     * their turn comes. */
    if (ix->b[1]) {
        uint32_t end = ix->moved + TW_REHASH_AHEAD;
        for (uint32_t i = end - (uint32_t)n; i < end && i <= ix->mask[0]; i++)
            __builtin_prefetch(&ix->b[0][i]);
    }
#endif
}

static void index_step(tcpw_stack *s, tcpw_tw_store *st, int n) {
    if (st->index.b[1]) index_split(s, st, n);
}

/* Starts doubling the index. Without memory the index stays as it is, only more loaded. The
 * new array is not initialized: each of its buckets is written whole by the split of its old
 * bucket. */
static void index_grow_start(tcpw_stack *s, tw_index *ix) {
    uint32_t size = ix->mask[0] + 1;
    if (ix->b[1] || size > (1u << 26)) return;
    ix->b[1] = buckets_alloc(s, 2 * (size_t)size, &ix->mem[1]);
    if (!ix->b[1]) return;
    ix->mask[1] = 2 * size - 1;
    ix->moved = 0;
}

static void index_insert(tcpw_stack *s, tcpw_tw_store *st, uint32_t pos, uint32_t h) {
    tw_index *ix = &st->index;
    if (ix->count >= TW_BUCKET_LOAD * (ix->mask[0] + 1)) index_grow_start(s, ix);
    bucket_put(st, bucket_for(ix, h), h, pos);
    ix->count++;
    index_step(s, st, TW_REHASH_STEPS);
}

/* Takes the record at pos out of the index. A slot freed in a bucket with an overflow chain
 * takes the chain's first record, so the slots fill before the chain grows. */
static void index_remove(tcpw_stack *s, tcpw_tw_store *st, uint32_t pos, uint32_t h) {
    tw_index *ix = &st->index;
    tw_bucket *bk = bucket_for(ix, h);
    bool found = false;
    for (uint32_t j = 0; j < bk->n; j++)
        if (bk->pos[j] == pos) {
            uint32_t last = --bk->n;
            bk->hash[j] = bk->hash[last];
            bk->pos[j] = bk->pos[last];
            if (bk->over != TW_NIL) {
                uint32_t p = bk->over;
                uint8_t *rec = rec_at(st, p);
                bk->over = *link_of(rec);
                bucket_put(st, bk, rec_hash(s, st, rec), p);
            }
            found = true;
            break;
        }
    if (!found) {
        uint32_t *link = &bk->over;
        while (*link != TW_NIL && *link != pos)
            link = link_of(rec_at(st, *link));
        if (*link == pos) {
            *link = *link_of(rec_at(st, pos));
            found = true;
        }
    }
    if (found) ix->count--;
    index_step(s, st, TW_REHASH_STEPS);
}

/* A record moved in the ring (relocate): the index points at its new position. */
static void index_move(tcpw_tw_store *st, uint32_t from, uint32_t to, uint32_t h) {
    tw_bucket *bk = bucket_for(&st->index, h);
    for (uint32_t j = 0; j < bk->n; j++)
        if (bk->pos[j] == from) {
            bk->pos[j] = to;
            return;
        }
    /* in the overflow chain: take its place there */
    for (uint32_t *link = &bk->over; *link != TW_NIL; link = link_of(rec_at(st, *link)))
        if (*link == from) {
            *link = to;
            *link_of(rec_at(st, to)) = *link_of(rec_at(st, from));
            return;
        }
}

bool table_find_tw(tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote,
                   tw_ref *out) {
    tcpw_tw_store *st = tw_store_for(s, local->addr.family);
    if (!st || !st->index.count) return false;
    return table_find_tw_hashed(s, local, remote, tuple_hash(s, local, remote), out);
}

/* h is tuple_hash(s, local, remote), already known to the caller. */
bool table_find_tw_hashed(tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote,
                          uint32_t h, tw_ref *out) {
    tcpw_tw_store *st = tw_store_for(s, local->addr.family);
    if (!st || !st->index.count) return false;
    const tw_bucket *bk = bucket_for(&st->index, h);
    /* the slots' hashes first: a record is read only when its hash is the one sought */
    for (uint32_t j = 0; j < bk->n; j++) {
        if (bk->hash[j] != h) continue;
        uint8_t *rec = rec_at(st, bk->pos[j]);
        if (rec_matches(st, rec, local, remote)) {
            out->st = st;
            out->pos = bk->pos[j];
            return true;
        }
    }
    for (uint32_t p = bk->over; p != TW_NIL;) {
        uint8_t *rec = rec_at(st, p);
        if (rec_matches(st, rec, local, remote)) {
            out->st = st;
            out->pos = p;
            return true;
        }
        p = *link_of(rec);
    }
    return false;
}

/* ---- the ring ------------------------------------------------------------------------------ */

static uint32_t ring_span(const tcpw_tw_store *st) {
    return (st->tail - st->head) & TW_POS_MASK;
}

static uint32_t last_chunk(const tcpw_tw_store *st) {
    return ((st->tail - 1) & TW_POS_MASK) >> TW_CHUNK_SHIFT;
}

/* Makes the chunk table hold `need` chunks. It holds pointers only (a few thousand for ten
 * million records), so copying them is no pause. */
static bool chunks_reserve(tcpw_stack *s, tcpw_tw_store *st, uint32_t need) {
    uint32_t cap = st->chunks ? st->chunk_mask + 1 : 0;
    if (need <= cap) return true;
    uint32_t ncap = cap ? cap * 2 : 4;
    while (ncap < need)
        ncap *= 2;
    uint8_t **t = stack_alloc(s, ncap * sizeof *t);
    if (!t) return false;
    if (ring_span(st)) {
        for (uint32_t n = st->head >> TW_CHUNK_SHIFT;; n = (n + 1) & TW_CHUNK_NUM_MASK) {
            t[n & (ncap - 1)] = st->chunks[n & st->chunk_mask];
            if (n == last_chunk(st)) break;
        }
    }
    stack_free_mem(s, st->chunks);
    st->chunks = t;
    st->chunk_mask = ncap - 1;
    return true;
}

/* Takes the slot at the tail; a new chunk when the tail starts one. */
static bool ring_append(tcpw_stack *s, tcpw_tw_store *st, uint32_t *pos) {
    uint32_t p = st->tail;
    if (ring_span(st) >= TW_MAX_SPAN) return false;
    if ((p & (TW_CHUNK_RECS - 1)) == 0) {
        uint32_t need =
            ring_span(st)
                ? (((p >> TW_CHUNK_SHIFT) - (st->head >> TW_CHUNK_SHIFT)) & TW_CHUNK_NUM_MASK) + 1
                : 1;
        if (!chunks_reserve(s, st, need)) return false;
        uint8_t *c = st->spare;
        if (c)
            st->spare = NULL;
        else if (!(c = stack_alloc(s, (size_t)TW_CHUNK_RECS * st->rec_size)))
            return false;
        st->chunks[(p >> TW_CHUNK_SHIFT) & st->chunk_mask] = c;
    }
    st->tail = (p + 1) & TW_POS_MASK;
    *pos = p;
    return true;
}

static void chunk_release(tcpw_stack *s, tcpw_tw_store *st, uint32_t n) {
    uint8_t **slot = &st->chunks[n & st->chunk_mask];
    if (!st->spare)
        st->spare = *slot;
    else
        stack_free_mem(s, *slot);
    *slot = NULL;
}

/* Drops the head slot; an empty ring starts again at position 0. */
static void ring_pop(tcpw_stack *s, tcpw_tw_store *st) {
    uint32_t p = st->head;
    st->head = (p + 1) & TW_POS_MASK;
    bool empty = st->head == st->tail;
    if (empty || (st->head & (TW_CHUNK_RECS - 1)) == 0) chunk_release(s, st, p >> TW_CHUNK_SHIFT);
    if (empty) {
        st->head = st->tail = 0;
        st->last_expire = 0;
    }
}

/* ---- the heap of records out of expiry order ------------------------------------------------ */

/* (expiry, position from the head): ties expire in insertion order, as in the ring. */
static bool heap_before(const tcpw_tw_store *st, uint32_t a, uint32_t b) {
    uint64_t ea = tw_body(st, a)->expire, eb = tw_body(st, b)->expire;
    if (ea != eb) return ea < eb;
    return ((a - st->head) & TW_POS_MASK) < ((b - st->head) & TW_POS_MASK);
}

static bool heap_reserve(tcpw_stack *s, tcpw_tw_store *st) {
    if (st->heap_len < st->heap_cap) return true;
    uint32_t cap = st->heap_cap ? st->heap_cap * 2 : 16;
    uint32_t *h = stack_alloc(s, cap * sizeof *h);
    if (!h) return false;
    if (st->heap_len) memcpy(h, st->heap, st->heap_len * sizeof *h);
    stack_free_mem(s, st->heap);
    st->heap = h;
    st->heap_cap = cap;
    return true;
}

/* Room must have been reserved. */
static void heap_push(tcpw_tw_store *st, uint32_t pos) {
    tw_body(st, pos)->bits |= TW_IN_HEAP;
    uint32_t i = st->heap_len++;
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!heap_before(st, pos, st->heap[parent])) break;
        st->heap[i] = st->heap[parent];
        i = parent;
    }
    st->heap[i] = pos;
}

static void heap_pop(tcpw_tw_store *st) {
    tw_body(st, st->heap[0])->bits &= (uint8_t)~TW_IN_HEAP;
    uint32_t last = st->heap[--st->heap_len], n = st->heap_len, i = 0;
    if (!n) return;
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i, mv = last;
        if (l < n && heap_before(st, st->heap[l], mv)) m = l, mv = st->heap[l];
        if (r < n && heap_before(st, st->heap[r], mv)) m = r;
        if (m == i) break;
        st->heap[i] = st->heap[m];
        i = m;
    }
    st->heap[i] = last;
}

/* ---- moving, adding, removing --------------------------------------------------------------- */

/* Copies the record at pos to the tail with a new expiry; the old slot is dead. A new expiry
 * earlier than the tail's puts the copy in the heap. False when out of memory (nothing
 * changed). */
static bool relocate(tcpw_stack *s, tcpw_tw_store *st, uint32_t pos, uint64_t expire) {
    bool out_of_order = expire < st->last_expire;
    if (out_of_order && !heap_reserve(s, st)) return false;
    uint32_t np;
    if (!ring_append(s, st, &np)) return false;
    uint8_t *from = rec_at(st, pos), *to = rec_at(st, np);
    memcpy(to, from, st->rec_size);
    tcpw_tw_body *b = body_of(st, to);
    b->expire = expire;
    b->bits &= (uint8_t) ~(TW_RESTARTED | TW_IN_HEAP | TW_DEAD);
    body_of(st, from)->bits |= TW_DEAD;
    index_move(st, pos, np, rec_hash(s, st, to));
    if (out_of_order)
        heap_push(st, np);
    else
        st->last_expire = expire;
    return true;
}

/* The store's next record to expire: the ring's head unless the heap holds it, or the
 * heap's top, whichever comes first (in position order on a tie). */
static bool store_first(const tcpw_tw_store *st, uint32_t *pos) {
    bool ring = st->head != st->tail && !(tw_body(st, st->head)->bits & TW_IN_HEAP);
    bool heap = st->heap_len > 0;
    if (ring && heap) {
        *pos = heap_before(st, st->heap[0], st->head) ? st->heap[0] : st->head;
    } else if (ring || heap) {
        *pos = ring ? st->head : st->heap[0];
    } else {
        return false;
    }
    return true;
}

/* Keeps the store's next record to expire, and its expiry, where every reader finds them at
 * once (tcpw_next_deadline asks at every step of a driver). Called after every change. */
static void store_refresh_first(tcpw_tw_store *st) {
    uint32_t pos;
    if (store_first(st, &pos)) {
        st->first_pos = pos;
        st->first_expire = tw_body(st, pos)->expire;
    } else {
        st->first_pos = TW_NIL;
        st->first_expire = TCPW_NEVER;
    }
}

static void tidy_ring(tcpw_stack *s, tcpw_tw_store *st);

/* Restores the invariants after any change: the heap's top is live, and the ring's head is
 * live and in place (or held by the heap); then notes the next record to expire. */
static void tidy(tcpw_stack *s, tcpw_tw_store *st) {
    tidy_ring(s, st);
    store_refresh_first(st);
}

static void tidy_ring(tcpw_stack *s, tcpw_tw_store *st) {
    for (;;) {
        while (st->heap_len && (tw_body(st, st->heap[0])->bits & TW_DEAD))
            heap_pop(st);
        if (st->head == st->tail) return;
        tcpw_tw_body *b = tw_body(st, st->head);
        if (b->bits & TW_IN_HEAP) return;
        if (b->bits & TW_DEAD) {
            ring_pop(s, st);
            continue;
        }
        if (!(b->bits & TW_RESTARTED)) return;
        if (!relocate(s, st, st->head, b->expire)) {
            /* Out of memory: it stays at the head with its later expiry, and the records
             * behind it wait for it — TIME_WAIT lasts longer, never shorter. */
            b->bits &= (uint8_t)~TW_RESTARTED;
            return;
        }
    }
}

/* h is tuple_hash(s, local, remote) (a control block keeps it: tcpw_conn.tuple_hash). */
int tw_store_add(tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote, uint32_t h,
                 const tcpw_tw_body *body) {
    tcpw_tw_store *st = tw_store_for(s, local->addr.family);
    if (!st) return TCPW_EINVAL;
    if (!st->index.b[0] && !index_init(s, &st->index)) return TCPW_ENOMEM;
    bool out_of_order = ring_span(st) && body->expire < st->last_expire;
    if (out_of_order && !heap_reserve(s, st)) return TCPW_ENOMEM;
    uint32_t pos;
    if (!ring_append(s, st, &pos)) return TCPW_ENOMEM;
    uint8_t *rec = rec_at(st, pos);
    ports_of(rec)[0] = local->port;
    ports_of(rec)[1] = remote->port;
    if (st->addr_len == 4) {
        memcpy(rec + 8, local->addr.ip, 4);
        memcpy(rec + 12, remote->addr.ip, 4);
    } else {
        memcpy(rec + 8, local->addr.ip, 16);
        memcpy(rec + 24, remote->addr.ip, 16);
    }
    tcpw_tw_body *b = body_of(st, rec);
    *b = *body;
    b->bits &= (uint8_t) ~(TW_RESTARTED | TW_IN_HEAP | TW_DEAD);
    index_insert(s, st, pos, h);
    if (out_of_order)
        heap_push(st, pos);
    else
        st->last_expire = b->expire;
    st->live++;
    /* A record appended in order to a store that has a next record to expire is not the next
     * one: it expires no earlier than the ring's head, and later than any in the heap. */
    if (out_of_order || st->first_pos == TW_NIL) store_refresh_first(st);
    return TCPW_OK;
}

void tw_store_remove(tcpw_stack *s, tw_ref r) {
    uint8_t *rec = rec_at(r.st, r.pos);
    index_remove(s, r.st, r.pos, rec_hash(s, r.st, rec));
    body_of(r.st, rec)->bits |= TW_DEAD;
    r.st->live--;
    tidy(s, r.st);
}

/* A new, later expiry (2MSL restarted). The record moves to the tail: at once when it is
 * there already or sits in the heap (whose key cannot change in place), else when the head
 * reaches it. */
void tw_store_restart(tcpw_stack *s, tw_ref r, uint64_t expire) {
    tcpw_tw_store *st = r.st;
    tcpw_tw_body *b = tw_body(st, r.pos);
    if (b->bits & TW_IN_HEAP) {
        if (relocate(s, st, r.pos, expire)) tidy(s, st);
        /* else out of memory: the old expiry stands */
        return;
    }
    b->expire = expire;
    if (r.pos == ((st->tail - 1) & TW_POS_MASK) && !(b->bits & TW_RESTARTED)) {
        st->last_expire = expire; /* the newest record in order: still in order */
        store_refresh_first(st);
        return;
    }
    b->bits |= TW_RESTARTED;
    tidy(s, st);
}

/* ---- expiry --------------------------------------------------------------------------------- */

/* The earlier of the two stores' next records (IPv4 on a tie), when it is due. */
bool tw_store_next_due(tcpw_stack *s, uint64_t now, tw_ref *out) {
    tcpw_tw_store *st = s->tw6.first_expire < s->tw4.first_expire ? &s->tw6 : &s->tw4;
    if (st->first_pos == TW_NIL || st->first_expire > now) return false;
    *out = (tw_ref){st, st->first_pos};
    return true;
}

/* Records expire one after another from the head: after an expiry, the bucket the next one
 * will be unlinked from is fetched ahead (a hint to the CPU, nothing else). */
void tw_prefetch_next(tcpw_stack *s) {
#if defined(__GNUC__) || defined(__clang__)
    tcpw_tw_store *st = &s->tw4;
    if (st->head != st->tail) {
        uint32_t h = rec_hash(s, st, rec_at(st, st->head));
        __builtin_prefetch(bucket_for(&st->index, h), 1);
    }
#else
    (void)s;
#endif
}

/* ---- listing and teardown ------------------------------------------------------------------- */

size_t tw_list(const tcpw_stack *s, void (*fn)(void *arg, const tcpw_conn_info *info), void *arg) {
    size_t n = 0;
    tcpw_conn_info info;
    const tcpw_tw_store *stores[2] = {&s->tw4, &s->tw6};
    for (int i = 0; i < 2; i++) {
        const tcpw_tw_store *st = stores[i];
        for (uint32_t p = st->head; p != st->tail; p = (p + 1) & TW_POS_MASK) {
            if (tw_body(st, p)->bits & TW_DEAD) continue;
            n++;
            if (!fn) continue;
            tw_info(st, p, &info);
            fn(arg, &info);
        }
    }
    return n;
}

static void store_free(tcpw_stack *s, tcpw_tw_store *st) {
    if (ring_span(st)) {
        for (uint32_t n = st->head >> TW_CHUNK_SHIFT;; n = (n + 1) & TW_CHUNK_NUM_MASK) {
            stack_free_mem(s, st->chunks[n & st->chunk_mask]);
            if (n == last_chunk(st)) break;
        }
    }
    stack_free_mem(s, st->chunks);
    stack_free_mem(s, st->spare);
    stack_free_mem(s, st->heap);
    stack_free_mem(s, st->index.mem[0]);
    stack_free_mem(s, st->index.mem[1]);
    uint8_t addr_len = st->addr_len, rec_size = st->rec_size;
    memset(st, 0, sizeof *st);
    st->addr_len = addr_len;
    st->rec_size = rec_size;
    st->first_pos = TW_NIL;
    st->first_expire = TCPW_NEVER;
}

void tw_stores_free(tcpw_stack *s) {
    store_free(s, &s->tw4);
    store_free(s, &s->tw6);
}
