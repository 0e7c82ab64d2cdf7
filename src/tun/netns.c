/* netns.c — network namespaces, the TUN device inside one, its addresses, and cleaning up
 * (see netns.h).
 */
#include "tun/netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NETNS_DIR "/run/netns"

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int tcpw_run_cmd(char *const argv[], bool quiet) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (quiet) {
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0) {
                dup2(null, STDOUT_FILENO);
                close(null);
            }
        }
        /* the caller may block signals around its event loop: the command gets a clean set */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status) == 127 ? -1 : WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

bool tcpw_netns_name_ok(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 63 || !strcmp(name, ".") || !strcmp(name, "..")) return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static void netns_path(const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", NETNS_DIR, name);
}

bool tcpw_netns_exists(const char *name) {
    char path[128];
    netns_path(name, path, sizeof path);
    struct stat st;
    return stat(path, &st) == 0;
}

int tcpw_netns_add(const char *name, bool *created, char *err, size_t errlen) {
    *created = false;
    if (!tcpw_netns_name_ok(name)) return fail(err, errlen, "bad namespace name '%s'", name);
    if (tcpw_netns_exists(name)) return 0;
    char *argv[] = {"ip", "netns", "add", (char *)name, NULL};
    int rc = tcpw_run_cmd(argv, true);
    if (rc != 0)
        return fail(err, errlen, "'ip netns add %s' failed (%s)", name,
                    rc < 0 ? "cannot run ip: is iproute2 installed?" : "see above");
    *created = true;
    return 0;
}

int tcpw_netns_del(const char *name) {
    if (!tcpw_netns_name_ok(name)) return -1;
    char *argv[] = {"ip", "netns", "del", (char *)name, NULL};
    return tcpw_run_cmd(argv, true) == 0 ? 0 : -1;
}

int tcpw_netns_enter(const char *name, char *err, size_t errlen) {
    char path[128];
    netns_path(name, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(err, errlen, "cannot open %s: %s", path, strerror(errno));
    int rc = setns(fd, CLONE_NEWNET);
    int e = errno;
    close(fd);
    if (rc != 0) return fail(err, errlen, "setns into %s: %s", name, strerror(e));
    return 0;
}

/* ---- ownership and the watchdog -------------------------------------------------------------- */

/* Field 22 of /proc/PID/stat: the process's start time, which tells a pid reused by another
 * process from the one that wrote an owner record. 0 when unknown. */
static unsigned long long proc_start_time(long pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (!p) return 0;
    p++;
    /* after ')' come field 3 (state) ... field 22 (starttime): skip 19 fields */
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p + 1, ' ');
    }
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

static void owner_path(const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s.owner", TCPW_NETNS_OWNER_DIR, name);
}

static bool owner_alive(const char *path) {
    FILE *f = fopen(path, "re");
    if (!f) return false;
    long pid = 0;
    unsigned long long start = 0;
    int n = fscanf(f, "%ld %llu", &pid, &start);
    fclose(f);
    if (n != 2 || pid <= 0) return false;
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return false;
    return proc_start_time(pid) == start;
}

/* The watchdog: waits until the owner's end of the pipe closes, then deletes the namespace
 * and the owner record. Runs in its own session so that a Ctrl-C meant for the owner leaves
 * it alone. */
static void watchdog_main(int rd, const char *name, const char *owner) {
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        if (null > STDERR_FILENO) close(null);
    }
    for (int fd = 3; fd < 1024; fd++)
        if (fd != rd) close(fd);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    char c;
    while (read(rd, &c, 1) != 0) {
        if (errno != EINTR) break;
    }
    tcpw_netns_del(name);
    unlink(owner);
    _exit(0);
}

