#!/bin/sh
# oss-init-certs NAME...: make the cluster's CA once, and a server
# certificate for each node NAME and an admin certificate for the CLI;
# copy what the nodes need (ca.crt, NAME.crt, NAME.key, admin.*) to the
# shared certificates directory. The CA's key stays in the CA directory,
# which only this step mounts.
#
# Idempotent: what exists is kept, so a second "docker compose up" changes
# nothing. OSS_CA_DIR (default /ca) and OSS_CERTS_DIR (default /certs)
# name the directories.
set -eu
ca=${OSS_CA_DIR:-/ca}
out=${OSS_CERTS_DIR:-/certs}
[ "$#" -gt 0 ] || { echo "usage: oss-init-certs NODE..." >&2; exit 2; }
mkdir -p "$ca" "$out"
if [ -f "$ca/ca.crt" ] && [ -f "$ca/ca.key" ]; then
	echo "oss-init-certs: the CA is there: kept"
else
	ossd ca init --dir "$ca"
fi
for n in "$@" admin; do
	role=server
	[ "$n" = admin ] && role=admin
	if [ -f "$ca/$n.crt" ] && [ -f "$ca/$n.key" ]; then
		echo "oss-init-certs: $n's certificate is there: kept"
	else
		# --force: a half-written pair (one of the two files) is replaced.
		ossd cert issue --dir "$ca" --name "$n" --role "$role" --force
	fi
	cp "$ca/$n.crt" "$ca/$n.key" "$out/"
done
cp "$ca/ca.crt" "$out/"
chmod 0600 "$out"/*.key
