/* test_timewait_store.c — the compact TIME_WAIT store (twstore.c) at scale, and the TIME_WAIT
 * protocol (timewait.c) on records that sit among hundreds of thousands of others.
 *
 *   - an IPv4 record is 48 bytes (a static assertion in tcb.h, checked again here)
 *   - insertion, lookup and expiry in expiry order for 300,000 records, with a small MSL and
 *     a fake clock; every record is found while the index doubles incrementally
 *   - an index bucket that overflows: its records chained, pulled into a freed slot, removed
 *     from the chain's middle, relocated by a restart, split when the index doubles
 *   - lazy deletion: records removed in the middle (kill, reopen, tw_reuse) are never found
 *     again, never expire, and a dead head does not hold up the next deadline
 *   - a restarted 2MSL moves the record behind every earlier expiry
 *   - records converted late (out of expiry order) expire on time through the heap
 *   - IPv6 records in their own store, expiring in one order with the IPv4 ones
 *   - ring positions wrapping at 2^31, the connection table's incremental doubling
 *   - 150,000 random additions, removals, restarts and clock steps checked against a model
 *   - through the engine, with 100,000 records around the one under test: a retransmitted FIN
 *     re-ACKed with 2MSL restarted, RST ignored (RFC 1337), reopen by a newer SYN (RFC 6191),
 *     tw_reuse for an outgoing connection, and a RST for a segment after expiry
 * Memory: every test frees its stack with records in every condition (dead, restarted, in the
 * heap, the index half-doubled); the sanitizer build checks that nothing leaks.
 */
#include "fixture.h"

#define MSL_MS  2u
#define TWO_MSL (2ull * MSL_MS * 1000u)
#define MANY    300000u
#define SEC     1000000ull
#define FX_2MSL (2ull * 30000 * 1000)

_Static_assert(sizeof(tcpw_tw4) == 48, "IPv4 TIME_WAIT record");

/* ---- a bare stack and synthetic records ------------------------------------------------------ */

typedef struct bare {
    tcpw_stack *s;
    uint64_t now;
    uint64_t *closed; /* conn ids of TIME_WAIT -> CLOSED, in trace order */
    size_t nclosed, cap;
    size_t pkts;
} bare;

static void bare_output(void *user, const uint8_t *pkt, size_t len) {
    (void)pkt;
    (void)len;
    ((bare *)user)->pkts++;
}

static void record_closed(bare *b, uint64_t id) {
    if (b->nclosed == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 1024;
        b->closed = realloc(b->closed, b->cap * sizeof *b->closed);
        if (!b->closed) abort();
    }
    b->closed[b->nclosed++] = id;
}

static void bare_trace(void *user, const tcpw_trace *t) {
    if (t->kind == TCPW_TRACE_STATE && t->from == TCPW_TIME_WAIT && t->to == TCPW_CLOSED)
        record_closed(user, t->conn_id);
}

static void bare_init(bare *b) {
    memset(b, 0, sizeof *b);
    tcpw_config cfg;
    tcpw_config_default(&cfg);
    tcpw_config_use_libc(&cfg);
    cfg.user = b;
    cfg.output = bare_output;
    cfg.trace = bare_trace;
    cfg.msl_ms = MSL_MS;
    memcpy(cfg.secret, "tw-store-secret!", 16);
    REQUIRE(tcpw_stack_new(&cfg, &b->s) == TCPW_OK);
    b->now = 1000000;
}

static void bare_free(bare *b) {
    tcpw_stack_free(b->s);
    free(b->closed);
    memset(b, 0, sizeof *b);
}

