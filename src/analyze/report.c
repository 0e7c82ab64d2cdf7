/* report.c — the analyzer's output: the table a person reads, the per-packet rows in the
 * numbers Wireshark shows, JSON for tools (docs/analyze.md), the per-host report of sockets
 * left in CLOSE_WAIT / TIME_WAIT, and a connection turned into a tcpw_recording so that the
 * shared renderer (view.h) draws its ladder exactly as it draws `tcpwave sim` runs.
 */
#include "analyze/report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/wire.h"
#include "util/addr.h"

#define DETAIL_MAX 20 /* connections described in full when there are more than this */

/* ---- small helpers ---------------------------------------------------------------------- */

uint32_t tcpw_an_rel_seq(const tcpw_an_conn *c, const tcpw_an_pkt *p) {
    return c->base_known[p->side] ? p->seq - c->base[p->side] : p->seq;
}

uint32_t tcpw_an_rel_ack(const tcpw_an_conn *c, const tcpw_an_pkt *p) {
    if (!(p->flags & TCPW_ACK)) return 0;
    int o = 1 - p->side;
    return c->base_known[o] ? p->ack - c->base[o] : p->ack;
}

const char *tcpw_an_flags_text(uint8_t flags, char *buf, size_t cap) {
    /* Wireshark's order: FIN, SYN, RST, PSH, ACK, URG, ECE, CWR */
    static const struct {
        uint8_t bit;
        const char *name;
    } names[] = {{TCPW_FIN, "FIN"}, {TCPW_SYN, "SYN"}, {TCPW_RST, "RST"}, {TCPW_PSH, "PSH"},
                 {TCPW_ACK, "ACK"}, {TCPW_URG, "URG"}, {0x40, "ECE"},     {0x80, "CWR"}};
    size_t n = 0;
    buf[0] = '\0';
    n += (size_t)snprintf(buf + n, cap - n, "[");
    bool first = true;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && n < cap; i++)
        if (flags & names[i].bit) {
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", first ? "" : ", ", names[i].name);
            first = false;
        }
    if (n < cap) snprintf(buf + n, cap - n, "%s]", first ? "<None>" : "");
    return buf;
}

static double rel_s(const tcpw_an_conn *c, uint64_t t) {
    return t >= c->t_first ? (double)(t - c->t_first) / 1e6 : 0.0;
}

static const char *st_name(int st) {
    return st >= 0 && st < TCPW_STATE_COUNT ? tcpw_state_name((tcpw_state)st) : "?";
}

