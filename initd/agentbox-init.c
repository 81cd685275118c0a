/* agentbox-init: turns a fresh VM into a ready workspace, and on every
 * later boot brings the same workspace back. A checklist of steps (see
 * initd.h); the image pull and the state restore run at the same time. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "initd.h"
#include "log.h"

enum services_mode {
	SERVICES_AUTO,
	SERVICES_SYSTEMD,
	SERVICES_FOREGROUND,
	SERVICES_NONE,
};

static const char *arg_config;
static int arg_services = SERVICES_AUTO;
static int arg_firewall_only;

static void help(void)
{
	printf("Usage: agentbox-init [OPTIONS]\n"
	       "\n"
	       "Bring up the agentbox workspace: pull workspace.image while restoring the\n"
	       "state, create or start the container agentbox-<workspace.name>, start the\n"
	       "display and the monitor, then print a summary.\n"
	       "\n"
	       "  -c, --config FILE        config file (default " CONFIG_DEFAULT_PATH ")\n"
	       "      --services=MODE      auto (systemd when it runs, else foreground),\n"
	       "                           systemd, foreground (children; stay and supervise\n"
	       "                           them), none\n"
	       "      --firewall-only      only keep containers from the metadata service\n"
	       "                           (workspace.block_metadata), then exit; run before\n"
	       "                           dockerd at boot (agentbox-firewall.service)\n"
	       "  -h, --help               show this help\n"
	       "      --version            show the version\n"
	       "\n"
	       "Exit status: 0 ready, 1 other failure, 2 bad config, 3 Docker unreachable,\n"
	       "4 image pull failed, 5 no space left, 6 state restore failed, 7 container\n"
	       "failed, 8 display/monitor failed, 9 identity failed (man agentbox-init).\n");
}

/* Returns 1 to go on, 0 to exit successfully, or -1 on a usage error. */
static int parse_argv(int argc, char **argv)
{
	enum { ARG_VERSION = 0x100, ARG_SERVICES, ARG_FIREWALL_ONLY };
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"services", required_argument, NULL, ARG_SERVICES},
	    {"firewall-only", no_argument, NULL, ARG_FIREWALL_ONLY},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, ARG_VERSION},
	    {},
	};
	static const char *const modes[] = {"auto", "systemd", "foreground", "none"};
	int c;

	while ((c = getopt_long(argc, argv, "c:h", options, NULL)) >= 0) {
		switch (c) {
		case 'c':
			arg_config = optarg;
			break;
		case ARG_SERVICES:
			arg_services = -1;
			for (int k = 0; k < (int)ELEMENTSOF(modes); k++)
				if (streq(optarg, modes[k]))
					arg_services = k;
			if (arg_services < 0) {
				fprintf(stderr,
					"agentbox-init: --services: expected auto, systemd, "
					"foreground or none, got '%s'\n",
					optarg);
				return -1;
			}
			break;
		case ARG_FIREWALL_ONLY:
			arg_firewall_only = 1;
			break;
		case 'h':
			help();
			return 0;
		case ARG_VERSION:
			printf("agentbox-init %s\n", AGENTBOX_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try 'agentbox-init --help'.\n");
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "agentbox-init: unexpected argument '%s'; try --help.\n",
			argv[optind]);
		return -1;
	}
	return 1;
}

/* Logs which step failed (MSGID_INIT_FAILED) and returns its exit code. */
static int initd_failed(enum initd_step step, int code)
{
	char exit_code[16];

	snprintf(exit_code, sizeof(exit_code), "%d", code);
	log_event(
	    LOG_ERR, MSGID_INIT_FAILED,
	    LOG_FIELDS({"AGENTBOX_STEP", initd_step_to_string(step)}, {"AGENTBOX_EXIT", exit_code}),
	    2, "Workspace bring-up failed at step %s (exit status %d)", initd_step_to_string(step),
	    code);
	sd_notifyf(0, "STATUS=Failed at step %s (exit status %d)", initd_step_to_string(step),
		   code);
	return code;
}

static void step_done(struct initd *i, enum initd_step s, usec_t start)
{
	i->step_usec[s] = now_usec(CLOCK_MONOTONIC) - start;
	i->step_ran[s] = 1;
}

struct pull_job {
	struct initd *initd;
	int result;
};

static void *pull_thread(void *userdata)
{
	struct pull_job *job = userdata;
	usec_t start = now_usec(CLOCK_MONOTONIC);

	job->result = initd_pull(job->initd);
	step_done(job->initd, INITD_STEP_PULL, start);
	/* With the image here, the container can be created while the state
	 * is still being restored; it is started only after. A failure is
	 * left for the container step to meet again and report. */
	if (job->result == 0 && initd_container_early_ok(job->initd->config)) {
		start = now_usec(CLOCK_MONOTONIC);
		if (initd_container_prepare(job->initd) == 0)
			job->initd->container_early_usec = now_usec(CLOCK_MONOTONIC) - start;
	}
	return NULL;
}

