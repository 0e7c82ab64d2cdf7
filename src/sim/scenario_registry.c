/* scenario_registry.c — the named close scenarios of `tcpwave sim --scenario NAME`, and the
 * command-line overrides applied to them. See scenario.h.
 *
 * Every scenario starts from tcpw_scn_spec_default() — the engine's own defaults on both
 * stacks, 10 ms one way, a 100-byte request and a 200-byte response — and changes only what
 * it is about; its description says what, and why.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/scenario.h"
#include "util/duration.h"

#define MS 1000ull
#define S  1000000ull

/* ---- the scenarios ------------------------------------------------------------------------- */

static void build_four_way(tcpw_scn_spec *s) {
    (void)s; /* the default spec is this scenario */
}

static void build_server_first(tcpw_scn_spec *s) {
    tcpw_scn_app *c = &s->app[TCPW_SCN_CLIENT], *v = &s->app[TCPW_SCN_SERVER];
    v->close_when = TCPW_SCN_AFTER_EXCHANGE;
    v->close_delay_us = 0;
    c->close_when = TCPW_SCN_ON_EOF;
    c->close_delay_us = 100 * MS;
}

static void build_half_close(tcpw_scn_spec *s) {
    tcpw_scn_app *c = &s->app[TCPW_SCN_CLIENT], *v = &s->app[TCPW_SCN_SERVER];
    c->close_call = TCPW_SCN_SHUTDOWN;
    c->close_when = TCPW_SCN_AFTER_SEND;
    v->send_bytes = 5000;
    v->send_when = TCPW_SCN_SEND_AFTER_EOF;
    v->send_delay_us = 100 * MS;
    v->close_when = TCPW_SCN_ON_EOF;
    v->close_delay_us = 0;
}

static void build_three_way_close(tcpw_scn_spec *s) {
    s->app[TCPW_SCN_SERVER].close_delay_us = 0;
}

static void build_simultaneous_close(tcpw_scn_spec *s) {
    s->app[TCPW_SCN_CLIENT].close_when = TCPW_SCN_TOGETHER;
    s->app[TCPW_SCN_SERVER].close_when = TCPW_SCN_TOGETHER;
    s->app[TCPW_SCN_CLIENT].close_delay_us = 0;
    s->app[TCPW_SCN_SERVER].close_delay_us = 0;
}

static void make_simultaneous_open(tcpw_scn_spec *s) {
    s->app[TCPW_SCN_CLIENT].port = 40000;
    s->app[TCPW_SCN_SERVER].active = true;
    s->app[TCPW_SCN_SERVER].port = 80;
}

static void build_simultaneous_open(tcpw_scn_spec *s) {
    make_simultaneous_open(s);
}

static void build_close_in_syn_rcvd(tcpw_scn_spec *s) {
    make_simultaneous_open(s);
    tcpw_scn_app *c = &s->app[TCPW_SCN_CLIENT], *v = &s->app[TCPW_SCN_SERVER];
    v->send_bytes = 0;
    v->close_call = TCPW_SCN_SHUTDOWN;
    v->close_when = TCPW_SCN_AT;
    v->close_at_us = 15 * MS;
    v->close_delay_us = 0;
    c->close_when = TCPW_SCN_ON_EOF;
    c->close_delay_us = 100 * MS;
}

static void build_lost_last_ack(tcpw_scn_spec *s) {
    /* Counting only the client's segments that carry ACK (its SYN does not): the ACK of the
     * SYN+ACK, its request, its FIN (which carries the ACK of the response: the client
     * closes in the turn it reads it, cfg.ack_defer), then the last ACK (#4) and its
     * repetitions from TIME_WAIT (#5, #6). A RST carries no ACK, so it is never counted and
     * never dropped: with msl 0 the client, which has forgotten the connection, answers the
     * first retransmitted FIN with a RST that gets through. */
    s->rules[s->nrules++] = "client>server#4:A";
    s->rules[s->nrules++] = "client>server#5:A";
    s->rules[s->nrules++] = "client>server#6:A";
}

static void build_lost_fin(tcpw_scn_spec *s) {
    s->rules[s->nrules++] = "client>server#1:F";
}

