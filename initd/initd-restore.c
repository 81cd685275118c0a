/* The state step of agentbox-init: restore the latest generation on the
 * first boot of a machine, and never again over local state.
 *
 * <state_dir>/restored-generation records that this disk already holds
 * the workspace state (the generation restored, or "none" when there was
 * nothing to restore). While it exists, later boots keep what is local:
 * it is at least as new as the latest backup, which was made from it.
 * <state_dir>/restore-failed records a failed restore (with the reason),
 * for the monitor's delete step to refuse deleting an instance whose state
 * never arrived. A later successful run removes it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"
#include "initd.h"
#include "log.h"
#include "state.h"

char **initd_state_paths(const struct config *c)
{
	return c->state_paths;
}

static char *marker_path(const struct config *c, const char *name)
{
	return xasprintf("%s/%s", c->state_dir, name);
}

/* Writes a one-line marker; returns 0 or -errno. */
static int marker_write(const struct config *c, const char *name, const char *text)
{
	_cleanup_free_ char *p = marker_path(c, name), *line = xasprintf("%s\n", text);
	int r;

	r = mkdir_p(c->state_dir, 0755);
	if (r < 0)
		return r;
	return write_file_atomic(p, line, strlen(line), 0644);
}

/* The generation recorded by an earlier boot, or NULL. */
static char *marker_read(const struct config *c)
{
	_cleanup_free_ char *p = marker_path(c, INITD_RESTORED_MARKER);
	char *text = NULL;

	if (read_file(p, 4096, &text, NULL) < 0)
		return NULL;
	text[strcspn(text, "\r\n")] = '\0';
	if (!*text) {
		free(text);
		return xstrdup("none");
	}
	return text;
}

/* Is there any complete generation? 1 yes, 0 no, -errno when the storage
 * cannot be listed (logged by lib/state). */
static int any_generation(const struct config *c)
{
	_cleanup_free_ struct state_generation *g = NULL;
	size_t n = 0;
	int r;

	r = state_list(c, &g, &n);
	if (r < 0)
		return r;
	for (size_t k = 0; k < n; k++)
		if (g[k].valid)
			return 1;
	return 0;
}

/* A failed restore: "empty" goes on with empty state; "fail" stops and
 * leaves the restore-failed marker. */
static int restore_failed(struct initd *i, int r)
{
	const struct config *c = i->config;
	_cleanup_free_ char *why = NULL;
	int k;

	errno = -r;
	why = xasprintf("restore failed: %m (see journalctl -u agentbox-init)");
	if (c->state_on_restore_failure == RESTORE_FAILURE_EMPTY) {
		log_warning_errno(r, "State restore failed: %m; state.on_restore_failure is "
				     "\"empty\": starting with EMPTY state (the next backup will "
				     "not contain the old state)");
		k = marker_write(c, INITD_RESTORED_MARKER, "none");
		if (k < 0)
			log_warning_errno(k, "Writing %s/%s failed, ignoring: %m", c->state_dir,
					  INITD_RESTORED_MARKER);
		i->restore_outcome = "restore failed, started empty";
		{
			_cleanup_free_ char *failed = marker_path(c, INITD_RESTORE_FAILED_MARKER);
			(void)unlink(failed); /* the user chose to go on without it */
		}
		return 0;
	}
	k = marker_write(c, INITD_RESTORE_FAILED_MARKER, why);
	if (k < 0)
		log_warning_errno(k, "Writing %s/%s failed: %m", c->state_dir,
				  INITD_RESTORE_FAILED_MARKER);
	log_error_errno(r,
			"State restore failed: %m; the workspace is NOT started, so nothing "
			"is written over the backups. %s; %s/%s records the failure",
			r == -EBUSY ? "Another VM holds the state lease: stop it, or if it is "
				      "gone run 'agentbox restore --take-over', then agentbox-init "
				      "again"
				    : "Fix the storage (state.storage.*) and run agentbox-init "
				      "again, or set state.on_restore_failure to \"empty\"",
			c->state_dir, INITD_RESTORE_FAILED_MARKER);
	return r == -ENOSPC ? INITD_EXIT_NOSPACE : INITD_EXIT_RESTORE;
}

int initd_restore(struct initd *i)
{
	const struct config *c = i->config;
	_cleanup_free_ char *failed = marker_path(c, INITD_RESTORE_FAILED_MARKER);
	struct state_restore_result res = {0};
	int r;

	i->generation = marker_read(c);
	if (i->generation) {
		i->restore_outcome = "kept local state";
		log_info("State already on this machine (restored generation %s at first boot); "
			 "keeping it, no restore",
			 i->generation);
		return 0;
	}
	if (!c->state_storage_bucket) {
		i->restore_outcome = "no state storage configured";
		log_notice("No state storage configured (state.storage.bucket), nothing to "
			   "restore");
		return 0;
	}

	r = any_generation(c);
	if (r < 0)
		return restore_failed(i, r);
	if (r == 0) {
		log_info("No state generation in s3://%s/%s yet: a new workspace",
			 c->state_storage_bucket, c->state_storage_prefix);
		i->restore_outcome = "new workspace, nothing to restore";
		i->generation = xstrdup("none");
	} else {
		r = state_restore(c, NULL, &res);
		if (r < 0)
			return restore_failed(i, r);
		i->generation = xstrdup(res.generation);
		i->restore_outcome = "restored";
	}
	r = marker_write(c, INITD_RESTORED_MARKER, i->generation);
	if (r < 0) /* the next boot would restore again over newer local state */
		return log_error_errno(r, "Writing %s/%s failed: %m", c->state_dir,
				       INITD_RESTORED_MARKER),
		       r == -ENOSPC ? INITD_EXIT_NOSPACE : INITD_EXIT_RESTORE;
	if (unlink(failed) == 0)
		log_info("Removed %s: the state is here now", failed);
	return 0;
}