/* The 4-tuple of synthetic record i (IPv4, or IPv6 when v6). */
static void tuple_of(uint32_t i, bool v6, tcpw_endpoint *local, tcpw_endpoint *remote) {
    memset(local, 0, sizeof *local);
    memset(remote, 0, sizeof *remote);
    if (v6) {
        local->addr.family = remote->addr.family = 6;
        const uint8_t l[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
        memcpy(local->addr.ip, l, 16);
        memcpy(remote->addr.ip, l, 16);
        remote->addr.ip[5] = 1;
        remote->addr.ip[13] = (uint8_t)(i >> 16);
        remote->addr.ip[14] = (uint8_t)(i >> 8);
        remote->addr.ip[15] = (uint8_t)i;
        local->port = 443;
    } else {
        local->addr = tcpw_addr_v4(192, 0, 2, 2);
        remote->addr = tcpw_addr_v4(100, (uint8_t)(64 + (i >> 16)), (uint8_t)(i >> 8), (uint8_t)i);
        local->port = 80;
    }
    remote->port = (uint16_t)(50000 + i % 7);
}

/* A record as tw_from_conn() makes it (and counts it), with id = i + ID_BASE. */
#define ID_BASE 1000000000ull
static int add_rec(tcpw_stack *s, uint32_t i, bool v6, uint64_t expire) {
    tcpw_endpoint l, r;
    tuple_of(i, v6, &l, &r);
    tcpw_tw_body body;
    memset(&body, 0, sizeof body);
    body.id = ID_BASE + i + (v6 ? 10000000u : 0);
    body.snd_nxt = i * 3u;
    body.rcv_nxt = i * 7u;
    body.rcv_wnd = 8192;
    body.expire = expire;
    int err = tw_store_add(s, &l, &r, tuple_hash(s, &l, &r), &body);
    if (err == TCPW_OK) s->stats.time_wait_count++;
    return err;
}

static bool find_rec(tcpw_stack *s, uint32_t i, bool v6, tw_ref *ref) {
    tcpw_endpoint l, r;
    tuple_of(i, v6, &l, &r);
    tw_ref tmp;
    if (!table_find_tw(s, &l, &r, ref ? ref : &tmp)) return false;
    const tcpw_tw_body *b = tw_body((ref ? ref : &tmp)->st, (ref ? ref : &tmp)->pos);
    return b->snd_nxt == i * 3u && b->rcv_nxt == i * 7u;
}

static void kill_rec(bare *b, uint32_t i, bool v6) {
    tw_ref ref;
    REQUIRE(find_rec(b->s, i, v6, &ref));
    tw_kill(b->s, ref, TCPW_CAUSE_USER, "test", NULL);
}

static void tick(bare *b, uint64_t now) {
    b->now = now;
    tcpw_tick(b->s, now);
}

static uint64_t tw_count(const tcpw_stack *s) {
    return tcpw_stack_stats(s)->time_wait_count;
}

/* ---- size ------------------------------------------------------------------------------------ */

static void test_record_sizes(void) {
    CHECK_EQ_U(sizeof(tcpw_tw4), 48);
    CHECK_EQ_U(sizeof(tcpw_tw6), 72);
    CHECK_EQ_U(sizeof(tcpw_tw_body), 32);
}

/* ---- insertion, lookup, expiry --------------------------------------------------------------- */

/* 300,000 records, one per microsecond: each is found as soon as it is in, and so is every
 * earlier one — checked in full whenever the index is in the middle of a doubling. Absent
 * tuples are not found. Then the clock runs: records expire exactly at their expiry, in
 * insertion order, and the next deadline is always the oldest live record's. */
static void test_insert_lookup_expire_many(void) {
    bare b;
    bare_init(&b);
    uint32_t full_scans = 0, last_scan_size = 0;
    for (uint32_t i = 0; i < MANY; i++) {
        REQUIRE(add_rec(b.s, i, false, b.now + i + TWO_MSL) == TCPW_OK);
        CHECK(find_rec(b.s, i, false, NULL));
        CHECK(find_rec(b.s, i / 2, false, NULL));
        CHECK(!find_rec(b.s, i + 1, false, NULL));
        const tw_index *ix = &b.s->tw4.index;
        if (ix->b[1] && ix->moved >= (ix->mask[0] + 1) / 2 && ix->mask[1] != last_scan_size) {
            /* half-way through a doubling: every record so far, from whichever array */
            last_scan_size = ix->mask[1];
            full_scans++;
            uint32_t missing = 0;
            for (uint32_t j = 0; j <= i; j++)
                missing += !find_rec(b.s, j, false, NULL);
            CHECK_EQ_U(missing, 0);
        }
    }
    CHECK(full_scans >= 10); /* 16 buckets doubled to 2^16 */
    CHECK_EQ_U(tw_count(b.s), MANY);
    CHECK(b.s->tw4.index.mask[0] + 1 >= MANY / TW_BUCKET_LOAD);
    CHECK_EQ_U(tcpw_next_deadline(b.s), b.now + TWO_MSL);

    /* expiry: in steps of 997 µs; exactly the records whose expiry has come go */
    uint64_t t0 = b.now + TWO_MSL;
    for (uint64_t t = t0 - 1; t < t0 + MANY + 997; t += 997) {
        tick(&b, t);
        uint64_t gone = t >= t0 ? (t - t0 + 1 > MANY ? MANY : t - t0 + 1) : 0;
        CHECK_EQ_U(tw_count(b.s), MANY - gone);
        CHECK_EQ_U(b.nclosed, gone);
        if (gone < MANY) {
            CHECK_EQ_U(tcpw_next_deadline(b.s), t0 + gone);
            if (gone) CHECK(!find_rec(b.s, (uint32_t)gone - 1, false, NULL));
            CHECK(find_rec(b.s, (uint32_t)gone, false, NULL));
        }
    }
    CHECK_EQ_U(tcpw_next_deadline(b.s), UINT64_MAX);
    size_t out_of_order = 0;
    for (size_t k = 0; k < b.nclosed; k++)
        out_of_order += b.closed[k] != ID_BASE + k;
    CHECK_EQ_U(out_of_order, 0);
    CHECK_EQ_U(tcpw_list(b.s, NULL, NULL), 0);
    /* the ring gave every chunk back but the spare */
    CHECK_EQ_U(b.s->tw4.head, b.s->tw4.tail);
    bare_free(&b);
}

/* ---- lazy deletion --------------------------------------------------------------------------- */

/* Every third record is removed early: it is not found, not listed, not expired, and the
 * next deadline passes over the dead ones at the head at once. */
static void test_lazy_deletion(void) {
    bare b;
    bare_init(&b);
    const uint32_t n = 30000;
    for (uint32_t i = 0; i < n; i++)
        REQUIRE(add_rec(b.s, i, false, b.now + TWO_MSL + i) == TCPW_OK);
    uint64_t t0 = b.now + TWO_MSL;
    for (uint32_t i = 0; i < n; i += 3)
        kill_rec(&b, i, false);
    CHECK_EQ_U(b.nclosed, n / 3);
    CHECK_EQ_U(tw_count(b.s), n - n / 3);
    CHECK_EQ_U(tcpw_list(b.s, NULL, NULL), n - n / 3);
    /* record 0 was the head: the deadline is record 1's */
    CHECK_EQ_U(tcpw_next_deadline(b.s), t0 + 1);
    kill_rec(&b, 1, false);
    kill_rec(&b, 2, false);
    CHECK_EQ_U(tcpw_next_deadline(b.s), t0 + 4);
    for (uint32_t i = 0; i < n; i++)
        CHECK(find_rec(b.s, i, false, NULL) == (i % 3 != 0 && i > 2));
    b.nclosed = 0;
    tick(&b, t0 + n);
    CHECK_EQ_U(tw_count(b.s), 0);
    CHECK_EQ_U(b.nclosed, n - n / 3 - 2);
    size_t wrong = 0;
    uint64_t prev = 0;
    for (size_t k = 0; k < b.nclosed; k++) {
        uint64_t i = b.closed[k] - ID_BASE;
        wrong += i % 3 == 0 || i <= 2 || b.closed[k] <= prev;
        prev = b.closed[k];
    }
    CHECK_EQ_U(wrong, 0);
    bare_free(&b);
}

/* ---- 2MSL restarted -------------------------------------------------------------------------- */

/* A restarted record expires behind every record whose expiry is earlier, wherever it was
 * — the newest (in place), the head, one in the middle restarted twice — and the next deadline
 * never waits for it. Records are inserted as the engine does: expiry = insertion + 2MSL. */
static void test_restart_moves_to_tail(void) {
    bare b;
    bare_init(&b);
    const uint32_t n = 5000;
    uint64_t base = b.now, t0 = base + TWO_MSL; /* record i expires at t0 + i */
    for (uint32_t i = 0; i < n; i++, b.now++)
        REQUIRE(add_rec(b.s, i, false, b.now + TWO_MSL) == TCPW_OK);
    tw_ref r;
    /* the newest: still the newest, restarted in place */
    REQUIRE(find_rec(b.s, n - 1, false, &r));
    uint32_t pos = r.pos;
    tw_store_restart(b.s, r, b.now + TWO_MSL); /* t0 + n */
    REQUIRE(find_rec(b.s, n - 1, false, &r));
    CHECK_EQ_U(r.pos, pos);
    /* the head: moves to the tail at once, the deadline moves on to record 1 */
    b.now += 10;
    REQUIRE(find_rec(b.s, 0, false, &r));
    tw_store_restart(b.s, r, b.now + TWO_MSL); /* t0 + n + 10 */
    CHECK_EQ_U(tcpw_next_deadline(b.s), t0 + 1);
    REQUIRE(find_rec(b.s, 0, false, &r));
    CHECK(r.pos != 0);
    CHECK_EQ_U(tw_body(r.st, r.pos)->expire, t0 + n + 10);
    /* the middle, twice: it stays in its slot until the head reaches it */
    b.now += 5;
    REQUIRE(find_rec(b.s, 2500, false, &r));
    tw_store_restart(b.s, r, b.now + TWO_MSL);
    b.now += 5;
    REQUIRE(find_rec(b.s, 2500, false, &r));
    tw_store_restart(b.s, r, b.now + TWO_MSL); /* t0 + n + 20 */
    CHECK_EQ_U(r.pos, 2500);
    /* records appended after the restarts */
    b.now += 1;
    REQUIRE(add_rec(b.s, n, false, b.now + TWO_MSL) == TCPW_OK); /* t0 + n + 21 */
    b.now += 1;
    REQUIRE(add_rec(b.s, n + 1, false, b.now + TWO_MSL) == TCPW_OK); /* t0 + n + 22 */
    CHECK_EQ_U(tcpw_list(b.s, NULL, NULL), n + 2);
    CHECK_EQ_U(tcpw_next_deadline(b.s), t0 + 1);

    /* the order: 1..n-2 without 2500, then n-1, 0, 2500, n, n+1 */
    tick(&b, t0 + n - 2);
    CHECK_EQ_U(tcpw_next_deadline(b.s), t0 + n);
    tick(&b, t0 + n + 21);
    CHECK_EQ_U(tcpw_next_deadline(b.s), t0 + n + 22);
    tick(&b, t0 + n + 22);
    CHECK_EQ_U(tw_count(b.s), 0);
    REQUIRE(b.nclosed == n + 2);
    size_t k = 0, wrong = 0;
    for (uint32_t i = 1; i <= n - 2; i++)
        if (i != 2500) wrong += b.closed[k++] != ID_BASE + i;
    CHECK_EQ_U(wrong, 0);
    CHECK_EQ_U(b.closed[k++], ID_BASE + n - 1);
    CHECK_EQ_U(b.closed[k++], ID_BASE + 0);
    CHECK_EQ_U(b.closed[k++], ID_BASE + 2500);
    CHECK_EQ_U(b.closed[k++], ID_BASE + n);
    CHECK_EQ_U(b.closed[k++], ID_BASE + n + 1);
    bare_free(&b);
}

/* The clock's steps: a restarted record expires exactly 2MSL after its restart, never
 * earlier, even when the records around it went long before. */
static void test_restart_expires_exactly(void) {
    bare b;
    bare_init(&b);
    for (uint32_t i = 0; i < 3000; i++)
        REQUIRE(add_rec(b.s, i, false, b.now + TWO_MSL + i) == TCPW_OK);
    uint64_t t0 = b.now + TWO_MSL;
    tick(&b, t0 - 100);
    tw_ref r;
    REQUIRE(find_rec(b.s, 1000, false, &r));
    uint64_t again = b.now + TWO_MSL;
    tw_store_restart(b.s, r, again);
    tick(&b, again - 1);
    CHECK_EQ_U(tw_count(b.s), 1);
    CHECK(find_rec(b.s, 1000, false, NULL));
    CHECK_EQ_U(tcpw_next_deadline(b.s), again);
    tick(&b, again);
    CHECK_EQ_U(tw_count(b.s), 0);
    CHECK_EQ_U(b.closed[b.nclosed - 1], ID_BASE + 1000);
    bare_free(&b);
}

/* ---- records out of expiry order ------------------------------------------------------------- */

/* A control block held in TIME_WAIT by the application becomes a record only at close(),
 * with its earlier expiry. Such records expire on time, ties in insertion order, and can be
 * removed and restarted like any other. */
static void test_out_of_order_records(void) {
    bare b;
    bare_init(&b);
    uint64_t t0 = b.now + TWO_MSL;
    for (uint32_t i = 0; i < 2000; i++)
        REQUIRE(add_rec(b.s, i, false, t0 + 10 * i) == TCPW_OK); /* 0, 10, ..., 19990 */
    /* late ones: 5 before the head, one between, one tied with record 100 (expires after
     * it: inserted later), three to kill or restart */
    REQUIRE(add_rec(b.s, 5000, false, t0 - 5) == TCPW_OK);
    REQUIRE(add_rec(b.s, 5001, false, t0 + 15) == TCPW_OK);
    REQUIRE(add_rec(b.s, 5002, false, t0 + 1000) == TCPW_OK);
    REQUIRE(add_rec(b.s, 5003, false, t0 + 2) == TCPW_OK);
    REQUIRE(add_rec(b.s, 5004, false, t0 + 3) == TCPW_OK);
    REQUIRE(add_rec(b.s, 2000, false, t0 + 20000) == TCPW_OK); /* in order again */
    CHECK(b.s->tw4.heap_len >= 5);
    CHECK_EQ_U(tcpw_next_deadline(b.s), t0 - 5);
    kill_rec(&b, 5003, false);
    tw_ref r;
    REQUIRE(find_rec(b.s, 5004, false, &r));
    tw_store_restart(b.s, r, t0 + 30000); /* out of the heap, to the tail */
    CHECK(find_rec(b.s, 5004, false, NULL));
    b.nclosed = 0;
    tick(&b, t0 - 5);
    CHECK_EQ_U(b.nclosed, 1);
    CHECK_EQ_U(b.closed[0], ID_BASE + 5000);
    CHECK_EQ_U(tcpw_next_deadline(b.s), t0);
    tick(&b, t0 + 15);
    REQUIRE(b.nclosed == 4);
    CHECK_EQ_U(b.closed[1], ID_BASE + 0);
    CHECK_EQ_U(b.closed[2], ID_BASE + 1);
    CHECK_EQ_U(b.closed[3], ID_BASE + 5001);
    tick(&b, t0 + 1000);
    REQUIRE(b.nclosed == 4 + 99 + 1); /* records 2..100, then 5002 */
    CHECK_EQ_U(b.closed[b.nclosed - 2], ID_BASE + 100);
    CHECK_EQ_U(b.closed[b.nclosed - 1], ID_BASE + 5002);
    tick(&b, t0 + 20000);
    CHECK_EQ_U(tw_count(b.s), 1);
    CHECK_EQ_U(tcpw_next_deadline(b.s), t0 + 30000);
    CHECK(find_rec(b.s, 5004, false, NULL));
    /* freed with a record in the ring and dead ones behind it (LeakSanitizer checks) */
    bare_free(&b);
}

/* ---- IPv6 ------------------------------------------------------------------------------------ */

/* IPv6 records (72 bytes, a store of their own) are found by their full addresses, not by an
 * IPv4 tuple with the same low bytes, and expire in one order with the IPv4 records. */
static void test_ipv6_records(void) {
    bare b;
    bare_init(&b);
    const uint32_t n = 20000;
    uint64_t t0 = b.now + TWO_MSL;
    for (uint32_t i = 0; i < n; i++) {
        REQUIRE(add_rec(b.s, i, i % 2 == 1, t0 + i) == TCPW_OK);
    }
    for (uint32_t i = 0; i < n; i++) {
        CHECK(find_rec(b.s, i, i % 2 == 1, NULL));
        CHECK(!find_rec(b.s, i, i % 2 == 0, NULL));
    }
    CHECK_EQ_U(b.s->tw4.live, n / 2);
    CHECK_EQ_U(b.s->tw6.live, n / 2);
    kill_rec(&b, 1, true);
    CHECK_EQ_U(tcpw_next_deadline(b.s), t0);
    kill_rec(&b, 0, false);
    CHECK_EQ_U(tcpw_next_deadline(b.s), t0 + 2);
    b.nclosed = 0;
    tick(&b, t0 + n);
    CHECK_EQ_U(tw_count(b.s), 0);
    REQUIRE(b.nclosed == n - 2);
    size_t wrong = 0;
    for (uint32_t k = 0; k < n - 2; k++) {
        uint32_t i = k + 2;
        wrong += b.closed[k] != ID_BASE + i + (i % 2 ? 10000000u : 0);
    }
    CHECK_EQ_U(wrong, 0);
    /* the listing names an IPv6 record by its addresses */
    REQUIRE(add_rec(b.s, 77, true, b.now + TWO_MSL) == TCPW_OK);
    tcpw_endpoint l, r;
    tuple_of(77, true, &l, &r);
    tw_ref ref;
    REQUIRE(table_find_tw(b.s, &l, &r, &ref));
    tcpw_conn_info info;
    tw_info(ref.st, ref.pos, &info);
    CHECK(info.compact);
    CHECK_EQ_U(info.state, TCPW_TIME_WAIT);
    CHECK(tcpw_addr_equal(&info.local.addr, &l.addr) &&
          tcpw_addr_equal(&info.remote.addr, &r.addr));
    CHECK_EQ_U(info.remote.port, r.port);
    CHECK_EQ_U(info.id, ID_BASE + 77 + 10000000u);
    bare_free(&b);
}

/* ---- positions wrap -------------------------------------------------------------------------- */

/* The ring's positions are 31-bit and wrap: start an empty ring just below 2^31 and run
 * records across the wrap, with chunk table growth on the way. */
static void test_positions_wrap(void) {
    bare b;
    bare_init(&b);
    b.s->tw4.head = b.s->tw4.tail = 0x7fffe000u; /* empty; a chunk boundary */
    uint64_t t0 = b.now + TWO_MSL;
    const uint32_t n = 40000;
    for (uint32_t i = 0; i < n; i++)
        REQUIRE(add_rec(b.s, i, false, t0 + i) == TCPW_OK);
    CHECK(b.s->tw4.tail < 0x10000u); /* wrapped */
    uint32_t missing = 0;
    for (uint32_t i = 0; i < n; i++)
        missing += !find_rec(b.s, i, false, NULL);
    CHECK_EQ_U(missing, 0);
    tick(&b, t0 + n / 2 - 1);
    CHECK_EQ_U(tw_count(b.s), n / 2);
    CHECK(find_rec(b.s, n / 2, false, NULL));
    CHECK(!find_rec(b.s, n / 2 - 1, false, NULL));
    bare_free(&b); /* frees the chunks on both sides of the wrap */
}

/* ---- index buckets that overflow ----------------------------------------------------------- */

/* Records whose tuple hashes all land in bucket 0 of the first index (16 buckets), so that
 * the bucket's TW_BUCKET_SLOTS slots fill and the rest chain through the records. */
static uint32_t same_bucket(tcpw_stack *s, uint32_t *ids, uint32_t want) {
    uint32_t n = 0;
    for (uint32_t i = 0; n < want && i < 1000000; i++) {
        tcpw_endpoint l, r;
        tuple_of(i, false, &l, &r);
        if ((tuple_hash(s, &l, &r) & 15) == 0) ids[n++] = i;
    }
    return n;
}

static uint32_t overflow_len(const tcpw_tw_store *st, uint32_t h) {
    const tw_index *ix = &st->index;
    uint32_t i = h & ix->mask[0];
    const tw_bucket *bk = ix->b[1] && i < ix->moved ? &ix->b[1][h & ix->mask[1]] : &ix->b[0][i];
    uint32_t n = 0;
    for (uint32_t p = bk->over; p != TW_NIL;) {
        const uint8_t *rec = st->chunks[(p >> 10) & st->chunk_mask] + (size_t)(p & 1023) * 48;
        uint32_t next;
        memcpy(&next, rec, 4);
        p = next;
        n++;
    }
    return n;
}

/* 12 records in one bucket: 7 in its slots, 5 chained. Records restarted in the slots and in
 * the chain move in the ring and stay found; records expire from the chain; one removed from
 * the slots pulls the chain's first record in; one removed from the middle of the chain is
 * unlinked; the bucket is split when the index doubles (the chained records read for their
 * hashes). Every record is found throughout and the removed ones never again. */
static void test_index_overflow(void) {
    bare b;
    bare_init(&b);
    uint32_t ids[12];
    REQUIRE(same_bucket(b.s, ids, 12) == 12);
    tcpw_endpoint l, r;
    tuple_of(ids[0], false, &l, &r);
    uint32_t h0 = tuple_hash(b.s, &l, &r);
    uint64_t t0 = b.now + TWO_MSL;
    for (uint32_t k = 0; k < 12; k++)
        REQUIRE(add_rec(b.s, ids[k], false, t0 + k) == TCPW_OK);
    REQUIRE(add_rec(b.s, 3000000, false, t0 + 12) == TCPW_OK); /* behind them in the ring */
    REQUIRE(b.s->tw4.index.mask[0] == 15 && !b.s->tw4.index.b[1]);
    CHECK_EQ_U(b.s->tw4.index.b[0][0].n, TW_BUCKET_SLOTS);
    CHECK_EQ_U(overflow_len(&b.s->tw4, h0), 12 - TW_BUCKET_SLOTS);
    for (uint32_t k = 0; k < 12; k++)
        CHECK(find_rec(b.s, ids[k], false, NULL));

    /* restarts: the seven in the slots, and the chain's last; when the head reaches them they
     * move to the ring's tail, while ids[7..10] expire out of the chain */
    tw_ref ref;
    for (uint32_t k = 0; k < 12; k++) {
        if (k >= TW_BUCKET_SLOTS && k != 11) continue;
        REQUIRE(find_rec(b.s, ids[k], false, &ref));
        tw_store_restart(b.s, ref, t0 + 100 + k);
    }
    REQUIRE(find_rec(b.s, ids[11], false, &ref));
    uint32_t old_pos = ref.pos;
    tick(&b, t0 + 12);
    CHECK_EQ_U(tw_count(b.s), TW_BUCKET_SLOTS + 1);
    REQUIRE(find_rec(b.s, ids[11], false, &ref));
    CHECK(ref.pos != old_pos);
    CHECK_EQ_U(overflow_len(&b.s->tw4, h0), 1);
    for (uint32_t k = 0; k < 12; k++)
        CHECK(find_rec(b.s, ids[k], false, NULL) == (k < TW_BUCKET_SLOTS || k == 11));

    /* a record in a slot goes: the chain's first (ids[11]) takes the slot */
    kill_rec(&b, ids[3], false);
    CHECK_EQ_U(b.s->tw4.index.b[0][0].n, TW_BUCKET_SLOTS);
    CHECK_EQ_U(overflow_len(&b.s->tw4, h0), 0);
    /* four more chained; one from the middle of the chain goes */
    for (uint32_t k = 7; k < 11; k++)
        REQUIRE(add_rec(b.s, ids[k], false, t0 + 200 + k) == TCPW_OK);
    CHECK_EQ_U(overflow_len(&b.s->tw4, h0), 4);
    kill_rec(&b, ids[9], false);
    CHECK_EQ_U(overflow_len(&b.s->tw4, h0), 3);
    for (uint32_t k = 0; k < 12; k++)
        CHECK(find_rec(b.s, ids[k], false, NULL) == (k != 3 && k != 9));

    /* many more records: the index doubles and splits the bucket with its chain */
    for (uint32_t i = 0; i < 2000; i++)
        REQUIRE(add_rec(b.s, 2000000 + i, false, t0 + 300 + i) == TCPW_OK);
    CHECK(b.s->tw4.index.mask[0] + 1 >= 2000 / TW_BUCKET_LOAD);
    uint32_t missing = 0;
    for (uint32_t k = 0; k < 12; k++)
        missing += find_rec(b.s, ids[k], false, NULL) != (k != 3 && k != 9);
    for (uint32_t i = 0; i < 2000; i++)
        missing += !find_rec(b.s, 2000000 + i, false, NULL);
    CHECK_EQ_U(missing, 0);
    CHECK_EQ_U(b.s->tw4.index.count, 2010);

    /* expiry empties the index */
    tick(&b, t0 + 300 + 2000);
    CHECK_EQ_U(tw_count(b.s), 0);
    CHECK_EQ_U(b.s->tw4.index.count, 0);
    bare_free(&b);
}

/* ---- stack freed mid-way --------------------------------------------------------------------- */

/* tcpw_stack_free() while the index is half-doubled, with dead, restarted and heap records. */
static void test_free_mid_rehash(void) {
    bare b;
    bare_init(&b);
    uint64_t t0 = b.now + TWO_MSL;
    uint32_t i = 0;
    while (!(b.s->tw4.index.b[1] && b.s->tw4.index.moved > 0 && i > 4096)) {
        REQUIRE(add_rec(b.s, i, false, t0 + i) == TCPW_OK);
        i++;
        REQUIRE(i < 100000);
    }
    REQUIRE(add_rec(b.s, 1u << 20, false, t0 - 1) == TCPW_OK); /* heap */
    kill_rec(&b, 17, false);
    tw_ref r;
    REQUIRE(find_rec(b.s, 18, false, &r));
    tw_store_restart(b.s, r, t0 + i + 5);
    REQUIRE(add_rec(b.s, 7, true, t0) == TCPW_OK);
    CHECK(b.s->tw4.index.b[1] != NULL);
    bare_free(&b);
}

/* ---- against a model --------------------------------------------------------------------- */

/* Random additions (some out of expiry order, as late conversions are), removals, restarts
 * and clock steps on both stores, checked after every step against a plain array: the same
 * records are found, the next deadline is the earliest live expiry, each tick expires exactly
 * the records due, in expiry order. The seed is printed on failure. */
typedef struct model_rec {
    uint64_t expire;
    bool live;
} model_rec;

static uint64_t rng_state;
static uint32_t rnd(uint32_t n) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((rng_state >> 33) % n);
}

