/* The discovery period shared by the signal sources (monitor-discovery.h). */
#include "monitor-discovery.h"

#define DISCOVERY_PERIOD_MAX (60 * USEC_PER_SEC)

usec_t monitor_discovery_period(const struct config *c)
{
	usec_t p = c->idle_timeout / 30;

	if (p > DISCOVERY_PERIOD_MAX)
		p = DISCOVERY_PERIOD_MAX;
	if (p < c->idle_interval)
		p = c->idle_interval;
	return p;
}