static void build_time_wait_expiry(tcpw_scn_spec *s) {
    tcpw_scn_inject *in = &s->inject[s->ninject++];
    in->kind = TCPW_SCN_INJECT_REPLAY;
    in->side = TCPW_SCN_SERVER;
    in->when_side = TCPW_SCN_CLIENT;
    in->when_state = TCPW_TIME_WAIT;
}

static void finish_time_wait_expiry(tcpw_scn_spec *s) {
    /* the stray segment leaves the server the instant the client's 2MSL ends */
    s->inject[0].delay_us = 2ull * s->cfg[TCPW_SCN_CLIENT].msl_ms * MS;
}

static void build_old_duplicate(tcpw_scn_spec *s) {
    tcpw_scn_app *c = &s->app[TCPW_SCN_CLIENT], *v = &s->app[TCPW_SCN_SERVER];
    for (int i = 0; i < 2; i++)
        s->cfg[i].timestamps = false; /* PAWS would reject the old segment by its timestamp */
    c->port = 40000;
    c->connections = 2;
    c->send_bytes = 60000;
    c->close_when = TCPW_SCN_AFTER_SEND;
    v->connections = 2;
    v->send_bytes = 0;
    v->close_delay_us = 0;
    /* The client's 40th segment (data at relative seq 54021) is held 70 ms: it arrives at
     * 200 ms, after the first connection is over (160 ms) and after the server accepted a
     * reconnection at once (msl 0: at 160 ms, ISN + 160 ms / 4 us = ISN + 40000, so the old
     * bytes fall 14020 bytes into the new stream, inside its window). With 2MSL the client
     * cannot reconnect until 60 s later, and the server answers the stray with RST. */
    s->rules[s->nrules++] = "client>server#40@hold=70ms";
}

static void build_rst_on_unread_data(tcpw_scn_spec *s) {
    tcpw_scn_app *c = &s->app[TCPW_SCN_CLIENT], *v = &s->app[TCPW_SCN_SERVER];
    v->no_read = true;
    v->send_bytes = 0;
    v->close_when = TCPW_SCN_AT;
    v->close_at_us = 200 * MS;
    c->close_when = TCPW_SCN_ON_EOF;
}

static void build_abort(tcpw_scn_spec *s) {
    s->app[TCPW_SCN_CLIENT].close_call = TCPW_SCN_ABORT;
}

static void build_fin_wait_2_timeout(tcpw_scn_spec *s) {
    s->app[TCPW_SCN_SERVER].close_when = TCPW_SCN_AT;
}

static void finish_fin_wait_2_timeout(tcpw_scn_spec *s) {
    /* the server's application wakes up 30 s after the client's FIN_WAIT_2 gave up */
    tcpw_scn_app *v = &s->app[TCPW_SCN_SERVER];
    if (v->close_when == TCPW_SCN_AT)
        v->close_at_us = s->cfg[TCPW_SCN_CLIENT].fin_timeout_ms * MS + 30 * S;
}

static void build_close_wait_leak(tcpw_scn_spec *s) {
    s->app[TCPW_SCN_SERVER].close_when = TCPW_SCN_NEVER;
}

static void build_tw_reuse(tcpw_scn_spec *s) {
    tcpw_scn_app *c = &s->app[TCPW_SCN_CLIENT], *v = &s->app[TCPW_SCN_SERVER];
    for (int i = 0; i < 2; i++)
        s->cfg[i].timestamps = true; /* tw_reuse relies on them: PAWS guards the new incarnation */
    c->port = 40000;
    c->connections = 2;
    /* The client half-closes after the exchange and lets go of its handle when it reads the
     * server's EOF: the instant its side enters TIME_WAIT, which is also when it received the
     * last timestamp of the connection. It reconnects from the same port 1 s later: just when
     * Linux tcp_tw_reuse allows taking the 4-tuple over (a second since the last timestamp). */
    c->close_call = TCPW_SCN_SHUTDOWN;
    c->reconnect_delay_us = 1 * S;
    v->connections = 2;
}

