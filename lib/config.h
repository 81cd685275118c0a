/* The one configuration file of every agentbox program (JSON, cJSON),
 * default /etc/agentbox/agentbox.json, --config FILE to override.
 *
 * Every key is a row of the table in config.c with its type, its default
 * and its limits; docs/configuration.md documents each row (a test checks
 * that none is missing). Unknown keys, wrong types and impossible values
 * are refused with one line naming the key. Secrets never live in the
 * JSON: keys ending in "_file" name a 0600 file or a systemd credential. */
#ifndef AGENTBOX_CONFIG_H
#define AGENTBOX_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "time-util.h"

#define CONFIG_DEFAULT_PATH "/etc/agentbox/agentbox.json"
#define CONFIG_MAX_SIZE (1024 * 1024)
#define CONFIG_MAX_PORTS 32

/* Exit code of every program for a bad config or command line. */
#define EXIT_CONFIG 2

enum idle_action {
	IDLE_ACTION_NONE,
	IDLE_ACTION_POWEROFF,
	IDLE_ACTION_DELETE,
};

enum notify_format {
	NOTIFY_FORMAT_JSON,  /* the event document */
	NOTIFY_FORMAT_TEXT,  /* text/plain (ntfy) */
	NOTIFY_FORMAT_SLACK, /* {"text": ...} (Slack-style incoming webhooks) */
};

enum restore_failure {
	RESTORE_FAILURE_FAIL,
	RESTORE_FAILURE_EMPTY,
};

struct config_ports {
	size_t n;
	uint16_t port[CONFIG_MAX_PORTS];
};

/* Inclusive ranges of ports: "8080" is 8080-8080. */
struct config_port_ranges {
	size_t n;
	uint16_t lo[CONFIG_MAX_PORTS], hi[CONFIG_MAX_PORTS];
};

struct config {
	char *path; /* the file it came from, or NULL for defaults only */

	/* workspace.* */
	char *workspace_name;
	char *workspace_user;
	char *workspace_home; /* derived from workspace.user unless set */
	char *workspace_projects_dir; /* derived: <home>/work; the container's working dir */
	char *workspace_image; /* NULL: not set (agentbox-init refuses to start) */
	char *workspace_registry_auth_file;
	char **workspace_command; /* empty: the image's own command */
	char **workspace_ports;   /* "8080" or "3000-3009", checked by config_finish */
	struct config_port_ranges workspace_port_ranges; /* parsed from workspace_ports */
	char *workspace_ports_address;
	int workspace_docker_socket;
	char *workspace_docker_host;
	int workspace_android_emulator;
	double workspace_pull_retries;
	/* the container as a sandbox (initd-container.c, initd-firewall.c) */
	double workspace_cpus;	     /* 0: no limit */
	char *workspace_memory;	     /* "90%", "8g", "none"; see config_memory_limit() */
	double workspace_pids_limit; /* 0: no limit */
	char **workspace_cap_add;    /* capabilities given back after dropping all */
	int workspace_block_metadata;

	/* top level */
	char *runtime_dir;
	char *state_dir;

	/* idle.* */
	usec_t idle_timeout;
	usec_t idle_boot_grace;
	usec_t idle_max_lifetime; /* 0: off */
	usec_t idle_warn_before;
	usec_t idle_interval;
	int idle_action; /* enum idle_action */
	char **idle_watch_paths;
	char **idle_exclude_paths;
	char **idle_agent_names;
	double idle_cpu_threshold; /* percent of one core */
	struct config_ports idle_ports;
	int idle_wall;
	int idle_delete_without_backup;
	int idle_delete_without_storage;

	/* state.* */
	char **state_paths; /* derived from workspace.home unless set */
	char **state_exclude;
	int state_exclude_defaults; /* leave out what can be rebuilt (lib/state-exclude.c) */
	double state_keep;
	usec_t state_backup_interval; /* 0: off */
	usec_t state_lease_ttl;
	double state_compression_level;
	int state_on_restore_failure; /* enum restore_failure */
	char *state_storage_endpoint; /* NULL: AWS for the region */
	char *state_storage_region;
	char *state_storage_bucket; /* NULL: no state storage */
	char *state_storage_prefix; /* derived: "agentbox/<workspace.name>/" */
	int state_storage_path_style;
	char *state_storage_credentials_file; /* NULL: ~/.aws/credentials */
	char *state_encryption_key_file; /* NULL: the bucket holds plain objects */

	/* provider.* */
	char *notify_webhook_url_file; /* secret: the webhook's URL */
	int notify_format;	       /* enum notify_format */
	char *provider_name; /* "auto" or a row of the provider table */
	char *provider_api_url;	   /* the cloud's API, for clouds without their own key */
	char *provider_token_file; /* secret: the API token, likewise */
	usec_t provider_metadata_timeout;
	double provider_metadata_retries;
	usec_t provider_api_timeout;
	double provider_delete_retries;
	char *provider_hetzner_api_url;
	char *provider_hetzner_token_file;
	int provider_ec2_terminate; /* enum ec2_terminate_mode */
	char *provider_ec2_api_url;

	/* display.* */
	char *display_x_display;
	char *display_geometry;
	int display_port;
	int display_web_port;
	char *display_listen;
	char *display_novnc_dir;
	char *display_password_file; /* NULL: no password */
	char *display_web_password_file; /* NULL: the web front asks for none */
	char *display_tls_cert_file;
	char *display_tls_key_file;
	double display_max_fps;
	char **display_allowed_hosts; /* Host names served besides loopback ones */
	int display_terminal;	      /* GET /terminal: tmux in the workspace */
	char *display_terminal_dir;   /* the terminal page's files */
};

/* A config with every default. */
struct config *config_new(void);
struct config *config_free(struct config *c);
static inline void config_freep(struct config **c)
{
	config_free(*c);
}

/* Loads JSON text over the defaults. On error returns -EINVAL (or -errno)
 * and *ret_error holds one line: "<origin>: idle.timeout: <reason>". */
int config_load_string(struct config *c, const char *json, const char *origin, char **ret_error);

/* Loads a file. A missing file is an error only when explicit. */
int config_load_file(struct config *c, const char *path, int explicit, char **ret_error);

/* Fills values derived from others (the home of workspace.user, the
 * default watch path); fails with a message when one cannot be derived. */
int config_finish(struct config *c, char **ret_error);

/* workspace.memory in bytes for a machine of ram bytes: "N%" of it, a size
 * ("512m", "8g", "1.5g", "1048576"; k/m/g/t are powers of 1024) or "none"
 * (0: no limit). -EINVAL for anything else or below 4 MiB. */
int config_memory_limit(const char *s, uint64_t ram, uint64_t *ret_bytes);

/* The effective config as JSON text (for "agentbox config"). */
char *config_to_json(const struct config *c);

/* The table's key names, NULL-terminated (for the documentation test). */
const char *const *config_key_names(void);

/* "delete" -> IDLE_ACTION_DELETE; -1 when unknown. */
const char *idle_action_to_string(int a);

/* Loads the config for a program: --config path or the default; prints the
 * error to stderr and returns NULL on failure (callers exit EXIT_CONFIG). */
struct config *config_load_for_program(const char *path);

#endif
