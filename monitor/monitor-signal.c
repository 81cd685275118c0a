/* The registry of signal sources and the helpers they record with. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "monitor.h"

#define SIGNAL_SOURCES_MAX 16

static const struct signal_ops *sources[SIGNAL_SOURCES_MAX];
static size_t n_sources;

void signal_source_register(const struct signal_ops *ops)
{
	size_t i;

	if (n_sources == SIGNAL_SOURCES_MAX)
		abort();
	/* insertion sort by order: constructors run in link order */
	for (i = n_sources; i > 0 && sources[i - 1]->order > ops->order; i--)
		sources[i] = sources[i - 1];
	sources[i] = ops;
	n_sources++;
}

const struct signal_ops *const *signal_source_list(size_t *ret_n)
{
	*ret_n = n_sources;
	return sources;
}

const struct signal_ops *signal_source_find(const char *name)
{
	for (size_t i = 0; i < n_sources; i++)
		if (streq(sources[i]->name, name))
			return sources[i];
	return NULL;
}

void signal_source_init(struct signal_source *s, const struct signal_ops *ops,
			const struct config *c)
{
	memset(s, 0, sizeof(*s));
	s->ops = ops;
	s->config = c;
}

void signal_active(struct signal_source *s, usec_t when, const char *fmt, ...)
{
	va_list ap;

	if (when < s->state.last_active)
		return;
	s->state.last_active = when;
	va_start(ap, fmt);
	vsnprintf(s->state.detail, sizeof(s->state.detail), fmt, ap);
	va_end(ap);
}

int signal_degrade(struct signal_source *s, int err, const char *fmt, ...)
{
	char reason[SIGNAL_DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (!s->state.degraded || !streq(reason, s->state.reason))
		log_event(LOG_WARNING, MSGID_SIGNAL_DEGRADED,
			  LOG_FIELDS({"AGENTBOX_SIGNAL", s->ops->name}, {"AGENTBOX_REASON", reason}), 2,
			  "Signal %s degraded, counting it as active: %s", s->ops->name, reason);
	s->state.degraded = 1;
	snprintf(s->state.reason, sizeof(s->state.reason), "%s", reason);
	return err < 0 ? err : -err;
}

void signal_recover(struct signal_source *s)
{
	if (!s->state.degraded)
		return;
	log_info("Signal %s works again (was: %s)", s->ops->name, s->state.reason);
	s->state.degraded = 0;
	s->state.reason[0] = '\0';
}

usec_t tick_from_realtime(const struct monitor_tick *t, usec_t realtime)
{
	usec_t ago;

	if (realtime >= t->realtime)
		return t->now;
	ago = t->realtime - realtime;
	return ago >= t->now ? 0 : t->now - ago;
}

usec_t tick_to_realtime(const struct monitor_tick *t, usec_t boottime)
{
	usec_t ago;

	if (boottime >= t->now)
		return t->realtime + (boottime - t->now);
	ago = t->now - boottime;
	return ago >= t->realtime ? 0 : t->realtime - ago;
}
