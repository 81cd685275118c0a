/* Structured logging: to the journal with sd_journal_send when our stderr
 * is connected to it (or AGENTBOX_LOG=journal), otherwise to stderr with a
 * "<N>" priority prefix that systemd and humans both read. */
#ifndef AGENTBOX_LOG_H
#define AGENTBOX_LOG_H

#include <stddef.h>
#include <syslog.h>

#include "macro.h"
#include "messages.h"

struct log_field {
	const char *name;  /* e.g. "AGENTBOX_SIGNAL" */
	const char *value; /* never a secret */
};

/* Sets the SYSLOG_IDENTIFIER and picks the target. */
void log_open(const char *ident);
void log_set_max_level(int prio);
int log_get_max_level(void);
/* Non-zero when messages go to the journal. */
int log_to_journal(void);

/* Logs one event; returns -abs(err) when err != 0, else 0, so callers can
 * "return log_error_errno(r, ...)". "%m" in fmt is expanded from err. */
int log_internal(int prio, int err, const char *message_id, const struct log_field *fields,
		 size_t n_fields, const char *file, int line, const char *func, const char *fmt,
		 ...) _printf_(9, 10);

#define LOG_FIELDS(...) ((const struct log_field[]){__VA_ARGS__})
#define LOG_NFIELDS(...) (sizeof((const struct log_field[]){__VA_ARGS__}) / sizeof(struct log_field))

#define log_full_errno(prio, err, ...)                                                             \
	log_internal(prio, err, NULL, NULL, 0, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_warning_errno(err, ...) log_full_errno(LOG_WARNING, err, __VA_ARGS__)
#define log_error_errno(err, ...) log_full_errno(LOG_ERR, err, __VA_ARGS__)

/* An event with a MESSAGE_ID and structured fields:
 *   log_event(LOG_NOTICE, MSGID_IDLE_DETECTED,
 *             LOG_FIELDS({"AGENTBOX_IDLE_SECONDS", buf}), 1, "Idle for %s", buf); */
#define log_event(prio, msgid, fields, n, ...)                                                     \
	log_internal(prio, 0, msgid, fields, n, __FILE__, __LINE__, __func__, __VA_ARGS__)

#endif
