/* tun_apps.c — the servers and the client `tcpwave tun` runs on the tcpwave API (see
 * tun_apps.h).
 */
#include "tun_apps.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/wire.h"
#include "util/addr.h"

#define SCRATCH     (64 * 1024)
#define REQ_MAX     8192
#define RECV_BUDGET (4u << 20) /* bytes read per connection per round, for fairness */

typedef struct app_conn {
    struct app_conn *next;
    tcpw_conn *c; /* NULL once the handle is given up */
    uint64_t number;
    bool client;
    tun_server_kind kind;
    tcpw_endpoint local, remote;
    uint64_t t_start, t_end; /* connected; EOF read or our close (throughput) */

    /* what goes out: a header, then a file */
    char hdr[512];
    size_t hdr_len, hdr_off;
    int fd;
    uint64_t off, size;
    bool sending, send_done;

    /* what comes in */
    uint64_t received, sent;
    bool eof;
    char req[REQ_MAX];
    size_t req_len;
    bool req_done;
    char req_line[128];
    int status;    /* HTTP status sent */
    uint8_t *pend; /* echo: received, not yet accepted by tcpw_send */
    size_t pend_len, pend_off;
    int out_fd;

    /* the end */
    bool engine_over;
    tcpw_state end_state;
    bool reset, refused, timeout, mismatch, finished_app, closed_pending;
    char problem[128];
} app_conn;

struct tun_apps {
    tun_apps_config cfg;
    tcpw_stack *s;
    tcpw_conn *listener;
    app_conn *conns;
    uint64_t started, completed, failed, active;
    int send_fd; /* the client's / send server's file */
    uint64_t send_size;
    uint8_t scratch[SCRATCH];
    uint8_t check[SCRATCH];
};

static uint64_t now(tun_apps *a) {
    return tcpw_tun_now(a->cfg.tun);
}

static void app_event(tun_apps *a, app_conn *ac, tcpw_app_what what, uint64_t bytes) {
    if (a->cfg.trace)
        tcpw_tun_trace_app(a->cfg.trace, &ac->local, &ac->remote, what, bytes, now(a));
}

