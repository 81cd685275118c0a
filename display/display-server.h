/* agentbox-display's run loop: the X connection, libvncserver and the web
 * side in one poll() loop that sleeps while nothing changes. */
#ifndef AGENTBOX_DISPLAY_SERVER_H
#define AGENTBOX_DISPLAY_SERVER_H

struct config;

/* Runs until SIGTERM/SIGINT. spawn_xvfb starts Xvfb on display.x_display
 * first (and stops it at the end). Returns 0, -EINVAL for a config
 * problem already logged (exit EXIT_CONFIG), or another -errno. */
int display_run(const struct config *c, int spawn_xvfb);

/* Replaces this process with Xvfb for display.x_display at
 * display.geometry; returns -errno only when that fails. */
int display_exec_xvfb(const struct config *c);

#endif
