/* duration.h — durations as people type them on a command line: "30", "0.5", "500ms", "2s",
 * "300us". One parser for every tool (tcpwave sim's knobs and drop/hold rules, tcpwave
 * analyze's --msl), so that the same text means the same time everywhere.
 */
#ifndef TCPW_UTIL_DURATION_H
#define TCPW_UTIL_DURATION_H

#include <stdbool.h>
#include <stdint.h>

/* The unit of a number written without one, in microseconds. */
#define TCPW_DUR_US 1ull
#define TCPW_DUR_MS 1000ull
#define TCPW_DUR_S  1000000ull

/* Reads a duration at *p: decimal digits, an optional fraction (".5"), then an optional unit
 * "us", "ms" or "s"; a number without a unit counts in default_unit_us. Digits finer than one
 * microsecond are ignored. On success stores microseconds in *out_us, moves *p just past the
 * duration and returns true; returns false (and leaves *p and *out_us alone) when *p does not
 * start with a digit or the value does not fit in 64 bits. Signs and exponents are refused. */
bool tcpw_duration_scan(const char **p, uint64_t default_unit_us, uint64_t *out_us);

/* The whole of s is one duration (tcpw_duration_scan with nothing after it). */
bool tcpw_duration_parse(const char *s, uint64_t default_unit_us, uint64_t *out_us);

#endif
