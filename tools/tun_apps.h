/* tun_apps.h — the applications `tcpwave tun` runs on the tcpwave API: an HTTP/1.1 file
 * server good enough for curl, an echo server, a discard server, a send-a-file server, and a
 * client (send a file, then half-close, close first, abort, or wait for the server's close).
 *
 * They are ordinary users of include/tcpwave/tcpwave.h: they react to tcpw_poll_event(),
 * call tcpw_recv/send/shutdown/close/abort, and report what they saw (data, EOF, reset...)
 * to the trace recorder as TCPW_REC_APP events.
 *
 * Who closes first, as the seeds' four-way close needs it:
 *   http, send       tcpwave closes first once the file is sent (FIN_WAIT_1 -> ... TIME_WAIT)
 *   echo, discard    the kernel closes first; tcpwave closes when it has read the EOF (and
 *                    echoed everything): CLOSE_WAIT -> LAST_ACK -> CLOSED
 *   client           by default waits for the server's EOF, then closes (passive close);
 *                    shutdown_after_send half-closes after the file (and reads on);
 *                    close_first closes once the file is sent (and expect_bytes read);
 *                    abort resets at that point instead.
 */
#ifndef TCPW_TOOLS_TUN_APPS_H
#define TCPW_TOOLS_TUN_APPS_H

#include <stdbool.h>
#include <stdint.h>

#include "tcpwave/tcpwave.h"
#include "tun/tun.h"
#include "tun/tun_trace.h"

typedef enum tun_server_kind {
    TUN_SERVE_NONE,
    TUN_SERVE_ECHO,
    TUN_SERVE_HTTP,
    TUN_SERVE_DISCARD,
    TUN_SERVE_SEND,
} tun_server_kind;

typedef struct tun_apps_config {
    tcpw_tun *tun;         /* the driver (its stack and clock) */
    tcpw_tun_trace *trace; /* may be NULL */
    bool quiet;            /* no per-connection summary on stderr */

    /* server */
    tun_server_kind server;
    const char *http_dir;  /* TUN_SERVE_HTTP */
    const char *send_path; /* TUN_SERVE_SEND, and the client's file */

    /* client */
    bool shutdown_after_send, close_first, abort_after_send;
    const char *out_path;  /* received bytes go here (the last connection's) */
    bool check_echo;       /* what comes back must be what was sent */
    uint64_t expect_bytes; /* nonzero: every connection must receive exactly this much
                              before the peer's EOF; close_first / abort: read this much first */
    bool expect_reset;     /* a reset is the expected end (success) */
} tun_apps_config;

typedef struct tun_apps tun_apps;

/* NULL with a message in err when a file cannot be opened or memory runs out. */
tun_apps *tun_apps_new(const tun_apps_config *cfg, char *err, size_t errlen);
void tun_apps_free(tun_apps *a);

/* Serves on `port` (every address of tcpwave). 0 or a TCPW_E* error. */
int tun_apps_listen(tun_apps *a, uint16_t port);
/* Stops accepting: closes the listener. */
void tun_apps_stop_listening(tun_apps *a);
/* Starts one client connection from `local` (port 0: ephemeral) to `remote`. 0 or TCPW_E*. */
int tun_apps_connect(tun_apps *a, const tcpw_endpoint *local, const tcpw_endpoint *remote);

/* Handles every pending event of the stack. Call after each driver round. */
void tun_apps_poll(tun_apps *a);
/* Feed of the engine's trace (the apps learn when a connection they closed is over). */
void tun_apps_engine_trace(tun_apps *a, const tcpw_trace *ev);

/* Connections whose application side is finished and whose engine side reached CLOSED or
 * TIME_WAIT; of which failed (reset, refused, timed out, wrong data — unless expected). */
uint64_t tun_apps_completed(const tun_apps *a);
uint64_t tun_apps_failed(const tun_apps *a);
/* Connections started (accepted or connected) and not yet completed. */
uint64_t tun_apps_active(const tun_apps *a);

#endif
