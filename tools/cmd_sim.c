/* cmd_sim.c — `tcpwave sim`: runs a named close scenario in the deterministic simulator and
 * draws it (text ladder, mermaid, SVG or JSON lines), with the knobs a reader of the seeds
 * wants to turn: lose or hold a segment, change MSL, close both ends at once, and so on.
 *
 *   tcpwave sim                                   the seeds' four-way close
 *   tcpwave sim --scenario lost-last-ack --msl 0  the passive side's FIN answered by RST
 *   tcpwave sim --list                            every scenario, one line each
 *
 * The command is a thin layer: options become tcpw_scn_options (src/sim/scenario.h) and
 * tcpw_view_opts (src/view/view.h); the scenario runner runs, the view draws. The manual is
 * docs/tcpwave.1; the JSON it writes is described in docs/trace-json.md.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "sim/scenario.h"
#include "util/duration.h"
#include "view/view.h"

#define TEXT_WIDTH 98 /* the ladder's width: the heading wraps to it */

typedef enum { COLOR_AUTO, COLOR_ALWAYS, COLOR_NEVER } color_when;

typedef struct sim_cli {
    const char *scenario;
    bool list, quiet;
    const char *output;
    color_when color;
    tcpw_view_opts view;
    tcpw_scn_options scn;
    char given[512]; /* the knobs given, as typed: shown in the heading and the title */
} sim_cli;

/* ---- help ----------------------------------------------------------------------------------- */

static void usage(FILE *f) {
    fputs("usage: tcpwave sim [--scenario NAME] [--format text|mermaid|svg|json] [--explain]\n"
          "                   [--lang en|zh] [--absolute] [--pcap FILE] [-o FILE] [KNOBS...]\n"
          "       tcpwave sim --list\n"
          "'tcpwave sim --help' describes every option.\n",
          f);
}

static void help(FILE *f) {
    fputs(
        "usage: tcpwave sim [SCENARIO] [OPTIONS]\n"
        "\n"
        "Runs a TCP close scenario between a client and a server stack over a deterministic\n"
        "simulated link and draws it: every segment (virtual time, direction, flags, seq/ack,\n"
        "length), each endpoint's state after every event and the cause of every state change.\n"
        "Without a scenario it runs four-way, the seeds' main case: connect, a little data,\n"
        "the client closes first.\n"
        "\n"
        "What to run and how to show it:\n"
        "  -s, --scenario NAME    the scenario to run (default four-way; also positional)\n"
        "  -l, --list             list the scenarios with a one-line description (in Chinese\n"
        "                         with --lang zh)\n"
        "  -f, --format FMT       text (default), mermaid, svg or json (docs/trace-json.md)\n"
        "  -e, --explain          annotate every step in plain words with its RFC section\n"
        "      --lang en|zh       language of the explanations and of the scenario's description\n"
        "                         (zh: the seeds' terms, 第一次挥手 ... 第四次挥手, 半关闭, 2MSL)\n"
        "  -a, --absolute         raw sequence numbers (default: relative, as Wireshark)\n"
        "      --color[=WHEN]     auto (default: when stdout is a terminal and NO_COLOR is\n"
        "                         unset), always or never; --no-color is never\n"
        "  -q, --quiet            text format: no summary after the ladder\n"
        "  -o, --output FILE      write the drawing to FILE instead of stdout\n"
        "      --pcap FILE        also write every packet of the run to a pcap capture\n"
        "\n"
        "Knobs (they override the scenario's own settings, on both sides / both directions):\n"
        "      --seed N           seed of the run: the link's random draws, the ISNs (default 1)\n"
        "      --loss P           probability a segment is lost: 0.1 or 10%\n"
        "      --dup P            probability a segment is duplicated\n"
        "      --reorder P        probability a segment is reordered\n"
        "      --delay MS         one-way latency (ms; or 1.5s, 300us); default 10\n"
        "      --drop RULE        drop (or hold) one given segment; may repeat. RULE is\n"
        "                         FROM>TO#N[:FLAGS][@hold=T]: the Nth segment from FROM to TO\n"
        "                         (client, server or *), counting only segments with all of\n"
        "                         FLAGS (S F R P A U) if given, e.g. 'server>client#2',\n"
        "                         'client>server#1:F' (the client's first FIN),\n"
        "                         'client>server#3@hold=200ms' (delivered 200 ms late)\n"
        "      --msl S            Maximum Segment Lifetime in seconds (or 500ms); TIME_WAIT\n"
        "                         lasts 2*MSL. Default 30. 0 skips TIME_WAIT\n"
        "      --fin-timeout S    lifetime of an orphaned FIN_WAIT_2, seconds. Default 60\n"
        "      --tw-reuse[=on|off]  reuse a TIME_WAIT 4-tuple for a new outgoing connection\n"
        "      --rfc1337 on|off   ignore RST in TIME_WAIT (RFC 1337). Default on\n"
        "      --delayed-ack MS   delayed-ACK timer, ms; 0 acknowledges at once. Default 40\n"
        "      --data BYTES       bytes each application sends: N (both), C,S (client,\n"
        "                         server) or client=N / server=N\n"
        "      --client-bytes N, --server-bytes N   the same for one side\n"
        "      --close-first client|server|both   who closes first (both: simultaneous close)\n"
        "\n"
        "  -h, --help             this help\n"
        "\n"
        "Examples:\n"
        "  tcpwave sim                                      the four-way close\n"
        "  tcpwave sim --explain --lang zh                  ... explained in the seeds' words\n"
        "  tcpwave sim --scenario old-duplicate --msl 0     an old segment corrupts a new\n"
        "                                                   connection (default MSL: rejected)\n"
        "  tcpwave sim --scenario lost-last-ack --msl 0     LAST_ACK's FIN answered by RST\n"
        "  tcpwave sim --scenario tw-reuse --tw-reuse       reconnect at once from TIME_WAIT\n"
        "  tcpwave sim --drop 'server>client#1:F' --format svg -o close.svg   3rd wave lost\n"
        "  tcpwave sim --format json | jq -c 'select(.ev==\"seg\")'\n"
        "\n"
        "Exit status: 0 when the scenario ran (whatever happened in it), 1 when it could not\n"
        "run or the output could not be written, 2 for bad arguments. See tcpwave(1).\n",
        f);
}

