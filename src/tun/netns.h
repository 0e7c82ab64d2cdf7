/* netns.h — the network namespace around a TUN run: creating (or adopting) a namespace,
 * entering it, the TUN device and its addresses inside it, and removing everything again —
 * on exit, on Ctrl-C and after a crash.
 *
 * Nothing here touches the root namespace: the device is created from inside the namespace
 * (the process enters it with setns() before opening /dev/net/tun), and every address and
 * route is added there. Addresses and routes are set with iproute2's `ip` (run without a
 * shell), as a person would.
 *
 * Crash safety: tcpw_netns_guard() forks a small watchdog that outlives the process and
 * deletes the namespace when the process goes, however it goes (exit, signal, SIGKILL). A
 * namespace tcpwave created is also listed in /run/tcpwave/NAME.owner with the owner's pid;
 * tcpw_netns_clean_stale() deletes the namespaces whose owner is gone (both died).
 * Namespaces tcpwave did not create are never deleted.
 */
#ifndef TCPW_TUN_NETNS_H
#define TCPW_TUN_NETNS_H

#include <stdbool.h>
#include <stddef.h>

/* The prefix of every namespace tcpwave names itself (tcpw-PID). */
#define TCPW_NETNS_PREFIX "tcpw-"
/* Where owner records live. */
#define TCPW_NETNS_OWNER_DIR "/run/tcpwave"

/* Runs argv[0] (searched in PATH) with argv, without a shell, and waits for it. Its standard
 * output goes to /dev/null when quiet. Returns its exit status (0..255), 128+signal when a
 * signal ended it, or -1 when it could not be started. */
int tcpw_run_cmd(char *const argv[], bool quiet);

/* Whether /run/netns/NAME exists. */
bool tcpw_netns_exists(const char *name);

/* A namespace name iproute2 accepts: 1..63 characters of [A-Za-z0-9_.-], not "." or "..". */
bool tcpw_netns_name_ok(const char *name);

/* Creates the named namespace unless it exists; *created tells which. 0, or -1 with a
 * message in err. */
int tcpw_netns_add(const char *name, bool *created, char *err, size_t errlen);

/* Deletes the named namespace (ip netns del). 0 or -1. */
int tcpw_netns_del(const char *name);

/* Moves the calling thread into the named namespace. 0, or -1 with a message in err. */
int tcpw_netns_enter(const char *name, char *err, size_t errlen);

/* Records this process as the owner of the namespace it created and forks the watchdog that
 * deletes it when this process ends. Returns the watchdog's pid (> 0) or -1; *guard_fd gets
 * the descriptor whose closing tells the watchdog to clean up (close-on-exec). */
int tcpw_netns_guard(const char *name, int *guard_fd, char *err, size_t errlen);

/* Ends the guard: closes guard_fd and waits for the watchdog to have deleted the namespace. */
void tcpw_netns_release(int guard_fd, int watchdog_pid);

/* Deletes namespaces created by tcpwave processes that no longer run (their owner record
 * names a dead process). Returns how many were deleted. */
int tcpw_netns_clean_stale(void);

/* Opens /dev/net/tun as a TUN device (IFF_TUN | IFF_NO_PI) named `want` (a pattern such as
 * "tcpw%d" works too) in the calling thread's namespace, non-blocking and close-on-exec.
 * Returns the descriptor and the kernel's name for it in name (IFNAMSIZ bytes), or -1 with
 * a message in err. */
int tcpw_tun_open_device(const char *want, char *name, char *err, size_t errlen);

/* Addresses of the two ends (text, as `ip` takes them). */
typedef struct tcpw_netns_addrs {
    const char *kernel4, *tcpwave4; /* NULL: no IPv4 */
    const char *kernel6, *tcpwave6; /* NULL: no IPv6 */
} tcpw_netns_addrs;

/* Configures the device inside the current namespace: loopback up; IPv6 without DAD, router
 * solicitations or a link-local address; MTU; the kernel's addresses on the device (/32,
 * /128) and host routes to tcpwave's addresses through it; link up. 0, or -1 with a message. */
int tcpw_netns_setup_device(const char *ifname, int mtu, const tcpw_netns_addrs *a, char *err,
                            size_t errlen);

#endif
