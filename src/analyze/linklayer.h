/* linklayer.h — from a captured frame to its IP packet: Ethernet (with 802.1Q/802.1ad VLAN
 * tags and PPPoE sessions), Linux cooked captures (SLL and SLL2), raw IP, and BSD
 * loopback/null link types.
 */
#ifndef TCPW_AN_LINKLAYER_H
#define TCPW_AN_LINKLAYER_H

#include <stddef.h>
#include <stdint.h>

/* Outcome of tcpw_an_link_ip(). */
typedef enum tcpw_an_link {
    TCPW_AN_LINK_IP = 0,     /* *off is where the IPv4/IPv6 header starts */
    TCPW_AN_LINK_OTHER,      /* a frame of another protocol (ARP, ...): not IP */
    TCPW_AN_LINK_TRUNCATED,  /* the link-layer header itself is cut short */
    TCPW_AN_LINK_UNSUPPORTED /* a link type this analyzer does not decode */
} tcpw_an_link;

/* Finds the IP header in a frame of pcap link type dlt (DLT_* as pcap_datalink() returns,
 * or the LINKTYPE_* number for the types where they differ). */
tcpw_an_link tcpw_an_link_ip(int dlt, const uint8_t *frame, size_t caplen, size_t *off);

/* Whether dlt is one tcpw_an_link_ip() decodes. */
int tcpw_an_link_supported(int dlt);

#endif