static void test_random_against_model(void) {
    enum { MAXREC = 60000, STEPS = 150000 };
    static model_rec m[MAXREC];
    memset(m, 0, sizeof m);
    uint64_t seed = 0x7715eedull;
    rng_state = seed;
    bare b;
    bare_init(&b);
    uint32_t n = 0, live = 0, failures = 0, peak = 0;
    for (int step = 0; step < STEPS && failures == 0; step++) {
        uint32_t op = rnd(100);
        if (op < 45 && n < MAXREC) {
            /* a new record: most expire 2MSL from now; some were converted late, a few of
             * those are due already */
            uint64_t expire = b.now + TWO_MSL;
            if (rnd(5) == 0) expire = b.now + rnd((uint32_t)TWO_MSL + 1) - (rnd(10) == 0 ? 3 : 0);
            if (add_rec(b.s, n, n % 3 == 0, expire) != TCPW_OK) failures++;
            m[n].expire = expire;
            m[n].live = true;
            n++;
            live++;
        } else if (op < 60 && live) {
            uint32_t i = rnd(n);
            if (!m[i].live) continue;
            kill_rec(&b, i, i % 3 == 0);
            m[i].live = false;
            live--;
        } else if (op < 75 && live) {
            uint32_t i = rnd(n);
            if (!m[i].live) continue;
            tw_ref r;
            if (!find_rec(b.s, i, i % 3 == 0, &r)) {
                failures++;
                break;
            }
            m[i].expire = b.now + TWO_MSL; /* never earlier than before */
            tw_store_restart(b.s, r, m[i].expire);
        } else {
            /* the clock moves: what expires was due and live, in expiry order; nothing due
             * is left */
            uint64_t to = b.now + rnd(4);
            size_t before = b.nclosed;
            tick(&b, to);
            uint64_t prev = 0;
            for (size_t k = before; k < b.nclosed; k++) {
                uint64_t id = b.closed[k] - ID_BASE;
                uint32_t i = (uint32_t)(id >= 10000000u ? id - 10000000u : id);
                if (i >= n || !m[i].live || m[i].expire > to || m[i].expire < prev) failures++;
                if (i < n) {
                    prev = m[i].expire;
                    m[i].live = false;
                }
                live--;
            }
            if (tcpw_next_deadline(b.s) <= to) failures++;
        }
        if (live > peak) peak = live;
        if (tw_count(b.s) != live) failures++;
        if (step % 1024 == 0) {
            /* every record found or not as the model says; the deadline its earliest */
            uint64_t next = UINT64_MAX;
            for (uint32_t i = 0; i < n; i++) {
                if (m[i].live && m[i].expire < next) next = m[i].expire;
                if (find_rec(b.s, i, i % 3 == 0, NULL) != m[i].live) failures++;
            }
            if (tcpw_next_deadline(b.s) != next) failures++;
            if (tcpw_list(b.s, NULL, NULL) != live) failures++;
        }
        if (failures)
            fprintf(stderr, "model mismatch at step %d (seed 0x%llx)\n", step,
                    (unsigned long long)seed);
    }
    CHECK_EQ_U(failures, 0);
    CHECK(n > 50000);
    CHECK(peak > 2000);
    bare_free(&b);
}

