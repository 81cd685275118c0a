/* "Discover rarely, poll what is known": the signals that find their
 * entities by a scan of the whole system (/proc, the kernel's socket
 * tables) do that scan only every discovery period, and between scans
 * look only at what the last scan found. The period follows from the
 * idle timeout, with no key of its own:
 *   clamp(idle.timeout / 30, idle.interval, 60 s)
 * (30 min: every 60 s; a test's 3 s timeout: every tick). Anything that
 * counts as activity is thereby noticed at most one period later. */
#ifndef AGENTBOX_MONITOR_DISCOVERY_H
#define AGENTBOX_MONITOR_DISCOVERY_H

#include <stdbool.h>

#include "time-util.h"

struct config;
struct monitor_tick;

#define MONITOR_DISCOVERY_MAX (60 * USEC_PER_SEC)

/* The time between two discovery scans for config c. */
usec_t monitor_discovery_period(const struct config *c);

/* Is a scan due at tick t, the previous one done at 'last' (CLOCK_BOOTTIME;
 * 0: none yet)? True on the first tick, with no scan yet, and once a
 * period has passed since the last. */
bool monitor_discovery_due(const struct config *c, usec_t last, const struct monitor_tick *t);

#endif