tun_apps *tun_apps_new(const tun_apps_config *cfg, char *err, size_t errlen) {
    tun_apps *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->cfg = *cfg;
    a->s = tcpw_tun_stack(cfg->tun);
    a->send_fd = -1;
    if (cfg->send_path) {
        a->send_fd = open(cfg->send_path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (a->send_fd < 0 || fstat(a->send_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            snprintf(err, errlen, "cannot read %s: %s", cfg->send_path,
                     a->send_fd < 0 ? strerror(errno) : "not a regular file");
            tun_apps_free(a);
            return NULL;
        }
        a->send_size = (uint64_t)st.st_size;
    }
    if (cfg->server == TUN_SERVE_HTTP) {
        struct stat st;
        if (!cfg->http_dir || stat(cfg->http_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "--http: %s is not a directory",
                     cfg->http_dir ? cfg->http_dir : "(none)");
            tun_apps_free(a);
            return NULL;
        }
    }
    return a;
}

static void conn_free(app_conn *ac) {
    if (ac->fd >= 0) close(ac->fd);
    if (ac->out_fd >= 0) close(ac->out_fd);
    free(ac->pend);
    free(ac);
}

void tun_apps_free(tun_apps *a) {
    if (!a) return;
    while (a->conns) {
        app_conn *ac = a->conns;
        a->conns = ac->next;
        conn_free(ac);
    }
    if (a->send_fd >= 0) close(a->send_fd);
    free(a);
}

uint64_t tun_apps_completed(const tun_apps *a) {
    return a->completed;
}
uint64_t tun_apps_failed(const tun_apps *a) {
    return a->failed;
}
uint64_t tun_apps_active(const tun_apps *a) {
    return a->active;
}

/* ---- connections ----------------------------------------------------------------------------- */

static app_conn *conn_new(tun_apps *a, tcpw_conn *c, bool client) {
    app_conn *ac = calloc(1, sizeof *ac);
    if (!ac) return NULL;
    ac->c = c;
    ac->client = client;
    ac->kind = client ? TUN_SERVE_NONE : a->cfg.server;
    ac->fd = -1;
    ac->out_fd = -1;
    ac->number = ++a->started;
    ac->t_start = now(a);
    tcpw_conn_info info;
    tcpw_status(c, &info);
    ac->local = info.local;
    ac->remote = info.remote;
    ac->next = a->conns;
    a->conns = ac;
    a->active++;
    tcpw_set_userdata(c, ac);
    return ac;
}

static const char *kind_name(const app_conn *ac) {
    if (ac->client) return "client";
    switch (ac->kind) {
    case TUN_SERVE_ECHO: return "echo";
    case TUN_SERVE_HTTP: return "http";
    case TUN_SERVE_DISCARD: return "discard";
    case TUN_SERVE_SEND: return "send";
    case TUN_SERVE_NONE: break;
    }
    return "-";
}

static bool conn_failed(const tun_apps *a, const app_conn *ac) {
    if (ac->mismatch || ac->refused || ac->timeout) return true;
    if (a->cfg.expect_reset) return !ac->reset;
    return ac->reset;
}

/* A connection is complete when its application gave up the handle and the engine is done
 * with it (CLOSED, or TIME_WAIT which the engine finishes on its own). */
static void maybe_complete(tun_apps *a, app_conn *ac) {
    if (ac->c || !ac->engine_over) return;
    bool failed = conn_failed(a, ac);
    a->completed++;
    a->active--;
    if (failed) a->failed++;
    if (!a->cfg.quiet || failed) {
        char l[TCPW_EPSTRLEN], r[TCPW_EPSTRLEN], extra[200] = "";
        tcpw_endpoint_format(&ac->local, l, sizeof l);
        tcpw_endpoint_format(&ac->remote, r, sizeof r);
        if (ac->kind == TUN_SERVE_HTTP && ac->req_line[0])
            snprintf(extra, sizeof extra, ", \"%s\" %d", ac->req_line, ac->status);
        if (a->cfg.check_echo && ac->client && !ac->mismatch && !ac->reset)
            snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", echo check ok");
        if (ac->problem[0])
            snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", %s", ac->problem);
        uint64_t bytes = ac->sent > ac->received ? ac->sent : ac->received;
        uint64_t us = ac->t_end > ac->t_start ? ac->t_end - ac->t_start : 1;
        if (bytes >= (1u << 20))
            snprintf(extra + strlen(extra), sizeof extra - strlen(extra),
                     ", %.3f s from connected to the peer's FIN or ours (%.1f MB/s)",
                     (double)us / 1e6, (double)bytes / (double)us);
        fprintf(stderr,
                "tcpwave: connection %" PRIu64 " (%s %s %s %s): sent %" PRIu64
                " B, received %" PRIu64 " B%s; tcpwave ended in %s%s\n",
                ac->number, kind_name(ac), l, ac->client ? "->" : "<-", r, ac->sent, ac->received,
                extra, tcpw_state_name(ac->end_state), failed ? " — FAILED" : "");
    }
    app_conn **pp = &a->conns;
    while (*pp != ac)
        pp = &(*pp)->next;
    *pp = ac->next;
    conn_free(ac);
}

/* The application gives up the handle: close (FIN, or RST with unread data) or abort. */
static void give_up(tun_apps *a, app_conn *ac, bool abort_it) {
    if (!ac->c) return;
    if (!ac->t_end) ac->t_end = now(a);
    if (abort_it)
        tcpw_abort(ac->c, now(a));
    else
        tcpw_close(ac->c, now(a));
    ac->c = NULL;
    ac->finished_app = true;
    maybe_complete(a, ac);
}

void tun_apps_engine_trace(tun_apps *a, const tcpw_trace *ev) {
    if (ev->kind != TCPW_TRACE_STATE || (ev->to != TCPW_CLOSED && ev->to != TCPW_TIME_WAIT)) return;
    for (app_conn *ac = a->conns; ac; ac = ac->next) {
        if (!ac->engine_over && tcpw_endpoint_equal(&ac->local, &ev->local) &&
            tcpw_endpoint_equal(&ac->remote, &ev->remote)) {
            ac->engine_over = true;
            ac->end_state = ev->to;
            /* completed later, from tun_apps_poll: the engine is in the middle of a call */
            return;
        }
    }
}

