/* addr.h — IPv4/IPv6 addresses and endpoints as text ("1.2.3.4:80", "[fd00::1]:80").
 *
 * For drivers and tools (CLI arguments, trace and report output); built on the C library's
 * inet_pton/inet_ntop, so it lives in src/util, outside the libc-free core.
 */
#ifndef TCPW_UTIL_ADDR_H
#define TCPW_UTIL_ADDR_H

#include <stddef.h>

#include "tcpwave/tcpwave.h"

/* Buffer sizes that always suffice, terminating NUL included: the longest IPv6 text
 * ("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 45 characters, as INET6_ADDRSTRLEN), and
 * that in brackets followed by ":65535". */
#define TCPW_ADDRSTRLEN 46
#define TCPW_EPSTRLEN   54

/* Parses an IPv4 dotted quad ("192.0.2.1") or an IPv6 address in RFC 4291 §2.2 text form
 * ("fd00::1", "::ffff:192.0.2.1"). Returns 0, or -1 (and leaves *out alone) when s is not
 * an address. No brackets, ports, zone indexes or host names. */
int tcpw_addr_parse(const char *s, tcpw_addr *out);

/* Parses "1.2.3.4:80" or "[fd00::1]:80" (RFC 3986 §3.2.2 brackets around IPv6). The port
 * is decimal 0..65535 (digits only). Returns 0, or -1 (and leaves *out alone). */
int tcpw_endpoint_parse(const char *s, tcpw_endpoint *out);

/* Writes the address as text ("192.0.2.1", "fd00::1"; "*" for family 0, the unspecified
 * "any" address; "?" for an invalid family) and returns buf, or NULL if it does not fit in
 * cap bytes (buf then holds "" when cap > 0). TCPW_ADDRSTRLEN bytes always suffice. */
char *tcpw_addr_format(const tcpw_addr *a, char *buf, size_t cap);

/* Writes "1.2.3.4:80", "[fd00::1]:80" or "*:80" and returns buf, or NULL if it does not fit
 * (buf then holds "" when cap > 0). TCPW_EPSTRLEN bytes always suffice. */
char *tcpw_endpoint_format(const tcpw_endpoint *e, char *buf, size_t cap);

#endif