/* ---- the connection table grows incrementally ------------------------------------------------ */

/* 3000 control blocks: each is found while the table doubles from 64 buckets, and after
 * every abort the others still are. */
static void test_conn_table_growth(void) {
    fx f;
    fx_init(&f);
    f.cfg.send_buffer = f.cfg.recv_buffer = 1024;
    f.cfg.mss = 536;
    fx_start(&f);
    enum { N = 3000 };
    static tcpw_conn *c[N];
    static tcpw_endpoint rem[N];
    uint32_t seen_rehash = 0;
    for (uint32_t i = 0; i < N; i++) {
        rem[i] = f.remote;
        rem[i].port = (uint16_t)(1024 + i);
        REQUIRE(tcpw_connect(f.s, &f.local, &rem[i], f.now, &c[i]) == TCPW_OK);
        f.nout = 0;
        if (f.s->conns.b[1]) seen_rehash++;
        uint32_t missing = 0;
        for (uint32_t j = 0; j <= i; j++)
            missing += table_find_conn(f.s, &f.local, &rem[j]) != c[j];
        CHECK_EQ_U(missing, 0);
    }
    CHECK(seen_rehash > 0);
    CHECK(f.s->conns.mask[0] + 1 >= N / 2);
    for (uint32_t i = 0; i < N; i += 2)
        tcpw_abort(c[i], f.now);
    f.nout = 0;
    uint32_t wrong = 0;
    for (uint32_t j = 0; j < N; j++)
        wrong += table_find_conn(f.s, &f.local, &rem[j]) != (j % 2 ? c[j] : NULL);
    CHECK_EQ_U(wrong, 0);
    fx_free(&f);
}

