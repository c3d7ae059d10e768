#!/usr/bin/env bash
# Build the image and smoke-test it where a container engine exists:
#   bash docker/smoke.sh [IMAGE_TAG]
# Starts the image as `docker run -p 6379 -p 8080 IMAGE` would (no
# password: the warning must be printed), checks PING, a table command and
# the demo page, restarts on the same volume and checks the data is there,
# then the LUX_PASSWORD variant. Needs docker (or podman as docker),
# redis-cli and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-lux:smoke}
docker build -t "$tag" .
vol=lux-smoke-$$
names=()
cleanup() {
	for n in "${names[@]}"; do docker rm -f "$n" >/dev/null 2>&1 || true; done
	docker volume rm "$vol" >/dev/null 2>&1 || true
}
trap cleanup EXIT

run() { # name, extra docker args...
	local name=$1
	shift
	names+=("$name")
	docker run -d --name "$name" -v "$vol:/data" -p 127.0.0.1::6379 -p 127.0.0.1::8080 "$@" "$tag" >/dev/null
	for _ in $(seq 100); do
		if docker logs "$name" 2>&1 | grep -q 'ready on'; then return 0; fi
		sleep 0.1
	done
	docker logs "$name"
	echo "smoke: $name did not start" >&2
	exit 1
}
port() { docker port "$1" "$2" | head -n1 | sed 's/.*://'; }

run lux-smoke-a
docker logs lux-smoke-a 2>&1 | grep -q 'WARNING: lux runs WITHOUT A PASSWORD' || { echo "smoke: no warning" >&2; exit 1; }
p=$(port lux-smoke-a 6379)
d=$(port lux-smoke-a 8080)
[ "$(redis-cli -p "$p" PING)" = PONG ]
redis-cli -p "$p" SET smoke 1 >/dev/null
curl -fsS "http://127.0.0.1:$d/" | grep -q 'lux chat'
curl -fsS "http://127.0.0.1:$d/healthz" | grep -q ok
docker stop lux-smoke-a >/dev/null
docker logs lux-smoke-a 2>&1 | grep -q 'data synced, bye'

run lux-smoke-b -e LUX_PASSWORD=s3cret
p=$(port lux-smoke-b 6379)
if docker logs lux-smoke-b 2>&1 | grep -q WARNING; then echo "smoke: warning despite a password" >&2; exit 1; fi
[ "$(redis-cli -p "$p" -a s3cret --no-auth-warning GET smoke)" = 1 ]
redis-cli -p "$p" GET smoke 2>&1 | grep -q NOAUTH
echo "smoke: ok ($tag)"
