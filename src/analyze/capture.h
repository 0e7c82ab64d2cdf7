/* capture.h — reading pcap and pcapng captures (file or stdin) into an analyzer through
 * libpcap, with an optional BPF filter, and the outcome classified into the exit codes of
 * `tcpwave analyze` (docs/analyze.md).
 */
#ifndef TCPW_AN_CAPTURE_H
#define TCPW_AN_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze/analyze.h"

/* Exit codes of `tcpwave analyze`, also the status of a read. */
enum {
    TCPW_AN_EXIT_OK = 0,      /* analysis complete */
    TCPW_AN_EXIT_DAMAGED = 1, /* analysis done on what was readable: the capture is damaged
                                 (truncated record, malformed packet) */
    TCPW_AN_EXIT_USAGE = 2,   /* bad command line (including a BPF filter that does not compile) */
    TCPW_AN_EXIT_UNREADABLE = 3, /* cannot open, empty, not a pcap/pcapng capture, or an
                                    unsupported link type */
    TCPW_AN_EXIT_NO_TCP = 4,     /* a readable capture with no TCP segment in it */
};

typedef struct tcpw_an_read_result {
    int status;          /* TCPW_AN_EXIT_* */
    char message[512];   /* what went wrong (empty when nothing did) */
    uint32_t bad_record; /* the record that stopped the reading, 0 when none */
    uint64_t bad_offset; /* its byte offset in the file, when known */
    int linktype;        /* DLT_* of the capture */
    const char *linktype_name;
    uint64_t records;     /* records read (before any filter) */
    uint64_t matched;     /* records the filter let through */
    uint64_t bytes_total; /* file size, 0 when unknown (stdin, pipe) */
} tcpw_an_read_result;

/* Called about every 64k records with the bytes read so far (0 when unknown). */
typedef void (*tcpw_an_progress_fn)(void *arg, uint64_t bytes_done, uint64_t bytes_total,
                                    uint64_t records);

/* Reads the capture at path ("-" for stdin) into a, keeping the records filter (a BPF
 * expression, NULL or "" for all) matches. Does not call tcpw_an_finish(). Returns
 * res->status. Malformed packets are skipped and named in res->message (the first one);
 * a damaged record ends the reading there. */
int tcpw_an_read_file(tcpw_analyzer *a, const char *path, const char *filter,
                      tcpw_an_progress_fn progress, void *progress_arg, tcpw_an_read_result *res);

/* The same from a memory buffer holding a whole capture file (used by the tests). */
int tcpw_an_read_mem(tcpw_analyzer *a, const uint8_t *buf, size_t len, const char *filter,
                     tcpw_an_read_result *res);

#endif
