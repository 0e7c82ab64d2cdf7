/* test_sim_tshark.c — the simulator's capture of the four-way scenario, read back by Wireshark's
 * tshark with its default relative sequence numbers, shows the seeds' close:
 *
 *   ·······A···F  seq=u     ack=...     (FIN)
 *   ·······A····  seq=v     ack=u+1     (ACK)
 *   ·······A···F  seq=w     ack=u+1     (FIN+ACK)
 *   ·······A····  seq=u+1   ack=w+1     (ACK)
 *
 * and every packet of the capture matches the run's recording, flags and relative numbers.
 * tshark comes with scripts/setup.sh; without it the test fails and says so.
 */
#ifndef _GNU_SOURCE
#define _DEFAULT_SOURCE /* mkstemp, popen */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scn_util.h"

typedef struct ts_line {
    char flags[64]; /* as tshark prints tcp.flags.str */
    char letters[16];
    unsigned long seq, ack;
} ts_line;

/* "·······A···F" -> "AF": the letters in the order tshark prints them. */
static void letters_of(const char *s, char *out, size_t cap) {
    size_t n = 0;
    for (; *s && n + 1 < cap; s++)
        if (*s >= 'A' && *s <= 'Z') out[n++] = *s;
    out[n] = '\0';
}

static size_t read_tshark(const char *pcap, ts_line *lines, size_t cap) {
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "tshark -r '%s' -T fields -e tcp.flags.str -e tcp.seq -e tcp.ack 2>/dev/null", pcap);
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    char buf[256];
    size_t n = 0;
    while (fgets(buf, sizeof buf, p) && n < cap) {
        ts_line *l = &lines[n];
        char *tab1 = strchr(buf, '\t');
        if (!tab1) continue;
        *tab1 = '\0';
        if ((size_t)(tab1 - buf) >= sizeof l->flags) continue;
        memcpy(l->flags, buf, (size_t)(tab1 - buf) + 1);
        letters_of(l->flags, l->letters, sizeof l->letters);
        if (sscanf(tab1 + 1, "%lu\t%lu", &l->seq, &l->ack) < 1) continue;
        n++;
    }
    pclose(p);
    return n;
}

static bool have_tshark(void) {
    return system("tshark --version >/dev/null 2>&1") == 0;
}

static void test_four_way_in_tshark(void) {
    if (!have_tshark()) {
        fprintf(stderr, "tshark not found: run scripts/setup.sh (it installs it)\n");
        CHECK(!"tshark installed");
        return;
    }
    char path[] = "/tmp/tcpwave-four-way-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    tcpw_scn_result res;
    int rc = scn_run(&res, "four-way", "pcap", path, NULL);
    CHECK_EQ_U(rc, 0);
    ts_line lines[64];
    size_t n = read_tshark(path, lines, 64);
    unlink(path);
    const tcpw_recording *r = &res.rec;
    CHECK_EQ_U(n, 9); /* the request and the response carry each other's ACK (cfg.ack_defer) */
    CHECK_EQ_U(n, scn_seg_count(r));
    /* the capture is the recording, packet for packet */
    for (size_t i = 0; i < n && i < scn_seg_count(r); i++) {
        const tcpw_rec_event *e = scn_seg(r, i);
        char want[16] = "";
        /* tshark's order: ...U A P R S F */
        if (e->flags & TCPW_URG) strcat(want, "U");
        if (e->flags & TCPW_ACK) strcat(want, "A");
        if (e->flags & TCPW_PSH) strcat(want, "P");
        if (e->flags & TCPW_RST) strcat(want, "R");
        if (e->flags & TCPW_SYN) strcat(want, "S");
        if (e->flags & TCPW_FIN) strcat(want, "F");
        CHECK_STR(lines[i].letters, want);
        CHECK_EQ_U(lines[i].seq, e->rel_seq);
        if (e->flags & TCPW_ACK) CHECK_EQ_U(lines[i].ack, e->rel_ack);
    }
    /* the four segments of the close, as the seeds show them: u = 101, v = w = 201 */
    if (n == 9) {
        static const struct {
            const char *flags;
            unsigned long seq, ack;
        } close4[] = {
            {"\xc2\xb7\xc2\xb7\xc2\xb7\xc2\xb7\xc2\xb7\xc2\xb7\xc2\xb7"
             "A\xc2\xb7\xc2\xb7\xc2\xb7"
             "F",
             101, 201}, /* FIN     seq=u        */
            {"\xc2\xb7\xc2\xb7\xc2\xb7\xc2\xb7\xc2\xb7\xc2\xb7\xc2\xb7"
             "A\xc2\xb7\xc2\xb7\xc2\xb7\xc2\xb7",
             201, 102}, /* ACK     seq=v ack=u+1 */
            {"\xc2\xb7\xc2\xb7\xc2\xb7\xc2\xb7\xc2\xb7\xc2\xb7\xc2\xb7"
             "A\xc2\xb7\xc2\xb7\xc2\xb7"
             "F",
             201, 102}, /* FIN+ACK seq=w ack=u+1 */
            {"\xc2\xb7\xc2\xb7\xc2\xb7\xc2\xb7\xc2\xb7\xc2\xb7\xc2\xb7"
             "A\xc2\xb7\xc2\xb7\xc2\xb7\xc2\xb7",
             102, 202}, /* ACK     seq=u+1 ack=w+1 */
        };
        for (size_t k = 0; k < 4; k++) {
            const ts_line *l = &lines[5 + k];
            CHECK_STR(l->flags, close4[k].flags);
            CHECK_EQ_U(l->seq, close4[k].seq);
            CHECK_EQ_U(l->ack, close4[k].ack);
        }
    }
    if (test_current_failed)
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "  tshark: %s seq=%lu ack=%lu\n", lines[i].flags, lines[i].seq,
                    lines[i].ack);
    tcpw_scn_result_free(&res);
}

int main(void) {
    RUN(test_four_way_in_tshark);
    return test_summary();
}