/* ---- sending --------------------------------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static void fail_note(app_conn *ac, const char *fmt, ...);
static void fail_note(app_conn *ac, const char *fmt, ...) {
    if (ac->problem[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ac->problem, sizeof ac->problem, fmt, ap);
    va_end(ap);
}

/* Moves what it can into the send buffer; returns whether anything moved. */
static bool pump_send(tun_apps *a, app_conn *ac) {
    bool moved = false;
    /* echo: what was received goes back */
    while (ac->c && ac->pend_len > ac->pend_off) {
        ptrdiff_t n =
            tcpw_send(ac->c, ac->pend + ac->pend_off, ac->pend_len - ac->pend_off, now(a));
        if (n <= 0) break;
        ac->pend_off += (size_t)n;
        ac->sent += (uint64_t)n;
        moved = true;
    }
    if (ac->pend_off == ac->pend_len) ac->pend_off = ac->pend_len = 0;
    if (!ac->sending || ac->send_done) return moved;
    while (ac->c && ac->hdr_off < ac->hdr_len) {
        ptrdiff_t n = tcpw_send(ac->c, ac->hdr + ac->hdr_off, ac->hdr_len - ac->hdr_off, now(a));
        if (n <= 0) return moved;
        ac->hdr_off += (size_t)n;
        ac->sent += (uint64_t)n;
        moved = true;
    }
    while (ac->c && ac->off < ac->size) {
        uint64_t want = ac->size - ac->off;
        if (want > SCRATCH) want = SCRATCH;
        ssize_t r = pread(ac->fd, a->scratch, (size_t)want, (off_t)ac->off);
        if (r <= 0) {
            fail_note(ac, "file read failed");
            ac->size = ac->off; /* send what we have */
            break;
        }
        ptrdiff_t n = tcpw_send(ac->c, a->scratch, (size_t)r, now(a));
        if (n <= 0) return moved;
        ac->off += (uint64_t)n;
        ac->sent += (uint64_t)n;
        moved = true;
    }
    if (ac->c && ac->off >= ac->size && ac->hdr_off >= ac->hdr_len) {
        ac->send_done = true;
        moved = true;
    }
    return moved;
}

static void start_sending_file(app_conn *ac, int fd, uint64_t size) {
    ac->fd = fd;
    ac->off = 0;
    ac->size = size;
    ac->sending = true;
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

static void http_respond(tun_apps *a, app_conn *ac, int status, const char *reason, int fd,
                         uint64_t size, bool head) {
    ac->status = status;
    if (fd >= 0) {
        ac->hdr_len =
            (size_t)snprintf(ac->hdr, sizeof ac->hdr,
                             "HTTP/1.1 %d %s\r\nServer: tcpwave\r\nContent-Length: %" PRIu64
                             "\r\nContent-Type: application/octet-stream\r\n"
                             "Connection: close\r\n\r\n",
                             status, reason, size);
        if (head) {
            close(fd);
            fd = -1;
            size = 0;
        }
    } else {
        /* a one-line text body; HEAD gets the same header without it */
        int n = snprintf(ac->hdr, sizeof ac->hdr,
                         "HTTP/1.1 %d %s\r\nServer: tcpwave\r\nContent-Length: %zu\r\n"
                         "Content-Type: text/plain\r\nConnection: close\r\n\r\n",
                         status, reason, strlen(reason) + 1);
        if (n > 0 && !head && (size_t)n < sizeof ac->hdr)
            n += snprintf(ac->hdr + n, sizeof ac->hdr - (size_t)n, "%s\n", reason);
        ac->hdr_len = n > 0 && (size_t)n < sizeof ac->hdr ? (size_t)n : 0;
    }
    ac->hdr_off = 0;
    start_sending_file(ac, fd, size);
    (void)a;
}

/* Parses "GET /path HTTP/1.x" and answers it from the directory. */
static void http_request(tun_apps *a, app_conn *ac) {
    char method[16], target[1024], version[16];
    char *eol = strstr(ac->req, "\r\n");
    if (eol) *eol = '\0';
    size_t rl = strlen(ac->req);
    if (rl >= sizeof ac->req_line) rl = sizeof ac->req_line - 1;
    memcpy(ac->req_line, ac->req, rl);
    ac->req_line[rl] = '\0';
    if (sscanf(ac->req, "%15s %1023s %15s", method, target, version) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0) {
        http_respond(a, ac, 400, "Bad Request", -1, 0, false);
        return;
    }
    bool head = !strcmp(method, "HEAD");
    if (strcmp(method, "GET") && !head) {
        http_respond(a, ac, 405, "Method Not Allowed", -1, 0, false);
        return;
    }
    char *q = strpbrk(target, "?#");
    if (q) *q = '\0';
    if (target[0] != '/' || strstr(target, "..")) {
        http_respond(a, ac, 404, "Not Found", -1, 0, head);
        return;
    }
    char path[2048];
    snprintf(path, sizeof path, "%s%s%s", a->cfg.http_dir, target,
             target[strlen(target) - 1] == '/' ? "index.html" : "");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        http_respond(a, ac, 404, "Not Found", -1, 0, head);
        return;
    }
    http_respond(a, ac, 200, "OK", fd, (uint64_t)st.st_size, head);
}

/* ---- receiving ------------------------------------------------------------------------------- */

