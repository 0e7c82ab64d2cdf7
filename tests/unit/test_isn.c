/* test_isn.c — the keyed hashes of isn.c: SipHash-2-4 itself (the reference test vectors of
 * Aumasson & Bernstein), and the IPv4 shortcut that hashes a 4-tuple without building its
 * bytes, which must give bit for bit what the byte-by-byte definition (tcpw_tuple_siphash)
 * gives — the ISN and timestamp offset (RFC 6528, RFC 7323 §7.1) and the ephemeral port
 * offset (RFC 6056 Algorithm 3) of every connection depend on it.
 */
#include "fixture.h"

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint64_t rng(void) {
    /* SplitMix64: the same sequence on every platform */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The paper's Appendix A: key 00..0f, message 00..0e, and the empty message (vectors.h of
 * the reference implementation, entries 15 and 0). */
static void test_siphash_reference_vectors(void) {
    uint8_t key[16], msg[15];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 15; i++)
        msg[i] = (uint8_t)i;
    CHECK(tcpw_siphash24(key, msg, 15) == 0xa129ca6149be45e5ULL);
    CHECK(tcpw_siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
}

static void discard_output(void *user, const uint8_t *pkt, size_t len) {
    (void)user;
    (void)pkt;
    (void)len;
}

static tcpw_stack *stack_with_secret(const uint8_t secret[16]) {
    tcpw_config cfg;
    tcpw_config_default(&cfg);
    tcpw_config_use_libc(&cfg);
    cfg.output = discard_output;
    memcpy(cfg.secret, secret, 16);
    tcpw_stack *s = NULL;
    if (tcpw_stack_new(&cfg, &s) != TCPW_OK) return NULL;
    return s;
}

static void random_v4(tcpw_endpoint *e) {
    uint64_t r = rng();
    memset(e, 0, sizeof *e);
    e->addr = tcpw_addr_v4((uint8_t)r, (uint8_t)(r >> 8), (uint8_t)(r >> 16), (uint8_t)(r >> 24));
    e->port = (uint16_t)(r >> 32);
}

/* The timestamp offset (high half of the 'I' hash), the ISN (low half plus the 4 µs clock)
 * and the port offset (the 'P' hash of the 4-tuple with local port 0) all equal the
 * byte-by-byte definition, for random keys and tuples, the extreme ports included. */
static void test_ipv4_shortcut_matches_definition(void) {
    for (int k = 0; k < 20; k++) {
        uint8_t secret[16];
        for (int i = 0; i < 16; i++)
            secret[i] = (uint8_t)rng();
        tcpw_stack *s = stack_with_secret(secret);
        REQUIRE(s != NULL);
        s->now = rng() >> 8;
        for (int n = 0; n < 500; n++) {
            tcpw_endpoint l, r;
            random_v4(&l);
            random_v4(&r);
            if (n == 0) l.port = r.port = 0;
            if (n == 1) l.port = r.port = 0xffff;
            uint64_t h = tcpw_tuple_siphash(secret, 'I', &l, &r);
            uint32_t isn, ts_offset;
            isn_and_ts_offset(s, &l, &r, &isn, &ts_offset);
            CHECK(ts_offset == (uint32_t)(h >> 32));
            CHECK(isn == (uint32_t)(s->now / 4) + (uint32_t)h);
            CHECK(ts_offset_for(s, &l, &r) == (uint32_t)(h >> 32));
            tcpw_endpoint l0 = l;
            l0.port = 0;
            s->port_cache.valid = false;
            CHECK(port_offset_for(s, &l, &r) == (uint32_t)tcpw_tuple_siphash(secret, 'P', &l0, &r));
        }
        tcpw_stack_free(s);
    }
}

/* IPv6 goes the byte-by-byte way: the same definition with 16-byte addresses. */
static void test_ipv6_uses_definition(void) {
    uint8_t secret[16] = "isn-test-secret";
    tcpw_stack *s = stack_with_secret(secret);
    REQUIRE(s != NULL);
    tcpw_endpoint l, r;
    memset(&l, 0, sizeof l);
    memset(&r, 0, sizeof r);
    l.addr.family = r.addr.family = 6;
    for (int i = 0; i < 16; i++) {
        l.addr.ip[i] = (uint8_t)(0x20 + i);
        r.addr.ip[i] = (uint8_t)(0x90 - i);
    }
    l.port = 443;
    r.port = 51000;
    uint64_t h = tcpw_tuple_siphash(secret, 'I', &l, &r);
    CHECK(ts_offset_for(s, &l, &r) == (uint32_t)(h >> 32));
    /* the two families never share an input: the family byte differs */
    tcpw_endpoint l4 = l, r4 = r;
    l4.addr.family = r4.addr.family = 4;
    CHECK(tcpw_tuple_siphash(secret, 'I', &l4, &r4) != h);
    tcpw_stack_free(s);
}

int main(void) {
    RUN(test_siphash_reference_vectors);
    RUN(test_ipv4_shortcut_matches_definition);
    RUN(test_ipv6_uses_definition);
    return test_summary();
}
