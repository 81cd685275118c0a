/* The workspace container: agentbox-<workspace.name>, created once from
 * workspace.image and started on every boot.
 *
 * The home (and every state path outside it, and the projects directory)
 * is bind-mounted at the same absolute path inside, and the projects
 * directory is the working directory: Claude Code finds its sessions by
 * the absolute working directory, so a path must mean the same thing on
 * the host, in the container and in the backups, and on the next VM. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "docker.h"
#include "fileio.h"
#include "initd.h"
#include "log.h"

#define KVM_DEVICE "/dev/kvm"
/* The X server's sockets: the display's clients inside draw on the VM's
 * Xvfb (display.x_display). */
#define X11_SOCKET_DIR "/tmp/.X11-unix"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

/* Is path under dir (or dir itself)? */
static int path_under(const char *path, const char *dir)
{
	size_t l = strlen(dir);

	while (l > 1 && dir[l - 1] == '/')
		l--;
	return strncmp(path, dir, l) == 0 && (path[l] == '\0' || path[l] == '/');
}

static void add_bind(cJSON *binds, const char *path, const char *mode)
{
	_cleanup_free_ char *b = xasprintf("%s:%s:%s", path, path, mode);

	cJSON_AddItemToArray(binds, cJSON_CreateString(b));
}

/* Binds of the state paths outside the home (those inside come with it).
 * A path that does not exist is left out: Docker would create it as a
 * directory, and it may be meant as a file. */
static void add_state_binds(const struct initd *i, cJSON *binds)
{
	const struct config *c = i->config;
	char **paths = initd_state_paths(c);

	for (char **p = paths; p && *p; p++) {
		if (path_under(*p, c->workspace_home))
			continue;
		if (access(*p, F_OK) < 0) {
			log_warning("State path %s does not exist, not mounting it", *p);
			continue;
		}
		add_bind(binds, *p, "rw");
	}
	if (path_under(c->workspace_projects_dir, c->workspace_home))
		return;
	for (char **p = paths; p && *p; p++)
		if (path_under(c->workspace_projects_dir, *p))
			return; /* mounted with a state path */
	add_bind(binds, c->workspace_projects_dir, "rw");
}

/* Creates the projects directory when missing, for the owner of the home
 * (the workspace user): Docker would create a missing bind source as
 * root, and the agents could not write to their working directory. */
static int projects_dir_prepare(const struct config *c)
{
	struct stat home;
	int r;

	if (access(c->workspace_projects_dir, F_OK) == 0)
		return 0;
	r = mkdir_p(c->workspace_projects_dir, 0755);
	if (r < 0)
		return r;
	if (stat(c->workspace_home, &home) < 0)
		return -errno;
	if (chown(c->workspace_projects_dir, home.st_uid, home.st_gid) < 0)
		return -errno;
	return 0;
}

/* The sandbox: agents run untrusted code in the container. Every
 * capability dropped (the workspace user is not root and needs none; a
 * root image gets back only workspace.cap_add), no-new-privileges (setuid
 * binaries do not raise anyone), and limits so that a runaway build or a
 * fork bomb hits the container's cgroup, not dockerd, sshd or the monitor
 * that must delete the idle VM. */
static void add_sandbox(const struct config *c, cJSON *host)
{
	cJSON *drop = cJSON_AddArrayToObject(host, "CapDrop");
	cJSON *add = cJSON_AddArrayToObject(host, "CapAdd");
	cJSON *sec = cJSON_AddArrayToObject(host, "SecurityOpt");
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	uint64_t mem = 0;

	cJSON_AddItemToArray(drop, cJSON_CreateString("ALL"));
	for (char **p = c->workspace_cap_add; p && *p; p++)
		cJSON_AddItemToArray(add, cJSON_CreateString(*p));
	cJSON_AddItemToArray(sec, cJSON_CreateString("no-new-privileges:true"));
	if (c->workspace_cpus > 0)
		cJSON_AddNumberToObject(host, "NanoCpus",
					(double)(int64_t)(c->workspace_cpus * 1e9));
	/* checked by config_finish; the machine's size decides a share */
	if (config_memory_limit(c->workspace_memory,
				pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0,
				&mem) == 0 &&
	    mem > 0)
		cJSON_AddNumberToObject(host, "Memory", (double)mem);
	if (c->workspace_pids_limit > 0)
		cJSON_AddNumberToObject(host, "PidsLimit", c->workspace_pids_limit);
}

