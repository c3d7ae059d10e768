#!/usr/bin/env bash
# bitmap.sh: bitmaps in lux against Debian's redis-server, on loopback, in the
# same run (issue 10's bench/ part for bitmaps). Both durable: lux
# --appendfsync everysec, redis --appendonly yes --appendfsync everysec.
#
#   BITCOUNT of a 64 MB random bitmap          redis-benchmark -c 1 -n $N_BIG
#   BITOP AND of two 64 MB bitmaps into a third  redis-benchmark -c 1 -n $N_BIG
#   GETBIT / SETBIT at random offsets of a bitmap of $BITS bits
#                                              redis-benchmark -c 50 -n $N -r $BITS
#
# Prints requests/s for both servers and lux/redis, plus the server CPU
# (user+system from /proc) per request. Environment: N_BIG=20 N=100000
# BITS=1000000 REDIS_PORT=8410 LUX_PORT=8420 LUX_BIN= (skip the build) KEEP=0
set -euo pipefail

N_BIG=${N_BIG:-20}
N=${N:-100000}
BITS=${BITS:-1000000}
REDIS_PORT=${REDIS_PORT:-8410}
LUX_PORT=${LUX_PORT:-8420}
KEEP=${KEEP:-0}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/lux-bitbench.XXXXXX)
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

mkdir -p "$WORK/redis" "$WORK/lux"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync everysec \
	--dir "$WORK/redis" --logfile "$WORK/redis.log" &
PIDS+=($!)
RPID=$!
"$LUX" --port "$LUX_PORT" --bind 127.0.0.1 --data-dir "$WORK/lux" --appendfsync everysec --demo= \
	>"$WORK/lux.log" 2>&1 &
PIDS+=($!)
LPID=$!
wait_ping "$REDIS_PORT"
wait_ping "$LUX_PORT"

head -c $((64 << 20)) /dev/urandom >"$WORK/a"
head -c $((64 << 20)) /dev/urandom >"$WORK/b"
for p in "$REDIS_PORT" "$LUX_PORT"; do
	redis-cli -p "$p" -x SET bm <"$WORK/a" >/dev/null
	redis-cli -p "$p" -x SET bm2 <"$WORK/b" >/dev/null
	redis-cli -p "$p" SETBIT small $((BITS - 1)) 0 >/dev/null
done
# the same answer from both
for q in "BITCOUNT bm" "BITPOS bm2 0"; do
	a=$(redis-cli -p "$REDIS_PORT" $q) b=$(redis-cli -p "$LUX_PORT" $q)
	[ "$a" = "$b" ] || { echo "$q: redis $a, lux $b" >&2; exit 1; }
done

# run NAME PORT PID ARGS...: prints "rps cpu_us_per_request"
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
bench() {
	local name=$1 n=$2
	shift 2
	read -r rr rc < <(run "$REDIS_PORT" "$RPID" "$n" -n "$n" "$@")
	read -r lr lc < <(run "$LUX_PORT" "$LPID" "$n" -n "$n" "$@")
	awk -v nm="$name" -v rr="$rr" -v lr="$lr" -v rc="$rc" -v lc="$lc" \
		'BEGIN {printf "| %s | %.0f | %.0f | %.2f | %s | %s |\n", nm, rr, lr, lr / rr, rc, lc}'
}
bench "BITCOUNT bm (64 MB)" "$N_BIG" -c 1 BITCOUNT bm
bench "BITOP AND dst bm bm2 (64 MB each)" "$N_BIG" -c 1 BITOP AND dst bm bm2
bench "GETBIT small <random> ($BITS bits)" "$N" -c 50 -r "$BITS" GETBIT small __rand_int__
bench "SETBIT small <random> 1 ($BITS bits)" "$N" -c 50 -r "$BITS" SETBIT small __rand_int__ 1
echo
echo "machine: $(nproc) cores, $(uname -m); $(redis-server --version | awk '{print $3}'); lux $(cd "$ROOT" && git rev-parse --short HEAD)"
