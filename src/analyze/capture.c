/* capture.c — libpcap to the analyzer: opens a pcap/pcapng file (or stdin), compiles the BPF
 * filter and applies it record by record (pcap_offline_filter, so that record numbers stay
 * those of the file, as Wireshark numbers frames), feeds every matching frame to
 * tcpw_an_add_frame(), and turns whatever goes wrong into a message naming the record and
 * an exit code (capture.h).
 */
#define _DEFAULT_SOURCE /* fmemopen, and the BSD types pcap.h needs */
#include "analyze/capture.h"

#include "analyze/linklayer.h"

#include <errno.h>
#include <stdarg.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define PROGRESS_EVERY 65536u

__attribute__((format(printf, 3, 4))) static void set_msg(tcpw_an_read_result *res, int status,
                                                          const char *fmt, ...) {
    res->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof res->message, fmt, ap);
    va_end(ap);
}

/* What libpcap's open error means for a user. */
static void open_error(tcpw_an_read_result *res, const char *name, const char *err) {
    if (strstr(err, "unknown file format") || strstr(err, "bad dump file format") ||
        strstr(err, "unsupported"))
        set_msg(res, TCPW_AN_EXIT_UNREADABLE, "%s: not a pcap or pcapng capture (%s)", name, err);
    else if (strstr(err, "truncated") || strstr(err, "short"))
        set_msg(res, TCPW_AN_EXIT_UNREADABLE,
                "%s: the file ends inside the capture file header: not a complete capture (%s)",
                name, err);
    else
        set_msg(res, TCPW_AN_EXIT_UNREADABLE, "%s: %s", name, err);
}

static int read_all(tcpw_analyzer *a, pcap_t *p, const char *name, const char *filter,
                    tcpw_an_progress_fn progress, void *arg, tcpw_an_read_result *res) {
    res->linktype = pcap_datalink(p);
    res->linktype_name = pcap_datalink_val_to_name(res->linktype);
    if (!res->linktype_name) res->linktype_name = "unknown";
    struct bpf_program prog;
    bool have_prog = false;
    if (filter && *filter) {
        if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            set_msg(res, TCPW_AN_EXIT_USAGE, "bad filter '%s': %s", filter, pcap_geterr(p));
            return res->status;
        }
        have_prog = true;
    }
    FILE *f = pcap_file(p);
    /* an unsupported link type is named once the capture turns out to hold records */
    bool link_ok = tcpw_an_link_supported(res->linktype);
    const char *first_bad_why = NULL;
    uint32_t first_bad_rec = 0;
    for (;;) {
        struct pcap_pkthdr *h;
        const u_char *data;
        int rc = pcap_next_ex(p, &h, &data);
        if (rc == PCAP_ERROR_BREAK) break; /* end of file */
        if (rc != 1) {
            long off = f ? ftell(f) : -1; /* where the reading stopped, inside the record */
            char num[32];
            res->bad_record = (uint32_t)(res->records + 1);
            res->bad_offset = off >= 0 ? (uint64_t)off : 0;
            snprintf(num, sizeof num, "%u", res->bad_record);
            char where[64] = "";
            if (off >= 0) snprintf(where, sizeof where, " (reading stopped at byte %ld)", off);
            res->status = TCPW_AN_EXIT_DAMAGED;
            snprintf(res->message, sizeof res->message,
                     "%s: record %s%s is damaged: %s; analysed the %llu records before it", name,
                     num, where, pcap_geterr(p), (unsigned long long)res->records);
            break;
        }
        res->records++;
        if (progress && res->records % PROGRESS_EVERY == 0) {
            long off = f ? ftell(f) : -1;
            progress(arg, off >= 0 ? (uint64_t)off : 0, res->bytes_total, res->records);
        }
        if (have_prog && !pcap_offline_filter(&prog, h, data)) continue;
        res->matched++;
        if (!link_ok) continue;
        uint64_t t = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        const char *why = NULL;
        tcpw_an_add_status st = tcpw_an_add_frame(a, res->linktype, data, h->caplen, h->len, t,
                                                  (uint32_t)res->records, &why);
        if (st == TCPW_AN_NOMEM) {
            set_msg(res, TCPW_AN_EXIT_UNREADABLE, "%s: out of memory", name);
            break;
        }
        if (st == TCPW_AN_MALFORMED && !first_bad_rec) {
            first_bad_rec = (uint32_t)res->records;
            first_bad_why = why;
        }
    }
    if (have_prog) pcap_freecode(&prog);
    if (res->status != TCPW_AN_EXIT_OK) return res->status;
    if (!link_ok && res->matched) {
        set_msg(res, TCPW_AN_EXIT_UNREADABLE, "%s: link type %d (%s) is not supported", name,
                res->linktype, res->linktype_name);
        return res->status;
    }
    if (first_bad_rec) {
        const tcpw_an_totals *tot = tcpw_an_get_totals(a);
        res->status = TCPW_AN_EXIT_DAMAGED;
        res->bad_record = first_bad_rec;
        snprintf(res->message, sizeof res->message, "%s: record %u: malformed TCP/IP header (%s)%s",
                 name, first_bad_rec, first_bad_why ? first_bad_why : "?",
                 tot->malformed > 1 ? "; more malformed records follow" : "");
    }
    if (tcpw_an_get_totals(a)->tcp == 0 && res->status == TCPW_AN_EXIT_OK) {
        set_msg(res, TCPW_AN_EXIT_NO_TCP, "%s: no TCP segment among its %llu records%s", name,
                (unsigned long long)res->matched,
                filter && *filter ? " that match the filter" : "");
    }
    return res->status;
}