cJSON *initd_container_spec(const struct initd *i)
{
	const struct config *c = i->config;
	cJSON *spec = cJSON_CreateObject(), *host, *labels, *env, *binds, *exposed, *bindings;
	_cleanup_free_ char *e_home = xasprintf("HOME=%s", c->workspace_home);
	_cleanup_free_ char *e_user = xasprintf("USER=%s", c->workspace_user);
	_cleanup_free_ char *e_ws = xasprintf("AGENTBOX_WORKSPACE=%s", c->workspace_name);
	_cleanup_free_ char *e_display = xasprintf("DISPLAY=%s", c->display_x_display);
	_cleanup_free_ char *keepalive = xasprintf("%s/keepalive.d", c->runtime_dir);
	_cleanup_free_ char *e_keepalive = xasprintf("AGENTBOX_KEEPALIVE_DIR=%s", keepalive);

	cJSON_AddStringToObject(spec, "Image", c->workspace_image);
	if (c->workspace_command && c->workspace_command[0]) {
		cJSON *cmd = cJSON_AddArrayToObject(spec, "Cmd");
		for (char **p = c->workspace_command; *p; p++)
			cJSON_AddItemToArray(cmd, cJSON_CreateString(*p));
	}
	cJSON_AddStringToObject(spec, "WorkingDir", c->workspace_projects_dir);
	env = cJSON_AddArrayToObject(spec, "Env");
	cJSON_AddItemToArray(env, cJSON_CreateString(e_home));
	cJSON_AddItemToArray(env, cJSON_CreateString(e_user));
	cJSON_AddItemToArray(env, cJSON_CreateString(e_ws));
	cJSON_AddItemToArray(env, cJSON_CreateString(e_display));
	cJSON_AddItemToArray(env, cJSON_CreateString(e_keepalive));

	labels = cJSON_AddObjectToObject(spec, "Labels");
	cJSON_AddStringToObject(labels, "agentbox.workspace", c->workspace_name);
	cJSON_AddStringToObject(labels, "agentbox.image", c->workspace_image);
	cJSON_AddStringToObject(labels, "agentbox.home", c->workspace_home);
	cJSON_AddStringToObject(labels, "agentbox.version", AGENTBOX_VERSION);

	host = cJSON_AddObjectToObject(spec, "HostConfig");
	binds = cJSON_AddArrayToObject(host, "Binds");
	add_bind(binds, c->workspace_home, "rw");
	add_state_binds(i, binds);
	/* Read-only: clients connect (sockets are exempt from EROFS), but
	 * cannot plant a socket of another display there. */
	add_bind(binds, X11_SOCKET_DIR, "ro");
	/* `agentbox keepalive` inside writes its file here (the monitor's
	 * keepalive.d, created by it with mode 1777). */
	add_bind(binds, keepalive, "rw");
	if (c->workspace_docker_socket)
		add_bind(binds, c->workspace_docker_host, "rw");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(host, "RestartPolicy"), "Name",
				"unless-stopped");
	cJSON_AddBoolToObject(host, "Init", 1);
	add_sandbox(c, host);

	exposed = cJSON_AddObjectToObject(spec, "ExposedPorts");
	bindings = cJSON_AddObjectToObject(host, "PortBindings");
	for (size_t r = 0; r < c->workspace_port_ranges.n; r++)
		for (unsigned p = c->workspace_port_ranges.lo[r];
		     p <= c->workspace_port_ranges.hi[r]; p++) {
			char key[16], port[8];
			cJSON *list, *b;

			snprintf(key, sizeof(key), "%u/tcp", p);
			snprintf(port, sizeof(port), "%u", p);
			if (cJSON_GetObjectItemCaseSensitive(exposed, key))
				continue;
			cJSON_AddObjectToObject(exposed, key);
			list = cJSON_AddArrayToObject(bindings, key);
			b = cJSON_CreateObject();
			cJSON_AddStringToObject(b, "HostIp", c->workspace_ports_address);
			cJSON_AddStringToObject(b, "HostPort", port);
			cJSON_AddItemToArray(list, b);
		}

	if (access(KVM_DEVICE, F_OK) == 0) {
		cJSON *devs = cJSON_AddArrayToObject(host, "Devices"), *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "PathOnHost", KVM_DEVICE);
		cJSON_AddStringToObject(d, "PathInContainer", KVM_DEVICE);
		cJSON_AddStringToObject(d, "CgroupPermissions", "rwm");
		cJSON_AddItemToArray(devs, d);
	}
	return spec;
}

