/* names.c — the names of states and errors, and the default configuration. */
#include <string.h>

#include "tcpwave/tcpwave.h"

const char *tcpw_state_name(tcpw_state st) {
    static const char *const names[TCPW_STATE_COUNT] = {
        "CLOSED",     "LISTEN",     "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
        "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING",  "LAST_ACK", "TIME_WAIT",
    };
    return (unsigned)st < TCPW_STATE_COUNT ? names[st] : "?";
}

const char *tcpw_strerror(int err) {
    switch (err) {
    case TCPW_OK: return "ok";
    case TCPW_EAGAIN: return "try again";
    case TCPW_EINVAL: return "invalid argument";
    case TCPW_ENOMEM: return "insufficient resources";
    case TCPW_EADDRINUSE: return "address in use";
    case TCPW_EADDRNOTAVAIL: return "no free ephemeral port";
    case TCPW_ENOTCONN: return "connection does not exist";
    case TCPW_ECLOSING: return "connection closing";
    case TCPW_ERESET: return "connection reset";
    case TCPW_EREFUSED: return "connection refused";
    case TCPW_ETIMEDOUT: return "connection timed out";
    case TCPW_ESTATE: return "not valid in this state";
    default: return "unknown error";
    }
}

void tcpw_config_default(tcpw_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->msl_ms = 30000;
    cfg->fin_timeout_ms = 60000;
    cfg->rto_initial_ms = 1000;
    cfg->rto_min_ms = 1000;
    cfg->rto_max_ms = 120000;
    cfg->delayed_ack_ms = 40;
    cfg->send_buffer = 65536;
    cfg->recv_buffer = 65536;
    cfg->mss = 1460;
    cfg->syn_retries = 6;
    cfg->retries = 15;
    cfg->challenge_ack_per_s = 1000;
    cfg->ephemeral_lo = 32768;
    cfg->ephemeral_hi = 60999;
    cfg->nagle = true;
    cfg->timestamps = true;
    cfg->window_scale = true;
    cfg->rfc1337 = true;
    cfg->tw_reuse = false;
    cfg->ack_defer = true;
}