int tcpw_an_read_file(tcpw_analyzer *a, const char *path, const char *filter,
                      tcpw_an_progress_fn progress, void *progress_arg, tcpw_an_read_result *res) {
    memset(res, 0, sizeof *res);
    const char *name = path && strcmp(path, "-") ? path : "<stdin>";
    if (!path) path = "-";
    if (strcmp(path, "-") != 0) {
        struct stat sb;
        if (stat(path, &sb) != 0) {
            set_msg(res, TCPW_AN_EXIT_UNREADABLE, "%s: %s", name, strerror(errno));
            return res->status;
        }
        if (S_ISDIR(sb.st_mode)) {
            set_msg(res, TCPW_AN_EXIT_UNREADABLE, "%s: is a directory", name);
            return res->status;
        }
        if (S_ISREG(sb.st_mode)) {
            if (sb.st_size == 0) {
                set_msg(res, TCPW_AN_EXIT_UNREADABLE, "%s: empty file (0 bytes): not a capture",
                        name);
                return res->status;
            }
            res->bytes_total = (uint64_t)sb.st_size;
        }
    }
    char err[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, err);
    if (!p) {
        if (!strcmp(path, "-") && strstr(err, "only got 0"))
            set_msg(res, TCPW_AN_EXIT_UNREADABLE, "%s: empty input: not a capture", name);
        else
            open_error(res, name, err);
        return res->status;
    }
    read_all(a, p, name, filter, progress, progress_arg, res);
    pcap_close(p);
    return res->status;
}

int tcpw_an_read_mem(tcpw_analyzer *a, const uint8_t *buf, size_t len, const char *filter,
                     tcpw_an_read_result *res) {
    memset(res, 0, sizeof *res);
    if (len == 0) {
        set_msg(res, TCPW_AN_EXIT_UNREADABLE, "%s: empty input: not a capture", "<memory>");
        return res->status;
    }
    FILE *f = fmemopen((void *)buf, len, "rb");
    if (!f) {
        set_msg(res, TCPW_AN_EXIT_UNREADABLE, "%s: %s", "<memory>", strerror(errno));
        return res->status;
    }
    res->bytes_total = len;
    char err[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, err);
    if (!p) {
        fclose(f);
        open_error(res, "<memory>", err);
        return res->status;
    }
    read_all(a, p, "<memory>", filter, NULL, NULL, res);
    pcap_close(p); /* closes f */
    return res->status;
}
