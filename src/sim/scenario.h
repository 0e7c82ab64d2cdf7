/* scenario.h — simulated applications on a client and a server stack, and the registry of named
 * close scenarios that `tcpwave sim --scenario NAME` runs.
 *
 * Two layers:
 *
 * 1. A run: tcpw_scn_spec describes two tcpwave stacks, "client" (node 0) and "server" (node 1),
 *    joined by an impaired simulated link (sim.h), each with a scripted application: it
 *    connects or listens and accepts, sends a number of bytes of a deterministic pattern, reads
 *    (or not), and ends its side with shutdown(), close() or abort() at a chosen moment. The
 *    applications record what they see (TCPW_REC_APP: connected, data with byte counts, eof,
 *    reset, closed, refused, timeout) in the run's recording, and check that every byte they
 *    read is the byte the other application sent at that offset: exactly once, in order.
 *    tcpw_scn_run() runs it to the end and hands back a tcpw_scn_result: the recording, each
 *    application's outcome, each stack's final connection listing (tcpw_list) and statistics.
 *
 * 2. The registry: named scenarios (four-way, server-first, half-close, ...), each with a
 *    one-line description (in English and in Chinese) that says what it shows and where it
 *    departs from the engine's defaults. tcpw_scn_prepare() turns one into a spec and applies
 *    the command line's overrides (tcpw_scn_options); tcpw_scn_run_named() does both and runs
 *    it.
 *
 * For the command line (`tcpwave sim [--scenario NAME] [--seed N] [--loss P] ...`):
 *
 *     tcpw_scn_options o;
 *     tcpw_scn_options_init(&o);
 *     // for every "--key value" pair (key without the dashes):
 *     if (tcpw_scn_option_set(&o, "loss", "10%", err, sizeof err) < 0) { usage(err); return 2; }
 *     tcpw_scn_result r;
 *     if (tcpw_scn_run_named(name ? name : TCPW_SCN_DEFAULT, &o, &r) < 0)
 *         fprintf(stderr, "tcpwave sim: %s\n", r.error);          // unknown name, bad rule...
 *     else
 *         tcpw_view_render(stdout, &r.rec, &view_opts), tcpw_scn_print_summary(stdout, &r);
 *     tcpw_scn_result_free(&r);                                   // always, even on error
 *
 *  `tcpwave sim --list` prints tcpw_scn_get(i)->name and ->description for i < tcpw_scn_count()
 *  (->description_zh with --lang zh).
 *
 * Everything is deterministic: the same spec (seed included) gives the same run, bit for bit.
 * Times are virtual microseconds from the start of the run.
 */
#ifndef TCPW_SCENARIO_H
#define TCPW_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/sim.h"
#include "tcpwave/tcpwave.h"
#include "view/recording.h"

#define TCPW_SCN_CLIENT     0 /* side / node index of the client */
#define TCPW_SCN_SERVER     1 /* side / node index of the server */
#define TCPW_SCN_MAX_RULES  64
#define TCPW_SCN_MAX_CONNS  4 /* connections one application makes or accepts in a run */
#define TCPW_SCN_MAX_INJECT 4
#define TCPW_SCN_NEVER_US   UINT64_MAX

/* The scenario `tcpwave sim` runs without --scenario. */
#define TCPW_SCN_DEFAULT "four-way"

/* ---- applications -------------------------------------------------------------------------- */

/* How an application ends its side of the connection. */
typedef enum tcpw_scn_close_call {
    TCPW_SCN_CLOSE,    /* tcpw_close(): FIN after the data (RST if data is left unread), and
                          the handle is released at once */
    TCPW_SCN_SHUTDOWN, /* tcpw_shutdown(): half-close, FIN after the data; the application
                          keeps reading and releases the handle (tcpw_close) once it has read
                          EOF, or been told of a reset, timeout or refusal */
    TCPW_SCN_ABORT,    /* tcpw_abort(): RST */
} tcpw_scn_close_call;

/* When an application closes (each trigger plus close_delay_us, except TCPW_SCN_AT). */
typedef enum tcpw_scn_trigger {
    TCPW_SCN_NEVER,          /* never: the handle stays open (a CLOSE_WAIT leak) */
    TCPW_SCN_AFTER_SEND,     /* once all its data is queued (tcpw_send accepted it all) */
    TCPW_SCN_AFTER_EXCHANGE, /* once all its data is queued and it has read everything the
                                peer sends before closing (request/response done) */
    TCPW_SCN_ON_EOF,         /* once it has read the peer's EOF and queued all its data */
    TCPW_SCN_TOGETHER,       /* both applications at the same instant, once both have
                                finished their exchange (simultaneous close) */
    TCPW_SCN_AT,             /* at virtual time close_at_us */
} tcpw_scn_trigger;

