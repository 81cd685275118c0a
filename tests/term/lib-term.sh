# Helpers for tests/regress/term-*.sh and bench/terminal.sh (source after
# tests/lib.sh and tests/init/lib-docker.sh, with start_dockerd done):
#   make_tmux_image REF      a tiny image built from this machine's own
#                            binaries: busybox, tmux (and the libraries
#                            ldd names), tput, xterm terminfo; user agent
#                            (uid 1000) with a home. No registry, no network.
#   start_workspace NAME [IMAGE]   runs container agentbox-NAME (no network)
#                            that only sleeps, as agentbox-init's would run
need_tmux_image_tools() {
	need_cmd tmux
	need_cmd tput
	need_cmd ldd
}

make_tmux_image() {
	local ref=$1 root=$T/tmux-root f l
	rm -rf "$root"
	mkdir -p "$root"/{bin,usr/bin,etc,tmp,home/agent,lib/terminfo/x,lib64,dev,proc,sys}
	chmod 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/"
	for a in sh ls cat sleep echo test stty seq head printf yes wc true; do
		ln -sf busybox "$root/bin/$a"
	done
	cp /usr/bin/tmux /usr/bin/tput "$root/usr/bin/"
	for f in /usr/bin/tmux /usr/bin/tput; do
		for l in $(ldd "$f" | grep -o '/[^ ]*'); do
			mkdir -p "$root$(dirname "$l")"
			cp -L "$l" "$root$l"
		done
	done
	# the workspace image's LANG=C.UTF-8: tmux refuses to start without UTF-8
	mkdir -p "$root/usr/lib/locale" && cp -r /usr/lib/locale/C.utf8 "$root/usr/lib/locale/"
	mkdir -p "$root/lib/terminfo/t"
	cp /lib/terminfo/x/xterm-256color /lib/terminfo/x/xterm "$root/lib/terminfo/x/"
	cp /lib/terminfo/t/tmux-256color /lib/terminfo/t/tmux "$root/lib/terminfo/t/"
	printf 'root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1000:agent:/home/agent:/bin/sh\n' \
		>"$root/etc/passwd"
	printf 'root:x:0:\nagent:x:1000:\n' >"$root/etc/group"
	chown 1000:1000 "$root/home/agent"
	tar -C "$root" --numeric-owner -cf "$root.tar" . && rm -rf "$root"
	docker import -c 'ENV PATH=/usr/bin:/bin' -c 'ENV LANG=C.UTF-8' -c 'WORKDIR /home/agent' "$root.tar" "$ref" \
		>/dev/null || { fail "make_tmux_image $ref"; exit 1; }
	rm -f "$root.tar"
}

start_workspace() {
	local name=$1 image=${2:-termtest:tmux}
	docker run -d --name "agentbox-$name" --network none "$image" sleep 86400 >/dev/null ||
		{ fail "docker run agentbox-$name"; exit 1; }
}
