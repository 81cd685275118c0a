/* Logging to the journal or to stderr; see log.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <systemd/sd-journal.h>

#include "log.h"

static const char *log_ident = "agentbox";
static int log_max_level = LOG_INFO;
static int log_journal = 0;

/* stderr is the journal when JOURNAL_STREAM names its device and inode. */
static int stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_open(const char *ident)
{
	const char *target = getenv("AGENTBOX_LOG");
	const char *level = getenv("AGENTBOX_LOG_LEVEL");

	log_ident = ident;
	if (target && streq(target, "journal"))
		log_journal = 1;
	else if (target && streq(target, "stderr"))
		log_journal = 0;
	else
		log_journal = stderr_is_journal();
	if (level && streq(level, "debug"))
		log_max_level = LOG_DEBUG;
}

void log_set_max_level(int prio)
{
	log_max_level = prio;
}

int log_get_max_level(void)
{
	return log_max_level;
}

int log_to_journal(void)
{
	return log_journal;
}

/* Expands the message; "%m" takes strerror(err) rather than errno. */
static void format_message(char *buf, size_t size, int err, const char *fmt, va_list ap)
{
	int saved = errno;

	errno = err < 0 ? -err : err;
	vsnprintf(buf, size, fmt, ap);
	errno = saved;
}

static void log_write_stderr(int prio, const char *message_id, const struct log_field *fields,
			     size_t n_fields, const char *msg)
{
	/* Fields are for machines; show them on a terminal only when asked. */
	static int show_fields = -1;
	char line[4096];
	size_t len;

	if (show_fields < 0)
		show_fields = getenv("AGENTBOX_LOG_FIELDS") != NULL;
	len = (size_t)snprintf(line, sizeof(line), "<%d>%s", prio, msg);
	if (show_fields && len < sizeof(line)) {
		if (message_id)
			len += (size_t)snprintf(line + len, sizeof(line) - len, " MESSAGE_ID=%s",
						message_id);
		for (size_t i = 0; i < n_fields && len < sizeof(line); i++)
			len += (size_t)snprintf(line + len, sizeof(line) - len, " %s=%s",
						fields[i].name, strempty(fields[i].value));
	}
	if (len >= sizeof(line))
		len = sizeof(line) - 1;
	line[len++] = '\n';
	/* One write per line, so lines of concurrent threads do not mix. */
	if (write(STDERR_FILENO, line, len) < 0) {
		/* Nowhere left to report it. */
	}
}

static void log_write_journal(int prio, int err, const char *message_id,
			      const struct log_field *fields, size_t n_fields, const char *file,
			      int line, const char *func, const char *msg)
{
	size_t n = 0, max = n_fields + 9;
	struct iovec iov[max];
	char *bufs[max];

	bufs[n++] = xasprintf("MESSAGE=%s", msg);
	bufs[n++] = xasprintf("PRIORITY=%d", prio);
	bufs[n++] = xasprintf("SYSLOG_IDENTIFIER=%s", log_ident);
	bufs[n++] = xasprintf("CODE_FILE=%s", file);
	bufs[n++] = xasprintf("CODE_LINE=%d", line);
	bufs[n++] = xasprintf("CODE_FUNC=%s", func);
	if (message_id)
		bufs[n++] = xasprintf("MESSAGE_ID=%s", message_id);
	if (err)
		bufs[n++] = xasprintf("ERRNO=%d", err < 0 ? -err : err);
	for (size_t i = 0; i < n_fields; i++)
		bufs[n++] = xasprintf("%s=%s", fields[i].name, strempty(fields[i].value));
	for (size_t i = 0; i < n; i++)
		iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = strlen(bufs[i])};
	if (sd_journal_sendv(iov, (int)n) < 0)
		log_write_stderr(prio, message_id, fields, n_fields, msg);
	for (size_t i = 0; i < n; i++)
		free(bufs[i]);
}

int log_internal(int prio, int err, const char *message_id, const struct log_field *fields,
		 size_t n_fields, const char *file, int line, const char *func, const char *fmt,
		 ...)
{
	char msg[2048];
	va_list ap;

	if (prio > log_max_level)
		return err ? -abs(err) : 0;
	va_start(ap, fmt);
	format_message(msg, sizeof(msg), err, fmt, ap);
	va_end(ap);
	if (log_journal)
		log_write_journal(prio, err, message_id, fields, n_fields, file, line, func, msg);
	else
		log_write_stderr(prio, message_id, fields, n_fields, msg);
	return err ? -abs(err) : 0;
}
