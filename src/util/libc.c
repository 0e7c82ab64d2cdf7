/* libc.c — glue between the libc-free core and the C library, for drivers that have one. */
#include <stdlib.h>

#include "tcpwave/tcpwave.h"

static void *libc_alloc(void *user, size_t size) {
    (void)user;
    return malloc(size);
}

static void libc_free(void *user, void *ptr) {
    (void)user;
    free(ptr);
}

void tcpw_config_use_libc(tcpw_config *cfg) {
    cfg->alloc = libc_alloc;
    cfg->free = libc_free;
}