static const tcpw_scn_def registry[] = {
    {"four-way",
     "the seeds' close: request 100 B, response 200 B, the client closes first and the server "
     "100 ms after EOF: FIN seq=u; ACK seq=v ack=u+1; FIN+ACK seq=w ack=u+1; ACK seq=u+1 ack=w+1",
     "种子文章中的四次挥手：请求 100 B、响应 200 B，客户端（主动关闭方）先关闭，服务端（被动关闭"
     "方）读到 EOF 100 ms 后关闭：第一次挥手 FIN seq=u；第二次挥手 ACK seq=v ack=u+1；第三次挥手 "
     "FIN+ACK seq=w ack=u+1；第四次挥手 ACK seq=u+1 ack=w+1",
     TCPW_SCN_FIRST_CLIENT, build_four_way, NULL},
    {"server-first",
     "the server closes first, right after its response; the client closes 100 ms after EOF "
     "and the client's side goes through CLOSE_WAIT and LAST_ACK",
     "服务端发完响应后立即关闭，成为主动关闭方；客户端读到 EOF 100 ms 后关闭，作为被动关闭方经历 "
     "CLOSE_WAIT 和 LAST_ACK",
     TCPW_SCN_FIRST_SERVER, build_server_first, NULL},
    {"half-close",
     "the client calls shutdown() after its request; the server acknowledges the FIN, sends "
     "5000 B 100 ms later (the client still reads: half-close), then its FIN",
     "半关闭：客户端发完请求后调用 shutdown()（第一次挥手）；服务端确认 FIN（第二次挥手），100 ms "
     "后再发送 5000 B（客户端仍在读），然后才发送自己的 FIN（第三次挥手）",
     TCPW_SCN_FIRST_CLIENT, build_half_close, NULL},
    {"three-way-close",
     "the server closes the instant it reads EOF: its delayed ACK (40 ms) leaves with its FIN, "
     "and the client goes FIN_WAIT_1 -> TIME_WAIT directly: three segments",
     "服务端读到 EOF 后立即关闭：它的延迟确认（40 ms）与 FIN 一起发出，第二、三次挥手合并为一个报"
     "文，客户端从 FIN_WAIT_1 直接进入 TIME_WAIT：只有三个报文",
     TCPW_SCN_FIRST_CLIENT, build_three_way_close, NULL},
    {"simultaneous-close",
     "both applications close at the same instant after the exchange: the FINs cross, both "
     "sides go FIN_WAIT_1 -> CLOSING -> TIME_WAIT",
     "同时关闭：双方应用在数据交换后同一时刻关闭，两个 FIN 在网络中交错，双方都是主动关闭方，都经历"
     " FIN_WAIT_1 -> CLOSING -> TIME_WAIT",
     TCPW_SCN_FIRST_BOTH, build_simultaneous_close, NULL},
    {"simultaneous-open",
     "both sides connect() to each other's port (40000 and 80) at once: the SYNs cross, both go "
     "SYN_SENT -> SYN_RCVD -> ESTABLISHED; then the four-way close",
     "同时打开：双方同时 connect() 对方的端口（40000 与 80），两个 SYN 交错，双方都经历 SYN_SENT "
     "-> SYN_RCVD -> ESTABLISHED；随后是四次挥手",
     TCPW_SCN_FIRST_CLIENT, build_simultaneous_open, NULL},
    {"close-in-syn-rcvd",
     "a simultaneous open in which the server calls shutdown() 15 ms in, while in SYN_RCVD: "
     "SYN_RCVD -> FIN_WAIT_1 and its FIN follows its SYN+ACK; it still reads the request",
     "一次同时打开，服务端在 15 ms 时（仍处于 SYN_RCVD）调用 shutdown()：SYN_RCVD -> FIN_WAIT_1，它"
     "的 FIN 紧跟在 SYN+ACK 之后；它仍能读到请求",
     TCPW_SCN_FIRST_SERVER, build_close_in_syn_rcvd, NULL},
    {"lost-last-ack",
     "the client's last ACK is lost, and so are the two it sends again: LAST_ACK retransmits "
     "its FIN after 1, 2, 4 s, TIME_WAIT answers each and restarts 2MSL (with msl 0: a RST)",
     "第四次挥手的 ACK 丢失，TIME_WAIT 重发的两个 ACK 也丢失：被动关闭方在 LAST_ACK 中于 1、2、4 s "
     "后重传 FIN，TIME_WAIT 每次都回复 ACK 并重新开始 2MSL 计时（msl 为 0 时：主动关闭方已忘记这个"
     "连接，回复 RST）",
     TCPW_SCN_FIRST_CLIENT, build_lost_last_ack, NULL},
    {"lost-fin",
     "the client's first FIN is lost: FIN_WAIT_1 retransmits it after the RTO (1 s), then the "
     "four-way close goes on",
     "客户端的第一次挥手（FIN）丢失：FIN_WAIT_1 在超时重传时间（1 s）后重传 FIN，然后四次挥手继续进"
     "行",
     TCPW_SCN_FIRST_CLIENT, build_lost_fin, NULL},
    {"time-wait-expiry",
     "the four-way close; TIME_WAIT lasts exactly 2MSL (60 s), and a copy of the server's FIN "
     "sent as it ends finds no connection: the client answers RST",
     "四次挥手；TIME_WAIT 恰好持续 2MSL（60 s），它结束时服务端 FIN 的一个副本才到达，找不到连接："
     "客户端回复 RST",
     TCPW_SCN_FIRST_CLIENT, build_time_wait_expiry, finish_time_wait_expiry},
    {"old-duplicate",
     "a segment of a first connection arrives 70 ms late while the client reconnects from the "
     "same port; timestamps off (PAWS would catch it): with 2MSL it dies, with msl 0 it "
     "corrupts the new connection",
     "第一个连接的一个报文晚到 70 ms，而客户端正从同一端口重新连接；时间戳关闭（否则 PAWS 会识别"
     "它）：有 2MSL 时它被丢弃，msl 为 0 时它破坏新连接的数据",
     TCPW_SCN_FIRST_CLIENT, build_old_duplicate, NULL},
    {"rst-on-unread-data",
     "the server never reads the request and closes at 200 ms: unread data turns the FIN into "
     "a RST (RFC 2525 §2.17); the client is told 'connection reset'",
     "服务端从不读取请求，在 200 ms 时关闭：未读的数据使 FIN 变成 RST（RFC 2525 §2.17）；客户端收到"
     "“连接被重置”",
     TCPW_SCN_FIRST_SERVER, build_rst_on_unread_data, NULL},
    {"abort",
     "the client aborts after the exchange: one RST, no TIME_WAIT; the server is told "
     "'connection reset'",
     "客户端在数据交换后调用 abort()：只有一个 RST，没有 TIME_WAIT；服务端收到“连接被重置”",
     TCPW_SCN_FIRST_CLIENT, build_abort, NULL},
    {"fin-wait-2-timeout",
     "the client closes, the server does not answer with its FIN until 90 s: the orphaned "
     "FIN_WAIT_2 gives up after fin_timeout (60 s), so the late FIN gets a RST",
     "客户端关闭，服务端直到 90 s 才发出第三次挥手的 FIN：孤儿 FIN_WAIT_2 在 fin_timeout（60 s）后"
     "放弃，于是迟到的 FIN 收到 RST",
     TCPW_SCN_FIRST_CLIENT, build_fin_wait_2_timeout, finish_fin_wait_2_timeout},
    {"close-wait-leak",
     "the server's application never closes: its side stays in CLOSE_WAIT for good (shown in "
     "the listing) while the client's orphaned FIN_WAIT_2 times out",
     "服务端的应用始终不关闭：它这一侧永远停留在 CLOSE_WAIT（见最后的连接列表），而客户端的孤儿 "
     "FIN_WAIT_2 超时关闭",
     TCPW_SCN_FIRST_CLIENT, build_close_wait_leak, NULL},
    {"tw-reuse",
     "timestamps on; the client closes first (shutdown(), its side holds TIME_WAIT) and "
     "reconnects from the same port 1 s later: connect() gets 'address in use' until 2MSL ends "
     "(60 s); with --tw-reuse it takes the 4-tuple over at once (Linux tcp_tw_reuse: 1 s since "
     "the last timestamp)",
     "开启时间戳；客户端（主动关闭方）先关闭（shutdown()），它这一侧停留在 TIME_WAIT，1 s 后从同一"
     "端口重新连接：connect() 报“地址已被占用”，直到 2MSL 结束（60 s）；加上 --tw-reuse 时立即复用"
     "这个四元组（Linux tcp_tw_reuse：距最后一个时间戳已满 1 s）",
     TCPW_SCN_FIRST_CLIENT, build_tw_reuse, NULL},
};

