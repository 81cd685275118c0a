/* agentbox attach; see monitor-cli-attach.h. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "macro.h"
#include "monitor-cli-attach.h"

int cli_attach(struct config *c, int argc, char **argv)
{
	static const struct option options[] = {
	    {"session", required_argument, NULL, 's'},
	    {},
	};
	_cleanup_free_ char *container = xasprintf("agentbox-%s", c->workspace_name);
	_cleanup_free_ char *host = xasprintf("unix://%s", c->workspace_docker_host);
	const char *session = "main";
	int o;

	optind = 0;
	while ((o = getopt_long(argc, argv, "s:", options, NULL)) >= 0) {
		if (o == 's')
			session = optarg;
		else {
			fprintf(stderr, "Usage: agentbox attach [--session NAME]\n");
			return EXIT_CONFIG;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "Usage: agentbox attach [--session NAME]\n");
		return EXIT_CONFIG;
	}
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "agentbox attach: needs a terminal (ssh -t)\n");
		return 1;
	}
	/* -A: the session the image started, or a new one */
	execlp("docker", "docker", "--host", host, "exec", "-it", container, "tmux", "new-session",
	       "-A", "-s", session, (char *)NULL);
	fprintf(stderr, "agentbox attach: cannot run docker: %s\n", strerror(errno));
	return 1;
}
