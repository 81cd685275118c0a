/* The Docker steps of agentbox-init: connect, pull workspace.image with
 * progress (a redrawn line on a terminal, structured journal lines
 * otherwise), and find the image's digest. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "docker.h"
#include "fileio.h"
#include "initd.h"
#include "log.h"

/* Journal lines while pulling: at most one per this, plus one per layer. */
#define PULL_LOG_INTERVAL (5 * USEC_PER_SEC)
#define PULL_TTY_INTERVAL (100 * USEC_PER_MSEC)

struct pull_view {
	struct initd *initd;
	usec_t last;
	int drawn;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

int initd_docker_open(struct initd *i)
{
	_cleanup_free_ char *error = NULL;
	int r;

	r = docker_open(i->config->workspace_docker_host, &i->docker, &error);
	if (r < 0) {
		log_error_errno(r, "%s", error ? error : "Cannot reach the Docker daemon");
		return INITD_EXIT_DOCKER;
	}
	log_info("Docker %s at %s, API %s", docker_server_version(i->docker),
		 docker_host(i->docker), docker_api_version(i->docker));
	return 0;
}

static void format_bytes(char *buf, size_t size, double b)
{
	if (b >= 1024.0 * 1024 * 1024)
		snprintf(buf, size, "%.2f GiB", b / (1024.0 * 1024 * 1024));
	else if (b >= 1024.0 * 1024)
		snprintf(buf, size, "%.1f MiB", b / (1024.0 * 1024));
	else if (b >= 1024.0)
		snprintf(buf, size, "%.1f KiB", b / 1024.0);
	else
		snprintf(buf, size, "%.0f B", b);
}

/* Shows one progress line of the pull. */
static void pull_progress(const struct docker_pull_progress *p, void *userdata)
{
	struct pull_view *v = userdata;
	usec_t now = now_usec(CLOCK_MONOTONIC);
	char done[32], total[32], speed[32];

	if (p->retry_error) {
		if (v->drawn)
			fputc('\n', stderr);
		v->drawn = 0;
		log_warning("Pulling %s failed (%s); attempt %u of %u, retrying in %.0fs",
			    v->initd->config->workspace_image, p->retry_error, p->attempt,
			    (unsigned)v->initd->config->workspace_pull_retries + 1,
			    (double)p->retry_in / 1e6);
		return;
	}

	format_bytes(done, sizeof(done), (double)p->bytes_done);
	format_bytes(total, sizeof(total), (double)p->bytes_total);
	format_bytes(speed, sizeof(speed), p->speed);
	if (v->initd->tty) {
		if (now - v->last < PULL_TTY_INTERVAL && !p->layer_finished)
			return;
		fprintf(stderr, "\r\033[Kpulling %s: %u/%u layers, %s/%s, %s/s",
			v->initd->config->workspace_image, p->layers_done, p->layers, done, total,
			speed);
		fflush(stderr);
		v->drawn = 1;
	} else {
		char layers[16], ldone[16], bytes[32], btotal[32], bps[32];

		if (now - v->last < PULL_LOG_INTERVAL && !p->layer_finished)
			return;
		snprintf(layers, sizeof(layers), "%u", p->layers);
		snprintf(ldone, sizeof(ldone), "%u", p->layers_done);
		snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)p->bytes_done);
		snprintf(btotal, sizeof(btotal), "%llu", (unsigned long long)p->bytes_total);
		snprintf(bps, sizeof(bps), "%.0f", p->speed);
		log_event(
		    LOG_INFO, MSGID_INIT_PULL_PROGRESS,
		    LOG_FIELDS({"AGENTBOX_PULL_LAYERS", layers},
			       {"AGENTBOX_PULL_LAYERS_DONE", ldone}, {"AGENTBOX_PULL_BYTES", bytes},
			       {"AGENTBOX_PULL_BYTES_TOTAL", btotal}, {"AGENTBOX_PULL_SPEED", bps}),
		    5, "Pulling %s: %u/%u layers, %s of %s, %s/s",
		    v->initd->config->workspace_image, p->layers_done, p->layers, done, total,
		    speed);
	}
	v->last = now;
}

/* The one line for a failed pull: what happened and what to do. */
static int pull_failed(struct initd *i, int r, const char *why)
{
	const char *image = i->config->workspace_image;

	switch (r) {
	case -ENOENT:
		log_error_errno(r,
				"Image %s not found in its registry (%s); check "
				"workspace.image",
				image, why);
		return INITD_EXIT_IMAGE;
	case -EACCES:
		log_error_errno(r,
				"Registry refused to serve %s (%s); check the credentials "
				"in workspace.registry_auth_file",
				image, why);
		return INITD_EXIT_IMAGE;
	case -EHOSTUNREACH:
	case -EAGAIN:
		log_error_errno(r,
				"Registry of %s unreachable after %u attempts (%s); check "
				"the network and the registry's address",
				image, i->pull.attempts, why);
		return INITD_EXIT_IMAGE;
	case -ENOSPC:
		log_error_errno(r,
				"No space left on device while pulling %s (%s); free space "
				"under Docker's data root (docker system prune) or grow the disk",
				image, why);
		return INITD_EXIT_NOSPACE;
	default:
		log_error_errno(r, "Pulling %s failed: %s", image, why);
		return r == -ECONNREFUSED || r == -ECONNRESET ? INITD_EXIT_DOCKER
							      : INITD_EXIT_IMAGE;
	}
}

