#!/bin/sh
# add-user.sh USER UID GID HOME: the workspace user with the host's
# numbers. A user or group of the base that holds them (ubuntu:24.04's
# "ubuntu" is 1000:1000) is removed first. The home is not filled: the
# host's is bind-mounted over it.
set -eu
user=$1 uid=$2 gid=$3 home=$4

u=$(getent passwd "$uid" | cut -d: -f1) || true
if [ -n "$u" ] && [ "$u" != "$user" ]; then userdel "$u"; fi
g=$(getent group "$gid" | cut -d: -f1) || true
if [ -n "$g" ] && [ "$g" != "$user" ]; then groupdel "$g"; fi
getent group "$user" >/dev/null || groupadd -g "$gid" "$user"
getent passwd "$user" >/dev/null || useradd -M -u "$uid" -g "$gid" -d "$home" -s /bin/bash "$user"
[ "$(id -u "$user"):$(id -g "$user")" = "$uid:$gid" ] || {
	echo "add-user.sh: $user exists with other numbers: $(id "$user")" >&2
	exit 1
}
mkdir -p "$home"
chown "$uid:$gid" "$home"
