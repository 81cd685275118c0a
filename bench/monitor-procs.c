/* bench/monitor-procs.sh's driver: the cost of the processes and sessions
 * signals per tick. Samples both argv[1] times, back to back, on a clock
 * that moves idle.interval (default 5 s) per tick, so that with the
 * default idle.timeout (30 min) every 12th tick is a discovery (a fresh
 * /proc snapshot, monitor-discovery.h) and the others poll what it found.
 * Prints "ticks=N cpu_us_per_tick=X discoveries=D discovery_cpu_us=A
 * between_cpu_us=B wall_us_per_tick=Y procs=P rss_kib=R" (X amortized,
 * thread CPU time). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "monitor-discovery.h"
#include "monitor-proc.h"
#include "monitor.h"

static usec_t cpu_usec(void)
{
	return now_usec(CLOCK_THREAD_CPUTIME_ID);
}

int main(int argc, char **argv)
{
	struct config *c = config_new();
	struct signal_source p, s;
	struct monitor_tick t = {0};
	const struct proc_snapshot *snap = NULL;
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000, n_disc = 0;
	usec_t cpu_disc = 0, cpu_between = 0, wall0, last = 0, start;
	struct rusage ru;

	signal_source_init(&p, signal_source_find("processes"), c);
	signal_source_init(&s, signal_source_find("sessions"), c);
	p.ops->init(&p);
	s.ops->init(&s);
	wall0 = now_usec(CLOCK_MONOTONIC);
	start = now_usec(CLOCK_BOOTTIME);
	for (long i = 0; i < n; i++) {
		usec_t now = start + (usec_t)i * c->idle_interval, c0;
		int disc;

		t.window = t.seq ? now - t.now : 0;
		t.seq++;
		t.now = now;
		t.realtime = now_usec(CLOCK_REALTIME);
		disc = monitor_discovery_due(c, last, &t);
		if (disc)
			last = t.now;
		c0 = cpu_usec();
		p.ops->sample(&p, &t);
		s.ops->sample(&s, &t);
		if (disc) {
			cpu_disc += cpu_usec() - c0;
			n_disc++;
		} else
			cpu_between += cpu_usec() - c0;
	}
	proc_snapshot_get(&t, &snap);
	getrusage(RUSAGE_SELF, &ru);
	printf("ticks=%ld cpu_us_per_tick=%.1f discoveries=%ld discovery_cpu_us=%.1f "
	       "between_cpu_us=%.1f wall_us_per_tick=%.1f procs=%zu rss_kib=%ld\n",
	       n, (double)(cpu_disc + cpu_between) / (double)n, n_disc,
	       n_disc ? (double)cpu_disc / (double)n_disc : 0.0,
	       n > n_disc ? (double)cpu_between / (double)(n - n_disc) : 0.0,
	       (double)(now_usec(CLOCK_MONOTONIC) - wall0) / (double)n, snap ? snap->n : 0,
	       ru.ru_maxrss);
	p.ops->done(&p);
	s.ops->done(&s);
	config_free(c);
	return 0;
}
