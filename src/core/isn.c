/* isn.c — keyed hashes of a connection's 4-tuple: initial sequence numbers (RFC 6528),
 * timestamp offsets (RFC 7323 §7.1) and ephemeral port offsets (RFC 6056 Algorithm 3).
 * The key is the caller's secret (tcpw_config.secret); the hash is SipHash-2-4.
 */
#include <string.h>

#include "tcb.h"

static uint64_t rotl(uint64_t x, int b) {
    return (x << b) | (x >> (64 - b));
}

static uint64_t load_le64(const uint8_t *p) {
    uint64_t v = 0;
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

/* SipHash-2-4 (Aumasson & Bernstein), 64-bit output. */
uint64_t tcpw_siphash24(const uint8_t key[16], const void *data, size_t len) {
    const uint8_t *in = data;
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    size_t whole = len - len % 8;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = load_le64(in + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < len % 8; i++)
        b |= (uint64_t)in[whole + i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* The hash input: a purpose tag, then the addresses and ports that matter for it. */
static uint64_t hash_tuple(const tcpw_stack *s, uint8_t tag, const tcpw_endpoint *local,
                           const tcpw_endpoint *remote, bool ports) {
    uint8_t in[1 + 1 + 16 + 16 + 4];
    size_t n = 0;
    in[n++] = tag;
    in[n++] = local->addr.family;
    size_t alen = local->addr.family == 6 ? 16 : 4;
    memcpy(in + n, local->addr.ip, alen);
    n += alen;
    memcpy(in + n, remote->addr.ip, alen);
    n += alen;
    if (ports) {
        in[n++] = (uint8_t)(local->port >> 8);
        in[n++] = (uint8_t)local->port;
        in[n++] = (uint8_t)(remote->port >> 8);
        in[n++] = (uint8_t)remote->port;
    }
    return tcpw_siphash24(s->cfg.secret, in, n);
}

/* RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M is a
 * timer that ticks every 4 microseconds. */
uint32_t isn_generate(const tcpw_stack *s, const tcpw_endpoint *local,
                      const tcpw_endpoint *remote) {
    uint32_t m = (uint32_t)(s->now / 4);
    return m + (uint32_t)hash_tuple(s, 'I', local, remote, true);
}

/* RFC 7323 §7.1 suggests a random offset per connection for the timestamp clock. Like Linux
 * we key it on the address pair only, so that a reused 4-tuple (tw_reuse, RFC 6191 reopen)
 * keeps a monotonic clock towards the same peer. */
uint32_t ts_offset_for(const tcpw_stack *s, const tcpw_endpoint *local,
                       const tcpw_endpoint *remote) {
    return (uint32_t)hash_tuple(s, 'T', local, remote, false);
}

/* RFC 6056 §3.3.3 Algorithm 3: the search for a free port starts at a keyed offset of the
 * addresses and the remote port. */
uint32_t port_offset_for(const tcpw_stack *s, const tcpw_endpoint *local,
                         const tcpw_endpoint *remote) {
    tcpw_endpoint l = *local;
    l.port = 0;
    return (uint32_t)hash_tuple(s, 'P', &l, remote, true);
}