size_t tcpw_scn_count(void) {
    return sizeof registry / sizeof registry[0];
}

const tcpw_scn_def *tcpw_scn_get(size_t i) {
    return i < tcpw_scn_count() ? &registry[i] : NULL;
}

const tcpw_scn_def *tcpw_scn_find(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < tcpw_scn_count(); i++)
        if (strcmp(registry[i].name, name) == 0) return &registry[i];
    return NULL;
}

/* ---- options ------------------------------------------------------------------------------- */

void tcpw_scn_options_init(tcpw_scn_options *o) {
    memset(o, 0, sizeof *o);
    o->rfc1337 = true;
}

static int opt_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int opt_fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return TCPW_EINVAL;
}

static bool parse_u64(const char *v, uint64_t *out) {
    if (!v || !isdigit((unsigned char)*v)) return false;
    errno = 0;
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end) return false;
    *out = x;
    return true;
}

static bool parse_prob(const char *v, double *out) {
    if (!v || !*v) return false;
    char *end;
    double x = strtod(v, &end);
    if (end == v) return false;
    if (*end == '%') {
        x /= 100.0;
        end++;
    }
    if (*end || !(x >= 0.0 && x <= 1.0)) return false;
    *out = x;
    return true;
}

/* "20" (ms), "20ms", "1.5s", "300us" -> microseconds (util/duration.h). */
static bool parse_time(const char *v, uint64_t *out_us) {
    return v && tcpw_duration_parse(v, TCPW_DUR_MS, out_us);
}

