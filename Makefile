# agentbox — top-level build.
#
#   make                 build every program into build/bin
#   make check           build and run all tests, then again under ASan+UBSan
#   make fuzz            build tests/fuzz/ with libFuzzer (clang) and run each
#                        harness for FUZZ_SECONDS (default 60)
#   make bench           run the benchmarks under bench/ (writes bench/out/)
#   make soak            the monitor under churn for SOAK_SECONDS (default 300);
#                        writes docs/img/soak.csv and docs/img/soak.png
#   make demo            a workspace VM's whole life in a simulated cloud (tests/e2e/)
#   make install         install binaries, units and docs (DESTDIR, PREFIX)
#   make deb             build/agentbox_<version>_<arch>.deb (packaging/deb/)
#   make deps            install the Debian and npm packages build and tests need
#   make image           build the workspace image (images/workspace) on $DOCKER_HOST
#
# Sources are discovered: lib/*.c go into libagentbox.a; each program
# directory lists its programs in PROGRAMS below; tests/test-*.c are unit
# tests, tests/regress/*.sh are daemon tests, tests/fuzz/fuzz-*.c fuzz
# harnesses.

PREFIX     ?= /usr
SYSCONFDIR ?= /etc
UNITDIR    ?= /lib/systemd/system
DESTDIR    ?=
BUILD      ?= build
SANITIZE   ?=

PKGS := libcurl libcjson libsystemd libarchive libzstd libcrypto xcb xcb-shm xcb-damage xcb-xtest xcb-xfixes libvncserver gnutls nettle libnftables libsodium

CC      ?= cc
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral \
           -Wmissing-prototypes -Wstrict-prototypes -Wno-missing-field-initializers \
           -Wno-format-truncation \
           -fno-strict-aliasing -D_GNU_SOURCE -DAGENTBOX_VERSION='"$(VERSION)"' \
           -Ilib -Imonitor -Iinitd -Idisplay -Itests $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm

# make fuzz: clang with libFuzzer's coverage. clang lacks some of gcc's
# warning options, warns on unused _cleanup_ variables (lock guards) and
# on the sign compare inside glibc's NLMSG_OK(); gcc's builds keep those.
ifneq ($(FUZZ_ENGINE),)
CFLAGS  += -Wno-unknown-warning-option -Wno-unused-variable -Wno-sign-compare \
           -fsanitize=fuzzer-no-link
endif

ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all -O1
LDFLAGS += -fsanitize=$(SANITIZE)
endif