/* The image pull on a thread, the restore here; both finish before the
 * container is touched. */
static int pull_and_restore(struct initd *i, enum initd_step *ret_step)
{
	struct pull_job job = {.initd = i};
	pthread_t th;
	usec_t start;
	int r, restore;

	r = pthread_create(&th, NULL, pull_thread, &job);
	if (r != 0) {
		log_error_errno(r, "Cannot start the pull thread: %m");
		*ret_step = INITD_STEP_PULL;
		return INITD_EXIT_FAILURE;
	}
	start = now_usec(CLOCK_MONOTONIC);
	restore = initd_restore(i);
	step_done(i, INITD_STEP_RESTORE, start);
	pthread_join(th, NULL);
	if (job.result != 0) {
		*ret_step = INITD_STEP_PULL;
		return job.result;
	}
	if (restore != 0 && i->container_created) {
		/* created during the failed restore: leave the machine as it was */
		r = docker_container_remove(i->docker, i->container_id, 1);
		if (r < 0)
			log_warning_errno(r, "Removing container %s again failed, ignoring: %m",
					  i->container_name);
	}
	*ret_step = INITD_STEP_RESTORE;
	return restore;
}

static void initd_done(struct initd *i)
{
	docker_free(i->docker);
	config_free(i->config);
	free(i->image_id);
	free(i->image_digest);
	free(i->generation);
	free(i->container_name);
	free(i->container_id);
}

static int run(void)
{
	_cleanup_(initd_done) struct initd i = {.tty = isatty(STDERR_FILENO)};
	usec_t begin = now_usec(CLOCK_MONOTONIC), start = begin;
	enum initd_step failed_step;
	int r, use_systemd;

	i.config = config_load_for_program(arg_config);
	if (!i.config)
		return initd_failed(INITD_STEP_CONFIG, INITD_EXIT_CONFIG);
	/* At boot before dockerd, which restarts the container by itself
	 * before the bring-up below could put the block in place. */
	if (arg_firewall_only) {
		i.container_name = xasprintf("agentbox-%s", i.config->workspace_name);
		return initd_firewall(&i);
	}
	if (!i.config->workspace_image) {
		log_event(LOG_ERR, MSGID_CONFIG_ERROR, NULL, 0,
			  "%s: workspace.image: not set; agentbox-init needs the image of the "
			  "workspace container",
			  i.config->path ? i.config->path : "config");
		return initd_failed(INITD_STEP_CONFIG, INITD_EXIT_CONFIG);
	}
	i.container_name = xasprintf("agentbox-%s", i.config->workspace_name);
	step_done(&i, INITD_STEP_CONFIG, start);

	(void)sd_notify(0, "STATUS=Learning the instance identity");
	start = now_usec(CLOCK_MONOTONIC);
	r = initd_identity(&i);
	if (r != 0)
		return initd_failed(INITD_STEP_IDENTITY, r);
	step_done(&i, INITD_STEP_IDENTITY, start);

	start = now_usec(CLOCK_MONOTONIC);
	r = initd_docker_open(&i);
	if (r != 0)
		return initd_failed(INITD_STEP_DOCKER, r);
	step_done(&i, INITD_STEP_DOCKER, start);

	(void)sd_notifyf(0, "STATUS=Pulling %s and restoring the state", i.config->workspace_image);
	r = pull_and_restore(&i, &failed_step);
	if (r != 0)
		return initd_failed(failed_step, r);

	(void)sd_notifyf(0, "STATUS=Starting container %s", i.container_name);
	start = now_usec(CLOCK_MONOTONIC);
	r = initd_container(&i);
	if (r != 0)
		return initd_failed(INITD_STEP_CONTAINER, r);
	step_done(&i, INITD_STEP_CONTAINER, start);
	i.step_usec[INITD_STEP_CONTAINER] += i.container_early_usec;

	use_systemd =
	    arg_services == SERVICES_SYSTEMD || (arg_services == SERVICES_AUTO && sd_booted() > 0);
	if (arg_services != SERVICES_NONE) {
		start = now_usec(CLOCK_MONOTONIC);
		r = initd_services(&i, use_systemd, arg_config);
		if (r != 0)
			return initd_failed(INITD_STEP_SERVICES, r);
		step_done(&i, INITD_STEP_SERVICES, start);
	} else
		i.services_outcome = "not started (--services=none)";

	initd_ready(&i, now_usec(CLOCK_MONOTONIC) - begin);
	return initd_services_wait(&i);
}

int main(int argc, char **argv)
{
	int r;

	log_open("agentbox-init");
	r = parse_argv(argc, argv);
	if (r <= 0)
		return r < 0 ? EXIT_CONFIG : 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("libcurl initialisation failed");
		return INITD_EXIT_FAILURE;
	}
	r = run();
	curl_global_cleanup();
	return r;
}