static void json_str(FILE *out, const char *s) {
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static const char *marks_text(uint16_t m, char *buf, size_t cap) {
    static const struct {
        uint16_t bit;
        const char *name;
    } names[] = {{TCPW_AN_RETRANS, "retransmission"},
                 {TCPW_AN_OOO, "out-of-order"},
                 {TCPW_AN_GAP, "previous segment not captured"},
                 {TCPW_AN_DUP_ACK, "dup ACK"},
                 {TCPW_AN_ZERO_WIN, "zero window"},
                 {TCPW_AN_KEEPALIVE, "keep-alive"},
                 {TCPW_AN_LOST, "lost"},
                 {TCPW_AN_LATE, "crossed"},
                 {TCPW_AN_DELAYED, "delayed"},
                 {TCPW_AN_SNAPLEN, "cut by snaplen"}};
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if ((m & names[i].bit) && n < cap)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", names[i].name);
    return buf;
}

/* ---- per-packet rows ---------------------------------------------------------------------- */

void tcpw_an_report_packets(FILE *out, const tcpw_analyzer *a, const tcpw_an_conn *c,
                            const tcpw_an_report_opts *o) {
    (void)a;
    char ca[TCPW_EPSTRLEN], sa[TCPW_EPSTRLEN];
    tcpw_endpoint_format(&c->ep[0], ca, sizeof ca);
    tcpw_endpoint_format(&c->ep[1], sa, sizeof sa);
    fprintf(out, "Connection %u: client %s, server %s (* = inferred)\n", c->id, ca, sa);
    if (!c->pkt) {
        fprintf(out, "  (packets not kept)\n");
        return;
    }
    fprintf(out, "%7s  %10s  %-3s  %-38s  %-13s %-13s %s\n", "frame", "time (s)", "dir",
            "flags and numbers", "client", "server", "notes");
    for (size_t i = 0; i < c->npkt; i++) {
        const tcpw_an_pkt *p = &c->pkt[i];
        char fl[48], info[96], m[160], cst[20], sst[20];
        tcpw_an_flags_text(p->flags, fl, sizeof fl);
        uint32_t seq = o && o->absolute ? p->seq : tcpw_an_rel_seq(c, p);
        uint32_t ack = o && o->absolute ? p->ack : tcpw_an_rel_ack(c, p);
        if (p->flags & TCPW_ACK)
            snprintf(info, sizeof info, "%s Seq=%u Ack=%u Len=%u", fl, seq, ack, p->len);
        else
            snprintf(info, sizeof info, "%s Seq=%u Len=%u", fl, seq, p->len);
        snprintf(cst, sizeof cst, "%s%s", st_name(p->st[0]), p->why[0] ? "*" : "");
        snprintf(sst, sizeof sst, "%s%s", st_name(p->st[1]), p->why[1] ? "*" : "");
        marks_text(p->marks, m, sizeof m);
        fprintf(out, "%7u  %10.6f  %-3s  %-38s  %-13s %-13s %s\n", p->recno, rel_s(c, p->t_us),
                p->side == 0 ? "C>S" : "S>C", info, cst, sst, m);
        for (int s = 0; s < 2; s++)
            if (p->why[s] && (i == 0 || p->why[s] != c->pkt[i - 1].why[s] ||
                              p->st[s] != c->pkt[i - 1].st[s] || p->evidence)) {
                char ev[40] = "";
                if (p->evidence && p->evidence <= c->npkt)
                    snprintf(ev, sizeof ev, " (frame %u)", c->pkt[p->evidence - 1].recno);
                fprintf(out, "%7s  %10s  %-3s  * %s: %s%s\n", "", "", "", tcpw_an_side_name(s),
                        tcpw_an_why_text((tcpw_an_why)p->why[s]), ev);
            }
    }
}

/* ---- the text report ---------------------------------------------------------------------- */

static const char *opened_text(const tcpw_an_conn *c) {
    return c->opened_by == 0 ? "client" : c->opened_by == 2 ? "both" : "?";
}

typedef struct holder {
    tcpw_endpoint ep;
    bool client; /* a client side: grouped by address, port '*' */
    tcpw_state st;
    unsigned count;
    uint64_t oldest, newest; /* since */
} holder;

static void add_holder(holder **hs, size_t *n, size_t *cap, const tcpw_endpoint *ep, bool client,
                       tcpw_state st, uint64_t since) {
    tcpw_endpoint key = *ep;
    if (client) key.port = 0;
    for (size_t i = 0; i < *n; i++) {
        holder *h = &(*hs)[i];
        if (h->st == st && h->client == client && tcpw_endpoint_equal(&h->ep, &key)) {
            h->count++;
            if (since < h->oldest) h->oldest = since;
            if (since > h->newest) h->newest = since;
            return;
        }
    }
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        holder *x = realloc(*hs, nc * sizeof *x);
        if (!x) return;
        *hs = x;
        *cap = nc;
    }
    holder *h = &(*hs)[(*n)++];
    h->ep = key;
    h->client = client;
    h->st = st;
    h->count = 1;
    h->oldest = h->newest = since;
}