LIB_SRC  := $(sort $(wildcard lib/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIBA     := $(BUILD)/libagentbox.a

# Each program: <dir>/<name>.c is its main; <dir>/<dir>-*.c are its modules.
MONITOR_SRC := $(sort $(wildcard monitor/monitor-*.c))
# The daemon stays free of the network and archive libraries: the client's
# commands (monitor-cli-*.c) are linked into agentbox only, and the daemon
# runs them as child processes.
MONITOR_DAEMON_SRC := $(filter-out monitor/monitor-cli-%.c,$(MONITOR_SRC))
INITD_SRC   := $(sort $(wildcard initd/initd-*.c))
DISPLAY_SRC := $(sort $(wildcard display/display-*.c))

PROGRAMS :=
ifneq ($(wildcard monitor/agentbox-monitor.c),)
PROGRAMS += $(BUILD)/bin/agentbox-monitor $(BUILD)/bin/agentbox
endif
ifneq ($(wildcard initd/agentbox-init.c),)
PROGRAMS += $(BUILD)/bin/agentbox-init
endif
ifneq ($(wildcard display/agentbox-display.c),)
PROGRAMS += $(BUILD)/bin/agentbox-display
endif

# The terminal page (display.terminal_dir): our files and xterm.js with its
# fit add-on, vendored from display/terminal/node_modules (make deps: npm ci).
TERM_NPM   := display/terminal/node_modules/@xterm
TERM_FILES := $(addprefix $(BUILD)/share/terminal/,terminal.html terminal.js terminal.css \
              xterm.js xterm.css addon-fit.js)

TEST_SRC  := $(sort $(wildcard tests/test-*.c))
TEST_BINS := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_HELPER_SRC := $(sort $(wildcard tests/helpers/*.c))
TEST_HELPERS := $(TEST_HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/helpers/%)

all: $(PROGRAMS) $(TERM_FILES)

$(BUILD)/share/terminal/%: display/terminal/%
	@mkdir -p $(dir $@)
	install -m 0644 $< $@
$(BUILD)/share/terminal/xterm.js: $(TERM_NPM)/xterm/lib/xterm.js
$(BUILD)/share/terminal/xterm.css: $(TERM_NPM)/xterm/css/xterm.css
$(BUILD)/share/terminal/addon-fit.js: $(TERM_NPM)/addon-fit/lib/addon-fit.js
$(BUILD)/share/terminal/xterm.js $(BUILD)/share/terminal/xterm.css $(BUILD)/share/terminal/addon-fit.js:
	@mkdir -p $(dir $@)
	install -m 0644 $< $@
$(TERM_NPM)/%:
	@echo "$@ is missing: run make deps (npm ci in display/terminal)" >&2; exit 1

$(BUILD)/%.o: %.c $(wildcard lib/*.h monitor/*.h initd/*.h display/*.h tests/*.h tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The user-data templates are compiled into agentbox (.incbin).
$(BUILD)/monitor/monitor-cli-render.o: $(wildcard cloud-init/*)

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/bin/agentbox-monitor: $(BUILD)/monitor/agentbox-monitor.o $(MONITOR_DAEMON_SRC:%.c=$(BUILD)/%.o) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/agentbox: $(BUILD)/monitor/agentbox.o $(MONITOR_SRC:%.c=$(BUILD)/%.o) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/agentbox-init: $(BUILD)/initd/agentbox-init.o $(INITD_SRC:%.c=$(BUILD)/%.o) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/agentbox-display: $(BUILD)/display/agentbox-display.o $(DISPLAY_SRC:%.c=$(BUILD)/%.o) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests link the library and every program's modules, so a module
# can be tested without its daemon.
TEST_LINK := $(MONITOR_SRC:%.c=$(BUILD)/%.o) $(INITD_SRC:%.c=$(BUILD)/%.o) $(DISPLAY_SRC:%.c=$(BUILD)/%.o) $(LIBA)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/tests/tests.o $(TEST_LINK)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/helpers/%: $(BUILD)/tests/helpers/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The display tests' RFB client links libvncclient (libvncserver-dev).
$(BUILD)/tests/helpers/vnc-probe: LDLIBS += $(shell pkg-config --libs libvncclient 2>/dev/null)

# Fuzz harnesses: in every build, linked with tests/fuzz/replay.c into a
# program that feeds its committed corpus once (tests/run, make check); in
# make fuzz, linked with libFuzzer into $(BUILD)/fuzzers/.
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz-*.c))
FUZZ_BINS    := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/fuzz/%)
FUZZERS      := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzzers/%)
FUZZ_SECONDS ?= 60

$(BUILD)/tests/fuzz/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay.o $(TEST_LINK)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/fuzzers/%: $(BUILD)/tests/fuzz/%.o $(TEST_LINK)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# The harnesses' objects are kept (not removed as intermediates), so that
# a second make fuzz or make tests does not rebuild them.
.SECONDARY: $(FUZZ_SRC:%.c=$(BUILD)/%.o) $(BUILD)/tests/fuzz/replay.o

tests: $(PROGRAMS) $(TERM_FILES) $(TEST_BINS) $(TEST_HELPERS) $(FUZZ_BINS)

fuzzers: $(FUZZERS)

# Installs clang (.ci/deps.d/fuzz.apt), builds into build-fuzz/ with
# libFuzzer, ASan and UBSan, then runs every harness for FUZZ_SECONDS
# (FUZZ="regex" picks harnesses).
fuzz: deps
	$(MAKE) fuzzers BUILD=build-fuzz CC=clang SANITIZE=address,undefined FUZZ_ENGINE=libfuzzer
	tests/fuzz/run build-fuzz $(FUZZ_SECONDS)

# gcc's "undefined" leaves out float-cast-overflow (a double too big for
# an integer, as a hostile JSON number makes): clang's fuzz builds have it.
CHECK_SANITIZE ?= address,undefined,float-cast-overflow

# make check and make demo first install what they need (idempotent, quick
# when everything is there), then build in a sub-make so pkg-config sees the
# libraries just installed.
# make check: one run over both builds, one closing "N passed, N failed".
check: deps
	$(MAKE) tests
	$(MAKE) tests BUILD=build-san SANITIZE=$(CHECK_SANITIZE)
	tests/run build build-san

# Only the plain build, for a quick loop while developing.
check-fast: tests
	tests/run build

bench: all tests
	bench/run

# The monitor at 1 s ticks under file, process and socket churn with
# periodic backups (tests/regress/monitor-soak.sh, which make check runs
# for 60 s); the CSV and the plot go to docs/img/.
SOAK_SECONDS ?= 300
soak: deps
	$(MAKE) all tests
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_OUT=docs/img tests/regress/monitor-soak.sh

# The life of a workspace VM in a simulated cloud (tests/e2e/demo.sh);
# demo-monitor: the idle monitor alone against local servers. Both install
# what they need first.
demo: deps
	$(MAKE) all tests
	tests/e2e/demo.sh

demo-monitor: deps
	$(MAKE) all tests
	tests/demo.sh

deps:
	.ci/deps

# The workspace image. The user's numbers default to those of the
# workspace user on this machine (agent), else 1000. BuildKit when buildx
# is installed, else the legacy builder (the Dockerfile needs nothing more).
IMAGE          ?= agentbox-workspace:$(VERSION)
IMAGE_BASE     ?= ubuntu:24.04
WORKSPACE_USER ?= agent
WORKSPACE_UID  ?= $(shell id -u $(WORKSPACE_USER) 2>/dev/null || echo 1000)
WORKSPACE_GID  ?= $(shell id -g $(WORKSPACE_USER) 2>/dev/null || echo 1000)
WORKSPACE_HOME ?= $(shell getent passwd $(WORKSPACE_USER) | cut -d: -f6 | grep . || echo /home/$(WORKSPACE_USER))
IMAGE_BUILD_FLAGS ?= --network host
IMAGE_CONTEXT  ?= images/workspace

image:
	DOCKER_BUILDKIT=$$(docker buildx version >/dev/null 2>&1 && echo 1 || echo 0) \
	docker build $(IMAGE_BUILD_FLAGS) -t $(IMAGE) \
		--build-arg BASE=$(IMAGE_BASE) \
		--build-arg WORKSPACE_USER=$(WORKSPACE_USER) \
		--build-arg WORKSPACE_UID=$(WORKSPACE_UID) \
		--build-arg WORKSPACE_GID=$(WORKSPACE_GID) \
		--build-arg WORKSPACE_HOME=$(WORKSPACE_HOME) \
		$(IMAGE_CONTEXT)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/agentbox $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(PREFIX)/share/doc/agentbox $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(SYSCONFDIR)/agentbox
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(PREFIX)/share/agentbox/terminal
	install -m 0644 $(TERM_FILES) $(DESTDIR)$(PREFIX)/share/agentbox/terminal/
	for u in systemd/*.service.in; do \
		sed -e 's|@BINDIR@|$(PREFIX)/bin|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $$u \
			> $(DESTDIR)$(UNITDIR)/$$(basename $$u .in); done
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/agentbox/
	for m in docs/man/*.1; do [ -e "$$m" ] && install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man1/; done; true
	for m in docs/man/*.8; do [ -e "$$m" ] && install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man8/; done; true
	[ -e $(DESTDIR)$(SYSCONFDIR)/agentbox/agentbox.json ] || install -m 0644 docs/agentbox.example.json $(DESTDIR)$(SYSCONFDIR)/agentbox/agentbox.json

# The package: compiled again with Debian's hardening flags under
# $(BUILD)/deb/obj, staged by "make install" (packaging/deb/mkdeb).
deb:
	packaging/deb/mkdeb $(BUILD) $(VERSION)

format:
	clang-format -i $(wildcard lib/*.[ch] monitor/*.[ch] initd/*.[ch] display/*.[ch] tests/*.[ch] tests/helpers/*.c tests/fuzz/*.[ch])

# Banned functions (curl's checksrc idea): unbounded or unchecked.
checkstyle:
	@! grep -nE '\b(atoi|atol|sprintf|strcpy|strcat|gets|strtok)\s*\(' \
		lib/*.[ch] monitor/*.[ch] initd/*.[ch] display/*.[ch] tests/*.c tests/helpers/*.c tests/fuzz/*.[ch] 2>/dev/null \
		|| { echo "checkstyle: banned function above"; exit 1; }

clean:
	rm -rf build build-san build-fuzz bench/out

.PHONY: all tests fuzzers fuzz check check-fast bench soak demo demo-monitor deps image install deb format checkstyle clean
