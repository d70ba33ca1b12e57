#!/bin/sh
# Stops and disables the service when the package is removed (not when it
# is upgraded: deb says "upgrade", rpm passes 1).
set -e
case "$1" in
remove | 0)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now pihu.service >/dev/null 2>&1 || true
	fi
	;;
esac