/* ---- the protocol on a record among many ----------------------------------------------------- */

#define AROUND 50000u

/* The fixture's connection in compact TIME_WAIT (expiring at f->now + 2MSL), with AROUND
 * synthetic records expiring just before it and AROUND just after, so that it sits in the
 * middle of a large ring and a grown index. */
static uint64_t start_among_many(fx *f, bool ts, bool rfc1337, bool reuse) {
    fx_init(f);
    f->cfg.rfc1337 = rfc1337;
    f->cfg.timestamps = ts;
    f->cfg.tw_reuse = reuse;
    fx_start(f);
    uint64_t expire = f->now + FX_2MSL;
    for (uint32_t i = 0; i < AROUND; i++)
        if (add_rec(f->s, i, false, expire - AROUND + i) != TCPW_OK) return 0;
    if (ts) {
        fx_established_ts(f);
        tcpw_shutdown(f->c, f->now);
        fx_in_ts(f, TCPW_ACK, FX_IRS + 1, f->iss + 2, FX_PEER_TS + 2, f->our_ts, NULL, 0);
        fx_in_ts(f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f->iss + 2, FX_PEER_TS + 3, f->our_ts, NULL,
                 0);
        tcpw_close(f->c, f->now);
        f->c = NULL;
    } else {
        fx_time_wait_compact(f);
    }
    for (uint32_t i = AROUND; i < 2 * AROUND; i++)
        if (add_rec(f->s, i, false, expire + 1 + i) != TCPW_OK) return 0;
    fx_clear(f);
    return expire;
}