static void hosts_report(FILE *out, const tcpw_analyzer *a) {
    const tcpw_an_config *cfg = tcpw_an_get_config(a);
    const tcpw_an_totals *tot = tcpw_an_get_totals(a);
    holder *hs = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < tcpw_an_conn_count(a); i++) {
        const tcpw_an_conn *c = tcpw_an_conn_get(a, i);
        for (int s = 0; s < 2; s++) {
            tcpw_state st = c->final[s];
            if (st == TCPW_CLOSE_WAIT || st == TCPW_TIME_WAIT || st == TCPW_LAST_ACK ||
                st == TCPW_FIN_WAIT_2)
                add_holder(&hs, &n, &cap, &c->ep[s], s == 0, st, c->final_since[s]);
        }
    }
    fprintf(out, "\nSockets left closing at the end of the capture, by who holds them:\n");
    if (n == 0) fprintf(out, "  none\n");
    uint64_t two = 2ull * cfg->msl_ms * 1000u;
    for (size_t i = 0; i < n; i++) {
        const holder *h = &hs[i];
        char ep[TCPW_EPSTRLEN];
        if (h->client) {
            char ad[TCPW_ADDRSTRLEN];
            tcpw_addr_format(&h->ep.addr, ad, sizeof ad);
            snprintf(ep, sizeof ep, h->ep.addr.family == 6 ? "[%s]:*" : "%s:*", ad);
        } else {
            tcpw_endpoint_format(&h->ep, ep, sizeof ep);
        }
        /* (a state entered as the last packets arrived may begin after the last record) */
        double held_max = h->oldest < tot->t_last ? (double)(tot->t_last - h->oldest) / 1e6 : 0.0;
        fprintf(out, "  %-28s %-10s %4u  (%s side) ", ep, tcpw_state_name(h->st), h->count,
                h->client ? "client" : "server");
        switch (h->st) {
        case TCPW_CLOSE_WAIT:
            fprintf(out,
                    "oldest for %.3f s: the peer closed, this application never called "
                    "close()\n",
                    held_max);
            break;
        case TCPW_TIME_WAIT: {
            double left_min =
                h->oldest + two > tot->t_last ? (double)(h->oldest + two - tot->t_last) / 1e6 : 0.0;
            double left_max =
                h->newest + two > tot->t_last ? (double)(h->newest + two - tot->t_last) / 1e6 : 0.0;
            fprintf(out, "held %.3f s so far; %.1f..%.1f s of 2MSL (%u s) left\n", held_max,
                    left_min, left_max, (unsigned)(two / 1000000u));
            break;
        }
        case TCPW_LAST_ACK: fprintf(out, "final ACK not seen\n"); break;
        default: fprintf(out, "waiting for the peer's FIN for %.3f s\n", held_max); break;
        }
    }
    free(hs);
}

static void conn_block(FILE *out, const tcpw_analyzer *a, const tcpw_an_conn *c) {
    const tcpw_an_config *cfg = tcpw_an_get_config(a);
    const tcpw_an_totals *tot = tcpw_an_get_totals(a);
    char ca[TCPW_EPSTRLEN], sa[TCPW_EPSTRLEN], buf[320];
    tcpw_endpoint_format(&c->ep[0], ca, sizeof ca);
    tcpw_endpoint_format(&c->ep[1], sa, sizeof sa);
    fprintf(out, "\nConnection %u: %s -> %s, frames %u.., %.6f s long\n", c->id, ca, sa,
            c->rec_first, (double)(c->t_last - c->t_first) / 1e6);
    if (c->opened_by == 0)
        fprintf(out, "  opened by the client (SYN in frame %u)\n", c->rec_first);
    else if (c->opened_by == 2)
        fprintf(out, "  simultaneous open: both sides sent a SYN\n");
    else
        fprintf(out, "  opened before the capture began (no SYN seen)\n");
    switch (c->close) {
    case TCPW_AN_CLOSE_NONE: fprintf(out, "  never closed in the capture\n"); break;
    case TCPW_AN_CLOSE_RST:
        fprintf(out, "  reset by the %s (frame %u)%s%s\n", tcpw_an_side_name(c->rst_by),
                c->pkt ? c->pkt[c->rst_pkt].recno : 0,
                c->closed_first_by >= 0 && c->closed_first_by != c->rst_by ? "; the " : "",
                c->closed_first_by >= 0 && c->closed_first_by != c->rst_by
                    ? (c->closed_first_by == 0 ? "client had sent a FIN first"
                                               : "server had sent a FIN first")
                    : "");
        break;
    case TCPW_AN_CLOSE_SIMULTANEOUS:
        fprintf(out, "  simultaneous close: both FINs crossed on the wire\n");
        break;
    case TCPW_AN_CLOSE_HALF:
        if (c->t_second_fin)
            fprintf(out,
                    "  half-close: the %s closed first; the %s sent %" PRIu64
                    " bytes more and closed %.6f s later\n",
                    tcpw_an_side_name(c->closed_first_by),
                    tcpw_an_side_name(1 - c->closed_first_by), c->half_bytes,
                    (double)(c->t_second_fin - c->t_first_fin) / 1e6);
        else
            fprintf(out,
                    "  half-close: the %s closed first; the %s never closed (%" PRIu64
                    " bytes sent after the FIN)\n",
                    tcpw_an_side_name(c->closed_first_by),
                    tcpw_an_side_name(1 - c->closed_first_by), c->half_bytes);
        break;
    default:
        fprintf(out, "  the %s closed first: %s close\n", tcpw_an_side_name(c->closed_first_by),
                tcpw_an_close_name(c->close));
        break;
    }
    for (int s = 0; s < 2; s++) {
        tcpw_an_final_meaning(c, s, cfg, tot->t_last, buf, sizeof buf);
        fprintf(out, "  %s%s\n", buf, c->final_why[s] ? " (inferred)" : "");
    }
    for (int s = 0; s < 2; s++) {
        const tcpw_an_dirstats *d = &c->st[s];
        fprintf(out, "  %s: %" PRIu64 " packets, %" PRIu64 " bytes", tcpw_an_side_name(s),
                d->packets, d->bytes);
        if (d->retrans) fprintf(out, ", %u retransmissions", d->retrans);
        if (d->lost) fprintf(out, " (%u inferred lost)", d->lost);
        if (d->dup_acks) fprintf(out, ", %u dup ACKs", d->dup_acks);
        if (d->ooo) fprintf(out, ", %u out-of-order", d->ooo);
        if (d->gaps) fprintf(out, ", %u gaps", d->gaps);
        if (d->zero_windows) fprintf(out, ", %u zero windows", d->zero_windows);
        if (d->keepalives) fprintf(out, ", %u keep-alives", d->keepalives);
        fputc('\n', out);
    }
    fprintf(out, "  zeek: conn_state %s, history %s\n", c->zeek_state, c->zeek_history);
    for (size_t k = 0; k < c->nanom; k++)
        fprintf(out, "  anomaly %s (%s): %s\n", tcpw_an_rule_name(c->anom[k].rule),
                tcpw_an_rule_ref(c->anom[k].rule), c->anom[k].detail);
}