int tcpw_netns_guard(const char *name, int *guard_fd, char *err, size_t errlen) {
    char owner[256];
    owner_path(name, owner, sizeof owner);
    mkdir(TCPW_NETNS_OWNER_DIR, 0755);
    FILE *f = fopen(owner, "we");
    if (!f) return fail(err, errlen, "cannot write %s: %s", owner, strerror(errno));
    fprintf(f, "%ld %llu\n", (long)getpid(), proc_start_time((long)getpid()));
    if (fclose(f) != 0) return fail(err, errlen, "cannot write %s", owner);
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return fail(err, errlen, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return fail(err, errlen, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(p[1]);
        watchdog_main(p[0], name, owner);
    }
    close(p[0]);
    *guard_fd = p[1];
    return (int)pid;
}

void tcpw_netns_release(int guard_fd, int watchdog_pid) {
    if (guard_fd >= 0) close(guard_fd);
    if (watchdog_pid > 0) {
        int status;
        while (waitpid(watchdog_pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
}

int tcpw_netns_clean_stale(void) {
    DIR *d = opendir(TCPW_NETNS_OWNER_DIR);
    if (!d) return 0;
    int cleaned = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        size_t len = strlen(n);
        if (strncmp(n, TCPW_NETNS_PREFIX, strlen(TCPW_NETNS_PREFIX)) != 0 || len < 7 ||
            strcmp(n + len - 6, ".owner") != 0 || len - 6 > 63)
            continue;
        char name[64], owner[320];
        memcpy(name, n, len - 6);
        name[len - 6] = '\0';
        snprintf(owner, sizeof owner, "%s/%s", TCPW_NETNS_OWNER_DIR, n);
        if (!tcpw_netns_name_ok(name) || owner_alive(owner)) continue;
        if (tcpw_netns_exists(name) && tcpw_netns_del(name) == 0) cleaned++;
        unlink(owner);
    }
    closedir(d);
    return cleaned;
}

/* ---- the device ------------------------------------------------------------------------------ */

int tcpw_tun_open_device(const char *want, char *name, char *err, size_t errlen) {
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return fail(err, errlen, "cannot open /dev/net/tun: %s", strerror(errno));
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", want ? want : "tcpw%d");
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
        int e = errno;
        close(fd);
        return fail(err, errlen, "TUNSETIFF %s: %s", want ? want : "tcpw%d", strerror(e));
    }
    snprintf(name, IFNAMSIZ, "%s", ifr.ifr_name);
    return fd;
}

/* Writes a sysctl of the current namespace through /proc/sys (no failure is fatal: an
 * IPv6-less kernel has no such files). */
static void sysctl_write(const char *path, const char *value) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = write(fd, value, strlen(value));
    (void)n;
    close(fd);
}

static int ip_cmd(char *err, size_t errlen, char *const argv[]) {
    if (tcpw_run_cmd(argv, true) == 0) return 0;
    char line[256] = "";
    for (int i = 0; argv[i]; i++) {
        size_t l = strlen(line);
        snprintf(line + l, sizeof line - l, "%s%s", i ? " " : "", argv[i]);
    }
    return fail(err, errlen, "'%s' failed", line);
}

int tcpw_netns_setup_device(const char *ifname, int mtu, const tcpw_netns_addrs *a, char *err,
                            size_t errlen) {
    char path[160], mtu_s[16], k4[64], t4[64], k6[80], t6[80];
    snprintf(mtu_s, sizeof mtu_s, "%d", mtu);
    char *lo_up[] = {"ip", "link", "set", "dev", "lo", "up", NULL};
    if (ip_cmd(err, errlen, lo_up)) return -1;
    /* IPv6: no duplicate address detection (the address is usable at once), no router
     * solicitations, no link-local address: only the segments of the test cross the device. */
    static const struct {
        const char *key, *value;
    } v6[] = {{"addr_gen_mode", "1"},
              {"accept_dad", "0"},
              {"dad_transmits", "0"},
              {"router_solicitations", "0"},
              {"accept_ra", "0"}};
    for (size_t i = 0; i < sizeof v6 / sizeof v6[0]; i++) {
        snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/%s", ifname, v6[i].key);
        sysctl_write(path, v6[i].value);
    }
    char *set_mtu[] = {"ip", "link", "set", "dev", (char *)ifname, "mtu", mtu_s, NULL};
    if (ip_cmd(err, errlen, set_mtu)) return -1;
    if (a->kernel4 && a->tcpwave4) {
        snprintf(k4, sizeof k4, "%s/32", a->kernel4);
        snprintf(t4, sizeof t4, "%s/32", a->tcpwave4);
        char *addr[] = {"ip", "-4", "addr", "add", k4, "dev", (char *)ifname, NULL};
        if (ip_cmd(err, errlen, addr)) return -1;
    }
    if (a->kernel6 && a->tcpwave6) {
        snprintf(k6, sizeof k6, "%s/128", a->kernel6);
        snprintf(t6, sizeof t6, "%s/128", a->tcpwave6);
        char *addr[] = {"ip", "-6", "addr", "add", k6, "dev", (char *)ifname, "nodad", NULL};
        if (ip_cmd(err, errlen, addr)) return -1;
    }
    char *up[] = {"ip", "link", "set", "dev", (char *)ifname, "up", NULL};
    if (ip_cmd(err, errlen, up)) return -1;
    if (a->kernel4 && a->tcpwave4) {
        char *route[] = {
            "ip", "-4", "route", "add", t4, "dev", (char *)ifname, "src", (char *)a->kernel4, NULL};
        if (ip_cmd(err, errlen, route)) return -1;
    }
    if (a->kernel6 && a->tcpwave6) {
        char *route[] = {
            "ip", "-6", "route", "add", t6, "dev", (char *)ifname, "src", (char *)a->kernel6, NULL};
        if (ip_cmd(err, errlen, route)) return -1;
    }
    return 0;
}
