/* agentbox-monitor: decides when the workspace VM is idle, and acts.
 * Runs in the foreground as a systemd Type=notify service. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "log.h"
#include "monitor-daemon.h"
#include "monitor-delete.h"

static const char *arg_config;
static int arg_check_config;

static void help(void)
{
	printf("Usage: agentbox-monitor [OPTIONS]\n"
	       "\n"
	       "Watch files, agent processes, sockets and terminal sessions; when every\n"
	       "signal has been quiet for idle.timeout, warn, then take idle.action.\n"
	       "\n"
	       "  -c, --config FILE   config file (default " CONFIG_DEFAULT_PATH ")\n"
	       "      --check-config  check the config, print the effective one, exit\n"
	       "      --dry-run       with idle.action \"delete\": show every step, and back\n"
	       "                      up, delete or power off nothing\n"
	       "  -h, --help          show this help\n"
	       "      --version       show the version\n"
	       "\n"
	       "Status: agentbox status; journalctl -u agentbox-monitor.\n"
	       "Exit status: 0 stopped cleanly, 1 failure, 2 bad config or usage.\n");
}

/* Returns 1 to go on, 0 to exit successfully, or -1 on a usage error. */
static int parse_argv(int argc, char **argv)
{
	enum { ARG_CHECK_CONFIG = 0x100, ARG_VERSION, ARG_DRY_RUN };
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, ARG_CHECK_CONFIG},
		{"dry-run", no_argument, NULL, ARG_DRY_RUN},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, ARG_VERSION},
		{},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:h", options, NULL)) >= 0) {
		switch (c) {
		case 'c':
			arg_config = optarg;
			break;
		case ARG_CHECK_CONFIG:
			arg_check_config = 1;
			break;
		case ARG_DRY_RUN:
			monitor_delete_set_dry_run(1);
			break;
		case 'h':
			help();
			return 0;
		case ARG_VERSION:
			printf("agentbox-monitor %s\n", AGENTBOX_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try 'agentbox-monitor --help'.\n");
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "agentbox-monitor: unexpected argument '%s'; try --help.\n",
			argv[optind]);
		return -1;
	}
	return 1;
}

int main(int argc, char **argv)
{
	_cleanup_(config_freep) struct config *c = NULL;
	int r;

	log_open("agentbox-monitor");
	r = parse_argv(argc, argv);
	if (r <= 0)
		return r < 0 ? EXIT_CONFIG : 0;
	c = config_load_for_program(arg_config);
	if (!c)
		return EXIT_CONFIG;
	if (arg_check_config) {
		_cleanup_free_ char *json = config_to_json(c);
		printf("%s\n", json);
		return 0;
	}
	return monitor_run(c);
}