static bool interesting(const tcpw_an_conn *c) {
    if (c->nanom) return true;
    for (int s = 0; s < 2; s++)
        if (c->final[s] == TCPW_CLOSE_WAIT || c->final[s] == TCPW_LAST_ACK ||
            c->final[s] == TCPW_FIN_WAIT_1 || c->final[s] == TCPW_CLOSING)
            return true;
    return c->close == TCPW_AN_CLOSE_RST;
}

void tcpw_an_report_text(FILE *out, const tcpw_analyzer *a, const tcpw_an_report_opts *o) {
    const tcpw_an_totals *tot = tcpw_an_get_totals(a);
    const tcpw_an_config *cfg = tcpw_an_get_config(a);
    size_t n = tcpw_an_conn_count(a);
    fprintf(out, "%s: %" PRIu64 " records, %" PRIu64 " TCP segments in %zu connection%s",
            o && o->name ? o->name : "capture", tot->records, tot->tcp, n, n == 1 ? "" : "s");
    if (tot->not_tcp) fprintf(out, ", %" PRIu64 " other", tot->not_tcp);
    if (tot->malformed) fprintf(out, ", %" PRIu64 " malformed", tot->malformed);
    fprintf(out, "; TIME_WAIT = 2MSL = %u s\n\n", 2 * cfg->msl_ms / 1000);
    fprintf(out, "%4s  %-24s %-24s %6s  %-6s %-6s %-13s %-13s %-13s %-6s %s\n", "#", "client",
            "server", "pkts", "opened", "closed", "close", "client end", "server end", "zeek",
            "history");
    for (size_t i = 0; i < n; i++) {
        const tcpw_an_conn *c = tcpw_an_conn_get(a, i);
        if (o && o->conn && (long)c->id != o->conn) continue;
        char ca[TCPW_EPSTRLEN], sa[TCPW_EPSTRLEN], f0[20], f1[20];
        tcpw_endpoint_format(&c->ep[0], ca, sizeof ca);
        tcpw_endpoint_format(&c->ep[1], sa, sizeof sa);
        snprintf(f0, sizeof f0, "%s%s", tcpw_state_name(c->final[0]), c->final_why[0] ? "*" : "");
        snprintf(f1, sizeof f1, "%s%s", tcpw_state_name(c->final[1]), c->final_why[1] ? "*" : "");
        fprintf(out, "%4u  %-24s %-24s %6zu  %-6s %-6s %-13s %-13s %-13s %-6s %s\n", c->id, ca, sa,
                c->npkt ? c->npkt : (size_t)(c->st[0].packets + c->st[1].packets), opened_text(c),
                tcpw_an_side_name(c->closed_first_by), tcpw_an_close_name(c->close), f0, f1,
                c->zeek_state, c->zeek_history);
    }
    fprintf(out, "  (* inferred: see the details)\n");
    size_t shown = 0, skipped = 0;
    for (size_t i = 0; i < n; i++) {
        const tcpw_an_conn *c = tcpw_an_conn_get(a, i);
        if (o && o->conn && (long)c->id != o->conn) continue;
        if (n > DETAIL_MAX && !(o && o->conn) && (!interesting(c) || shown >= DETAIL_MAX)) {
            skipped++;
            continue;
        }
        conn_block(out, a, c);
        shown++;
        if (o && o->packets && c->pkt) {
            fputc('\n', out);
            tcpw_an_report_packets(out, a, c, o);
        }
    }
    if (skipped)
        fprintf(out,
                "\n(%zu more connections without anomalies or leaks not detailed: "
                "--conn N for one, --json for all)\n",
                skipped);
    if (!(o && o->conn)) hosts_report(out, a);
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static void json_dirstats(FILE *out, const tcpw_an_dirstats *d) {
    fprintf(out,
            "{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
            ",\"retransmissions\":%u,\"lost\":%u,\"dup_acks\":%u,\"out_of_order\":%u,"
            "\"seq_gaps\":%u,\"zero_windows\":%u,\"keepalives\":%u}",
            d->packets, d->bytes, d->retrans, d->lost, d->dup_acks, d->ooo, d->gaps,
            d->zero_windows, d->keepalives);
}

static void json_packet(FILE *out, const tcpw_an_conn *c, size_t i, bool absolute) {
    const tcpw_an_pkt *p = &c->pkt[i];
    char fl[48], m[160];
    tcpw_an_flags_text(p->flags, fl, sizeof fl);
    fprintf(out, "{\"frame\":%u,\"t\":%.6f,\"dir\":\"%s\",\"flags\":", p->recno, rel_s(c, p->t_us),
            p->side == 0 ? "client>server" : "server>client");
    json_str(out, fl);
    fprintf(out, ",\"seq\":%u,\"ack\":%u,\"len\":%u,\"win\":%u",
            absolute ? p->seq : tcpw_an_rel_seq(c, p), absolute ? p->ack : tcpw_an_rel_ack(c, p),
            p->len, p->win);
    fprintf(out, ",\"state\":{\"client\":\"%s\",\"server\":\"%s\"}", st_name(p->st[0]),
            st_name(p->st[1]));
    fprintf(out, ",\"inferred\":{\"client\":%s,\"server\":%s}", p->why[0] ? "true" : "false",
            p->why[1] ? "true" : "false");
    bool ev = p->why[0] || p->why[1];
    if (ev) {
        fprintf(out, ",\"evidence\":{");
        bool first = true;
        for (int s = 0; s < 2; s++)
            if (p->why[s]) {
                fprintf(out, "%s\"%s\":", first ? "" : ",", tcpw_an_side_name(s));
                json_str(out, tcpw_an_why_text((tcpw_an_why)p->why[s]));
                first = false;
            }
        fputc('}', out);
    }
    if (p->evidence && p->evidence <= c->npkt)
        fprintf(out, ",\"evidence_frame\":%u", c->pkt[p->evidence - 1].recno);
    fprintf(out, ",\"lost\":%s", (p->marks & TCPW_AN_LOST) ? "true" : "false");
    marks_text(p->marks & (uint16_t)~TCPW_AN_LOST, m, sizeof m);
    fprintf(out, ",\"marks\":[");
    /* split marks_text's list back into JSON strings */
    const char *s = m;
    bool first = true;
    while (*s) {
        const char *e = strstr(s, ", ");
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char one[64];
        snprintf(one, sizeof one, "%.*s", (int)len, s);
        if (!first) fputc(',', out);
        json_str(out, one);
        first = false;
        s += len + (e ? 2 : 0);
    }
    fputc(']', out);
    fputc('}', out);
}

void tcpw_an_report_json(FILE *out, const tcpw_analyzer *a, const tcpw_an_report_opts *o) {
    const tcpw_an_config *cfg = tcpw_an_get_config(a);
    const tcpw_an_totals *tot = tcpw_an_get_totals(a);
    for (size_t i = 0; i < tcpw_an_conn_count(a); i++) {
        const tcpw_an_conn *c = tcpw_an_conn_get(a, i);
        if (o && o->conn && (long)c->id != o->conn) continue;
        char ca[TCPW_EPSTRLEN], sa[TCPW_EPSTRLEN], buf[320];
        tcpw_endpoint_format(&c->ep[0], ca, sizeof ca);
        tcpw_endpoint_format(&c->ep[1], sa, sizeof sa);
        fprintf(out, "{\"id\":%u,\"client\":\"%s\",\"server\":\"%s\"", c->id, ca, sa);
        fprintf(out, ",\"first_frame\":%u,\"start\":%.6f,\"duration\":%.6f", c->rec_first,
                (double)c->t_first / 1e6, (double)(c->t_last - c->t_first) / 1e6);
        fprintf(out, ",\"opened_by\":\"%s\"",
                c->opened_by == 0   ? "client"
                : c->opened_by == 2 ? "both"
                                    : "unknown");
        fprintf(out, ",\"closed_first_by\":\"%s\",\"close_pattern\":\"%s\"",
                tcpw_an_side_name(c->closed_first_by), tcpw_an_close_name(c->close));
        if (c->close == TCPW_AN_CLOSE_HALF)
            fprintf(out,
                    ",\"half_close\":{\"bytes_after_first_fin\":%" PRIu64
                    ",\"duration\":%s%.6f,\"completed\":%s}",
                    c->half_bytes, "",
                    c->t_second_fin ? (double)(c->t_second_fin - c->t_first_fin) / 1e6
                                    : (double)(tot->t_last - c->t_first_fin) / 1e6,
                    c->t_second_fin ? "true" : "false");
        if (c->close == TCPW_AN_CLOSE_RST)
            fprintf(out, ",\"rst_by\":\"%s\"", tcpw_an_side_name(c->rst_by));
        fprintf(out, ",\"final_state\":{\"client\":\"%s\",\"server\":\"%s\"}",
                tcpw_state_name(c->final[0]), tcpw_state_name(c->final[1]));
        fprintf(out, ",\"final_state_inferred\":{\"client\":%s,\"server\":%s}",
                c->final_why[0] ? "true" : "false", c->final_why[1] ? "true" : "false");
        fprintf(out, ",\"final_meaning\":{");
        for (int s = 0; s < 2; s++) {
            tcpw_an_final_meaning(c, s, cfg, tot->t_last, buf, sizeof buf);
            fprintf(out, "%s\"%s\":", s ? "," : "", tcpw_an_side_name(s));
            json_str(out, buf);
        }
        fputc('}', out);
        fprintf(out, ",\"stats\":{\"client\":");
        json_dirstats(out, &c->st[0]);
        fprintf(out, ",\"server\":");
        json_dirstats(out, &c->st[1]);
        fputc('}', out);
        fprintf(out, ",\"zeek_conn_state\":\"%s\",\"zeek_history\":", c->zeek_state);
        json_str(out, c->zeek_history);
        fprintf(out, ",\"anomalies\":[");
        for (size_t k = 0; k < c->nanom; k++) {
            /* a rule name once, however many times it fired */
            bool dup = false;
            for (size_t j = 0; j < k; j++)
                if (c->anom[j].rule == c->anom[k].rule) dup = true;
            if (dup) continue;
            fprintf(out, "%s\"%s\"", k ? "," : "", tcpw_an_rule_name(c->anom[k].rule));
        }
        fprintf(out, "],\"anomaly_details\":[");
        for (size_t k = 0; k < c->nanom; k++) {
            const tcpw_an_anomaly *an = &c->anom[k];
            fprintf(out, "%s{\"rule\":\"%s\",\"ref\":", k ? "," : "", tcpw_an_rule_name(an->rule));
            json_str(out, tcpw_an_rule_ref(an->rule));
            fprintf(out, ",\"by\":\"%s\",\"frame\":%u,\"detail\":", tcpw_an_side_name(an->side),
                    c->pkt ? c->pkt[an->pkt].recno : 0);
            json_str(out, an->detail);
            fputc('}', out);
        }
        fputc(']', out);
        if (o && o->packets && c->pkt) {
            fprintf(out, ",\"packets\":[");
            for (size_t k = 0; k < c->npkt; k++) {
                if (k) fputc(',', out);
                json_packet(out, c, k, o->absolute);
            }
            fputc(']', out);
        }
        fprintf(out, "}\n");
    }
}

/* ---- the recording for the ladder ---------------------------------------------------------- */

typedef struct rec_item {
    uint64_t t;
    int sub; /* 0: a state change its own send caused, 1: the segment, 2: other changes */
    size_t order;
    bool seg;
    size_t idx;
} rec_item;

static int item_cmp(const void *x, const void *y) {
    const rec_item *a = x, *b = y;
    if (a->t != b->t) return a->t < b->t ? -1 : 1;
    if (a->sub != b->sub) return a->sub - b->sub;
    return a->order < b->order ? -1 : a->order > b->order;
}

static const char *user_call_text(const tcpw_an_conn *c, const tcpw_an_trans *t) {
    if (t->pkt == UINT32_MAX || !c->pkt) return "";
    uint8_t fl = c->pkt[t->pkt].flags;
    if (fl & TCPW_RST) return "abort()/close()";
    if (fl & TCPW_SYN) return "connect()";
    if (fl & TCPW_FIN) return "close()/shutdown()";
    return "";
}

int tcpw_an_conn_recording(const tcpw_an_conn *c, tcpw_recording *r) {
    if (!c->pkt) return 0;
    for (int s = 0; s < 2; s++) {
        r->ep[s] = c->ep[s];
        r->isn[s] = c->base[s];
        r->isn_known[s] = c->base_known[s];
    }
    size_t n = c->npkt + c->ntrans;
    rec_item *it = calloc(n ? n : 1, sizeof *it);
    if (!it) return TCPW_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < c->npkt; i++)
        it[k++] = (rec_item){.t = c->pkt[i].t_us, .sub = 1, .order = k, .seg = true, .idx = i};
    for (size_t i = 0; i < c->ntrans; i++) {
        const tcpw_an_trans *t = &c->trans[i];
        bool own = t->cause == TCPW_CAUSE_USER && t->pkt != UINT32_MAX;
        uint64_t tt = own ? c->pkt[t->pkt].t_us : t->t_us;
        it[k++] = (rec_item){.t = tt, .sub = own ? 0 : 2, .order = k, .seg = false, .idx = i};
    }
    qsort(it, k, sizeof *it, item_cmp);
    int rc = 0;
    for (size_t j = 0; j < k && !rc; j++) {
        tcpw_rec_event e;
        memset(&e, 0, sizeof e);
        if (it[j].seg) {
            const tcpw_an_pkt *p = &c->pkt[it[j].idx];
            e.kind = TCPW_REC_SEG;
            e.t_us = p->t_us - c->t_first;
            e.side = p->side;
            e.peer = 1 - p->side;
            e.arrive_us = e.t_us + c->lag_us[1 - p->side];
            e.fate = (p->marks & TCPW_AN_LOST) ? TCPW_FATE_DROPPED : TCPW_FATE_DELIVERED;
            e.flags = p->flags;
            e.seq = p->seq;
            e.ack = p->ack;
            e.len = p->len;
            e.win = p->win;
            e.inferred = (p->marks & TCPW_AN_LOST) != 0;
        } else {
            const tcpw_an_trans *t = &c->trans[it[j].idx];
            e.kind = TCPW_REC_STATE;
            e.t_us = it[j].t - c->t_first;
            e.side = t->side;
            e.peer = 1 - t->side;
            e.from = (tcpw_state)t->from;
            e.to = (tcpw_state)t->to;
            e.cause = (tcpw_cause)t->cause;
            if (t->pkt != UINT32_MAX) {
                const tcpw_an_pkt *p = &c->pkt[t->pkt];
                e.cause_seg.flags = p->flags;
                e.cause_seg.seq = p->seq;
                e.cause_seg.ack = p->ack;
                e.cause_seg.len = p->len;
                e.cause_seg.win = p->win;
            }
            e.inferred = t->why != TCPW_AN_WHY_NONE;
            if (e.inferred)
                snprintf(e.what, sizeof e.what, "%s", tcpw_an_why_text((tcpw_an_why)t->why));
            else if (t->cause == TCPW_CAUSE_USER)
                snprintf(e.what, sizeof e.what, "%s", user_call_text(c, t));
            else if (t->cause == TCPW_CAUSE_TIMER)
                snprintf(e.what, sizeof e.what, "2msl");
        }
        if (!tcpw_rec_add(r, &e)) rc = TCPW_ENOMEM;
    }
    free(it);
    return rc;
}