/* When an application starts sending its bytes (plus send_delay_us). */
typedef enum tcpw_scn_send_when {
    TCPW_SCN_SEND_ON_CONNECT, /* as soon as the connection is open */
    TCPW_SCN_SEND_AFTER_RECV, /* once it has read all the peer's data: a response */
    TCPW_SCN_SEND_AFTER_EOF,  /* once it has read the peer's EOF: data after a half-close */
} tcpw_scn_send_when;

typedef struct tcpw_scn_app {
    bool active;         /* connect() to the peer application's port; else listen() + accept() */
    uint16_t port;       /* passive: the port it listens on; active: its local port (0: an
                            ephemeral one; reconnections reuse the first one) */
    uint64_t open_at_us; /* when it calls connect() / listen() */
    uint32_t send_bytes; /* bytes of its pattern it sends on each connection */
    tcpw_scn_send_when send_when;
    uint64_t send_delay_us;
    bool no_read; /* never reads: received data stays unread */
    tcpw_scn_close_call close_call;
    tcpw_scn_trigger close_when;
    uint64_t close_delay_us;
    uint64_t close_at_us; /* TCPW_SCN_AT */
    /* Connections made (active) or accepted (passive) in sequence: 0 means 1. An active application
     * reconnects from the same local port reconnect_delay_us after releasing the previous handle,
     * and while connect() says TCPW_EADDRINUSE (a TIME_WAIT holds the 4-tuple) it tries again after
     * each timer of its stack. Each connection carries a pattern of its own. */
    uint32_t connections;
    uint64_t reconnect_delay_us;
    /* Passive: close the listener once the last connection is accepted (by default it keeps
     * listening, as a server does, and shows in the final listing as LISTEN). */
    bool listen_once;
    /* An application-level timeout (0: none): at this time an application that has not
     * closed yet closes its listener and shuts its connection down (tcpw_shutdown), which
     * makes a peer that is gone answer with RST. */
    uint64_t give_up_at_us;
} tcpw_scn_app;

/* ---- injected segments ------------------------------------------------------------------- */

typedef enum tcpw_scn_inject_kind {
    /* Side `side` sends again the last segment it sent (rebuilt from the recording: flags,
     * seq, ack, window; options are not kept and a payload is sent as zeros). A stray or
     * delayed duplicate of the old connection. Needs the recording. */
    TCPW_SCN_INJECT_REPLAY,
    /* An exact RST (SEQ = RCV.NXT, no ACK) to side `side`'s connection, from the peer's
     * address: the reset of RFC 9293 §3.10.7.4 second / RFC 5961 §3.2. */
    TCPW_SCN_INJECT_RST,
} tcpw_scn_inject_kind;

typedef struct tcpw_scn_inject {
    tcpw_scn_inject_kind kind;
    int side;
    /* Fires delay_us after side when_side first enters when_state (either side's first
     * state change into it counts only for when_side). */
    int when_side;
    tcpw_state when_state;
    uint64_t delay_us;
    /* Deliver with no latency, from an extra node "wire" that spoofs the peer's address (to
     * hit a state that lasts less than one link latency). The segment is still recorded as
     * sent by the peer. */
    bool instant;
} tcpw_scn_inject;

/* ---- a run ---------------------------------------------------------------------------------- */

typedef struct tcpw_scn_spec {
    uint64_t seed;
    int family;            /* 4 or 6 */
    tcpw_config cfg[2];    /* each stack's configuration; the runner sets output, trace, user,
                              and alloc/free/secret when unset (see tcpw_sim_add_stack) */
    tcpw_sim_link link[2]; /* [0]: client->server, [1]: server->client */
    const char *rules[TCPW_SCN_MAX_RULES]; /* tcpw_sim_add_rule_str syntax ("server>client#2") */
    size_t nrules;
    tcpw_scn_app app[2];
    tcpw_scn_inject inject[TCPW_SCN_MAX_INJECT];
    size_t ninject;
    const char *pcap_path; /* write a capture of every packet sent; NULL for none */
    bool no_recording;     /* no recording (faster; REPLAY injections then do nothing) */
    uint64_t until_us;     /* stop at this virtual time; 0: when nothing is left to do, or
                              at TCPW_SCN_RUN_CAP_US (see tcpw_scn_result.capped) */
} tcpw_scn_spec;

