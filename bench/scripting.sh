#!/usr/bin/env bash
# scripting.sh: Lua scripts and functions in lux against Debian's
# redis-server, on loopback, in the same run (issue 12's bench/ part for
# scripting). Both durable: lux --appendfsync everysec, redis --appendonly yes
# --appendfsync everysec. Driven by redis-benchmark (-c 50, keys from -r).
#
#   INCR rl:<random>                      the plain command, for scale
#   EVALSHA of a fixed-window rate limiter (INCR, EXPIRE on the first hit,
#     compare with the limit) on rl:<random>, pipelines of 1 and 16
#   FCALL of the same limiter loaded as a function library
#   EVALSHA of a read-only script (GET) on rl:<random>
#
# Prints requests/s for both servers and lux/redis, plus the server CPU
# (user+system from /proc) per request. Environment: N=200000 KEYS=10000
# REDIS_PORT=8430 LUX_PORT=8440 LUX_BIN= (skip the build) KEEP=0
set -euo pipefail

N=${N:-200000}
NKEYS=${KEYS:-10000}
REDIS_PORT=${REDIS_PORT:-8430}
LUX_PORT=${LUX_PORT:-8440}
KEEP=${KEEP:-0}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/lux-scriptbench.XXXXXX)
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
disown
"$LUX" --port "$LUX_PORT" --bind 127.0.0.1 --data-dir "$WORK/lux-data" --appendfsync everysec --demo= \
	>"$WORK/lux.log" 2>&1 &
PIDS+=($!)
LPID=$!
disown
wait_ping "$REDIS_PORT"
wait_ping "$LUX_PORT"

LIMITER='local n = redis.call("INCR", KEYS[1])
if n == 1 then redis.call("EXPIRE", KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then return 0 end
return 1'
LIB="#!lua name=ratelimit
redis.register_function('limit', function(keys, args)
$LIMITER
end)"
LIB=${LIB//KEYS\[1\]/keys[1]}
LIB=${LIB//ARGV\[/args[}
READER='return redis.call("GET", KEYS[1])'
for p in "$REDIS_PORT" "$LUX_PORT"; do
	sha=$(redis-cli -p "$p" SCRIPT LOAD "$LIMITER")
	rsha=$(redis-cli -p "$p" SCRIPT LOAD "$READER")
	redis-cli -p "$p" FUNCTION LOAD "$LIB" >/dev/null
done
# the same answers from both
for p in "$REDIS_PORT" "$LUX_PORT"; do
	redis-cli -p "$p" EVALSHA "$sha" 1 check 2 60 >/dev/null
	redis-cli -p "$p" FCALL limit 1 check 2 60 >/dev/null
	echo "$(redis-cli -p "$p" EVALSHA "$sha" 1 check 2 60) $(redis-cli -p "$p" GET check) $(redis-cli -p "$p" TTL check)"
done | uniq | awk 'END { if (NR != 1) { print "lux and redis disagree on the limiter" > "/dev/stderr"; exit 1 } }'

# run PORT PID ARGS...: prints "rps cpu_us_per_request"
run() {
	local port=$1 pid=$2
	shift 2
	local c0 c1 rps
	c0=$(cpu "$pid")
	rps=$(redis-benchmark -p "$port" --csv -n "$N" -c 50 -r "$NKEYS" "$@" | awk -F'"' 'NR==2 {print $4}')
	c1=$(cpu "$pid")
	awk -v r="$rps" -v c=$((c1 - c0)) -v n="$N" 'BEGIN {printf "%s %.1f\n", r, c * 10000 / n}'
}

echo "| command | redis req/s | lux req/s | lux/redis | redis CPU µs/req | lux CPU µs/req | CPU lux/redis |"
echo "|---|---:|---:|---:|---:|---:|---:|"
bench() {
	local name=$1
	shift
	read -r rr rc < <(run "$REDIS_PORT" "$RPID" "$@")
	read -r lr lc < <(run "$LUX_PORT" "$LPID" "$@")
	awk -v nm="$name" -v rr="$rr" -v lr="$lr" -v rc="$rc" -v lc="$lc" \
		'BEGIN {printf "| %s | %.0f | %.0f | %.2f | %s | %s | %.2f |\n", nm, rr, lr, lr / rr, rc, lc, lc / rc}'
}
bench "INCR rl:<random>, P=1" -P 1 INCR rl:__rand_int__
bench "EVALSHA rate limiter, P=1" -P 1 EVALSHA "$sha" 1 rl:__rand_int__ 100 60
bench "EVALSHA rate limiter, P=16" -P 16 EVALSHA "$sha" 1 rl:__rand_int__ 100 60
bench "FCALL rate limiter, P=1" -P 1 FCALL limit 1 rl:__rand_int__ 100 60
bench "EVALSHA GET (read-only script), P=1" -P 1 EVALSHA "$rsha" 1 rl:__rand_int__
echo
echo "machine: $(nproc) cores, $(uname -m); $(redis-server --version | awk '{print $3}'); lux $(cd "$ROOT" && git rev-parse --short HEAD)"
