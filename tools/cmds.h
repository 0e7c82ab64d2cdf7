/* cmds.h — the subcommands of the tcpwave command. Each takes argv starting at its name and
 * returns the process exit code (0 ok, 1 failure, 2 bad usage). */
#ifndef TCPW_CMDS_H
#define TCPW_CMDS_H

int cmd_sim(int argc, char **argv);
int cmd_tun(int argc, char **argv);
int cmd_analyze(int argc, char **argv);

#endif
