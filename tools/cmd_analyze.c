/* cmd_analyze.c — `tcpwave analyze`: reads a pcap/pcapng capture and tells, for every TCP
 * connection in it, both endpoints' RFC 9293 states on every packet, who closed first and
 * how, what each side was left in, Zeek's conn_state/history, and the anomalies with the rule
 * each breaks.
 *
 *   tcpwave analyze capture.pcap                  the table, details, per-host report
 *   tcpwave analyze --json --packets x.pcap       one JSON object per connection
 *   tcpwave analyze --conn 3 --format svg x.pcap  connection 3 as a ladder (as tcpwave sim)
 *   tcpdump -w - port 80 | tcpwave analyze -      from stdin
 *
 * A thin layer over src/analyze (capture.h reads, analyze.h infers, report.h prints) and the
 * shared renderer src/view. Exit codes and the JSON schema: docs/analyze.md.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "analyze/analyze.h"
#include "analyze/capture.h"
#include "analyze/report.h"
#include "cmds.h"
#include "util/duration.h"
#include "view/view.h"

typedef struct an_cli {
    const char *path, *filter, *output;
    bool json, packets, absolute, explain, no_progress;
    int color; /* -1 auto, 0 never, 1 always */
    long conn;
    bool format_given;
    tcpw_format format;
    const char *lang;
    tcpw_an_config cfg;
} an_cli;

static void usage(FILE *f) {
    fputs("usage: tcpwave analyze [-f FILTER] [--json] [--packets] [--conn N [--format FMT]]\n"
          "                       [--msl S] [-o FILE] [FILE | -]\n"
          "'tcpwave analyze --help' describes every option.\n",
          f);
}

static void help(FILE *f) {
    fputs("usage: tcpwave analyze [OPTIONS] [FILE | -]\n"
          "\n"
          "Reads a pcap or pcapng capture (Ethernet, VLAN, Linux cooked SLL/SLL2, raw IP,\n"
          "loopback; IPv4 and IPv6) from FILE or stdin and reports every TCP connection in it:\n"
          "both endpoints' RFC 9293 states after every packet, who opened and who closed first,\n"
          "the close pattern (four-way, three-segment, simultaneous, half-close, rst, none),\n"
          "the state each side was left in and what it means, retransmissions, duplicate ACKs,\n"
          "out-of-order segments, gaps, zero windows and keep-alives, Zeek's conn_state and\n"
          "history, anomalies named with the RFC rule they break, and the sockets left in\n"
          "CLOSE_WAIT or TIME_WAIT per host:port. Sequence numbers are relative, as Wireshark\n"
          "shows them. States marked * are inferred (see the evidence printed with them).\n"
          "\n"
          "  -f, --filter EXPR    BPF filter (tcpdump syntax), e.g. -f 'port 80'\n"
          "      --json           one JSON object per connection (docs/analyze.md)\n"
          "      --packets        every packet: rows with both states (text) or records (JSON)\n"
          "      --conn N         only connection N; in text, its packet-by-packet ladder drawn\n"
          "                       like tcpwave sim's\n"
          "      --format FMT     the ladder's format with --conn: text, mermaid, svg, json\n"
          "  -e, --explain        annotate the ladder in plain words with RFC sections\n"
          "      --lang en|zh     language of the explanations\n"
          "  -a, --absolute       raw sequence numbers instead of relative ones\n"
          "      --msl S          Maximum Segment Lifetime in seconds, or with a unit (500ms,\n"
          "                       2s), as tcpwave sim --msl; default 30: TIME_WAIT 60 s, Linux\n"
          "      --rfc1337        endpoints ignore RST in TIME_WAIT (RFC 1337; Linux does not)\n"
          "      --color[=WHEN]   auto, always, never (ladder only); --no-color\n"
          "      --no-progress    no progress bar on stderr\n"
          "  -o, --output FILE    write to FILE instead of stdout\n"
          "  -h, --help           this help\n"
          "\n"
          "Exit codes: 0 done; 1 done, but the capture is damaged (a truncated or bad record:\n"
          "everything before it was analysed; a malformed TCP/IP header: skipped); 2 bad\n"
          "usage or filter; 3 unreadable: missing, empty, not a pcap/pcapng capture, or an\n"
          "unsupported link type; 4 no TCP in the capture.\n",
          f);
}

/* ---- the progress bar -------------------------------------------------------------------- */

typedef struct progress {
    const char *name;
    struct timespec start;
    bool shown;
} progress;

