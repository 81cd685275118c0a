/* The terminal behind GET /terminal: one WebSocket = one tmux client in
 * the workspace container (Engine API exec with a TTY, lib/docker-exec.c).
 *
 * Messages on the WebSocket:
 *   browser → us   binary: keystrokes (bytes for the terminal)
 *                  text:   {"type":"resize","cols":C,"rows":R}
 *   us → browser   binary: the terminal's output
 *                  text:   {"type":"status","state":"connecting"|"attached"}
 *                          {"type":"error","message":"..."} before we close
 * Several browsers share the session (each is its own tmux client); a
 * closed tab ends its exec (tmux detaches that client), the agent keeps
 * running. When the container is down the exec fails, the page shows the
 * message and reconnects.
 *
 * The exec is created and started in a thread of its own (the Engine API
 * calls block), so the display's poll loop never waits for the daemon;
 * the stream itself is then polled in that loop like any socket, through
 * the web front's WebSocket ops (display-web.h: binary, text, poll, step).
 *
 * The page (GET /terminal and /terminal/<file>) and the WebSocket
 * (/terminal/ws) are rows of the front's route table, behind its login
 * like the screen (never DWEB_ROUTE_PUBLIC). */
#ifndef AGENTBOX_DISPLAY_TERMINAL_H
#define AGENTBOX_DISPLAY_TERMINAL_H

#include <stddef.h>
#include <stdint.h>

struct dterm;
struct dterm_site;
struct dweb;
struct dweb_conn;

/* At most this many terminals at once (each is a process in the container). */
#define DTERM_MAX 16
/* Keystrokes not yet taken by the container, per terminal; more drops it. */
#define DTERM_INPUT_MAX (256 * 1024)
/* A text (control) message is at most this long. */
#define DTERM_CONTROL_MAX 256

struct dterm_config {
	const char *docker_host; /* the socket ("unix:///..." or a path) */
	const char *container;	 /* agentbox-<workspace.name> */
	const char *user;	 /* workspace.user */
	const char *session;	 /* tmux session: "main" */
};

/* What a request target is: the terminal page or one of its files
 * (*ret_file: the target to look up in display.terminal_dir, "/" +
 * name), its WebSocket ("/terminal/ws"), or none of ours. */
enum { DTERM_PATH_NONE, DTERM_PATH_FILE, DTERM_PATH_WS };
int dterm_path(const char *target, char **ret_file);

/* Adds the terminal's rows to w's route table; cfg and what it points to
 * must outlive w; dir is display.terminal_dir (its files; a missing one
 * is logged, the page is 404 then). *ret is freed with dterm_site_free()
 * after dweb_free(w). Returns 0 or -ENOSPC. */
int dterm_add_routes(struct dweb *w, const struct dterm_config *cfg, const char *dir,
		     struct dterm_site **ret);
struct dterm_site *dterm_site_free(struct dterm_site *s);

/* Starts connecting a terminal for peer (for logs). -EUSERS when
 * DTERM_MAX terminals are open. */
int dterm_new(const struct dterm_config *cfg, const char *peer, struct dterm **ret);
struct dterm *dterm_free(struct dterm *t);

/* A complete message from the browser (WS opcode, unmasked payload).
 * -ENOBUFS when the container does not keep up with the input, -EBADMSG
 * for a control message we do not understand: close the WebSocket. */
int dterm_message(struct dterm *t, int opcode, const uint8_t *p, size_t n);

/* The fd to poll and its events; out_room says whether the WebSocket can
 * take more output now (flow control: nothing is read from the container
 * while the browser lags). -1 when there is nothing to poll. */
int dterm_poll(struct dterm *t, int out_room, short *ret_events);

/* Moves bytes after poll (revents of dterm_poll's fd, 0 if it had none):
 * output to the browser on the WebSocket c. 0 to go on; -EPIPE when the
 * terminal ended (an error message was sent): close the WebSocket. */
int dterm_step(struct dterm *t, struct dweb_conn *c, short revents, int out_room);

/* Parses a control message ({"type":"resize","cols":C,"rows":R}) into
 * *rows, *cols: 0, or -EBADMSG. */
int dterm_parse_resize(const char *p, size_t n, unsigned *ret_rows, unsigned *ret_cols);

#endif