/* The scenario's description in the language of --lang. */
static const char *description_of(const tcpw_scn_def *d, const char *lang) {
    bool zh = lang && strcmp(lang, "zh") == 0 && d->description_zh && d->description_zh[0];
    return zh ? d->description_zh : d->description;
}

static void list_scenarios(FILE *f, const char *lang) {
    size_t width = 0;
    for (size_t i = 0; i < tcpw_scn_count(); i++) {
        size_t n = strlen(tcpw_scn_get(i)->name);
        if (n > width) width = n;
    }
    for (size_t i = 0; i < tcpw_scn_count(); i++) {
        const tcpw_scn_def *d = tcpw_scn_get(i);
        fprintf(f, "%-*s  %s\n", (int)width, d->name, description_of(d, lang));
    }
}

/* ---- argument errors ------------------------------------------------------------------------ */

__attribute__((format(printf, 1, 2))) static int bad_usage(const char *fmt, ...) {
    va_list ap;
    fputs("tcpwave sim: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    usage(stderr);
    return 2;
}

/* Remembers a knob as the user typed it, for the heading. */
static void note_given(sim_cli *c, const char *name, const char *value) {
    size_t n = strlen(c->given);
    const bool quote = value && strpbrk(value, " #>*'\"$&|;<") != NULL;
    snprintf(c->given + n, sizeof c->given - n, "%s--%s%s%s%s%s", n ? " " : "", name,
             value ? " " : "", quote ? "'" : "", value ? value : "", quote ? "'" : "");
}

/* One override through the scenario layer's parser; 0 or 2 (the message printed). */
static int set_knob(sim_cli *c, const char *key, const char *value) {
    char err[256];
    if (tcpw_scn_option_set(&c->scn, key, value, err, sizeof err) < 0) {
        bad_usage("%s", err);
        return 2;
    }
    return 0;
}

/* --msl and --fin-timeout count in seconds when no unit is given (as tcp_fin_timeout does),
 * with the parser `tcpwave analyze --msl` uses too (util/duration.h); the scenario layer gets
 * the time with an explicit unit. */
static int set_seconds_knob(sim_cli *c, const char *key, const char *value) {
    uint64_t us;
    char buf[32], err[256];
    if (!tcpw_duration_parse(value, TCPW_DUR_S, &us))
        return bad_usage("--%s: '%s' is not a time in seconds (30, 0.5, or with a unit: 500ms)",
                         key, value);
    snprintf(buf, sizeof buf, "%lluus", (unsigned long long)us);
    if (tcpw_scn_option_set(&c->scn, key, buf, err, sizeof err) < 0)
        return bad_usage("--%s: '%s' is out of range", key, value);
    return 0;
}

/* A byte count for --data: digits only. */
static bool is_count(const char *s) {
    return *s && strspn(s, "0123456789") == strlen(s) && strlen(s) <= 10;
}

/* --data N | C,S | C:S | client=N[,server=M] */
static int set_data(sim_cli *c, const char *value) {
    char buf[128];
    if (strlen(value) >= sizeof buf || !*value)
        return bad_usage("--data: '%s' is not N, C,S or client=N / server=N", value);
    strcpy(buf, value);
    char *parts[2] = {buf, NULL};
    char *sep = strpbrk(buf, ",:/");
    if (sep) {
        *sep = '\0';
        parts[1] = sep + 1;
        if (strpbrk(parts[1], ",:/"))
            return bad_usage("--data: '%s' is not N, C,S or client=N / server=N", value);
    }
    bool named = strchr(parts[0], '=') != NULL;
    for (int i = 0; i < 2 && parts[i]; i++) {
        char *p = parts[i];
        const char *key = i == 0 ? "client-bytes" : "server-bytes";
        char *eq = strchr(p, '=');
        if (named != (eq != NULL))
            return bad_usage("--data: '%s' mixes named and unnamed sizes", value);
        if (eq) {
            *eq = '\0';
            if (strcmp(p, "client") == 0)
                key = "client-bytes";
            else if (strcmp(p, "server") == 0)
                key = "server-bytes";
            else
                return bad_usage("--data: '%s' is not client or server", p);
            p = eq + 1;
        }
        if (!is_count(p)) return bad_usage("--data: '%s' is not a byte count", p);
        if (set_knob(c, key, p)) return 2;
        if (!parts[1] && !named && set_knob(c, "server-bytes", p)) return 2; /* N: both */
    }
    return 0;
}

/* ---- options -------------------------------------------------------------------------------- */

enum {
    OPT_LANG = 256,
    OPT_COLOR,
    OPT_NO_COLOR,
    OPT_PCAP,
    OPT_SEED,
    OPT_LOSS,
    OPT_DUP,
    OPT_REORDER,
    OPT_DELAY,
    OPT_DROP,
    OPT_MSL,
    OPT_FIN_TIMEOUT,
    OPT_TW_REUSE,
    OPT_RFC1337,
    OPT_DELAYED_ACK,
    OPT_DATA,
    OPT_CLIENT_BYTES,
    OPT_SERVER_BYTES,
    OPT_CLOSE_FIRST,
};

static const struct option long_options[] = {
    {"scenario", required_argument, NULL, 's'},
    {"list", no_argument, NULL, 'l'},
    {"format", required_argument, NULL, 'f'},
    {"explain", no_argument, NULL, 'e'},
    {"lang", required_argument, NULL, OPT_LANG},
    {"absolute", no_argument, NULL, 'a'},
    {"color", optional_argument, NULL, OPT_COLOR},
    {"colour", optional_argument, NULL, OPT_COLOR},
    {"no-color", no_argument, NULL, OPT_NO_COLOR},
    {"quiet", no_argument, NULL, 'q'},
    {"output", required_argument, NULL, 'o'},
    {"pcap", required_argument, NULL, OPT_PCAP},
    {"seed", required_argument, NULL, OPT_SEED},
    {"loss", required_argument, NULL, OPT_LOSS},
    {"dup", required_argument, NULL, OPT_DUP},
    {"reorder", required_argument, NULL, OPT_REORDER},
    {"delay", required_argument, NULL, OPT_DELAY},
    {"drop", required_argument, NULL, OPT_DROP},
    {"msl", required_argument, NULL, OPT_MSL},
    {"fin-timeout", required_argument, NULL, OPT_FIN_TIMEOUT},
    {"tw-reuse", optional_argument, NULL, OPT_TW_REUSE},
    {"rfc1337", required_argument, NULL, OPT_RFC1337},
    {"delayed-ack", required_argument, NULL, OPT_DELAYED_ACK},
    {"data", required_argument, NULL, OPT_DATA},
    {"client-bytes", required_argument, NULL, OPT_CLIENT_BYTES},
    {"server-bytes", required_argument, NULL, OPT_SERVER_BYTES},
    {"close-first", required_argument, NULL, OPT_CLOSE_FIRST},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The knobs handed straight to tcpw_scn_option_set under their own name. */
static const char *knob_key(int opt) {
    switch (opt) {
    case OPT_SEED: return "seed";
    case OPT_LOSS: return "loss";
    case OPT_DUP: return "dup";
    case OPT_REORDER: return "reorder";
    case OPT_DELAY: return "delay";
    case OPT_DROP: return "drop";
    case OPT_RFC1337: return "rfc1337";
    case OPT_DELAYED_ACK: return "delayed-ack";
    case OPT_CLIENT_BYTES: return "client-bytes";
    case OPT_SERVER_BYTES: return "server-bytes";
    case OPT_CLOSE_FIRST: return "close-first";
    case OPT_PCAP: return "pcap";
    default: return NULL;
    }
}

/* The name of the option getopt just complained about, for the message. */
static const char *bad_option_name(char **argv, int optopt_value, char *buf, size_t cap) {
    const char *arg = argv[optind - 1];
    if (strncmp(arg, "--", 2) == 0) {
        snprintf(buf, cap, "%.*s", (int)strcspn(arg, "="), arg);
        return buf;
    }
    if (optopt_value > 0 && optopt_value < 256) {
        snprintf(buf, cap, "-%c", optopt_value);
        return buf;
    }
    snprintf(buf, cap, "%s", arg);
    return buf;
}

static bool has_option(const char *name) {
    for (const struct option *o = long_options; o->name; o++)
        if (strcmp(o->name, name) == 0) return true;
    return false;
}

/* Parses argv (argv[0] is "sim"). Returns -1 to go on, or the exit code (help, error). */
static int parse_args(sim_cli *c, int argc, char **argv) {
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, ":s:lf:eaqo:h", long_options, NULL)) != -1) {
        char name[64];
        switch (opt) {
        case 's':
            if (c->scenario && strcmp(c->scenario, optarg) != 0)
                return bad_usage("two scenarios given: '%s' and '%s'", c->scenario, optarg);
            c->scenario = optarg;
            break;
        case 'l': c->list = true; break;
        case 'f':
            if (tcpw_format_parse(optarg, &c->view.format) < 0)
                return bad_usage("--format: '%s' is not text, mermaid, svg or json", optarg);
            break;
        case 'e': c->view.explain = true; break;
        case OPT_LANG:
            if (strcmp(optarg, "en") == 0 || strcmp(optarg, "zh") == 0)
                c->view.lang = optarg;
            else if (strcmp(optarg, "cn") == 0 || strncmp(optarg, "zh_", 3) == 0 ||
                     strncmp(optarg, "zh-", 3) == 0)
                c->view.lang = "zh";
            else if (strncmp(optarg, "en_", 3) == 0 || strncmp(optarg, "en-", 3) == 0)
                c->view.lang = "en";
            else
                return bad_usage("--lang: '%s' is not en or zh", optarg);
            break;
        case 'a': c->view.absolute = true; break;
        case OPT_COLOR:
            if (!optarg || strcmp(optarg, "always") == 0 || strcmp(optarg, "yes") == 0)
                c->color = COLOR_ALWAYS;
            else if (strcmp(optarg, "auto") == 0)
                c->color = COLOR_AUTO;
            else if (strcmp(optarg, "never") == 0 || strcmp(optarg, "no") == 0)
                c->color = COLOR_NEVER;
            else
                return bad_usage("--color: '%s' is not auto, always or never", optarg);
            break;
        case OPT_NO_COLOR: c->color = COLOR_NEVER; break;
        case 'q': c->quiet = true; break;
        case 'o':
            if (!*optarg) return bad_usage("--output needs a file name");
            c->output = optarg;
            break;
        case OPT_MSL:
        case OPT_FIN_TIMEOUT: {
            const char *key = opt == OPT_MSL ? "msl" : "fin-timeout";
            if (set_seconds_knob(c, key, optarg)) return 2;
            note_given(c, key, optarg);
            break;
        }
        case OPT_TW_REUSE:
            if (set_knob(c, "tw-reuse", optarg ? optarg : "on")) return 2;
            note_given(c, "tw-reuse", optarg);
            break;
        case OPT_DATA:
            if (set_data(c, optarg)) return 2;
            note_given(c, "data", optarg);
            break;
        case 'h': help(stdout); return 0;
        case ':':
            return bad_usage("option '%s' needs a value",
                             bad_option_name(argv, optopt, name, sizeof name));
        case '?': {
            const char *bad = bad_option_name(argv, optopt, name, sizeof name);
            /* getopt says '?' both for an unknown option and for a value given to a flag */
            if (bad[0] == '-' && bad[1] == '-' && strchr(argv[optind - 1], '=') &&
                has_option(bad + 2))
                return bad_usage("option '%s' takes no value", bad);
            return bad_usage("unknown option '%s'", bad);
        }
        default: {
            const char *key = knob_key(opt);
            if (!key) return bad_usage("unexpected option");
            if (set_knob(c, key, optarg)) return 2;
            if (opt != OPT_PCAP) note_given(c, key, optarg);
            break;
        }
        }
    }
    for (int i = optind; i < argc; i++) {
        if (c->scenario && strcmp(c->scenario, argv[i]) != 0)
            return bad_usage("unexpected argument '%s' (scenario '%s' already given)", argv[i],
                             c->scenario);
        c->scenario = argv[i];
    }
    return -1;
}