static bool parse_ms32(const char *v, uint32_t *out_ms) {
    uint64_t us;
    if (!parse_time(v, &us) || us / 1000 > UINT32_MAX) return false;
    *out_ms = (uint32_t)(us / 1000);
    return true;
}

static bool parse_bool(const char *v, bool *out) {
    static const char *const on[] = {"on", "yes", "true", "1"};
    static const char *const off[] = {"off", "no", "false", "0"};
    if (!v) return false;
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(v, on[i]) == 0) return *out = true, true;
        if (strcmp(v, off[i]) == 0) return *out = false, true;
    }
    return false;
}

/* Compares a key with '-' and '_' taken as the same. */
static bool key_is(const char *key, const char *name) {
    for (; *key && *name; key++, name++) {
        char k = *key == '_' ? '-' : *key;
        if (k != *name) return false;
    }
    return *key == *name;
}

int tcpw_scn_option_set(tcpw_scn_options *o, const char *key, const char *value, char *err,
                        size_t errlen) {
    if (err && errlen) err[0] = '\0';
    if (!o || !key) return opt_fail(err, errlen, "no option given");
    while (*key == '-')
        key++;
    if (!value) return opt_fail(err, errlen, "--%s needs a value", key);
    uint64_t u;
    if (key_is(key, "seed")) {
        if (!parse_u64(value, &o->seed))
            return opt_fail(err, errlen, "--seed: '%s' is not a number", value);
        o->set |= TCPW_SCN_OPT_SEED;
    } else if (key_is(key, "loss") || key_is(key, "dup") || key_is(key, "reorder")) {
        double p;
        if (!parse_prob(value, &p))
            return opt_fail(err, errlen, "--%s: '%s' is not a probability (0..1 or 0%%..100%%)",
                            key, value);
        if (key_is(key, "loss")) o->loss = p, o->set |= TCPW_SCN_OPT_LOSS;
        if (key_is(key, "dup")) o->dup = p, o->set |= TCPW_SCN_OPT_DUP;
        if (key_is(key, "reorder")) o->reorder = p, o->set |= TCPW_SCN_OPT_REORDER;
    } else if (key_is(key, "delay")) {
        if (!parse_time(value, &o->delay_us))
            return opt_fail(err, errlen, "--delay: '%s' is not a time (20, 20ms, 1.5s, 300us)",
                            value);
        o->set |= TCPW_SCN_OPT_DELAY;
    } else if (key_is(key, "msl") || key_is(key, "fin-timeout") || key_is(key, "delayed-ack")) {
        uint32_t ms;
        if (!parse_ms32(value, &ms))
            return opt_fail(err, errlen, "--%s: '%s' is not a time (ms, or with a unit: 2s)", key,
                            value);
        if (key_is(key, "msl")) o->msl_ms = ms, o->set |= TCPW_SCN_OPT_MSL;
        if (key_is(key, "fin-timeout")) o->fin_timeout_ms = ms, o->set |= TCPW_SCN_OPT_FIN_TIMEOUT;
        if (key_is(key, "delayed-ack")) o->delayed_ack_ms = ms, o->set |= TCPW_SCN_OPT_DELAYED_ACK;
    } else if (key_is(key, "tw-reuse") || key_is(key, "rfc1337")) {
        bool b;
        if (!parse_bool(value, &b))
            return opt_fail(err, errlen, "--%s: '%s' is not on or off", key, value);
        if (key_is(key, "tw-reuse")) o->tw_reuse = b, o->set |= TCPW_SCN_OPT_TW_REUSE;
        if (key_is(key, "rfc1337")) o->rfc1337 = b, o->set |= TCPW_SCN_OPT_RFC1337;
    } else if (key_is(key, "client-bytes") || key_is(key, "server-bytes")) {
        if (!parse_u64(value, &u) || u > UINT32_MAX)
            return opt_fail(err, errlen, "--%s: '%s' is not a byte count", key, value);
        if (key_is(key, "client-bytes"))
            o->client_bytes = (uint32_t)u, o->set |= TCPW_SCN_OPT_CLIENT_BYTES;
        else
            o->server_bytes = (uint32_t)u, o->set |= TCPW_SCN_OPT_SERVER_BYTES;
    } else if (key_is(key, "close-first")) {
        if (strcmp(value, "client") == 0)
            o->close_first = TCPW_SCN_FIRST_CLIENT;
        else if (strcmp(value, "server") == 0)
            o->close_first = TCPW_SCN_FIRST_SERVER;
        else if (strcmp(value, "both") == 0)
            o->close_first = TCPW_SCN_FIRST_BOTH;
        else
            return opt_fail(err, errlen, "--close-first: '%s' is not client, server or both",
                            value);
        o->set |= TCPW_SCN_OPT_CLOSE_FIRST;
    } else if (key_is(key, "pcap")) {
        if (!*value) return opt_fail(err, errlen, "--pcap needs a file name");
        o->pcap_path = value;
        o->set |= TCPW_SCN_OPT_PCAP;
    } else if (key_is(key, "drop") || key_is(key, "rule")) {
        if (o->nrules >= TCPW_SCN_MAX_RULES)
            return opt_fail(err, errlen, "--%s: at most 16 rules", key);
        char why[200];
        const char *names[2] = {"client", "server"};
        tcpw_sim_rule r;
        if (tcpw_sim_rule_parse(value, names, 2, &r, why, sizeof why) < 0)
            return opt_fail(err, errlen, "--%s: %s", key, why);
        o->rules[o->nrules++] = value;
    } else {
        return opt_fail(err, errlen,
                        "unknown option '%s' (seed, loss, dup, reorder, delay, drop, msl, "
                        "fin-timeout, tw-reuse, rfc1337, delayed-ack, client-bytes, server-bytes, "
                        "close-first, pcap)",
                        key);
    }
    return TCPW_OK;
}