static void take_data(tun_apps *a, app_conn *ac, const uint8_t *d, size_t n) {
    uint64_t at = ac->received;
    ac->received += n;
    switch (ac->kind) {
    case TUN_SERVE_ECHO: {
        if (!ac->pend) ac->pend = malloc(SCRATCH);
        if (!ac->pend) break;
        memcpy(ac->pend, d, n); /* pend is empty whenever we read (see pump_recv) */
        ac->pend_len = n;
        ac->pend_off = 0;
        break;
    }
    case TUN_SERVE_HTTP:
        if (!ac->req_done) {
            size_t room = REQ_MAX - 1 - ac->req_len, k = n < room ? n : room;
            memcpy(ac->req + ac->req_len, d, k);
            ac->req_len += k;
            ac->req[ac->req_len] = '\0';
            if (strstr(ac->req, "\r\n\r\n") || strstr(ac->req, "\n\n")) {
                ac->req_done = true;
                http_request(a, ac);
            } else if (ac->req_len == REQ_MAX - 1) {
                ac->req_done = true;
                http_respond(a, ac, 431, "Request Header Fields Too Large", -1, 0, false);
            }
        }
        break;
    case TUN_SERVE_DISCARD:
    case TUN_SERVE_SEND: break;
    case TUN_SERVE_NONE: /* the client */
        if (ac->out_fd >= 0 && write(ac->out_fd, d, n) != (ssize_t)n)
            fail_note(ac, "writing %s failed", a->cfg.out_path);
        if (a->cfg.check_echo && !ac->mismatch) {
            ssize_t r = at < a->send_size ? pread(a->send_fd, a->check, n, (off_t)at) : 0;
            if (r != (ssize_t)n || memcmp(a->check, d, n) != 0) {
                ac->mismatch = true;
                fail_note(ac, "echo check FAILED: bytes differ from offset %" PRIu64, at);
            }
        }
        break;
    }
}

/* Reads what is there; returns whether anything happened. */
static bool pump_recv(tun_apps *a, app_conn *ac) {
    bool moved = false;
    uint64_t got = 0;
    while (ac->c && !ac->eof && got < RECV_BUDGET) {
        if (ac->kind == TUN_SERVE_ECHO && ac->pend_len) break; /* back-pressure */
        ptrdiff_t n = tcpw_recv(ac->c, a->scratch, SCRATCH, now(a));
        if (n > 0) {
            got += (uint64_t)n;
            take_data(a, ac, a->scratch, (size_t)n);
            moved = true;
            if (ac->kind == TUN_SERVE_ECHO) pump_send(a, ac);
            continue;
        }
        if (n == 0) {
            ac->eof = true;
            if (got) app_event(a, ac, TCPW_APP_DATA, got);
            got = 0;
            if (!ac->t_end) ac->t_end = now(a);
            app_event(a, ac, TCPW_APP_EOF, ac->received);
            moved = true;
        } else if (n != TCPW_EAGAIN) {
            if (n == TCPW_ERESET) ac->reset = true;
            if (n == TCPW_ETIMEDOUT) ac->timeout = true;
            if (n == TCPW_EREFUSED) ac->refused = true;
            fail_note(ac, "recv: %s", tcpw_strerror((int)n));
            ac->eof = true;
        }
        break;
    }
    if (got) app_event(a, ac, TCPW_APP_DATA, got);
    return moved;
}

/* ---- what each application does next --------------------------------------------------------- */

static void step(tun_apps *a, app_conn *ac) {
    for (int round = 0; round < 8 && ac->c; round++) {
        bool moved = pump_send(a, ac);
        moved |= pump_recv(a, ac);
        if (!ac->c) return;
        if (ac->closed_pending) {
            ac->closed_pending = false;
            app_event(a, ac, TCPW_APP_CLOSED, 0);
        }
        if (ac->reset || ac->refused || ac->timeout) {
            give_up(a, ac, false);
            return;
        }
        if (ac->client) {
            if (ac->send_done && !ac->finished_app) {
                bool enough = ac->received >= a->cfg.expect_bytes || ac->eof;
                if (a->cfg.abort_after_send && enough) {
                    give_up(a, ac, true);
                    return;
                }
                if (a->cfg.close_first && enough) {
                    give_up(a, ac, false);
                    return;
                }
                if (a->cfg.shutdown_after_send && !ac->eof) {
                    tcpw_shutdown(ac->c, now(a));
                    ac->finished_app = true; /* nothing more to send; reading goes on */
                }
            }
            if (ac->eof && (ac->send_done || !ac->sending)) {
                if (a->cfg.expect_bytes && !ac->mismatch && ac->received != a->cfg.expect_bytes) {
                    ac->mismatch = true;
                    fail_note(ac, "received %" PRIu64 " bytes, expected %" PRIu64, ac->received,
                              a->cfg.expect_bytes);
                }
                if (a->cfg.check_echo && !ac->mismatch && ac->received != a->send_size) {
                    ac->mismatch = true;
                    fail_note(ac, "echo check FAILED: %" PRIu64 " of %" PRIu64 " bytes came back",
                              ac->received, a->send_size);
                }
                give_up(a, ac, a->cfg.abort_after_send);
                return;
            }
        } else {
            switch (ac->kind) {
            case TUN_SERVE_HTTP:
            case TUN_SERVE_SEND:
                /* tcpwave closes first once everything is queued */
                if (ac->send_done || (ac->eof && !ac->sending)) {
                    give_up(a, ac, false);
                    return;
                }
                break;
            case TUN_SERVE_ECHO:
                if (ac->eof && ac->pend_len == 0) {
                    give_up(a, ac, false);
                    return;
                }
                break;
            case TUN_SERVE_DISCARD:
            case TUN_SERVE_NONE:
                if (ac->eof) {
                    give_up(a, ac, false);
                    return;
                }
                break;
            }
        }
        if (!moved) break;
    }
}

