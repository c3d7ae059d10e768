#!/bin/sh
# KSUB benchmarks (bench/ksub/main.go): SET throughput with and without key
# subscriptions vs the build before KSUB and redis-server, and delivery
# latency with 1,000 subscribers vs Redis keyspace notifications.
#
#   bench/ksub.sh [flags of bench/ksub]       e.g. -rounds 3 -sections set
#
# BASE is the commit built as "lux before KSUB" (default: the merge base of
# HEAD and main; BASE= to skip it). Run it alone on the machine (flock).
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/base-src" 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/lux" ./cmd/lux
BASE=${BASE-$(git merge-base HEAD main)}
baseflag=""
if [ -n "$BASE" ]; then
	git worktree add --detach "$tmp/base-src" "$BASE" >/dev/null 2>&1
	(cd "$tmp/base-src" && go build -o "$tmp/lux-base" ./cmd/lux)
	baseflag="-base $tmp/lux-base"
	echo "lux before KSUB: $(git rev-parse --short "$BASE"); this build: $(git rev-parse --short HEAD)" >&2
fi
go run ./bench/ksub -lux "$tmp/lux" $baseflag -workdir "$tmp" "$@"
