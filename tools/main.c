/* main.c — the tcpwave command: dispatches to one subcommand per file (tools/cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "cmds.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"sim", cmd_sim, "run a close scenario in the deterministic simulator and draw it"},
    {"tun", cmd_tun, "talk to the Linux kernel's TCP over a TUN device in a network namespace"},
    {"analyze", cmd_analyze,
     "read a capture: both endpoints' states on every packet, close verdicts"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: tcpwave COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'tcpwave COMMAND --help' describes a command.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tcpwave: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