int initd_container_early_ok(const struct config *c)
{
	for (char **p = initd_state_paths(c); p && *p; p++)
		if (!path_under(*p, c->workspace_home))
			return 0;
	return 1;
}

/* The container exists: check it is ours and note whether it runs. */
static int container_adopt(struct initd *i, const cJSON *j)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "Id");
	const cJSON *config = cJSON_GetObjectItemCaseSensitive(j, "Config");
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(config, "Labels");
	const cJSON *ws = cJSON_GetObjectItemCaseSensitive(labels, "agentbox.workspace");
	const cJSON *image = cJSON_GetObjectItemCaseSensitive(config, "Image");
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(j, "State");
	const cJSON *image_id = cJSON_GetObjectItemCaseSensitive(j, "Image");

	if (!cJSON_IsString(id))
		return log_error_errno(-EBADMSG, "Container %s: no Id in the daemon's answer",
				       i->container_name),
		       INITD_EXIT_CONTAINER;
	if (!cJSON_IsString(ws) || !streq(ws->valuestring, i->config->workspace_name)) {
		log_error("Container %s exists but is not agentbox's (no label "
			  "agentbox.workspace=%s); rename or remove it",
			  i->container_name, i->config->workspace_name);
		return INITD_EXIT_CONTAINER;
	}
	free(i->container_id);
	i->container_id = xstrdup(id->valuestring);
	if (cJSON_IsString(image) && !streq(image->valuestring, i->config->workspace_image))
		log_warning("Container %s was created from %s, the config now says %s; keeping "
			    "it (docker rm -f %s, then run agentbox-init again, to recreate it)",
			    i->container_name, image->valuestring, i->config->workspace_image,
			    i->container_name);
	else if (cJSON_IsString(image_id) && i->image_id &&
		 !streq(image_id->valuestring, i->image_id))
		log_warning("Container %s runs %.19s, but %s is now %.19s; keeping the container "
			    "(docker rm -f %s, then run agentbox-init again, to move to the new "
			    "image)",
			    i->container_name, image_id->valuestring, i->config->workspace_image,
			    i->image_id, i->container_name);
	i->container_running = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(state, "Running"));
	return 0;
}

/* A container of this workspace under another name (renamed by hand) is
 * not ours to reuse or remove; say that a new one is made beside it. */
static void warn_renamed(struct initd *i)
{
	_cleanup_(cJSON_Deletep) cJSON *list = NULL;
	_cleanup_free_ char *label = xasprintf("agentbox.workspace=%s", i->config->workspace_name);
	const cJSON *e;

	if (docker_container_list(i->docker, label, &list) < 0)
		return;
	cJSON_ArrayForEach(e, list)
	{
		const cJSON *names = cJSON_GetObjectItemCaseSensitive(e, "Names");
		const cJSON *n = cJSON_GetArrayItem(names, 0);
		log_warning("Container %s also belongs to workspace %s (label %s); leaving it "
			    "alone and creating %s",
			    cJSON_IsString(n) ? n->valuestring + (n->valuestring[0] == '/') : "?",
			    i->config->workspace_name, label, i->container_name);
	}
}