static void on_connected(tun_apps *a, app_conn *ac) {
    app_event(a, ac, TCPW_APP_CONNECTED, 0);
    ac->t_start = now(a);
    if (ac->client) {
        if (a->send_fd >= 0)
            start_sending_file(ac, dup(a->send_fd), a->send_size);
        else
            ac->send_done = true; /* nothing to send */
        if (a->cfg.out_path) {
            ac->out_fd = open(a->cfg.out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (ac->out_fd < 0) fail_note(ac, "cannot write %s", a->cfg.out_path);
        }
    } else if (ac->kind == TUN_SERVE_SEND) {
        start_sending_file(ac, dup(a->send_fd), a->send_size);
    }
}

void tun_apps_poll(tun_apps *a) {
    uint32_t ev;
    tcpw_conn *c;
    while ((c = tcpw_poll_event(a->s, &ev))) {
        if (c == a->listener) {
            tcpw_conn *nc;
            while ((nc = tcpw_accept(a->listener))) {
                app_conn *ac = conn_new(a, nc, false);
                if (!ac) {
                    tcpw_abort(nc, now(a));
                    continue;
                }
                /* tcpw_accept raised CONNECTED (and whatever else happened) for it */
            }
            continue;
        }
        app_conn *ac = tcpw_userdata(c);
        if (!ac) continue;
        if (ev & TCPW_EV_CONNECTED) on_connected(a, ac);
        if (ev & TCPW_EV_RESET) {
            ac->reset = true;
            app_event(a, ac, TCPW_APP_RESET, 0);
        }
        if (ev & TCPW_EV_REFUSED) {
            ac->refused = true;
            fail_note(ac, "%s", "connection refused");
            app_event(a, ac, TCPW_APP_REFUSED, 0);
        }
        if (ev & TCPW_EV_TIMEOUT) {
            ac->timeout = true;
            fail_note(ac, "%s", "connection timed out");
            app_event(a, ac, TCPW_APP_TIMEOUT, 0);
        }
        if ((ev & TCPW_EV_CLOSED) && !(ev & (TCPW_EV_RESET | TCPW_EV_REFUSED | TCPW_EV_TIMEOUT)))
            ac->closed_pending = true; /* told after the data that came before it */
        if (ac->reset && !ac->problem[0]) fail_note(ac, "%s", "connection reset by peer");
        step(a, ac);
    }
    /* connections whose engine side finished meanwhile */
    app_conn *ac = a->conns;
    while (ac) {
        app_conn *next = ac->next;
        maybe_complete(a, ac);
        ac = next;
    }
}

/* ---- starting -------------------------------------------------------------------------------- */

int tun_apps_listen(tun_apps *a, uint16_t port) {
    tcpw_endpoint any;
    memset(&any, 0, sizeof any);
    any.port = port;
    return tcpw_listen(a->s, &any, 128, &a->listener);
}

void tun_apps_stop_listening(tun_apps *a) {
    if (!a->listener) return;
    tcpw_close(a->listener, now(a));
    a->listener = NULL;
}

int tun_apps_connect(tun_apps *a, const tcpw_endpoint *local, const tcpw_endpoint *remote) {
    tcpw_conn *c;
    int rc = tcpw_connect(a->s, local, remote, now(a), &c);
    if (rc != TCPW_OK) return rc;
    if (!conn_new(a, c, true)) {
        tcpw_abort(c, now(a));
        return TCPW_ENOMEM;
    }
    return TCPW_OK;
}
