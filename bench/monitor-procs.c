/* bench/monitor-procs.sh's driver: the cost of the processes and sessions
 * signals per tick. Samples both (each tick a fresh /proc snapshot) argv[1]
 * times and prints "ticks=N cpu_us_per_tick=X wall_us_per_tick=Y procs=P
 * rss_kib=R". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "monitor-proc.h"
#include "monitor.h"

static usec_t cpu_usec(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (usec_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * USEC_PER_SEC +
	       (usec_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

int main(int argc, char **argv)
{
	struct config *c = config_new();
	struct signal_source p, s;
	struct monitor_tick t = {0};
	const struct proc_snapshot *snap = NULL;
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
	usec_t cpu0, wall0;
	struct rusage ru;

	signal_source_init(&p, signal_source_find("processes"), c);
	signal_source_init(&s, signal_source_find("sessions"), c);
	p.ops->init(&p);
	s.ops->init(&s);
	cpu0 = cpu_usec();
	wall0 = now_usec(CLOCK_MONOTONIC);
	for (long i = 0; i < n; i++) {
		usec_t now = now_usec(CLOCK_BOOTTIME);

		t.window = t.seq ? now - t.now : 0;
		t.seq++;
		t.now = now;
		t.realtime = now_usec(CLOCK_REALTIME);
		p.ops->sample(&p, &t);
		s.ops->sample(&s, &t);
	}
	proc_snapshot_get(&t, &snap);
	getrusage(RUSAGE_SELF, &ru);
	printf("ticks=%ld cpu_us_per_tick=%.1f wall_us_per_tick=%.1f procs=%zu rss_kib=%ld\n", n,
	       (double)(cpu_usec() - cpu0) / (double)n,
	       (double)(now_usec(CLOCK_MONOTONIC) - wall0) / (double)n, snap ? snap->n : 0,
	       ru.ru_maxrss);
	p.ops->done(&p);
	s.ops->done(&s);
	config_free(c);
	return 0;
}