int initd_container_prepare(struct initd *i)
{
	const struct config *c = i->config;
	_cleanup_(cJSON_Deletep) cJSON *j = NULL, *spec = NULL;
	_cleanup_free_ char *error = NULL, *id = NULL;
	int r;

	if (i->container_prepared)
		return 0;
	if (c->workspace_android_emulator && access(KVM_DEVICE, F_OK) < 0)
		log_warning("workspace.android_emulator is set but %s is absent: the emulator "
			    "will run without acceleration, many times slower; use an instance "
			    "type with nested virtualisation or bare metal",
			    KVM_DEVICE);

	r = docker_container_inspect(i->docker, i->container_name, &j);
	if (r == 0) {
		r = container_adopt(i, j);
		i->container_prepared = r == 0;
		return r;
	}
	if (r != -ENOENT) {
		log_error_errno(r, "Inspecting container %s failed: %m", i->container_name);
		return INITD_EXIT_DOCKER;
	}

	warn_renamed(i);
	r = mkdir_p(c->workspace_home, 0755);
	if (r < 0) {
		log_error_errno(r, "Creating the home %s failed: %m", c->workspace_home);
		return r == -ENOSPC ? INITD_EXIT_NOSPACE : INITD_EXIT_CONTAINER;
	}
	r = projects_dir_prepare(c);
	if (r < 0) {
		log_error_errno(r,
				"Creating the projects directory %s (workspace.projects_dir) "
				"failed: %m",
				c->workspace_projects_dir);
		return r == -ENOSPC ? INITD_EXIT_NOSPACE : INITD_EXIT_CONTAINER;
	}
	spec = initd_container_spec(i);
	r = docker_container_create(i->docker, i->container_name, spec, &id, &error);
	if (r == -EEXIST && docker_container_inspect(i->docker, i->container_name, &j) == 0) {
		/* created by someone else since we looked */
		r = container_adopt(i, j);
		i->container_prepared = r == 0;
		return r;
	}
	if (r < 0) {
		log_error_errno(r, "Creating container %s from %s failed: %s", i->container_name,
				c->workspace_image, strempty(error));
		return r == -ENOSPC ? INITD_EXIT_NOSPACE : INITD_EXIT_CONTAINER;
	}
	i->container_id = TAKE_PTR(id);
	i->container_created = 1;
	i->container_prepared = 1;
	log_info("Created container %s (%.12s)", i->container_name, i->container_id);
	return 0;
}

int initd_container(struct initd *i)
{
	_cleanup_free_ char *error = NULL;
	int r;

	r = initd_container_prepare(i);
	if (r != 0)
		return r;
	/* also when it runs already: the rules do not survive a reboot, and
	 * Docker restarts the container by itself; one that runs unprotected
	 * is stopped */
	r = initd_firewall(i);
	if (r != 0) {
		if (i->container_running) {
			int k = docker_container_stop(i->docker, i->container_id, 10);
			if (k < 0)
				log_error_errno(k,
						"Stopping container %s failed too: %m; stop it "
						"by hand (docker stop %s)",
						i->container_name, i->container_name);
			else
				log_error("Stopped container %s, which ran without the block",
					  i->container_name);
		}
		return r;
	}
	if (i->container_running) {
		i->container_outcome = "already running";
		log_info("Container %s already running", i->container_name);
		return 0;
	}
	r = docker_container_start(i->docker, i->container_id, &error);
	if (r < 0) {
		log_error_errno(r, "Starting container %s failed: %s", i->container_name,
				strempty(error));
		return r == -ENOSPC ? INITD_EXIT_NOSPACE : INITD_EXIT_CONTAINER;
	}
	i->container_outcome = i->container_created ? "created" : "started";
	log_info("Started container %s", i->container_name);
	return 0;
}
