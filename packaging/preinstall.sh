#!/bin/sh
# Creates the pihu system user and group, which run the service and own
# /var/lib/pihu, before the package's files are unpacked.
set -e
if ! getent group pihu >/dev/null; then
	groupadd --system pihu
fi
if ! getent passwd pihu >/dev/null; then
	useradd --system --gid pihu --home-dir /var/lib/pihu --no-create-home \
		--shell /usr/sbin/nologin --comment "pihu authentication service" pihu
fi
