/* isn.c — keyed hashes of a connection's 4-tuple: initial sequence numbers (RFC 6528) and
 * timestamp offsets (RFC 7323 §7.1) from one hash, and ephemeral port offsets (RFC 6056
 * Algorithm 3).
 * The key is the caller's secret (tcpw_config.secret); the hash is SipHash-2-4.
 */
#include <string.h>

#include "tcb.h"

static uint64_t rotl(uint64_t x, int b) {
    return (x << b) | (x >> (64 - b));
}

/* SipHash reads its input as little-endian 64-bit words: one load on such a host. */
static uint64_t load_le64(const uint8_t *p) {
    const uint16_t one = 1;
    uint64_t v;
    memcpy(&v, p, sizeof v);
    if (*(const uint8_t *)&one == 1) return v;
    v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = rotl(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = rotl(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = rotl(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = rotl(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = rotl(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = rotl(v2, 32);                                                                         \
    } while (0)

/* SipHash's state after the key (the initialization of SipHash-2-4). */
#define SIP_INIT(key)                                                                              \
    uint64_t k0 = load_le64(key), k1 = load_le64((key) + 8);                                       \
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;                     \
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1

/* One message word through SipHash's two compression rounds. */
#define SIP_COMPRESS(m)                                                                            \
    do {                                                                                           \
        v3 ^= (m);                                                                                 \
        SIPROUND;                                                                                  \
        SIPROUND;                                                                                  \
        v0 ^= (m);                                                                                 \
    } while (0)

/* The four finalization rounds. */
#define SIP_FINISH()                                                                               \
    do {                                                                                           \
        v2 ^= 0xff;                                                                                \
        SIPROUND;                                                                                  \
        SIPROUND;                                                                                  \
        SIPROUND;                                                                                  \
        SIPROUND;                                                                                  \
    } while (0)

/* SipHash-2-4 (Aumasson & Bernstein), 64-bit output. */
uint64_t tcpw_siphash24(const uint8_t key[16], const void *data, size_t len) {
    const uint8_t *in = data;
    SIP_INIT(key);
    size_t whole = len - len % 8;
    for (size_t i = 0; i < whole; i += 8)
        SIP_COMPRESS(load_le64(in + i));
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < len % 8; i++)
        b |= (uint64_t)in[whole + i] << (8 * i);
    SIP_COMPRESS(b);
    SIP_FINISH();
    return v0 ^ v1 ^ v2 ^ v3;
}

/* The hash of a 4-tuple for one purpose, byte by byte: SipHash-2-4 of {tag, family, local
 * address, remote address, local port, remote port} (ports big-endian, addresses 4 or 16
 * bytes). This is the definition; hash_tuple() takes a shortcut for IPv4 that gives the same
 * bits. */
uint64_t tcpw_tuple_siphash(const uint8_t key[16], uint8_t tag, const tcpw_endpoint *local,
                            const tcpw_endpoint *remote) {
    uint8_t in[1 + 1 + 16 + 16 + 4];
    size_t n = 0;
    in[n++] = tag;
    in[n++] = local->addr.family;
    size_t alen = local->addr.family == 6 ? 16 : 4;
    memcpy(in + n, local->addr.ip, alen);
    n += alen;
    memcpy(in + n, remote->addr.ip, alen);
    n += alen;
    in[n++] = (uint8_t)(local->port >> 8);
    in[n++] = (uint8_t)local->port;
    in[n++] = (uint8_t)(remote->port >> 8);
    in[n++] = (uint8_t)remote->port;
    return tcpw_siphash24(key, in, n);
}

/* The 4 bytes of an IPv4 address as SipHash reads them: little-endian. */
static uint64_t load_le32(const uint8_t *p) {
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
}

/* tcpw_tuple_siphash() of an IPv4 4-tuple without building its 14 bytes {tag, 4, laddr,
 * raddr, lport, rport}: they are one whole message word and a last word holding the other 6
 * bytes and the length (SipHash §2). Bit for bit the same result (tests/unit/test_isn.c). */
static uint64_t siphash24_v4(const uint8_t key[16], uint8_t tag, const uint8_t *laddr,
                             const uint8_t *raddr, uint16_t lport, uint16_t rport) {
    uint64_t ra = load_le32(raddr);
    uint64_t m0 = tag | (uint64_t)4 << 8 | load_le32(laddr) << 16 | (ra & 0xffff) << 48;
    uint64_t m1 = ra >> 16 | (uint64_t)(lport >> 8) << 16 | (uint64_t)(lport & 0xff) << 24 |
                  (uint64_t)(rport >> 8) << 32 | (uint64_t)(rport & 0xff) << 40 |
                  (uint64_t)14 << 56;
    SIP_INIT(key);
    SIP_COMPRESS(m0);
    SIP_COMPRESS(m1);
    SIP_FINISH();
    return v0 ^ v1 ^ v2 ^ v3;
}

/* The keyed hash of a 4-tuple for one purpose (a tag). */
static uint64_t hash_tuple(const tcpw_stack *s, uint8_t tag, const tcpw_endpoint *local,
                           const tcpw_endpoint *remote) {
    if (local->addr.family == 4)
        return siphash24_v4(s->cfg.secret, tag, local->addr.ip, remote->addr.ip, local->port,
                            remote->port);
    return tcpw_tuple_siphash(s->cfg.secret, tag, local, remote);
}

/* One keyed hash of the 4-tuple gives a connection both of its secrets: its low half is F of
 * RFC 6528 §3, ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M is a
 * timer that ticks every 4 microseconds; its high half is the offset of the connection's
 * timestamp clock, the random per-connection offset RFC 7323 §7.1 recommends. Keyed on the
 * whole 4-tuple, the offset is the same for every incarnation of a 4-tuple, so a reused one
 * (tw_reuse, RFC 6191 reopen) keeps a monotonic clock towards the same peer; the two halves of
 * a SipHash-2-4 output tell nothing about each other or the key. */
void isn_and_ts_offset(const tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote,
                       uint32_t *isn, uint32_t *ts_offset) {
    uint64_t h = hash_tuple(s, 'I', local, remote);
    *isn = (uint32_t)(s->now / 4) + (uint32_t)h;
    *ts_offset = (uint32_t)(h >> 32);
}

/* The timestamp offset alone (what a compact TIME_WAIT record recomputes). */
uint32_t ts_offset_for(const tcpw_stack *s, const tcpw_endpoint *local,
                       const tcpw_endpoint *remote) {
    return (uint32_t)(hash_tuple(s, 'I', local, remote) >> 32);
}

/* RFC 6056 §3.3.3 Algorithm 3: the search for a free port starts at a keyed offset of the
 * addresses and the remote port. A client tends to connect to one server again and again: the
 * offset for the last (local address, remote address, remote port) is kept in the stack. */
uint32_t port_offset_for(tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote) {
    port_offset_cache *pc = &s->port_cache;
    if (pc->valid && pc->remote.port == remote->port && tcpw_addr_equal(&pc->local, &local->addr) &&
        tcpw_addr_equal(&pc->remote.addr, &remote->addr))
        return pc->offset;
    tcpw_endpoint l = *local;
    l.port = 0;
    pc->offset = (uint32_t)hash_tuple(s, 'P', &l, remote);
    pc->local = local->addr;
    pc->remote = *remote;
    pc->valid = true;
    return pc->offset;
}
