#!/usr/bin/env bash
# bitmap.sh: bitmaps in lux against Debian's redis-server, on loopback, in the
# same run (issue 10's bench/ part for bitmaps). Both durable: lux
# --appendfsync everysec, redis --appendonly yes --appendfsync everysec.
#
#   BITCOUNT of a 64 MB random bitmap          redis-benchmark -c 1 -n $N_BIG
#   BITOP AND of two 64 MB bitmaps into a third  redis-benchmark -c 1 -n $N_BIG
#   GETBIT of one bit of a bitmap of $BITS bits  redis-benchmark -c 50 -n $N
#   SETBIT of random bits (0 or 1 at random offsets) of that bitmap: $N
#   commands sent with redis-cli --pipe, timed
#   SETBIT creating keys: SETBIT k:<random> 7 1  redis-benchmark -c 50 -n $N -r 1000000
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
bench "GETBIT small 123457 ($BITS bits)" "$N" -c 50 GETBIT small 123457
bench "SETBIT k:<random> 7 1 (new 1-byte keys)" "$N" -c 50 -r 1000000 SETBIT k:__rand_int__ 7 1
# random SETBITs on the one bitmap, pipelined (redis-benchmark cannot
# randomize an offset: Redis refuses its zero-padded numbers as offsets)
awk -v n="$N" -v b="$BITS" 'BEGIN { srand(7); for (i = 0; i < n; i++) { o = int(rand() * b); printf "SETBIT small %d %d\r\n", o, int(rand() * 2) } }' >"$WORK/setbits"
pipe() {
	local port=$1 pid=$2 c0 c1 t0 t1
	c0=$(cpu "$pid")
	t0=$(date +%s%N)
	redis-cli -p "$port" --pipe <"$WORK/setbits" >/dev/null
	t1=$(date +%s%N)
	c1=$(cpu "$pid")
	awk -v n="$N" -v t=$((t1 - t0)) -v c=$((c1 - c0)) 'BEGIN {printf "%.0f %.1f\n", n / (t / 1e9), c * 10000 / n}'
}
read -r rr rc < <(pipe "$REDIS_PORT" "$RPID")
read -r lr lc < <(pipe "$LUX_PORT" "$LPID")
awk -v nm="SETBIT small <random> <0|1> ($BITS bits), redis-cli --pipe" -v rr="$rr" -v lr="$lr" -v rc="$rc" -v lc="$lc" \
	'BEGIN {printf "| %s | %.0f | %.0f | %.2f | %s | %s |\n", nm, rr, lr, lr / rr, rc, lc}'
[ "$(redis-cli -p "$REDIS_PORT" BITCOUNT small)" = "$(redis-cli -p "$LUX_PORT" BITCOUNT small)" ] ||
	{ echo "the random SETBITs left different bitmaps" >&2; exit 1; }
echo
echo "machine: $(nproc) cores, $(uname -m); $(redis-server --version | awk '{print $3}'); lux $(cd "$ROOT" && git rev-parse --short HEAD)"
