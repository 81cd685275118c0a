/* agentbox-display: the VM's X screen over RFB and to noVNC in a browser.
 * See docs/display.md. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "display-conf.h"
#include "display-server.h"
#include "log.h"
#include "macro.h"

static void help(void)
{
	printf("Usage: agentbox-display [OPTIONS]\n"
	       "Serves the X display (display.x_display) over RFB (display.port) and\n"
	       "to noVNC in a browser (display.web_port, /vnc.html).\n\n"
	       "  --config FILE   configuration file (default %s)\n"
	       "  --spawn-xvfb    start Xvfb on display.x_display first, stop it at exit\n"
	       "  --foreground    stay in the foreground (always so; for scripts)\n"
	       "  --exec-xvfb     become Xvfb for display.x_display at display.geometry\n"
	       "                  (what agentbox-xvfb.service runs)\n"
	       "  --help          this text\n"
	       "  --version       the version\n",
	       CONFIG_DEFAULT_PATH);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"spawn-xvfb", no_argument, NULL, 'X'},
		{"foreground", no_argument, NULL, 'f'},
		{"exec-xvfb", no_argument, NULL, 'x'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{},
	};
	_cleanup_(config_freep) struct config *c = NULL;
	_cleanup_free_ char *error = NULL;
	const char *config_path = NULL;
	int spawn_xvfb = 0, exec_xvfb = 0, opt, r;

	log_open("agentbox-display");
	while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) >= 0) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'X':
			spawn_xvfb = 1;
			break;
		case 'f':
			break;
		case 'x':
			exec_xvfb = 1;
			break;
		case 'h':
			help();
			return 0;
		case 'V':
			printf("agentbox-display %s\n", AGENTBOX_VERSION);
			return 0;
		default:
			return EXIT_CONFIG;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "agentbox-display: unexpected argument '%s'\n", argv[optind]);
		return EXIT_CONFIG;
	}
	c = config_load_for_program(config_path);
	if (!c)
		return EXIT_CONFIG;
	if (display_check_config(c, &error) < 0) {
		log_event(LOG_ERR, MSGID_CONFIG_ERROR, NULL, 0, "%s", error);
		return EXIT_CONFIG;
	}
	if (exec_xvfb) {
		r = display_exec_xvfb(c);
		log_error_errno(r, "Cannot run Xvfb: %m");
		return EXIT_FAILURE;
	}
	r = display_run(c, spawn_xvfb);
	if (r == -EINVAL)
		return EXIT_CONFIG;
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
