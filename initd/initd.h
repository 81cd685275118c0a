/* agentbox-init: the workspace bring-up, one module per step.
 *
 *   config -> identity -> { image pull || state restore } -> container
 *          -> display and monitor -> READY=1 and the summary
 *
 * Each step function fills struct initd and returns 0 or an exit code of
 * enum initd_exit after logging one line saying what failed and what to
 * do; agentbox-init.c only sequences them and records the times. */
#ifndef AGENTBOX_INITD_H
#define AGENTBOX_INITD_H

#include "docker.h"
#include "time-util.h"

struct config;

/* Exit codes of agentbox-init, one per class of failure (docs/man/agentbox-init.8). */
enum initd_exit {
	INITD_EXIT_OK = 0,
	INITD_EXIT_FAILURE = 1,	  /* anything not below */
	INITD_EXIT_CONFIG = 2,	  /* bad config or command line */
	INITD_EXIT_DOCKER = 3,	  /* Docker daemon unreachable or too old */
	INITD_EXIT_IMAGE = 4,	  /* image not found, unauthorized, registry unreachable */
	INITD_EXIT_NOSPACE = 5,	  /* no space left on device */
	INITD_EXIT_RESTORE = 6,	  /* state restore failed (storage unreachable, bad archive) */
	INITD_EXIT_CONTAINER = 7, /* container could not be created or started */
	INITD_EXIT_SERVICES = 8,  /* display or monitor could not be started */
	INITD_EXIT_IDENTITY = 9,  /* instance identity could not be learned */
};

enum initd_step {
	INITD_STEP_CONFIG,
	INITD_STEP_IDENTITY,
	INITD_STEP_DOCKER,
	INITD_STEP_PULL,
	INITD_STEP_RESTORE,
	INITD_STEP_CONTAINER,
	INITD_STEP_SERVICES,
	_INITD_STEP_MAX,
};

/* Marker files under state_dir. */
#define INITD_RESTORED_MARKER "restored-generation"
#define INITD_RESTORE_FAILED_MARKER "restore-failed"

struct initd {
	struct config *config;
	struct docker *docker;
	int tty; /* stderr is a terminal: progress as a redrawn line */

	/* identity */
	char provider[32];
	char instance[128]; /* one line describing it */
	char address[64];   /* where to connect: public IPv4, or the host name */

	/* pull */
	struct docker_pull_result pull;
	char *image_id;	    /* sha256:... of the local image */
	char *image_digest; /* repo digest, or the id when the image has none */

	/* restore */
	char *generation; /* restored, kept, or NULL when none */
	const char *restore_outcome;

	/* container */
	char *container_name;
	char *container_id;
	const char *container_outcome; /* "created", "started", "already running" */
	int container_prepared;	       /* found or created (not necessarily running) */
	int container_created;
	int container_running;
	usec_t container_early_usec; /* prepared on the pull thread, during the restore */

	/* services */
	const char *services_outcome;
	pid_t children[2];
	int n_children;

	usec_t step_usec[_INITD_STEP_MAX];
	int step_ran[_INITD_STEP_MAX];
};

const char *initd_step_to_string(enum initd_step s);

/* Learns who this instance is and where users connect to. */
int initd_identity(struct initd *i);

/* Opens the Docker client (docker_host from the config). */
int initd_docker_open(struct initd *i);

/* Pulls workspace.image with progress; fills pull, image_id, image_digest. */
int initd_pull(struct initd *i);

/* The state paths of the config (mounted into the container). */
char **initd_state_paths(const struct config *c);

/* Restores the state (or keeps what is local); fills generation. */
int initd_restore(struct initd *i);

/* The container spec for this config and image (cJSON object). */
struct cJSON *initd_container_spec(const struct initd *i);

/* Finds the workspace container, or creates it (not started). */
int initd_container_prepare(struct initd *i);

/* Can the container be created before the restore ends? Only when no
 * state path lies outside the home (those are mounted only if they exist). */
int initd_container_early_ok(const struct config *c);

/* The nftables table and chain that keep containers from the metadata
 * service (initd-firewall.c). */
#define INITD_FIREWALL_TABLE "agentbox"
#define INITD_FIREWALL_CHAIN "metadata"

/* Puts the metadata block in place (workspace.block_metadata), idempotent;
 * 0 or INITD_EXIT_CONTAINER after logging why. */
int initd_firewall(struct initd *i);

/* Creates the workspace container if absent, starts it unless it runs. */
int initd_container(struct initd *i);

/* Starts agentbox-display and agentbox-monitor (systemd or children). */
int initd_services(struct initd *i, int use_systemd, const char *config_path);

/* Writes <unit_dir>/agentbox-{xvfb,display}.service.d/ drop-ins setting
 * User=user; *ret_changed is 1 when one was new or different (systemd must
 * reload). Returns 0 or -errno. */
int initd_services_write_dropins(const char *unit_dir, const char *user, int *ret_changed);

/* Waits for the children started by initd_services until a signal. */
int initd_services_wait(struct initd *i);

/* Prints the summary, logs MSGID_INIT_READY and sends READY=1. */
void initd_ready(struct initd *i, usec_t total);

#endif
