# What a user launches a workspace VM with (source after lib-cloud.sh):
#   release_deb            "make deb", the package put on the cloud's release
#                          server; sets $DEB_URL, $DEB_SHA256, $DEB_FILE
#   render_user_data ENV OUT   user-data from an env file by the project's
#                          own render step (agentbox render-user-data)
# The package is built in the plain build directory whatever
# $AGENTBOX_BUILD is: what ships is never a sanitizer build.

release_deb() {
	local out log=$T/deb.log
	grep -q '^deb:' "$TOP/Makefile" || { fail "no 'make deb' in this tree"; exit 1; }
	# mkdeb wants BUILD relative to the top directory
	out=$(make -s -C "$TOP" deb BUILD=build 2>"$log" | tail -n 1) || {
		fail "make deb failed"
		tail -n 30 "$log"
		exit 1
	}
	case $out in /*) ;; *) out=$TOP/$out ;; esac
	[ -s "$out" ] || { fail "no .deb at '$out'"; exit 1; }
	DEB_FILE=$(basename "$out")
	cp "$out" "$CLOUD_DIR/release/$DEB_FILE"
	DEB_SHA256=$(sha256sum "$out" | cut -d' ' -f1)
	DEB_URL=$CLOUD_RELEASE/$DEB_FILE
	DEB_KB=$(($(stat -c %s "$out") / 1024))
}

render_user_data() {
	local env=$1 out=$2
	"$BIN/agentbox" render-user-data "$env" -o "$out" 2>"$T/render.log" || {
		fail "agentbox render-user-data $env failed"
		cat "$T/render.log"
		exit 1
	}
}
