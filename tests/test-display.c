/* agentbox-display's pure parts: WebSocket handshake key and frame
 * headers (RFC 6455 examples), geometry, addresses and the bind rules. */
#include <errno.h>
#include <string.h>

#include "config.h"
#include "../display/display-conf.h"
#include "../display/display-terminal.h"
#include "../display/display-ws.h"
#include "macro.h"
#include "tests.h"

TEST(ws_accept_key_rfc6455)
{
	char k[WS_ACCEPT_SIZE];

	ASSERT_OK(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", k));
	ASSERT_STR_EQ(k, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	ASSERT_ERR(ws_accept_key("", k), -EINVAL);
}

TEST(ws_parse_masked_hello)
{
	/* RFC 6455 5.7: a masked "Hello" */
	uint8_t f[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
	struct ws_frame w;

	ASSERT_INT_EQ(ws_parse_header(f, 1, &w), 0);
	ASSERT_INT_EQ(ws_parse_header(f, 5, &w), 0);
	ASSERT_INT_EQ(ws_parse_header(f, sizeof(f), &w), 1);
	ASSERT_INT_EQ(w.opcode, WS_OP_TEXT);
	ASSERT_TRUE(w.fin && w.masked);
	ASSERT_UINT_EQ(w.length, 5);
	ASSERT_UINT_EQ(w.header_size, 6);
	ws_unmask(f + 6, 5, w.mask, 0);
	ASSERT_TRUE(memcmp(f + 6, "Hello", 5) == 0);
}

TEST(ws_parse_refuses)
{
	uint8_t rsv[] = {0xc2, 0x80, 0, 0, 0, 0};
	uint8_t big_ping[] = {0x89, 0xfe, 0x01, 0x00, 0, 0, 0, 0};
	uint8_t huge[] = {0x82, 0xff, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0};
	uint8_t bad_op[] = {0x83, 0x80, 0, 0, 0, 0};
	struct ws_frame w;

	ASSERT_ERR(ws_parse_header(rsv, sizeof(rsv), &w), -EPROTO);
	ASSERT_ERR(ws_parse_header(big_ping, sizeof(big_ping), &w), -EPROTO);
	ASSERT_ERR(ws_parse_header(huge, sizeof(huge), &w), -EMSGSIZE);
	ASSERT_ERR(ws_parse_header(bad_op, sizeof(bad_op), &w), -EPROTO);
}

TEST(ws_build_header_sizes)
{
	uint8_t h[10];
	struct ws_frame w;

	ASSERT_UINT_EQ(ws_build_header(h, WS_OP_BINARY, 125), 2);
	ASSERT_UINT_EQ(ws_build_header(h, WS_OP_BINARY, 126), 4);
	ASSERT_UINT_EQ(ws_build_header(h, WS_OP_BINARY, 65535), 4);
	ASSERT_UINT_EQ(ws_build_header(h, WS_OP_BINARY, 65536), 10);
	ASSERT_INT_EQ(ws_parse_header(h, 10, &w), 1);
	ASSERT_UINT_EQ(w.length, 65536);
	ASSERT_FALSE(w.masked);
}

TEST(geometry)
{
	int w, h, d;

	ASSERT_OK(display_parse_geometry("1920x1080x24", &w, &h, &d));
	ASSERT_INT_EQ(w, 1920);
	ASSERT_INT_EQ(h, 1080);
	ASSERT_INT_EQ(d, 24);
	ASSERT_OK(display_parse_geometry("800x600", &w, &h, &d));
	ASSERT_INT_EQ(d, 24);
	ASSERT_ERR(display_parse_geometry("800x600x16", &w, &h, &d), -EINVAL);
	ASSERT_ERR(display_parse_geometry("800x", &w, &h, &d), -EINVAL);
	ASSERT_ERR(display_parse_geometry("99999x600", &w, &h, &d), -EINVAL);
	ASSERT_ERR(display_parse_geometry("800x600 ", &w, &h, &d), -EINVAL);
}

TEST(loopback)
{
	ASSERT_TRUE(display_address_is_loopback("127.0.0.1"));
	ASSERT_TRUE(display_address_is_loopback("127.5.0.1"));
	ASSERT_TRUE(display_address_is_loopback("::1"));
	ASSERT_FALSE(display_address_is_loopback("0.0.0.0"));
	ASSERT_FALSE(display_address_is_loopback("::"));
	ASSERT_FALSE(display_address_is_loopback("10.0.0.1"));
	ASSERT_FALSE(display_address_is_loopback("localhost"));
}

/* display_check_config on json; returns the error or NULL. */
static char *check(const char *json)
{
	_cleanup_(config_freep) struct config *c = config_new();
	char *error = NULL;

	if (config_load_string(c, json, "t.json", &error) < 0)
		return error;
	if (display_check_config(c, &error) < 0)
		return error;
	return NULL;
}

TEST(bind_rules)
{
	_cleanup_free_ char *e1 = check("{}");
	_cleanup_free_ char *e2 = check("{\"display\": {\"listen\": \"0.0.0.0\"}}");
	_cleanup_free_ char *e3 = check("{\"display\": {\"listen\": \"0.0.0.0\", "
					"\"password_file\": \"pw\"}}");
	_cleanup_free_ char *e4 = check("{\"display\": {\"listen\": \"0.0.0.0\", "
					"\"web_password_file\": \"pw\", \"tls_cert_file\": \"/c\", "
					"\"tls_key_file\": \"k\"}}");
	/* VNC's password (8 characters count) no longer opens a public port */
	_cleanup_free_ char *e8 = check("{\"display\": {\"listen\": \"0.0.0.0\", "
					"\"password_file\": \"pw\", \"tls_cert_file\": \"/c\", "
					"\"tls_key_file\": \"k\"}}");
	_cleanup_free_ char *e9 = check("{\"display\": {\"listen\": \"0.0.0.0\", "
					"\"web_password_file\": \"pw\"}}");
	_cleanup_free_ char *e5 = check("{\"display\": {\"listen\": \"my.host\"}}");
	_cleanup_free_ char *e6 = check("{\"display\": {\"port\": 6080}}");
	_cleanup_free_ char *e7 = check("{\"display\": {\"port\": 70000}}");

	ASSERT_TRUE(e1 == NULL);
	ASSERT_STR_CONTAINS(e2, "display.listen: 0.0.0.0 is not a loopback address");
	ASSERT_STR_CONTAINS(e3, "display.listen");
	ASSERT_TRUE(e4 == NULL);
	ASSERT_STR_CONTAINS(e5, "numeric");
	ASSERT_STR_CONTAINS(e6, "display.web_port: must differ");
	ASSERT_STR_CONTAINS(e7, "display.port: expected a port number");
	ASSERT_STR_CONTAINS(e8, "needs display.web_password_file");
	ASSERT_STR_CONTAINS(e9, "display.listen");
}

TEST(host_allowed_loopback)
{
	char *names[] = {"box.example.com", "Other.Example.", NULL};

	ASSERT_TRUE(display_host_allowed("127.0.0.1:6080", "127.0.0.1", NULL));
	ASSERT_TRUE(display_host_allowed("127.3.4.5", "127.0.0.1", NULL));
	ASSERT_TRUE(display_host_allowed("localhost:6080", "127.0.0.1", NULL));
	ASSERT_TRUE(display_host_allowed("LocalHost.:6080", "127.0.0.1", NULL));
	ASSERT_TRUE(display_host_allowed("box.localhost:6080", "127.0.0.1", NULL));
	ASSERT_TRUE(display_host_allowed("[::1]:6080", "127.0.0.1", NULL));
	ASSERT_TRUE(display_host_allowed("[::1]", "::1", NULL));
	/* what a DNS-rebinding page sends */
	ASSERT_FALSE(display_host_allowed("rebind.attacker.example:6080", "127.0.0.1", NULL));
	ASSERT_FALSE(display_host_allowed("localhost.attacker.example", "127.0.0.1", NULL));
	ASSERT_FALSE(display_host_allowed("127.0.0.1.attacker.example", "127.0.0.1", NULL));
	ASSERT_FALSE(display_host_allowed("xlocalhost", "127.0.0.1", NULL));
	ASSERT_FALSE(display_host_allowed("[::2]:6080", "127.0.0.1", NULL));
	ASSERT_FALSE(display_host_allowed("[::1", "127.0.0.1", NULL));
	ASSERT_FALSE(display_host_allowed("", "127.0.0.1", NULL));
	ASSERT_FALSE(display_host_allowed(NULL, "127.0.0.1", NULL));
	/* configured names, any case, port ignored */
	ASSERT_TRUE(display_host_allowed("BOX.example.com:443", "127.0.0.1", names));
	ASSERT_TRUE(display_host_allowed("other.example", "127.0.0.1", names));
	ASSERT_FALSE(display_host_allowed("example.com", "127.0.0.1", names));
}

TEST(host_allowed_public)
{
	char *names[] = {"box.example.com", NULL};

	/* off loopback: only the listen address and the configured names */
	ASSERT_TRUE(display_host_allowed("203.0.113.7:6080", "203.0.113.7", NULL));
	ASSERT_TRUE(display_host_allowed("[2001:db8::7]:6080", "2001:db8::7", NULL));
	ASSERT_TRUE(display_host_allowed("box.example.com:6080", "203.0.113.7", names));
	ASSERT_FALSE(display_host_allowed("localhost:6080", "203.0.113.7", names));
	ASSERT_FALSE(display_host_allowed("127.0.0.1:6080", "203.0.113.7", names));
	ASSERT_FALSE(display_host_allowed("rebind.attacker.example", "203.0.113.7", names));
}

TEST(allowed_hosts_config)
{
	_cleanup_free_ char *ok = check("{\"display\": {\"allowed_hosts\": [\"box.example.com\"]}}");
	_cleanup_free_ char *bad = check("{\"display\": {\"allowed_hosts\": [\"http://box/\"]}}");

	ASSERT_TRUE(ok == NULL);
	ASSERT_STR_CONTAINS(bad, "display.allowed_hosts: expected host names");
}

TEST(terminal_path)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

	ASSERT_INT_EQ(dterm_path("/terminal", &a), DTERM_PATH_FILE);
	ASSERT_STR_EQ(a, "/terminal.html");
	ASSERT_INT_EQ(dterm_path("/terminal/?x=1", &b), DTERM_PATH_FILE);
	ASSERT_STR_EQ(b, "/terminal.html");
	ASSERT_INT_EQ(dterm_path("/terminal/xterm.js?v=5", &c), DTERM_PATH_FILE);
	ASSERT_STR_EQ(c, "/xterm.js");
	ASSERT_INT_EQ(dterm_path("/terminal/ws", NULL), DTERM_PATH_WS);
	ASSERT_INT_EQ(dterm_path("/terminal/ws?token=1", NULL), DTERM_PATH_WS);
	ASSERT_INT_EQ(dterm_path("/terminalx", NULL), DTERM_PATH_NONE);
	ASSERT_INT_EQ(dterm_path("/vnc.html", NULL), DTERM_PATH_NONE);
	ASSERT_INT_EQ(dterm_path("/", NULL), DTERM_PATH_NONE);
}

TEST(terminal_parse_resize)
{
	unsigned rows = 0, cols = 0;
	const char *ok = "{\"type\":\"resize\",\"cols\":132,\"rows\":43}";
	const char *bad[] = {
	    "{\"type\":\"resize\",\"cols\":0,\"rows\":43}",
	    "{\"type\":\"resize\",\"cols\":1001,\"rows\":43}",
	    "{\"type\":\"resize\",\"cols\":80}",
	    "{\"type\":\"paste\",\"cols\":80,\"rows\":24}",
	    "{\"type\":\"resize\",\"cols\":\"80\",\"rows\":24}",
	    "{\"type\":\"resize\",\"cols\":1e300,\"rows\":24}",
	    "{\"type\":\"resize\",\"cols\":-5,\"rows\":24}",
	    "[1,2]",
	    "{not json",
	    "",
	};

	ASSERT_OK(dterm_parse_resize(ok, strlen(ok), &rows, &cols));
	ASSERT_UINT_EQ(rows, 43);
	ASSERT_UINT_EQ(cols, 132);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		ASSERT_ERR(dterm_parse_resize(bad[i], strlen(bad[i]), &rows, &cols), -EBADMSG);
	/* only the given length counts, and it is capped */
	ASSERT_ERR(dterm_parse_resize(ok, 10, &rows, &cols), -EBADMSG);
	ASSERT_ERR(dterm_parse_resize(ok, DTERM_CONTROL_MAX + 1, &rows, &cols), -EBADMSG);
}
