/* Time helpers; see time-util.h.
 *
 * Duration grammar:
 *   duration := part { [ws] part }
 *   part     := digits [ws] [unit]
 *   unit     := "ms" | "s" | "sec" | "m" | "min" | "h" | "d"   (none: seconds)
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "time-util.h"

usec_t now_usec(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
}

static const struct {
	const char *suffix;
	usec_t usec;
} duration_units[] = {
	/* Longest suffixes first, so "ms" is not read as "m" then "s". */
	{"min", USEC_PER_MINUTE}, {"sec", USEC_PER_SEC}, {"ms", USEC_PER_MSEC},
	{"s", USEC_PER_SEC},      {"m", USEC_PER_MINUTE}, {"h", USEC_PER_HOUR},
	{"d", USEC_PER_DAY},
};

int parse_duration(const char *s, usec_t *ret)
{
	usec_t total = 0;
	int parts = 0;

	if (!s)
		return -EINVAL;
	for (;;) {
		usec_t n = 0, mult = USEC_PER_SEC;
		const char *start;

		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		start = s;
		while (isdigit((unsigned char)*s)) {
			if (n > (UINT64_MAX - 9) / 10)
				return -ERANGE;
			n = n * 10 + (usec_t)(*s - '0');
			s++;
		}
		if (s - start > 12)
			return -ERANGE;
		while (isspace((unsigned char)*s))
			s++;
		for (size_t i = 0; i < ELEMENTSOF(duration_units); i++) {
			size_t l = strlen(duration_units[i].suffix);
			if (strncmp(s, duration_units[i].suffix, l) == 0 && !isalpha((unsigned char)s[l])) {
				mult = duration_units[i].usec;
				s += l;
				break;
			}
		}
		if (isalpha((unsigned char)*s))
			return -EINVAL;
		if (n > (UINT64_MAX - total) / mult)
			return -ERANGE;
		total += n * mult;
		parts++;
	}
	if (parts == 0)
		return -EINVAL;
	*ret = total;
	return 0;
}

static const struct {
	const char *suffix;
	usec_t usec;
} format_units[] = {{"d", USEC_PER_DAY}, {"h", USEC_PER_HOUR}, {"m", USEC_PER_MINUTE},
		    {"s", USEC_PER_SEC}, {"ms", USEC_PER_MSEC}};

char *format_duration_exact(char *buf, size_t size, usec_t usec)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ELEMENTSOF(format_units); i++) {
		usec_t n = usec / format_units[i].usec;
		if (n == 0)
			continue;
		usec -= n * format_units[i].usec;
		len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%llu%s",
					len ? " " : "", (unsigned long long)n,
					format_units[i].suffix);
	}
	if (len == 0)
		snprintf(buf, size, "0s");
	return buf;
}

char *format_duration(char *buf, size_t size, usec_t usec)
{
	size_t len = 0;
	int shown = 0;

	if (usec < USEC_PER_SEC) {
		if (usec >= USEC_PER_MSEC)
			snprintf(buf, size, "%llums", (unsigned long long)(usec / USEC_PER_MSEC));
		else
			snprintf(buf, size, "0s");
		return buf;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < ELEMENTSOF(format_units) - 1 && shown < 2; i++) {
		usec_t n = usec / format_units[i].usec;
		if (n == 0) {
			if (shown)
				break; /* "2h 5s" reads worse than "2h" */
			continue;
		}
		usec -= n * format_units[i].usec;
		len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%llu%s",
					shown ? " " : "", (unsigned long long)n,
					format_units[i].suffix);
		shown++;
	}
	return buf;
}

char *format_utc(char *buf, size_t size, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}
