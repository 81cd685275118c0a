/* The state commands of the agentbox client; see monitor-cli-state.h. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "macro.h"
#include "monitor-cli-state.h"
#include "state.h"
#include "time-util.h"

const char *format_bytes(char *buf, size_t size, uint64_t n)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	unsigned u = 0;

	while (v >= 1024 && u + 1 < ELEMENTSOF(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%" PRIu64 " B", n);
	else
		snprintf(buf, size, "%.1f %s", v, units[u]);
	return buf;
}

static int no_storage(const struct config *c)
{
	if (c->state_storage_bucket)
		return 0;
	fprintf(stderr, "agentbox: no state storage configured (set state.storage.bucket; see "
			"docs/state.md)\n");
	return 1;
}

int cli_backup(struct config *c, int argc, char **argv)
{
	static const struct option options[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"final", no_argument, NULL, 'F'},
	    {"json", no_argument, NULL, 'j'},
	    {},
	};
	struct state_backup_result res;
	char size[32], bytes[32], dur[FORMAT_DURATION_MAX];
	int force = 0, final = 0, json = 0, o, r;

	optind = 0;
	while ((o = getopt_long(argc, argv, "f", options, NULL)) >= 0) {
		if (o == 'f')
			force = 1;
		else if (o == 'F')
			final = 1;
		else if (o == 'j')
			json = 1;
		else {
			fprintf(stderr, "Usage: agentbox backup [--force] [--final] [--json]\n");
			return EXIT_CONFIG;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "Usage: agentbox backup [--force] [--final] [--json]\n");
		return EXIT_CONFIG;
	}
	if (no_storage(c))
		return 1;
	r = state_backup_full(c, force, &res);
	if (r < 0) {
		fprintf(stderr, "agentbox: backup failed (%s); the previous generation is intact\n",
			strerror(-r));
		return 1;
	}
	/* The final backup is what the next VM restores: read it back first,
	 * and keep the lease (and fail) when it does not hash as stored. */
	if (final && state_verify(c, res.generation, NULL, 0) < 0) {
		fprintf(stderr,
			"agentbox: generation %s does not read back as stored; the lease is "
			"kept\n",
			res.generation);
		return 1;
	}
	if (final && state_lease_release(c) < 0) {
		fprintf(stderr, "agentbox: the backup is stored, but the lease was not released\n");
		return 1;
	}
	format_duration_exact(dur, sizeof(dur), res.duration);
	/* For agentbox-monitor, which runs backups as a child process. */
	if (json) {
		printf("{\"generation\": \"%s\", \"skipped\": %s, \"size\": %" PRIu64
		       ", \"bytes\": %" PRIu64 ", \"files\": %" PRIu64 ", \"duration_ms\": %" PRIu64
		       "}\n",
		       res.generation, res.skipped ? "true" : "false", res.size, res.bytes, res.files,
		       (uint64_t)(res.duration / USEC_PER_MSEC));
		return 0;
	}
	if (res.skipped) {
		printf("unchanged since generation %s; backup skipped (checked in %s)\n",
		       res.generation, dur);
		return 0;
	}
	printf("generation %s: %" PRIu64 " files, %s of data stored as %s in %s (%.1f MiB/s)\n",
	       res.generation, res.files, format_bytes(bytes, sizeof(bytes), res.bytes),
	       format_bytes(size, sizeof(size), res.size), dur,
	       res.duration ? (double)res.bytes / 1048576.0 / ((double)res.duration / 1e6) : 0.0);
	return 0;
}

static int list_generations(struct config *c)
{
	struct state_generation *v = NULL;
	size_t n = 0;
	int r;

	r = state_list(c, &v, &n);
	if (r < 0)
		return 1;
	printf("%-26s %-21s %8s %10s %10s  %s\n", "GENERATION", "CREATED", "FILES", "DATA",
	       "STORED", "HOST");
	for (size_t i = 0; i < n; i++) {
		char size[32], bytes[32];
		printf("%-26s %-21s %8" PRIu64 " %10s %10s  %s%s%s\n", v[i].id,
		       *v[i].created ? v[i].created : "-", v[i].files,
		       v[i].valid ? format_bytes(bytes, sizeof(bytes), v[i].bytes) : "-",
		       format_bytes(size, sizeof(size), v[i].size), *v[i].host ? v[i].host : "-",
		       v[i].latest ? "  (latest)" : "",
		       v[i].valid ? "" : "  (incomplete: not restorable)");
	}
	if (n == 0)
		printf("(no generations)\n");
	free(v);
	return 0;
}

int cli_generations(struct config *c, int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "Usage: agentbox generations\n");
		return EXIT_CONFIG;
	}
	if (no_storage(c))
		return 1;
	return list_generations(c);
}

int cli_restore(struct config *c, int argc, char **argv)
{
	static const struct option options[] = {
	    {"generation", required_argument, NULL, 'g'},
	    {"list", no_argument, NULL, 'l'},
	    {"take-over", no_argument, NULL, 't'},
	    {"verify", no_argument, NULL, 'v'},
	    {},
	};
	struct state_restore_result res;
	const char *generation = NULL;
	char size[32], dur[FORMAT_DURATION_MAX], why[512];
	int list = 0, take_over = 0, verify = 0, o, r;

	optind = 0;
	while ((o = getopt_long(argc, argv, "g:l", options, NULL)) >= 0) {
		switch (o) {
		case 'g':
			generation = optarg;
			break;
		case 'l':
			list = 1;
			break;
		case 't':
			take_over = 1;
			break;
		case 'v':
			verify = 1;
			break;
		default:
			fprintf(stderr, "Usage: agentbox restore [--generation ID] [--list] "
					"[--take-over] [--verify]\n");
			return EXIT_CONFIG;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "Usage: agentbox restore [--generation ID] [--list] [--take-over] "
				"[--verify]\n");
		return EXIT_CONFIG;
	}
	if (no_storage(c))
		return 1;
	if (list)
		return list_generations(c);
	if (verify) {
		/* read back and check only: nothing local changes, no lease taken */
		if (state_verify(c, generation, why, sizeof(why)) < 0)
			return 1;
		printf("generation %s reads back as stored\n",
		       generation ? generation : "(latest)");
		return 0;
	}
	r = state_restore_full(c, generation, take_over, &res);
	if (r < 0) {
		fprintf(stderr, "agentbox: restore failed (%s); nothing local was changed\n",
			strerror(-r));
		return 1;
	}
	printf("restored generation %s: %" PRIu64 " files from %s in %s\n", res.generation,
	       res.files, format_bytes(size, sizeof(size), res.size),
	       format_duration_exact(dur, sizeof(dur), res.duration));
	return 0;
}