/* ---- prepare ------------------------------------------------------------------------------- */

typedef struct close_part {
    tcpw_scn_close_call call;
    tcpw_scn_trigger when;
    uint64_t delay, at;
} close_part;

static close_part close_get(const tcpw_scn_app *a) {
    return (close_part){a->close_call, a->close_when, a->close_delay_us, a->close_at_us};
}

static void close_put(tcpw_scn_app *a, close_part p) {
    a->close_call = p.call;
    a->close_when = p.when;
    a->close_delay_us = p.delay;
    a->close_at_us = p.at;
}

/* Who closes first: swap the two applications' closing, or make them close together. */
static void apply_close_first(tcpw_scn_spec *s, tcpw_scn_first natural, tcpw_scn_first want) {
    tcpw_scn_app *c = &s->app[TCPW_SCN_CLIENT], *v = &s->app[TCPW_SCN_SERVER];
    if (want == natural) return;
    if (want == TCPW_SCN_FIRST_BOTH) {
        c->close_when = v->close_when = TCPW_SCN_TOGETHER;
        c->close_delay_us = v->close_delay_us = 0;
        return;
    }
    if (natural == TCPW_SCN_FIRST_BOTH) {
        tcpw_scn_app *first = want == TCPW_SCN_FIRST_CLIENT ? c : v;
        tcpw_scn_app *second = want == TCPW_SCN_FIRST_CLIENT ? v : c;
        first->close_when = TCPW_SCN_AFTER_EXCHANGE;
        first->close_delay_us = 0;
        second->close_when = TCPW_SCN_ON_EOF;
        second->close_delay_us = 100 * MS;
        return;
    }
    close_part a = close_get(c), b = close_get(v);
    close_put(c, b);
    close_put(v, a);
}

