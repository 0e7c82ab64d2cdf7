/* sim_stack.c — a tcpwave stack as a simulation node: its output goes onto the link, its
 * trace into the recording, and the sim feeds it packets and ticks.
 *
 * Kept apart from sim.c so that the simulator itself (and its tests with fake nodes) does
 * not depend on the engine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/prng.h"
#include "sim/sim.h"

typedef struct sim_stack_node {
    tcpw_sim *sim;
    int idx;
    tcpw_stack *stack;
    void (*user_trace)(void *user, const tcpw_trace *ev);
    void *user;
} sim_stack_node;

static void stack_output(void *user, const uint8_t *pkt, size_t len) {
    sim_stack_node *sn = user;
    tcpw_sim_send(sn->sim, sn->idx, pkt, len); /* failures stop the sim (tcpw_sim_error) */
}

static void stack_trace(void *user, const tcpw_trace *ev) {
    sim_stack_node *sn = user;
    if (sn->idx < TCPW_REC_MAX_SIDES) {
        tcpw_rec_event e;
        memset(&e, 0, sizeof e);
        e.kind = ev->kind == TCPW_TRACE_STATE ? TCPW_REC_STATE : TCPW_REC_NOTE;
        e.t_us = ev->now;
        e.side = sn->idx;
        e.peer = 1 - sn->idx;
        e.from = ev->from;
        e.to = ev->to;
        e.cause = ev->cause;
        e.cause_seg = ev->seg;
        snprintf(e.what, sizeof e.what, "%s", ev->what ? ev->what : "");
        tcpw_sim_record(sn->sim, &e);
    }
    if (sn->user_trace) sn->user_trace(sn->user, ev);
}

static void stack_input(void *node, const uint8_t *pkt, size_t len, uint64_t now) {
    tcpw_input(((sim_stack_node *)node)->stack, pkt, len, now);
}

static void stack_tick(void *node, uint64_t now) {
    tcpw_tick(((sim_stack_node *)node)->stack, now);
}

static uint64_t stack_deadline(void *node) {
    return tcpw_next_deadline(((sim_stack_node *)node)->stack);
}

static void stack_destroy(void *node) {
    sim_stack_node *sn = node;
    tcpw_stack_free(sn->stack);
    free(sn);
}

static const tcpw_sim_node_ops stack_ops = {
    .input = stack_input,
    .tick = stack_tick,
    .deadline = stack_deadline,
    .destroy = stack_destroy,
};

static bool all_zero(const uint8_t *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (b[i]) return false;
    return true;
}

int tcpw_sim_add_stack(tcpw_sim *sim, const char *name, const tcpw_config *cfg_in,
                       tcpw_stack **out) {
    if (!sim || !name || !*name || tcpw_sim_node_count(sim) >= TCPW_SIM_MAX_NODES ||
        tcpw_sim_node_find(sim, name) >= 0)
        return TCPW_EINVAL;
    int idx = tcpw_sim_node_count(sim); /* nodes are only ever appended */

    tcpw_config cfg;
    if (cfg_in)
        cfg = *cfg_in;
    else
        tcpw_config_default(&cfg);
    sim_stack_node *sn = calloc(1, sizeof *sn);
    if (!sn) return TCPW_ENOMEM;
    sn->sim = sim;
    sn->idx = idx;
    sn->user_trace = cfg.trace;
    sn->user = cfg.user;
    cfg.user = sn;
    cfg.output = stack_output;
    cfg.trace = stack_trace;
    if (!cfg.alloc || !cfg.free) tcpw_config_use_libc(&cfg);
    if (all_zero(cfg.secret, sizeof cfg.secret)) {
        /* Derived from the seed, not drawn from the link's PRNG, so adding a stack never
         * shifts the link's random decisions. */
        uint64_t st = tcpw_sim_seed(sim) ^ (0x5851f42d4c957f2dULL * (uint64_t)(idx + 1));
        uint64_t x = 0;
        for (size_t i = 0; i < sizeof cfg.secret; i++) {
            if (i % 8 == 0) x = tcpw_splitmix64(&st);
            cfg.secret[i] = (uint8_t)(x >> (8 * (i % 8))); /* the same on every platform */
        }
    }

    int rc = tcpw_stack_new(&cfg, &sn->stack);
    if (rc < 0) {
        free(sn);
        return rc;
    }
    rc = tcpw_sim_add_node(sim, name, &stack_ops, sn);
    if (rc < 0) {
        tcpw_stack_free(sn->stack);
        free(sn);
        return rc;
    }
    if (out) *out = sn->stack;
    return idx;
}

tcpw_stack *tcpw_sim_stack(const tcpw_sim *sim, int idx) {
    const tcpw_sim_node_ops *ops = tcpw_sim_node_ops_of(sim, idx);
    if (!ops || ops->input != stack_input) return NULL;
    return ((sim_stack_node *)tcpw_sim_node_ptr(sim, idx))->stack;
}
