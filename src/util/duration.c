/* duration.c — "30", "0.5", "500ms", "2s", "300us" to microseconds, in integers (no floating
 * point: "0.1s" is exactly 100000 µs). See duration.h. */
#include "util/duration.h"

#include <stddef.h>
#include <string.h>

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool tcpw_duration_scan(const char **p, uint64_t default_unit_us, uint64_t *out_us) {
    if (!p || !*p || !out_us || default_unit_us == 0) return false;
    const char *s = *p;
    uint64_t whole = 0, frac = 0, frac_div = 1;
    if (!is_digit(*s)) return false;
    while (is_digit(*s)) {
        if (whole > (UINT64_MAX - 9) / 10) return false;
        whole = whole * 10 + (uint64_t)(*s++ - '0');
    }
    if (*s == '.') {
        s++;
        if (!is_digit(*s)) return false;
        while (is_digit(*s)) {
            if (frac_div < 1000000) { /* finer than 1 us is ignored */
                frac = frac * 10 + (uint64_t)(*s - '0');
                frac_div *= 10;
            }
            s++;
        }
    }
    uint64_t mult;
    if (strncmp(s, "us", 2) == 0)
        mult = TCPW_DUR_US, s += 2;
    else if (strncmp(s, "ms", 2) == 0)
        mult = TCPW_DUR_MS, s += 2;
    else if (*s == 's')
        mult = TCPW_DUR_S, s += 1;
    else
        mult = default_unit_us;
    if (whole > UINT64_MAX / mult) return false;
    uint64_t us = whole * mult,
             part = frac * (mult / frac_div) + frac * (mult % frac_div) / frac_div;
    if (us > UINT64_MAX - part) return false;
    *out_us = us + part;
    *p = s;
    return true;
}

bool tcpw_duration_parse(const char *s, uint64_t default_unit_us, uint64_t *out_us) {
    uint64_t us;
    const char *p = s;
    if (!tcpw_duration_scan(&p, default_unit_us, &us) || *p != '\0') return false;
    *out_us = us;
    return true;
}
