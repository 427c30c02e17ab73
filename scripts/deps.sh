#!/bin/sh
# Installs the Debian packages ecoroll builds and runs with, and does nothing
# when they are all present. Called by every Makefile target that compiles.
set -eu
pkgs="build-essential pkg-config libzmq3-dev liblmdb-dev lmdb-utils \
libprotobuf-c-dev protobuf-c-compiler libxxhash-dev libbenchmark-dev \
libck-dev libmicrohttpd-dev libinih-dev libcmocka-dev python3"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
if [ "$(id -u)" != 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
