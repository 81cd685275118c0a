/* The sockets signal's parsers (monitor/monitor-sockets.c): the first
 * byte picks what the rest is: 0 a sock_diag dump datagram (sequence 1),
 * 1 answers to 32 lookups (sequences 1..32), 2 /proc/net/tcp, 3
 * /proc/net/tcp6 (lines). Watched ports: 22 and 37001 (the corpus was taken from connections on
 * 37001). */
#include <stdio.h>
#include <sys/socket.h>

#include <linux/netlink.h>

#include "config.h"
#include "fuzz.h"
#include "monitor-sockets-internal.h"
#include "monitor-sockets.h"
#include "monitor.h"

static struct config *config;

static void setup(void)
{
	fuzz_quiet();
	config = config_new();
	config->idle_ports.n = 2;
	config->idle_ports.port[0] = 22;
	config->idle_ports.port[1] = 37001;
	/* the proc backend: init opens no netlink socket */
	setenv("AGENTBOX_SOCKETS_BACKEND", "proc", 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct signal_source s = {0};
	void *buf;

	if (!config)
		setup();
	if (size < 1)
		return 0;
	signal_source_init(&s, signal_source_find("sockets"), config);
	FUZZ_ASSERT(s.ops->init(&s) == 0);
	/* netlink messages are 4-aligned in the receive buffer, as malloc's are */
	buf = xmalloc(size);
	memcpy(buf, data + 1, size - 1);
	((char *)buf)[size - 1] = '\0';
	switch (data[0] % 4) {
	case 0:
		sockets_take_dump(s.data, &config->idle_ports, buf, size - 1, 1);
		break;
	case 1: {
		const struct nlmsghdr *h = buf;
		int len = (int)(size - 1);

		for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len))
			if (sockets_lookup_answer(s.data, &config->idle_ports, h, 1, 32) < 0)
				break;
		break;
	}
	default:
		for (char *line = buf, *eol; line; line = eol ? eol + 1 : NULL) {
			eol = strchr(line, '\n');
			if (eol)
				*eol = '\0';
			sockets_take_proc_line(s.data, &config->idle_ports, line,
					       data[0] % 4 == 2 ? AF_INET : AF_INET6);
		}
	}
	free(buf);
	s.ops->done(&s);
	return 0;
}