/* An open-ended run stops after 24 hours of virtual time (a persist timer probing a window
 * that never opens would otherwise go on for ever). */
#define TCPW_SCN_RUN_CAP_US (24ull * 3600 * 1000000)

/* Engine defaults on both sides (tcpw_config_default), 10 ms each way, seed 1, IPv4; the
 * client connects from an ephemeral port, sends 100 bytes and closes (close()) after reading
 * the response; the server listens on port 80, answers with 200 bytes and closes 100 ms after
 * reading EOF. That is the four-way scenario. */
void tcpw_scn_spec_default(tcpw_scn_spec *spec);

/* ---- the result ---------------------------------------------------------------------------- */

/* What one application saw on one of its connections. */
typedef struct tcpw_scn_conn_outcome {
    bool connected;                 /* the handshake completed (connect() or accept()) */
    bool eof;                       /* it read the peer's EOF */
    bool reset, refused, timed_out; /* it was told so */
    bool closed;                    /* it saw TCPW_EV_CLOSED before releasing the handle */
    bool called_shutdown, called_close, called_abort;
    uint64_t sent;          /* bytes queued with tcpw_send */
    uint64_t received;      /* bytes read */
    uint64_t expected;      /* bytes the peer application queued on this connection */
    uint64_t mismatches;    /* bytes read that differ from what the peer sent at that offset */
    int64_t first_mismatch; /* offset of the first, -1 for none */
    uint64_t connected_at_us, eof_at_us, closed_at_us; /* TCPW_SCN_NEVER_US: did not happen */
} tcpw_scn_conn_outcome;

typedef struct tcpw_scn_outcome {
    uint32_t connections; /* connections made or accepted */
    tcpw_scn_conn_outcome conn[TCPW_SCN_MAX_CONNS];
    uint32_t addr_in_use; /* reconnections refused with TCPW_EADDRINUSE before one worked */
    /* over all its connections */
    bool reset, refused, timed_out;
    uint64_t received, mismatches;
    bool data_ok;  /* no byte read differs from what the peer sent, none read twice */
    bool complete; /* every connection connected and read all the bytes the peer queued, and
                      none was reset, refused or timed out (EOF is not required: an
                      application that close()s after its exchange never reads it) */
} tcpw_scn_outcome;

typedef struct tcpw_scn_result {
    const char *scenario; /* the registry name, NULL for a spec run directly */
    uint64_t seed;
    uint64_t end_us;    /* virtual time when the run ended */
    bool capped;        /* stopped at TCPW_SCN_RUN_CAP_US with work left to do */
    tcpw_recording rec; /* owned by the result; names are "client" and "server" */
    tcpw_scn_outcome app[2];
    tcpw_conn_info *list[2]; /* each stack's tcpw_list at the end (owned by the result) */
    size_t nlist[2];
    tcpw_stats stats[2];
    tcpw_sim_link_stats link[2]; /* [0]: client->server, [1]: server->client */
    uint64_t rules_fired;        /* how many of the scripted rules acted on a segment */
    bool data_ok;                /* both applications' data_ok */
    bool complete;               /* both applications' complete */
    char error[256];             /* why the run failed; "" when it ran */
} tcpw_scn_result;

/* Runs spec to the end (or until_us). Returns TCPW_OK, or TCPW_EINVAL (bad spec or rule),
 * TCPW_ENOMEM, or another negative error when the simulation stopped with an error; out->error
 * says why. out is always initialized: call tcpw_scn_result_free() in every case. A run
 * whose data check failed still returns TCPW_OK: see out->data_ok. */
int tcpw_scn_run(const tcpw_scn_spec *spec, tcpw_scn_result *out);
void tcpw_scn_result_free(tcpw_scn_result *r);

/* A human-readable account of the result: each application's outcome and each stack's final
 * connections (like `ss -tan`). */
void tcpw_scn_print_summary(FILE *out, const tcpw_scn_result *r);

/* The byte the application on `side` sends at `offset` of its connection number `conn`
 * (0-based) in a run with this seed: what the peer checks against. */
uint8_t tcpw_scn_pattern_byte(uint64_t seed, int side, uint32_t conn, uint64_t offset);

/* ---- the registry -------------------------------------------------------------------------- */

typedef enum tcpw_scn_first {
    TCPW_SCN_FIRST_CLIENT, /* the client closes first, the server after EOF */
    TCPW_SCN_FIRST_SERVER, /* the server closes first, the client after EOF */
    TCPW_SCN_FIRST_BOTH,   /* both at the same instant (simultaneous close) */
} tcpw_scn_first;