static bool fixture_record(fx *f, tw_ref *r) {
    return table_find_tw(f->s, &f->local, &f->remote, r);
}

/* The peer's FIN again: ACK <SEQ=SND.NXT><ACK=RCV.NXT> and 2MSL restarted (RFC 9293
 * §3.10.7.4 eighth): after every record around it has expired the record is still there,
 * and it goes exactly 2MSL after the FIN. Every other record went in order. */
static void test_many_refin_restarts(void) {
    fx f;
    uint64_t expire = start_among_many(&f, false, true, false);
    REQUIRE(expire);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 2 * AROUND + 1);
    f.now += 20 * SEC;
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 2, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 2, FX_IRS + 2, 0);
    uint64_t again = f.now + FX_2MSL;
    CHECK_EQ_U(tcpw_next_deadline(f.s), expire - AROUND);
    /* everything else expires: the AROUND after it too (by expire + 2 * AROUND) */
    fx_advance(&f, expire + 2 * AROUND + 1 - f.now);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 1);
    tw_ref r;
    REQUIRE(fixture_record(&f, &r));
    CHECK_EQ_U(tcpw_next_deadline(f.s), again);
    fx_advance(&f, again - 1 - f.now);
    CHECK(fixture_record(&f, &r));
    fx_clear(&f);
    fx_advance(&f, 1);
    CHECK(!fixture_record(&f, &r));
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 0);
    FX_EXPECT_NOTHING(&f);
    fx_free(&f);
}

