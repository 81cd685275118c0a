/* A process in a container with a terminal, through the Engine API: exec
 * create (Tty), exec start with the connection hijacked (HTTP 101,
 * "Upgrade: tcp": afterwards the socket carries the terminal's raw bytes
 * both ways), exec resize. No docker CLI, no shell: the command is an
 * argv array.
 *
 * The stream is a libcurl CONNECT_ONLY connection to the daemon's unix
 * socket (curl_easy_send/recv), non-blocking once started, so an event
 * loop can poll docker_stream_fd() with everything else it waits for. */
#ifndef AGENTBOX_DOCKER_EXEC_H
#define AGENTBOX_DOCKER_EXEC_H

#include <stddef.h>
#include <sys/types.h>

struct docker;
struct docker_stream;

/* tmux's own limits are far above; these keep a resize sane. */
#define DOCKER_EXEC_MAX_ROWS 1000
#define DOCKER_EXEC_MAX_COLS 1000

struct docker_exec_options {
	const char *container; /* name or id */
	const char *user;      /* "name" or "uid[:gid]"; NULL: the image's */
	const char *workdir;   /* NULL: the image's */
	char *const *argv;     /* NULL-terminated */
	unsigned rows, cols;   /* the terminal's first size; 0: the daemon's default */
};

/* POST /containers/<c>/exec with a TTY and stdin/stdout attached, TERM
 * set to xterm-256color. The new exec's id in *ret_id. -ENOENT when the
 * container does not exist, -EBUSY when it is not running, -EINVAL for a
 * container name or argv we will not send; *ret_error in words. */
int docker_exec_create(struct docker *d, const struct docker_exec_options *o, char **ret_id,
		       char **ret_error);

/* POST /exec/<id>/start, hijacked: the terminal's stream in *ret, non-blocking.
 * Waits at most timeout_ms for the daemon's answer. */
int docker_exec_start(struct docker *d, const char *id, int timeout_ms, struct docker_stream **ret,
		      char **ret_error);

/* POST /exec/<id>/resize. */
int docker_exec_resize(struct docker *d, const char *id, unsigned rows, unsigned cols,
		       char **ret_error);

/* The exec's process id on this host (GET /exec/<id>/json), waiting up
 * to a second for it to run. -ESRCH when it does not. */
int docker_exec_pid(struct docker *d, const char *id, pid_t *ret_pid, char **ret_error);

/* Closing the stream does not end the exec's process (dockerd keeps the
 * pty open): this hangs it up (SIGHUP) as a closed terminal would, if pid
 * still runs the program named comm (/proc/<pid>/comm starts with it; a
 * pid reused by another program is left alone). 0, -ESRCH, or kill()'s -errno. */
int docker_exec_hangup(pid_t pid, const char *comm);

/* The fd to poll (read/write readiness of the stream). */
int docker_stream_fd(const struct docker_stream *s);
/* Bytes read (>0), 0 at the end of the stream (the process ended or the
 * daemon closed it), -EAGAIN when nothing is there now, or -errno. */
ssize_t docker_stream_read(struct docker_stream *s, void *buf, size_t n);
/* Bytes written (>0), -EAGAIN when the socket takes nothing now, or -errno. */
ssize_t docker_stream_write(struct docker_stream *s, const void *buf, size_t n);
/* Does the stream hold bytes already read from the socket (poll would not
 * tell)? */
int docker_stream_pending(const struct docker_stream *s);
struct docker_stream *docker_stream_free(struct docker_stream *s);
static inline void docker_stream_freep(struct docker_stream **s)
{
	docker_stream_free(*s);
}

/* The exec's start request and the parse of the daemon's answer, for tests:
 * returns the header's size when buf holds a complete header that switched
 * protocols (101, or 200 of old daemons), 0 when more is needed, -EPROTO
 * for another answer (its status line in *ret_error). */
ssize_t docker_exec_parse_upgrade(const char *buf, size_t len, char **ret_error);

#endif
