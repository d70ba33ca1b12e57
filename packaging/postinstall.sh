#!/bin/sh
# Makes sure of the state directory's owner, tells systemd of the unit, restarts a
# running service on upgrade, and says where the first start's secrets go.
set -e
chown pihu:pihu /var/lib/pihu
chmod 0750 /var/lib/pihu
chmod 0600 /etc/pihu/pihu.env
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	systemctl try-restart pihu.service >/dev/null 2>&1 || true
fi
cat <<'NOTE'
pihu is installed. Settings: /etc/pihu/pihu.env. Start it with

    sudo systemctl enable --now pihu

On its first start pihu creates the account "Default" and writes, readable
by the pihu user only (never to the journal):

    /var/lib/pihu/pihu.db.owner-key    the owner API key
    /var/lib/pihu/pihu.db.setup-link   the dashboard's setup link (works once, 24 hours)

Read them (sudo cat …), keep them secret, then delete the files.
NOTE