/* RFC 1337 on: RST ignored, whatever its sequence number; the record stays with its expiry.
 * Off: the exact RST removes it from the middle; its neighbours stay. */
static void test_many_rst(void) {
    fx f;
    uint64_t expire = start_among_many(&f, false, true, false);
    REQUIRE(expire);
    fx_in(&f, TCPW_RST, FX_IRS + 2, 0, NULL, 0);
    fx_in(&f, TCPW_RST | TCPW_ACK, FX_IRS + 5, f.iss + 2, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    tw_ref r;
    REQUIRE(fixture_record(&f, &r));
    CHECK_EQ_U(tw_body(r.st, r.pos)->expire, expire);
    fx_free(&f);

    expire = start_among_many(&f, false, false, false);
    REQUIRE(expire);
    fx_in(&f, TCPW_RST, FX_IRS + 2, 0, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    CHECK(!fixture_record(&f, &r));
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 2 * AROUND);
    CHECK(find_rec(f.s, AROUND - 1, false, NULL));
    CHECK(find_rec(f.s, AROUND, false, NULL));
    fx_free(&f);
}

/* A SYN beyond RCV.NXT reopens the 4-tuple (RFC 1122 §4.2.2.13 / RFC 6191): the record leaves
 * the middle of the ring, a SYN_RCVD connection answers with an ISS beyond the old SND.NXT;
 * the records around it expire as before, the dead slot with them. */
static void test_many_reopen(void) {
    fx f;
    uint64_t expire = start_among_many(&f, false, true, false);
    REQUIRE(expire);
    uint32_t syn = FX_IRS + 2 + 100000;
    fx_in(&f, TCPW_SYN, syn, 0, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    REQUIRE(f.nout == 1);
    CHECK_EQ_U(f.out[0].p.flags & 0x3f, TCPW_SYN | TCPW_ACK);
    CHECK_EQ_U(f.out[0].p.ack, syn + 1);
    CHECK((int32_t)(f.out[0].p.seq - (f.iss + 2)) > 0);
    tw_ref r;
    CHECK(!fixture_record(&f, &r));
    tcpw_conn *c = table_find_conn(f.s, &f.local, &f.remote);
    REQUIRE(c != NULL);
    CHECK_EQ_U(c->state, TCPW_SYN_RCVD);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 2 * AROUND);
    f.now = expire + 2 * AROUND + 1;
    tcpw_tick(f.s, f.now);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 0);
    fx_free(&f);
}

