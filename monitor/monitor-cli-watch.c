/* "agentbox internal-watch-interruption", run by agentbox-monitor for the
 * life of the daemon: asks the cloud's interruption notices (EC2 spot
 * instance-action, rebalance recommendation) every
 * WATCH_INTERVAL_MS and prints one JSON line when one appears, then ends.
 * Prints {"interruptible": false} and ends at once on clouds without
 * notices. Ends by itself when the monitor goes (SIGTERM via
 * PR_SET_PDEATHSIG, or a parent that changed). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "log.h"
#include "macro.h"
#include "monitor-cli-watch.h"
#include "provider.h"

/* AWS's advice for the spot notice: ask every 5 s. The notice comes two
 * minutes ahead, so 2 s leaves the backup 118 s. */
#define WATCH_INTERVAL_MS 2000

static void print_line(cJSON *o)
{
	char *text = cJSON_PrintUnformatted(o);

	printf("%s\n", text);
	fflush(stdout);
	cJSON_free(text);
	cJSON_Delete(o);
}

int cli_watch_interruption(struct config *c, int argc, char **argv)
{
	struct provider_identity id;
	char what[PROVIDER_TEXT_MAX], why[PROVIDER_TEXT_MAX];
	pid_t parent = getppid();
	cJSON *o;
	int r, failures = 0;

	(void)argv;
	if (argc != 1 || isatty(STDOUT_FILENO)) {
		fprintf(stderr, "agentbox internal-watch-interruption is run by agentbox-monitor "
				"only\n");
		return EXIT_CONFIG;
	}
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	provider_global_init();
	r = provider_detect(c, &id, why, sizeof(why));
	if (r < 0) {
		log_warning("Interruption notices not watched: instance identity unknown: %s", why);
		return 1;
	}
	r = provider_interruption(c, &id, what, sizeof(what));
	if (r == -EOPNOTSUPP) {
		o = cJSON_CreateObject();
		cJSON_AddBoolToObject(o, "interruptible", 0);
		cJSON_AddStringToObject(o, "provider", id.provider);
		print_line(o);
		return 0;
	}
	log_info("Watching %s's interruption notices every %dms", id.provider, WATCH_INTERVAL_MS);
	while (getppid() == parent) {
		if (r > 0) {
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "interruption", what);
			cJSON_AddStringToObject(o, "provider", id.provider);
			print_line(o);
			return 0;
		}
		/* a metadata service that stops answering is said once, then asked on */
		if (r < 0 && failures++ == 0)
			log_warning("Cannot ask for interruption notices, retrying: %s", what);
		if (r == 0)
			failures = 0;
		nanosleep(&(struct timespec){.tv_sec = WATCH_INTERVAL_MS / 1000,
					     .tv_nsec = (WATCH_INTERVAL_MS % 1000) * 1000000L},
			  NULL);
		r = provider_interruption(c, &id, what, sizeof(what));
	}
	return 0;
}
