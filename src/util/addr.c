/* addr.c — IPv4/IPv6 addresses and endpoints to and from text, with inet_pton/inet_ntop. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* inet_pton, inet_ntop */
#endif

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "util/addr.h"

int tcpw_addr_parse(const char *s, tcpw_addr *out) {
    if (s == NULL || out == NULL) return -1;
    tcpw_addr a;
    memset(&a, 0, sizeof a);
    if (inet_pton(AF_INET, s, a.ip) == 1) {
        a.family = 4;
    } else if (inet_pton(AF_INET6, s, a.ip) == 1) {
        a.family = 6;
    } else {
        return -1;
    }
    *out = a;
    return 0;
}

/* A decimal port: 1 to 5 digits, at most 65535, nothing after it. */
static int parse_port(const char *s, uint16_t *out) {
    unsigned long v = 0;
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        if (s[n] < '0' || s[n] > '9' || n >= 5) return -1;
        v = v * 10 + (unsigned long)(s[n] - '0');
    }
    if (n == 0 || v > 65535) return -1;
    *out = (uint16_t)v;
    return 0;
}

/* Copies s[0..n) into host (of TCPW_ADDRSTRLEN bytes) and parses it as an address of the
 * given family. */
static int parse_host(const char *s, size_t n, uint8_t family, tcpw_addr *out) {
    char host[TCPW_ADDRSTRLEN];
    if (n == 0 || n >= sizeof host) return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    if (tcpw_addr_parse(host, out) != 0 || out->family != family) return -1;
    return 0;
}

int tcpw_endpoint_parse(const char *s, tcpw_endpoint *out) {
    if (s == NULL || out == NULL) return -1;
    tcpw_endpoint e;
    memset(&e, 0, sizeof e);
    const char *port;
    if (s[0] == '[') {
        /* "[v6]:port" — the brackets of RFC 3986 §3.2.2 keep the port apart. */
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':') return -1;
        if (parse_host(s + 1, (size_t)(close - (s + 1)), 6, &e.addr) != 0) return -1;
        port = close + 2;
    } else {
        /* "v4:port" — exactly one colon; a bare IPv6 address with a port is ambiguous. */
        const char *colon = strchr(s, ':');
        if (colon == NULL || strchr(colon + 1, ':') != NULL) return -1;
        if (parse_host(s, (size_t)(colon - s), 4, &e.addr) != 0) return -1;
        port = colon + 1;
    }
    if (parse_port(port, &e.port) != 0) return -1;
    *out = e;
    return 0;
}

/* Copies text into buf if it fits; otherwise leaves "" (when cap > 0) and returns NULL. */
static char *copy_out(const char *text, char *buf, size_t cap) {
    size_t n = strlen(text);
    if (buf == NULL || n >= cap) {
        if (buf != NULL && cap > 0) buf[0] = '\0';
        return NULL;
    }
    memcpy(buf, text, n + 1);
    return buf;
}

/* The address as text in tmp (TCPW_ADDRSTRLEN bytes). */
static const char *addr_text(const tcpw_addr *a, char tmp[TCPW_ADDRSTRLEN]) {
    if (a->family == 0) return "*";
    if (a->family == 4) return inet_ntop(AF_INET, a->ip, tmp, TCPW_ADDRSTRLEN);
    if (a->family == 6) return inet_ntop(AF_INET6, a->ip, tmp, TCPW_ADDRSTRLEN);
    return "?";
}

char *tcpw_addr_format(const tcpw_addr *a, char *buf, size_t cap) {
    char tmp[TCPW_ADDRSTRLEN];
    const char *text = a ? addr_text(a, tmp) : NULL;
    return copy_out(text ? text : "?", buf, cap);
}

char *tcpw_endpoint_format(const tcpw_endpoint *e, char *buf, size_t cap) {
    char tmp[TCPW_ADDRSTRLEN];
    char out[TCPW_EPSTRLEN];
    const char *text = e ? addr_text(&e->addr, tmp) : NULL;
    if (text == NULL) text = "?";
    bool v6 = e && e->addr.family == 6;
    snprintf(out, sizeof out, v6 ? "[%s]:%u" : "%s:%u", text, e ? (unsigned)e->port : 0u);
    return copy_out(out, buf, cap);
}
