/* Time in microseconds, and the duration strings users write in config
 * and on the command line ("90s", "30m", "2h", "1h30m", "off"). */
#ifndef AGENTBOX_TIME_UTIL_H
#define AGENTBOX_TIME_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef uint64_t usec_t;

#define USEC_PER_MSEC ((usec_t)1000)
#define USEC_PER_SEC ((usec_t)1000000)
#define USEC_PER_MINUTE (60 * USEC_PER_SEC)
#define USEC_PER_HOUR (60 * USEC_PER_MINUTE)
#define USEC_PER_DAY (24 * USEC_PER_HOUR)
#define USEC_INFINITY ((usec_t)UINT64_MAX)

/* Current time on a clock (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME). */
usec_t now_usec(clockid_t clock);

/* Parses "1h30m", "90s", "500ms", "2d", "45" (seconds); whitespace between
 * parts is allowed. Returns 0, or -EINVAL for anything else, -ERANGE on
 * overflow. "off" is the caller's business. */
int parse_duration(const char *s, usec_t *ret);

/* Formats the largest two units: "2h 5m", "30m", "45s", "0s". */
char *format_duration(char *buf, size_t size, usec_t usec);
#define FORMAT_DURATION_MAX 64

/* Formats every unit down to milliseconds: "1h 30m 5s 250ms". */
char *format_duration_exact(char *buf, size_t size, usec_t usec);

/* Formats a unix time as "2026-11-25T13:14:22Z". */
char *format_utc(char *buf, size_t size, time_t t);
#define FORMAT_UTC_MAX 32

#endif
