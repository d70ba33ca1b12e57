#!/bin/sh
# Forgets the removed unit. The database in /var/lib/pihu and the pihu user
# are kept: deleting an authentication database is for its operator to do.
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