typedef struct tcpw_scn_def {
    const char *name;
    const char *description;    /* one line */
    const char *description_zh; /* the same in Chinese, in the seeds' terms (第一次挥手 ...) */
    tcpw_scn_first first;       /* who closes first in this scenario */
    /* Fills the scenario's own settings into a spec that holds tcpw_scn_spec_default(). */
    void (*build)(tcpw_scn_spec *spec);
    /* Optional: adjusts what depends on the final settings after overrides (a time counted
     * from MSL or fin_timeout, say). */
    void (*finish)(tcpw_scn_spec *spec);
} tcpw_scn_def;

size_t tcpw_scn_count(void);
const tcpw_scn_def *tcpw_scn_get(size_t i);          /* NULL past the end */
const tcpw_scn_def *tcpw_scn_find(const char *name); /* NULL when unknown */

/* ---- command-line overrides ---------------------------------------------------------------- */

enum {
    TCPW_SCN_OPT_SEED = 1u << 0,
    TCPW_SCN_OPT_LOSS = 1u << 1,
    TCPW_SCN_OPT_DUP = 1u << 2,
    TCPW_SCN_OPT_REORDER = 1u << 3,
    TCPW_SCN_OPT_DELAY = 1u << 4,
    TCPW_SCN_OPT_MSL = 1u << 5,
    TCPW_SCN_OPT_FIN_TIMEOUT = 1u << 6,
    TCPW_SCN_OPT_TW_REUSE = 1u << 7,
    TCPW_SCN_OPT_RFC1337 = 1u << 8,
    TCPW_SCN_OPT_DELAYED_ACK = 1u << 9,
    TCPW_SCN_OPT_CLIENT_BYTES = 1u << 10,
    TCPW_SCN_OPT_SERVER_BYTES = 1u << 11,
    TCPW_SCN_OPT_CLOSE_FIRST = 1u << 12,
    TCPW_SCN_OPT_PCAP = 1u << 13,
};

/* Overrides of a scenario's settings; only the fields whose TCPW_SCN_OPT_* bit is in `set`
 * apply (rules always add to the scenario's own). Link settings apply to both directions,
 * stack settings to both stacks. */
typedef struct tcpw_scn_options {
    uint32_t set;
    uint64_t seed;
    double loss, dup, reorder; /* probabilities 0..1 */
    uint64_t delay_us;         /* one-way latency */
    uint32_t msl_ms, fin_timeout_ms, delayed_ack_ms;
    bool tw_reuse, rfc1337;
    uint32_t client_bytes, server_bytes;
    tcpw_scn_first close_first; /* swaps who closes first (how and when move with it); "both"
                                   makes both close at the same instant after the exchange */
    const char *pcap_path;
    const char *rules[TCPW_SCN_MAX_RULES]; /* extra drop/hold rules, tcpw_sim_rule_parse syntax */
    size_t nrules;
} tcpw_scn_options;

void tcpw_scn_options_init(tcpw_scn_options *o);

/* Sets one override from its command-line spelling (the strings are not copied: value must
 * outlive the run for "drop" and "pcap"). Keys and values:
 *   seed N            | loss P | dup P | reorder P   P: 0.1 or 10% (0..1)
 *   delay T           one-way latency; T: 20 (ms), 20ms, 1.5s, 300us
 *   drop RULE         may repeat: 'server>client#2', 'client>server#1:F', '*>*#3@hold=200ms'
 *   msl T | fin-timeout T | delayed-ack T   (ms by default; delayed-ack 0 turns it off)
 *   tw-reuse B | rfc1337 B                  B: on/off, yes/no, true/false, 1/0
 *   client-bytes N | server-bytes N         data each application sends
 *   close-first client|server|both
 *   pcap PATH
 * Returns 0, or TCPW_EINVAL with a message in err. Names may also be spelt with '_'. */
int tcpw_scn_option_set(tcpw_scn_options *o, const char *key, const char *value, char *err,
                        size_t errlen);

/* Fills spec with the named scenario (tcpw_scn_spec_default + its build), applies the
 * overrides (o may be NULL) and its finish. Returns 0, or TCPW_EINVAL with a message in err
 * (unknown name: the message lists the known ones). */
int tcpw_scn_prepare(const char *name, const tcpw_scn_options *o, tcpw_scn_spec *spec, char *err,
                     size_t errlen);

/* tcpw_scn_prepare() + tcpw_scn_run(); out->scenario is the registry's name. */
int tcpw_scn_run_named(const char *name, const tcpw_scn_options *o, tcpw_scn_result *out);

#endif
