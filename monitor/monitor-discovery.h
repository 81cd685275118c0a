/* "Discover rarely, poll what is known": signal sources that find their
 * entities (processes, connections) with a full scan do it once per
 * discovery period, and between scans look only at what they already know. */
#ifndef AGENTBOX_MONITOR_DISCOVERY_H
#define AGENTBOX_MONITOR_DISCOVERY_H

#include "config.h"
#include "time-util.h"

/* The discovery period, derived from the config (no key of its own):
 * clamp(idle.timeout / 30, idle.interval, 60 s); never below idle.interval
 * (30m → 60 s; a 3 s timeout → every tick). */
usec_t monitor_discovery_period(const struct config *c);

#endif