static double since(const struct timespec *t0) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void show_progress(void *arg, uint64_t done, uint64_t total, uint64_t records) {
    progress *pg = arg;
    double el = since(&pg->start);
    if (el < 1.0) return;
    pg->shown = true;
    if (total) {
        int pct = (int)(100.0 * (double)done / (double)total);
        if (pct > 100) pct = 100;
        char bar[31];
        int fill = pct * 30 / 100;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\rreading %s [%s] %3d%%  %llu records  %.1f s", pg->name, bar, pct,
                (unsigned long long)records, el);
    } else {
        fprintf(stderr, "\rreading %s  %llu records  %.1f s", pg->name, (unsigned long long)records,
                el);
    }
    fflush(stderr);
}

/* ---- options ------------------------------------------------------------------------------ */

static bool parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv, an_cli *cli) {
    enum {
        O_JSON = 256,
        O_PACKETS,
        O_CONN,
        O_FORMAT,
        O_LANG,
        O_MSL,
        O_RFC1337,
        O_COLOR,
        O_NO_COLOR,
        O_NO_PROGRESS
    };
    static const struct option longopts[] = {
        {"filter", required_argument, NULL, 'f'},
        {"json", no_argument, NULL, O_JSON},
        {"packets", no_argument, NULL, O_PACKETS},
        {"conn", required_argument, NULL, O_CONN},
        {"format", required_argument, NULL, O_FORMAT},
        {"explain", no_argument, NULL, 'e'},
        {"lang", required_argument, NULL, O_LANG},
        {"absolute", no_argument, NULL, 'a'},
        {"msl", required_argument, NULL, O_MSL},
        {"rfc1337", no_argument, NULL, O_RFC1337},
        {"color", optional_argument, NULL, O_COLOR},
        {"no-color", no_argument, NULL, O_NO_COLOR},
        {"no-progress", no_argument, NULL, O_NO_PROGRESS},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":f:eao:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'f': cli->filter = optarg; break;
        case O_JSON: cli->json = true; break;
        case O_PACKETS: cli->packets = true; break;
        case O_CONN:
            if (!parse_long(optarg, 1, 1L << 30, &cli->conn)) {
                fprintf(stderr, "tcpwave analyze: --conn wants a connection number, not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case O_FORMAT:
            if (tcpw_format_parse(optarg, &cli->format) != 0) {
                fprintf(stderr, "tcpwave analyze: unknown format '%s' (text, mermaid, svg, json)\n",
                        optarg);
                return 2;
            }
            cli->format_given = true;
            break;
        case 'e': cli->explain = true; break;
        case O_LANG:
            if (strcmp(optarg, "en") && strcmp(optarg, "zh")) {
                fprintf(stderr, "tcpwave analyze: --lang is en or zh, not '%s'\n", optarg);
                return 2;
            }
            cli->lang = optarg;
            break;
        case 'a': cli->absolute = true; break;
        case O_MSL: {
            /* seconds unless a unit is given, as `tcpwave sim --msl` (util/duration.h) */
            uint64_t us;
            if (!tcpw_duration_parse(optarg, TCPW_DUR_S, &us) || us < 1000 ||
                us > 3600 * TCPW_DUR_S) {
                fprintf(stderr,
                        "tcpwave analyze: --msl wants a time from 1ms to 3600s (seconds, or with "
                        "a unit: 500ms, 2s), not '%s'\n",
                        optarg);
                return 2;
            }
            cli->cfg.msl_ms = (uint32_t)(us / 1000);
            break;
        }
        case O_RFC1337: cli->cfg.rfc1337 = true; break;
        case O_COLOR:
            if (!optarg || !strcmp(optarg, "always"))
                cli->color = 1;
            else if (!strcmp(optarg, "never"))
                cli->color = 0;
            else if (!strcmp(optarg, "auto"))
                cli->color = -1;
            else {
                fprintf(stderr, "tcpwave analyze: --color is auto, always or never\n");
                return 2;
            }
            break;
        case O_NO_COLOR: cli->color = 0; break;
        case O_NO_PROGRESS: cli->no_progress = true; break;
        case 'o': cli->output = optarg; break;
        case 'h': help(stdout); return 0;
        case ':':
            fprintf(stderr, "tcpwave analyze: %s needs a value\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        default:
            fprintf(stderr, "tcpwave analyze: unknown option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) cli->path = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "tcpwave analyze: one capture at a time ('%s' is extra)\n", argv[optind]);
        return 2;
    }
    if (!cli->path) {
        if (isatty(STDIN_FILENO)) {
            fprintf(stderr, "tcpwave analyze: no capture given (a file, or '-' for stdin)\n");
            usage(stderr);
            return 2;
        }
        cli->path = "-";
    }
    if (cli->format_given && !cli->conn) {
        fprintf(stderr, "tcpwave analyze: --format draws one connection: add --conn N\n");
        return 2;
    }
    return -1;
}

/* ---- the command -------------------------------------------------------------------------- */

static int draw_ladder(FILE *out, const an_cli *cli, const tcpw_an_conn *c) {
    tcpw_recording rec;
    tcpw_rec_init(&rec, "client", "server");
    if (tcpw_an_conn_recording(c, &rec) != 0) {
        tcpw_rec_free(&rec);
        fprintf(stderr, "tcpwave analyze: out of memory\n");
        return 3;
    }
    tcpw_view_opts vo;
    tcpw_view_opts_default(&vo);
    vo.format = cli->format_given ? cli->format : TCPW_FMT_TEXT;
    vo.absolute = cli->absolute;
    vo.explain = cli->explain;
    if (cli->lang) vo.lang = cli->lang;
    bool tty = out == stdout && isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    vo.color = vo.format == TCPW_FMT_TEXT && (cli->color == 1 || (cli->color < 0 && tty));
    char title[160];
    snprintf(title, sizeof title, "connection %u: client port %u, server port %u (%s close)", c->id,
             c->ep[0].port, c->ep[1].port, tcpw_an_close_name(c->close));
    vo.title = title;
    int rc = tcpw_view_render(out, &rec, &vo);
    tcpw_rec_free(&rec);
    if (rc != 0) {
        fprintf(stderr, "tcpwave analyze: writing the ladder failed\n");
        return 3;
    }
    return 0;
}

int cmd_analyze(int argc, char **argv) {
    an_cli cli;
    memset(&cli, 0, sizeof cli);
    cli.color = -1;
    tcpw_an_config_default(&cli.cfg);
    int rc = parse_args(argc, argv, &cli);
    if (rc >= 0) return rc;
    cli.cfg.keep_packets = cli.packets || cli.conn;

    tcpw_analyzer *a = tcpw_an_new(&cli.cfg);
    if (!a) {
        fprintf(stderr, "tcpwave analyze: out of memory\n");
        return 3;
    }
    progress pg = {.name = strcmp(cli.path, "-") ? cli.path : "<stdin>"};
    clock_gettime(CLOCK_MONOTONIC, &pg.start);
    bool bar = !cli.no_progress && isatty(STDERR_FILENO);
    tcpw_an_read_result res;
    int status = tcpw_an_read_file(a, cli.path, cli.filter, bar ? show_progress : NULL, &pg, &res);
    if (pg.shown) fprintf(stderr, "\r%*s\r", 78, "");
    if (status == TCPW_AN_EXIT_USAGE || status == TCPW_AN_EXIT_UNREADABLE ||
        status == TCPW_AN_EXIT_NO_TCP) {
        fprintf(stderr, "tcpwave analyze: %s\n", res.message);
        tcpw_an_free(a);
        return status;
    }
    if (status == TCPW_AN_EXIT_DAMAGED)
        fprintf(stderr, "tcpwave analyze: warning: %s\n", res.message);
    if (tcpw_an_finish(a) != 0) {
        fprintf(stderr, "tcpwave analyze: out of memory\n");
        tcpw_an_free(a);
        return 3;
    }
    FILE *out = stdout;
    if (cli.output && !(out = fopen(cli.output, "w"))) {
        perror(cli.output);
        tcpw_an_free(a);
        return 2;
    }
    const tcpw_an_conn *one = NULL;
    if (cli.conn) {
        for (size_t i = 0; i < tcpw_an_conn_count(a); i++)
            if ((long)tcpw_an_conn_get(a, i)->id == cli.conn) one = tcpw_an_conn_get(a, i);
        if (!one) {
            fprintf(stderr, "tcpwave analyze: no connection %ld (the capture has %zu)\n", cli.conn,
                    tcpw_an_conn_count(a));
            if (out != stdout) fclose(out);
            tcpw_an_free(a);
            return 2;
        }
    }
    tcpw_an_report_opts ro = {
        .name = pg.name, .packets = cli.packets, .absolute = cli.absolute, .conn = cli.conn};
    int drc = 0;
    if (cli.json) {
        tcpw_an_report_json(out, a, &ro);
    } else if (one) {
        drc = draw_ladder(out, &cli, one);
        if (!cli.format_given || cli.format == TCPW_FMT_TEXT) {
            ro.packets = cli.packets;
            tcpw_an_report_text(out, a, &ro);
        }
    } else {
        tcpw_an_report_text(out, a, &ro);
    }
    if (fflush(out) != 0 || ferror(out)) {
        fprintf(stderr, "tcpwave analyze: writing the output failed\n");
        drc = 3;
    }
    if (out != stdout) fclose(out);
    tcpw_an_free(a);
    return drc ? drc : status;
}