/* ---- output --------------------------------------------------------------------------------- */

static bool want_color(const sim_cli *c, FILE *out) {
    if (c->view.format != TCPW_FMT_TEXT || c->color == COLOR_NEVER) return false;
    if (c->color == COLOR_ALWAYS) return true;
    const char *no = getenv("NO_COLOR");
    if (no && *no) return false;
    return out == stdout && isatty(fileno(stdout));
}

/* The text format's heading: which scenario, what it shows, and the knobs turned. */
static void print_heading(FILE *out, const sim_cli *c, const tcpw_scn_def *d, bool color) {
    fprintf(out, "%s%s%s:", color ? "\033[1m" : "", d->name, color ? "\033[0m" : "");
    tcpw_view_print_wrapped(out, description_of(d, c->view.lang), strlen(d->name) + 1, 2,
                            TEXT_WIDTH);
    if (c->given[0]) fprintf(out, "  with %s\n", c->given);
    fputc('\n', out);
}

int cmd_sim(int argc, char **argv) {
    sim_cli c;
    memset(&c, 0, sizeof c);
    tcpw_view_opts_default(&c.view);
    tcpw_scn_options_init(&c.scn);
    c.color = COLOR_AUTO;

    int rc = parse_args(&c, argc, argv);
    if (rc >= 0) return rc;
    if (c.list) {
        list_scenarios(stdout, c.view.lang);
        return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
    }
    const char *name = c.scenario ? c.scenario : TCPW_SCN_DEFAULT;
    const tcpw_scn_def *def = tcpw_scn_find(name);
    if (!def) {
        char known[1024];
        size_t used = 0;
        known[0] = '\0';
        for (size_t i = 0; i < tcpw_scn_count(); i++) {
            int n = snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                             tcpw_scn_get(i)->name);
            if (n < 0 || (size_t)n >= sizeof known - used) break;
            used += (size_t)n;
        }
        return bad_usage("unknown scenario '%s' (known: %s)", name, known);
    }

    /* the output first: a file that cannot be written is known before the run */
    FILE *out = stdout;
    if (c.output) {
        out = fopen(c.output, "w");
        if (!out) {
            fprintf(stderr, "tcpwave sim: %s: %s\n", c.output, strerror(errno));
            return 1;
        }
    }

    tcpw_scn_result res;
    rc = tcpw_scn_run_named(def->name, &c.scn, &res);
    if (rc < 0) {
        fprintf(stderr, "tcpwave sim: %s: %s\n", def->name,
                res.error[0] ? res.error : tcpw_strerror(rc));
        tcpw_scn_result_free(&res);
        if (out != stdout) {
            fclose(out);
            remove(c.output);
        }
        return 1;
    }

    bool color = want_color(&c, out);
    c.view.color = color;
    char title[640];
    snprintf(title, sizeof title, "tcpwave sim --scenario %s%s%s", def->name, c.given[0] ? " " : "",
             c.given);
    bool failed = false;
    errno = 0;
    if (c.view.format == TCPW_FMT_TEXT) {
        print_heading(out, &c, def, color);
        c.view.title = NULL;
        failed |= tcpw_view_render(out, &res.rec, &c.view) < 0;
        if (!c.quiet) {
            fputc('\n', out);
            tcpw_scn_print_summary(out, &res);
        }
    } else {
        c.view.title = title;
        failed |= tcpw_view_render(out, &res.rec, &c.view) < 0;
    }
    if (fflush(out) != 0 || ferror(out)) failed = true;
    int write_errno = errno;
    if (out != stdout && fclose(out) != 0) failed = true, write_errno = errno;
    if (failed)
        fprintf(stderr, "tcpwave sim: writing %s failed%s%s\n", c.output ? c.output : "the output",
                write_errno ? ": " : "", write_errno ? strerror(write_errno) : "");
    tcpw_scn_result_free(&res);
    return failed ? 1 : 0;
}