/* Reads workspace.registry_auth_file: a JSON object with "username" and
 * "password" (and optionally "serveraddress"), or one "user:password" line.
 * Returns the JSON text the daemon wants, or NULL when no file is set. */
static int read_registry_auth(const struct config *c, char **ret)
{
	_cleanup_secret_ char *text = NULL;
	const char *why = NULL;
	cJSON *j;
	int r;

	*ret = NULL;
	if (!c->workspace_registry_auth_file)
		return 0;
	r = read_secret(c->workspace_registry_auth_file, &text, &why);
	if (r < 0)
		return log_error_errno(r, "workspace.registry_auth_file: %s %s",
				       c->workspace_registry_auth_file,
				       why ? why : "cannot be read");
	j = cJSON_Parse(text);
	if (cJSON_IsObject(j)) {
		if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "username")) ||
		    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "password"))) {
			cJSON_Delete(j);
			return log_error_errno(-EINVAL,
					       "workspace.registry_auth_file: %s has no "
					       "\"username\" and \"password\" strings",
					       c->workspace_registry_auth_file);
		}
		*ret = cJSON_PrintUnformatted(j);
	} else {
		char *colon = strchr(text, ':');
		if (!colon || colon == text) {
			cJSON_Delete(j);
			return log_error_errno(-EINVAL,
					       "workspace.registry_auth_file: %s is neither "
					       "a JSON object nor a \"user:password\" line",
					       c->workspace_registry_auth_file);
		}
		*colon = '\0';
		cJSON_Delete(j);
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "username", text);
		cJSON_AddStringToObject(j, "password", colon + 1);
		*ret = cJSON_PrintUnformatted(j);
	}
	/* wipe the password inside the tree before freeing it */
	{
		cJSON *pw = cJSON_GetObjectItemCaseSensitive(j, "password");
		if (cJSON_IsString(pw))
			explicit_bzero(pw->valuestring, strlen(pw->valuestring));
	}
	cJSON_Delete(j);
	return 0;
}

/* Finds the image's id and repo digest. */
static void pull_find_digest(struct initd *i)
{
	_cleanup_(cJSON_Deletep) cJSON *j = NULL;
	const cJSON *id, *digests, *d;
	const char *image = i->config->workspace_image;

	if (docker_image_inspect(i->docker, image, &j) < 0)
		return;
	id = cJSON_GetObjectItemCaseSensitive(j, "Id");
	if (cJSON_IsString(id))
		i->image_id = xstrdup(id->valuestring);
	digests = cJSON_GetObjectItemCaseSensitive(j, "RepoDigests");
	cJSON_ArrayForEach(d, digests)
	{
		const char *at = cJSON_IsString(d) ? strchr(d->valuestring, '@') : NULL;
		if (at) {
			i->image_digest = xstrdup(at + 1);
			break;
		}
	}
	if (!i->image_digest && i->pull.digest[0])
		i->image_digest = xstrdup(i->pull.digest);
	if (!i->image_digest && i->image_id)
		i->image_digest = xstrdup(i->image_id);
}

static int image_present(struct initd *i)
{
	_cleanup_(cJSON_Deletep) cJSON *j = NULL;

	return docker_image_inspect(i->docker, i->config->workspace_image, &j) == 0;
}

int initd_pull(struct initd *i)
{
	_cleanup_secret_ char *auth = NULL;
	_cleanup_free_ char *error = NULL;
	struct pull_view view = {.initd = i};
	const struct config *c = i->config;
	char bytes[32];
	int r;

	if (read_registry_auth(c, &auth) < 0)
		return INITD_EXIT_CONFIG;
	log_info("Pulling %s%s", c->workspace_image, auth ? " (with registry credentials)" : "");
	r = docker_image_pull(i->docker, c->workspace_image, auth,
			      (unsigned)c->workspace_pull_retries, USEC_PER_SEC, pull_progress,
			      &view, &i->pull, &error);
	if (view.drawn)
		fputc('\n', stderr);
	if ((r == -EHOSTUNREACH || r == -EAGAIN) && image_present(i)) {
		/* a reboot while the registry is away: the local copy will do */
		log_warning_errno(r,
				  "Registry of %s unreachable (%s); using the local copy of the "
				  "image",
				  c->workspace_image, strempty(error));
		r = 0;
	}
	if (r < 0)
		return pull_failed(i, r, error ? error : strerror(-r));
	pull_find_digest(i);
	format_bytes(bytes, sizeof(bytes), (double)i->pull.bytes);
	if (i->pull.layers == 0)
		log_info("Image %s is up to date (checked in %.1fs), digest %s", c->workspace_image,
			 (double)i->pull.duration / 1e6, strempty(i->image_digest));
	else
		log_info("Pulled %s: %u layers, %s downloaded in %.1fs, digest %s",
			 c->workspace_image, i->pull.layers, bytes, (double)i->pull.duration / 1e6,
			 strempty(i->image_digest));
	return 0;
}
