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
KEEP=${KEEP:-0}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/lux-streambench.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	if [ "$KEEP" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
for tool in redis-server redis-benchmark redis-cli; do
	command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
if [ -n "${LUX_BIN:-}" ]; then
	LUX=$LUX_BIN
else
	LUX=$WORK/lux
	(cd "$ROOT" && go build -o "$LUX" ./cmd/lux)
fi

wait_ping() {
	for _ in $(seq 1200); do
		[ "$(redis-cli -p "$1" PING 2>/dev/null)" = PONG ] && return 0
		sleep 0.1
	done
	echo "no server on $1" >&2
	exit 1
}
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; } # clock ticks

mkdir -p "$WORK/redis-data" "$WORK/lux-data"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync everysec \
	--dir "$WORK/redis-data" --logfile "$WORK/redis.log" &
PIDS+=($!)
RPID=$!
"$LUX" --port "$LUX_PORT" --bind 127.0.0.1 --data-dir "$WORK/lux-data" --appendfsync everysec --demo= \
	>"$WORK/lux.log" 2>&1 &
PIDS+=($!)
LPID=$!
wait_ping "$REDIS_PORT"
wait_ping "$LUX_PORT"

# the range stream and the group's stream, with explicit IDs
awk 'BEGIN { for (i = 1; i <= 1000; i++) printf "XADD r %d-0 field value-%d\r\n", i, i }' >"$WORK/range"
awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++) printf "XADD q %d-1 job %d\r\n", i, i }' >"$WORK/jobs"
awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++) printf "XACK q g %d-1\r\n", i }' >"$WORK/acks"
for p in "$REDIS_PORT" "$LUX_PORT"; do
	redis-cli -p "$p" --pipe <"$WORK/range" >/dev/null
	redis-cli -p "$p" --pipe <"$WORK/jobs" >/dev/null
	redis-cli -p "$p" XGROUP CREATE q g 0 >/dev/null
done

# run PORT PID N ARGS...: prints "rps cpu_us_per_request"
run() {
	local port=$1 pid=$2 n=$3
	shift 3
	local c0 c1 rps
	c0=$(cpu "$pid")
	rps=$(redis-benchmark -p "$port" --csv "$@" | awk -F'"' 'NR==2 {print $4}')
	c1=$(cpu "$pid")
	awk -v r="$rps" -v c=$((c1 - c0)) -v n="$n" 'BEGIN {printf "%s %.1f\n", r, c * 10000 / n}'
}

echo "| command | redis req/s | lux req/s | lux/redis | redis CPU µs/req | lux CPU µs/req |"
echo "|---|---:|---:|---:|---:|---:|"
row() {
	awk -v nm="$1" -v rr="$2" -v lr="$4" -v rc="$3" -v lc="$5" \
		'BEGIN {printf "| %s | %.0f | %.0f | %.2f | %s | %s |\n", nm, rr, lr, lr / rr, rc, lc}'
}
bench() {
	local name=$1 n=$2
	shift 2
	read -r rr rc < <(run "$REDIS_PORT" "$RPID" "$n" -n "$n" "$@")
	read -r lr lc < <(run "$LUX_PORT" "$LPID" "$n" -n "$n" "$@")
	row "$name" "$rr" "$rc" "$lr" "$lc"
}
bench "XADD s * f v (empty stream)" "$N" -c 50 XADD s '*' f v
bench "XADD s * f v (stream of $N entries)" "$N" -c 50 XADD s '*' f v
bench "XRANGE r - + COUNT 100 (1,000 entries)" "$N_RANGE" -c 50 XRANGE r - + COUNT 100
bench "XREADGROUP GROUP g c COUNT 1 STREAMS q >" "$N" -c 50 XREADGROUP GROUP g c COUNT 1 STREAMS q '>'
pipe() {
	local port=$1 pid=$2 c0 c1 t0 t1
	c0=$(cpu "$pid")
	t0=$(date +%s%N)
	redis-cli -p "$port" --pipe <"$WORK/acks" >/dev/null
	t1=$(date +%s%N)
	c1=$(cpu "$pid")
	awk -v n="$N" -v t=$((t1 - t0)) -v c=$((c1 - c0)) 'BEGIN {printf "%.0f %.1f\n", n / (t / 1e9), c * 10000 / n}'
}
read -r rr rc < <(pipe "$REDIS_PORT" "$RPID")
read -r lr lc < <(pipe "$LUX_PORT" "$LPID")
row "XACK q g <id> (the $N deliveries), redis-cli --pipe" "$rr" "$rc" "$lr" "$lc"
for q in "XLEN s" "XPENDING q g - + 1" "XINFO GROUPS q"; do
	a=$(redis-cli -p "$REDIS_PORT" $q | grep -v '^[0-9]\{10,\}' | tr '\n' ' ') b=$(redis-cli -p "$LUX_PORT" $q | grep -v '^[0-9]\{10,\}' | tr '\n' ' ')
	[ "$a" = "$b" ] || echo "note: $q differs: redis $a, lux $b" >&2
done
echo
echo "machine: $(nproc) cores, $(uname -m); $(redis-server --version | awk '{print $3}'); lux $(cd "$ROOT" && git rev-parse --short HEAD)"
