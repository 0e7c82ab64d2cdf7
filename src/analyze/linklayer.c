/* linklayer.c — link-layer headers down to IP, for the link types captures of TCP come in:
 *   Ethernet II (IEEE 802.3) with any number of 802.1Q (0x8100), 802.1ad (0x88a8) or 0x9100
 *     VLAN tags, and PPPoE sessions (RFC 2516, PPP protocol 0x0021 IPv4 / 0x0057 IPv6),
 *   Linux cooked capture v1 (DLT_LINUX_SLL, 16 bytes) and v2 (DLT_LINUX_SLL2, 20 bytes),
 *   raw IP (DLT_RAW, LINKTYPE_RAW, DLT_IPV4, DLT_IPV6),
 *   BSD loopback (DLT_NULL: 4-byte family in the capturing host's byte order; DLT_LOOP: in
 *     network byte order) — the family is not trusted: the IP version nibble decides.
 * Every read is bounds-checked against caplen.
 */
#include "analyze/linklayer.h"

#include <pcap/dlt.h>

#define ETH_HDR   14
#define VLAN_TAG  4
#define SLL_HDR   16
#define SLL2_HDR  20
#define NULL_HDR  4
#define PPPOE_HDR 6
#define PPP_PROTO 2

#define ETHERTYPE_IPV4     0x0800
#define ETHERTYPE_IPV6     0x86dd
#define ETHERTYPE_VLAN     0x8100
#define ETHERTYPE_QINQ     0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100
#define ETHERTYPE_PPPOE    0x8864
#define PPP_IPV4           0x0021
#define PPP_IPV6           0x0057

/* pcap's LINKTYPE_* values that differ from the DLT_* a given platform uses. */
#define LINKTYPE_RAW        101
#define LINKTYPE_LINUX_SLL2 276

static uint16_t get16(const uint8_t *p) {
    return (uint16_t)((p[0] << 8) | p[1]);
}

/* From an ethertype at frame[*off - 2]: skips VLAN tags and PPPoE to an IP header. */
static tcpw_an_link after_ethertype(const uint8_t *frame, size_t caplen, uint16_t type,
                                    size_t *off) {
    size_t o = *off;
    for (int depth = 0; depth < 8; depth++) {
        switch (type) {
        case ETHERTYPE_IPV4:
        case ETHERTYPE_IPV6: *off = o; return TCPW_AN_LINK_IP;
        case ETHERTYPE_VLAN:
        case ETHERTYPE_QINQ:
        case ETHERTYPE_QINQ_OLD:
            /* IEEE 802.1Q: 2 bytes TCI, then the encapsulated ethertype */
            if (caplen < o + VLAN_TAG) return TCPW_AN_LINK_TRUNCATED;
            type = get16(frame + o + 2);
            o += VLAN_TAG;
            break;
        case ETHERTYPE_PPPOE: {
            /* RFC 2516 §4: ver/type, code, session id, length; then the PPP protocol */
            if (caplen < o + PPPOE_HDR + PPP_PROTO) return TCPW_AN_LINK_TRUNCATED;
            uint16_t proto = get16(frame + o + PPPOE_HDR);
            o += PPPOE_HDR + PPP_PROTO;
            if (proto == PPP_IPV4 || proto == PPP_IPV6) {
                *off = o;
                return TCPW_AN_LINK_IP;
            }
            return TCPW_AN_LINK_OTHER;
        }
        default: return TCPW_AN_LINK_OTHER;
        }
    }
    return TCPW_AN_LINK_OTHER; /* absurdly deep tag stack */
}

int tcpw_an_link_supported(int dlt) {
    switch (dlt) {
    case DLT_EN10MB:
    case DLT_LINUX_SLL:
    case LINKTYPE_LINUX_SLL2:
    case DLT_RAW:
    case LINKTYPE_RAW:
#ifdef DLT_IPV4
    case DLT_IPV4:
    case DLT_IPV6:
#endif
    case DLT_NULL:
    case DLT_LOOP: return 1;
    default: return 0;
    }
}

tcpw_an_link tcpw_an_link_ip(int dlt, const uint8_t *frame, size_t caplen, size_t *off) {
    *off = 0;
    switch (dlt) {
    case DLT_EN10MB:
        if (caplen < ETH_HDR) return TCPW_AN_LINK_TRUNCATED;
        *off = ETH_HDR;
        return after_ethertype(frame, caplen, get16(frame + 12), off);
    case DLT_LINUX_SLL:
        /* packet type, ARPHRD, address length, 8 address bytes, protocol */
        if (caplen < SLL_HDR) return TCPW_AN_LINK_TRUNCATED;
        *off = SLL_HDR;
        return after_ethertype(frame, caplen, get16(frame + 14), off);
    case LINKTYPE_LINUX_SLL2:
        /* protocol, reserved, interface index, ARPHRD, packet type, address length, address */
        if (caplen < SLL2_HDR) return TCPW_AN_LINK_TRUNCATED;
        *off = SLL2_HDR;
        return after_ethertype(frame, caplen, get16(frame), off);
    case DLT_RAW:
    case LINKTYPE_RAW:
#ifdef DLT_IPV4
    case DLT_IPV4:
    case DLT_IPV6:
#endif
        if (caplen < 1) return TCPW_AN_LINK_TRUNCATED;
        return TCPW_AN_LINK_IP;
    case DLT_NULL:
    case DLT_LOOP:
        if (caplen < NULL_HDR + 1) return TCPW_AN_LINK_TRUNCATED;
        *off = NULL_HDR;
        {
            uint8_t v = frame[NULL_HDR] >> 4;
            return v == 4 || v == 6 ? TCPW_AN_LINK_IP : TCPW_AN_LINK_OTHER;
        }
    default: return TCPW_AN_LINK_UNSUPPORTED;
    }
}