int tcpw_scn_prepare(const char *name, const tcpw_scn_options *o, tcpw_scn_spec *spec, char *err,
                     size_t errlen) {
    if (err && errlen) err[0] = '\0';
    if (!spec) return opt_fail(err, errlen, "no spec");
    const tcpw_scn_def *d = tcpw_scn_find(name);
    if (!d) {
        char known[600];
        size_t used = 0;
        known[0] = '\0';
        for (size_t i = 0; i < tcpw_scn_count() && used < sizeof known; i++) {
            int n = snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                             registry[i].name);
            if (n < 0) break;
            used += (size_t)n;
        }
        return opt_fail(err, errlen, "unknown scenario '%s' (known: %s)", name ? name : "", known);
    }
    tcpw_scn_spec_default(spec);
    d->build(spec);
    if (o) {
        uint32_t set = o->set;
        if (set & TCPW_SCN_OPT_SEED) spec->seed = o->seed;
        for (int i = 0; i < 2; i++) {
            tcpw_sim_link *l = &spec->link[i];
            tcpw_config *cfg = &spec->cfg[i];
            if (set & TCPW_SCN_OPT_LOSS) l->loss = o->loss;
            if (set & TCPW_SCN_OPT_DUP) l->dup = o->dup;
            if (set & TCPW_SCN_OPT_REORDER) l->reorder = o->reorder;
            if (set & TCPW_SCN_OPT_DELAY) l->latency_us = o->delay_us;
            if (set & TCPW_SCN_OPT_MSL) cfg->msl_ms = o->msl_ms;
            if (set & TCPW_SCN_OPT_FIN_TIMEOUT) cfg->fin_timeout_ms = o->fin_timeout_ms;
            if (set & TCPW_SCN_OPT_DELAYED_ACK) cfg->delayed_ack_ms = o->delayed_ack_ms;
            if (set & TCPW_SCN_OPT_TW_REUSE) cfg->tw_reuse = o->tw_reuse;
            if (set & TCPW_SCN_OPT_RFC1337) cfg->rfc1337 = o->rfc1337;
        }
        if (set & TCPW_SCN_OPT_CLIENT_BYTES)
            spec->app[TCPW_SCN_CLIENT].send_bytes = o->client_bytes;
        if (set & TCPW_SCN_OPT_SERVER_BYTES)
            spec->app[TCPW_SCN_SERVER].send_bytes = o->server_bytes;
        if (set & TCPW_SCN_OPT_CLOSE_FIRST) apply_close_first(spec, d->first, o->close_first);
        if (set & TCPW_SCN_OPT_PCAP) spec->pcap_path = o->pcap_path;
        for (size_t i = 0; i < o->nrules; i++) {
            if (spec->nrules >= TCPW_SCN_MAX_RULES)
                return opt_fail(err, errlen, "too many rules (at most 16)");
            spec->rules[spec->nrules++] = o->rules[i];
        }
    }
    if (d->finish) d->finish(spec);
    return TCPW_OK;
}

int tcpw_scn_run_named(const char *name, const tcpw_scn_options *o, tcpw_scn_result *out) {
    if (!out) return TCPW_EINVAL;
    tcpw_scn_spec spec;
    char err[sizeof out->error];
    int rc = tcpw_scn_prepare(name, o, &spec, err, sizeof err);
    if (rc < 0) {
        memset(out, 0, sizeof *out);
        tcpw_rec_init(&out->rec, "client", "server");
        snprintf(out->error, sizeof out->error, "%s", err);
        return rc;
    }
    rc = tcpw_scn_run(&spec, out);
    out->scenario = tcpw_scn_find(name)->name;
    return rc;
}
