/* monitor-check CONFIG N: the cost of one idle check of agentbox-monitor,
 * measured from inside: every registered signal source is set up as the
 * daemon does, then sampled N times, idle.interval apart; the CPU time
 * (CLOCK_THREAD_CPUTIME_ID) and wall time (CLOCK_MONOTONIC) of each round
 * of sample() calls are summed. Rounds are also told apart as the signals
 * tell them (monitor-discovery.h): discovery ticks, when the scanning
 * signals read the whole of /proc and the socket tables, and the ticks
 * between. Prints one line:
 *   checks N cpu_us X wall_us Y max_wall_us Z sources a,b,c per_source_cpu_us a=X,b=Y,c=Z
 *   discovery_ticks D discovery_cpu_us A between_cpu_us B between_per_source_cpu_us a=X,...
 * (bench/monitor.sh builds it against build/; not part of the programs). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "monitor-discovery.h"
#include "monitor.h"

static uint64_t clock_nsec(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct config *c;
	struct signal_source *s;
	const struct signal_ops *const *ops;
	size_t n_ops;
	unsigned long n;
	uint64_t cpu = 0, wall = 0, max_wall = 0, *per, *per_between; /* ns */
	uint64_t cpu_disc = 0, cpu_between = 0;
	unsigned long n_disc = 0;
	usec_t last_discovery = 0;
	struct monitor_tick t = {};

	if (argc != 3 || !(n = strtoul(argv[2], NULL, 10))) {
		fprintf(stderr, "usage: monitor-check CONFIG N\n");
		return 2;
	}
	log_open("monitor-check");
	c = config_load_for_program(argv[1]);
	if (!c)
		return 2;
	ops = signal_source_list(&n_ops);
	s = xcalloc(n_ops, sizeof(*s));
	per = xcalloc(n_ops, sizeof(*per));
	per_between = xcalloc(n_ops, sizeof(*per_between));
	for (size_t i = 0; i < n_ops; i++) {
		signal_source_init(&s[i], ops[i], c);
		if (ops[i]->init)
			ops[i]->init(&s[i]);
	}
	for (unsigned long k = 0; k <= n; k++) {
		struct timespec iv = {.tv_sec = (time_t)(c->idle_interval / USEC_PER_SEC),
				      .tv_nsec = (long)(c->idle_interval % USEC_PER_SEC) * 1000};
		uint64_t c0, w0, dw, dc;
		int disc;

		nanosleep(&iv, NULL);
		t.window = t.seq ? now_usec(CLOCK_BOOTTIME) - t.now : 0;
		t.seq++;
		t.now = now_usec(CLOCK_BOOTTIME);
		t.realtime = now_usec(CLOCK_REALTIME);
		disc = monitor_discovery_due(c, last_discovery, &t);
		if (disc)
			last_discovery = t.now;
		w0 = clock_nsec(CLOCK_MONOTONIC);
		c0 = clock_nsec(CLOCK_THREAD_CPUTIME_ID);
		for (size_t i = 0; i < n_ops; i++) {
			uint64_t ci = clock_nsec(CLOCK_THREAD_CPUTIME_ID);

			if (ops[i]->sample)
				ops[i]->sample(&s[i], &t);
			if (k > 0) {
				uint64_t d = clock_nsec(CLOCK_THREAD_CPUTIME_ID) - ci;

				per[i] += d;
				if (!disc)
					per_between[i] += d;
			}
		}
		if (k == 0)
			continue; /* the first round primes the sources' baselines */
		dc = clock_nsec(CLOCK_THREAD_CPUTIME_ID) - c0;
		cpu += dc;
		if (disc) {
			cpu_disc += dc;
			n_disc++;
		} else
			cpu_between += dc;
		dw = clock_nsec(CLOCK_MONOTONIC) - w0;
		wall += dw;
		max_wall = dw > max_wall ? dw : max_wall;
	}
	printf("checks %lu cpu_us %.2f wall_us %.2f max_wall_us %.1f sources ", n,
	       (double)cpu / 1000.0 / (double)n, (double)wall / 1000.0 / (double)n,
	       (double)max_wall / 1000.0);
	for (size_t i = 0; i < n_ops; i++)
		printf("%s%s", i ? "," : "", ops[i]->name);
	printf(" per_source_cpu_us ");
	for (size_t i = 0; i < n_ops; i++)
		printf("%s%s=%.1f", i ? "," : "", ops[i]->name,
		       (double)per[i] / 1000.0 / (double)n);
	printf(" discovery_ticks %lu discovery_cpu_us %.2f between_cpu_us %.2f "
	       "between_per_source_cpu_us ",
	       n_disc, n_disc ? (double)cpu_disc / 1000.0 / (double)n_disc : 0.0,
	       n > n_disc ? (double)cpu_between / 1000.0 / (double)(n - n_disc) : 0.0);
	for (size_t i = 0; i < n_ops; i++)
		printf("%s%s=%.1f", i ? "," : "", ops[i]->name,
		       n > n_disc ? (double)per_between[i] / 1000.0 / (double)(n - n_disc) : 0.0);
	printf("\n");
	for (size_t i = 0; i < n_ops; i++)
		if (ops[i]->done)
			ops[i]->done(&s[i]);
	free(s);
	free(per);
	free(per_between);
	config_free(c);
	return 0;
}
