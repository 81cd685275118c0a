/* The discovery period of the scanning signals; see monitor-discovery.h. */
#include "config.h"
#include "monitor-discovery.h"
#include "monitor.h"

usec_t monitor_discovery_period(const struct config *c)
{
	usec_t p = c->idle_timeout / 30;

	p = MIN(p, MONITOR_DISCOVERY_MAX);
	return MAX(p, c->idle_interval);
}

bool monitor_discovery_due(const struct config *c, usec_t last, const struct monitor_tick *t)
{
	if (t->seq <= 1 || last == 0 || t->now < last)
		return true;
	return t->now - last >= monitor_discovery_period(c);
}
