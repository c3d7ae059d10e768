#!/usr/bin/env bash
# streams.sh: streams in lux against Debian's redis-server, on loopback, in
# the same run (issue 12's bench/ part for streams). Both durable: lux
# --appendfsync everysec, redis --appendonly yes --appendfsync everysec.
#
#   XADD s * f v                 redis-benchmark -c 50 -n $N, on an empty stream, then again
#                                on the same stream ($N entries long: an append costs the same)
#   XRANGE r - + COUNT 100       redis-benchmark -c 50 -n $N_RANGE, a stream of 1,000 entries
#   XREADGROUP GROUP g c COUNT 1 STREAMS q >   redis-benchmark -c 50 -n $N over $N entries
#   XACK q g <id>                the $N deliveries acknowledged, redis-cli --pipe, timed
#
# Prints requests/s for both servers and lux/redis, plus the server CPU
# (user+system from /proc) per request. Environment: N=100000 N_RANGE=20000
# REDIS_PORT=8430 LUX_PORT=8440 LUX_BIN= (skip the build) KEEP=0
set -euo pipefail

N=${N:-100000}
N_RANGE=${N_RANGE:-20000}
REDIS_PORT=${REDIS_PORT:-8430}
LUX_PORT=${LUX_PORT:-8440}

. "$(dirname "$0")/lib.sh"
bench_start streambench

# the range stream and the group's stream, with explicit IDs
awk 'BEGIN { for (i = 1; i <= 1000; i++) printf "XADD r %d-0 field value-%d\r\n", i, i }' >"$WORK/range"
awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++) printf "XADD q %d-1 job %d\r\n", i, i }' >"$WORK/jobs"
awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++) printf "XACK q g %d-1\r\n", i }' >"$WORK/acks"
for p in "$REDIS_PORT" "$LUX_PORT"; do
	redis-cli -p "$p" --pipe <"$WORK/range" >/dev/null
	redis-cli -p "$p" --pipe <"$WORK/jobs" >/dev/null
	redis-cli -p "$p" XGROUP CREATE q g 0 >/dev/null
done

bench_header
bench "XADD s * f v (empty stream)" "$N" -c 50 XADD s '*' f v
bench "XADD s * f v (stream of $N entries)" "$N" -c 50 XADD s '*' f v
bench "XRANGE r - + COUNT 100 (1,000 entries)" "$N_RANGE" -c 50 XRANGE r - + COUNT 100
bench "XREADGROUP GROUP g c COUNT 1 STREAMS q >" "$N" -c 50 XREADGROUP GROUP g c COUNT 1 STREAMS q '>'
read -r rr rc < <(pipe_timed "$REDIS_PORT" "$RPID" "$WORK/acks" "$N")
read -r lr lc < <(pipe_timed "$LUX_PORT" "$LPID" "$WORK/acks" "$N")
row "XACK q g <id> (the $N deliveries), redis-cli --pipe" "$rr" "$rc" "$lr" "$lc"
for q in "XLEN s" "XPENDING q g - + 1" "XINFO GROUPS q"; do
	a=$(redis-cli -p "$REDIS_PORT" $q | grep -v '^[0-9]\{10,\}' | tr '\n' ' ') b=$(redis-cli -p "$LUX_PORT" $q | grep -v '^[0-9]\{10,\}' | tr '\n' ' ')
	[ "$a" = "$b" ] || echo "note: $q differs: redis $a, lux $b" >&2
done
bench_footer
