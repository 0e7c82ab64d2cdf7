/* cmd_sim.c — `tcpwave sim`: runs a close scenario in the simulator and draws it.
 * (Being built: see issue 3. Until the simulator lands it says so and fails.) */
#include <stdio.h>

#include "cmds.h"

int cmd_sim(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "tcpwave sim: the simulator is not built yet\n");
    return 1;
}