/* tw_reuse (Linux tcp_tw_reuse): a second after the last timestamp an outgoing connect() takes
 * the 4-tuple over: TIME_WAIT -> CLOSED by the user call, a SYN with an ISS beyond the old
 * SND.NXT. Earlier it may not: the 4-tuple is in use. */
static void test_many_tw_reuse(void) {
    fx f;
    uint64_t expire = start_among_many(&f, true, true, true);
    REQUIRE(expire);
    tcpw_conn *c2 = NULL;
    f.now += SEC - 1;
    CHECK_EQ_U(tcpw_connect(f.s, &f.local, &f.remote, f.now, &c2), TCPW_EADDRINUSE);
    f.now += 1;
    fx_clear(&f);
    REQUIRE(tcpw_connect(f.s, &f.local, &f.remote, f.now, &c2) == TCPW_OK);
    REQUIRE(f.ntrace >= 2);
    CHECK_EQ_U(f.trace_from[0], TCPW_TIME_WAIT);
    CHECK_EQ_U(f.trace_to[0], TCPW_CLOSED);
    CHECK_EQ_U(f.trace_cause[0], TCPW_CAUSE_USER);
    REQUIRE(f.nout == 1);
    CHECK_EQ_U(f.out[0].p.flags & 0x3f, TCPW_SYN);
    CHECK((int32_t)(f.out[0].p.seq - (f.iss + 2)) > 0);
    tw_ref r;
    CHECK(!fixture_record(&f, &r));
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 2 * AROUND);
    tcpw_abort(c2, f.now);
    fx_free(&f);
}

/* A TIME_WAIT record with a TS.Recent set after the 2MSL clock started (the application held
 * the block and a newer timestamp arrived): tw_reuse counts its second from that timestamp. */
static void test_tw_reuse_counts_from_late_timestamp(void) {
    fx f;
    fx_init(&f);
    f.cfg.timestamps = true;
    f.cfg.tw_reuse = true;
    fx_start(&f);
    fx_established_ts(&f);
    tcpw_shutdown(f.c, f.now);
    fx_in_ts(&f, TCPW_ACK, FX_IRS + 1, f.iss + 2, FX_PEER_TS + 2, f.our_ts, NULL, 0);
    fx_in_ts(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 2, FX_PEER_TS + 3, f.our_ts, NULL, 0);
    REQUIRE(fx_state(&f) == TCPW_TIME_WAIT);
    f.now += SEC / 2 + 1000;
    fx_in_ts(&f, TCPW_ACK, FX_IRS + 2, f.iss + 2, FX_PEER_TS + 4, f.our_ts, NULL, 0);
    REQUIRE(f.c->ts_recent == FX_PEER_TS + 4);
    tcpw_close(f.c, f.now);
    f.c = NULL;
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 1);
    tcpw_conn *c2 = NULL;
    f.now += SEC - 1; /* 1.501 s after the FIN, 1 s - 1 µs after the last timestamp */
    CHECK_EQ_U(tcpw_connect(f.s, &f.local, &f.remote, f.now, &c2), TCPW_EADDRINUSE);
    f.now += 20000; /* past the 1/64 s the record rounds the timestamp's delay up to */
    CHECK_EQ_U(tcpw_connect(f.s, &f.local, &f.remote, f.now, &c2), TCPW_OK);
    if (c2) tcpw_abort(c2, f.now);
    fx_free(&f);
}

/* After 2MSL the record is gone: the 4-tuple has no connection and the CLOSED rules answer
 * (RFC 9293 §3.10.7.1): an ACK gets <SEQ=SEG.ACK><CTL=RST>, a RST nothing. */
static void test_many_rst_after_expiry(void) {
    fx f;
    uint64_t expire = start_among_many(&f, false, true, false);
    REQUIRE(expire);
    f.now = expire;
    tcpw_tick(f.s, f.now);
    tw_ref r;
    CHECK(!fixture_record(&f, &r));
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, AROUND);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 2, f.iss + 2, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_RST, f.iss + 2, 0, 0);
    fx_clear(&f);
    fx_in(&f, TCPW_RST, FX_IRS + 2, 0, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    fx_free(&f);
}

int main(void) {
    RUN(test_record_sizes);
    RUN(test_insert_lookup_expire_many);
    RUN(test_lazy_deletion);
    RUN(test_restart_moves_to_tail);
    RUN(test_restart_expires_exactly);
    RUN(test_out_of_order_records);
    RUN(test_ipv6_records);
    RUN(test_positions_wrap);
    RUN(test_index_overflow);
    RUN(test_free_mid_rehash);
    RUN(test_random_against_model);
    RUN(test_conn_table_growth);
    RUN(test_many_refin_restarts);
    RUN(test_many_rst);
    RUN(test_many_reopen);
    RUN(test_many_tw_reuse);
    RUN(test_tw_reuse_counts_from_late_timestamp);
    RUN(test_many_rst_after_expiry);
    return test_summary();
}
