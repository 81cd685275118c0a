/* KEY=VALUE files: the input of "agentbox render-user-data" (the shape of
 * systemd's EnvironmentFile= and of a shell's assignments, without the
 * shell). Errors name the file and the line. */
#ifndef AGENTBOX_ENVFILE_H
#define AGENTBOX_ENVFILE_H

#include <stddef.h>

#define ENVFILE_MAX_SIZE (256 * 1024)
#define ENVFILE_MAX_LINE 8192

struct envfile_entry {
	char *key;
	char *value;
	unsigned line;
};

struct envfile {
	struct envfile_entry *entries;
	size_t n;
};

/* Parses text; origin names it in errors. Returns 0, or -EINVAL with
 * *ret_error holding one line "<origin>:<line>: <reason>". */
int envfile_parse(const char *text, const char *origin, struct envfile **ret, char **ret_error);

/* Reads and parses a file of at most ENVFILE_MAX_SIZE bytes; a read error
 * is -errno with *ret_error set too. */
int envfile_load(const char *path, struct envfile **ret, char **ret_error);

/* The entry of key, or NULL. */
const struct envfile_entry *envfile_get(const struct envfile *e, const char *key);

struct envfile *envfile_free(struct envfile *e);
static inline void envfile_freep(struct envfile **e)
{
	envfile_free(*e);
}

#endif
