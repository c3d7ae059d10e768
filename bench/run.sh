#!/usr/bin/env bash
# run.sh: the request path's figures (issue 11) in one command, lux against
# Debian's redis-server 7.0.15 in the same run.
#
# For each setting (mem: lux --persistence=false vs redis --appendonly no;
# everysec: lux --appendfsync everysec vs redis AOF everysec) it starts both
# servers fresh and runs the same redis-benchmark sequence against each (redis
# first, then lux, per test): SET, GET, INCR, MSET (10 keys), LPUSH,
# LRANGE_100, LPOP, HSET, SADD, ZADD at P=1 and P=64, -c 50. Each row gives
# requests/s and the server's CPU per request (user+system time of the server
# process from /proc, divided by requests: far less noisy than throughput on
# a shared machine), and the ratios lux/redis. Then bench/bigreq.sh (one MSET
# of 99,999 and 1,048,575 arguments) per setting.
#
#   bench/run.sh > /tmp/run.md                  # about 10 minutes on 2 cores
#   N=20000 N_PIPE=200000 SETTINGS=mem BIGREQ=0 bench/run.sh   # a quick look
#
# Memory per key is measured separately: bench/memory.sh (1M keys x 100 B;
# SHAPES="hash set zset list" for 1M-member collections, each in a fresh server).
set -euo pipefail
N=${N:-100000}
N_PIPE=${N_PIPE:-1000000}
CLIENTS=${CLIENTS:-50}
SETTINGS=${SETTINGS:-mem everysec}
BIGREQ=${BIGREQ:-1}
REDIS_PORT=${REDIS_PORT:-8500}
LUX_PORT=${LUX_PORT:-8501}
DIR=$(cd "$(dirname "$0")" && pwd)
. "$DIR/lib.sh"

# The sequence: name, then redis-benchmark's test (-t) or a command line.
# LRANGE_100 reads the list LPUSH filled; LPOP then empties it.
TESTS=(
	"SET|-t set"
	"GET|-t get"
	"INCR|-t incr"
	"MSET (10 keys)|-t mset"
	"LPUSH|-t lpush"
	"LRANGE_100|lrange mylist 0 99"
	"LPOP|-t lpop"
	"HSET|-t hset"
	"SADD|-t sadd"
	"ZADD|-t zadd"
)

for setting in $SETTINGS; do
	(
		BENCH_MODE=$setting
		bench_start "run-$setting"
		echo "### $setting (redis-benchmark -c $CLIENTS; P=1: -n $N, P=64: -n $N_PIPE)"
		echo
		bench_header
		for p in 1 64; do
			n=$N
			[ "$p" = 1 ] || n=$N_PIPE
			for t in "${TESTS[@]}"; do
				name=${t%%|*}
				read -r -a targs <<<"${t#*|}"
				read -r rr rc < <(run "$REDIS_PORT" "$RPID" "$n" -c "$CLIENTS" -P "$p" "${targs[@]}")
				read -r lr lc < <(run "$LUX_PORT" "$LPID" "$n" -c "$CLIENTS" -P "$p" "${targs[@]}")
				row "$name P=$p" "$rr" "$rc" "$lr" "$lc"
			done
		done
		echo
	)
	if [ "$BIGREQ" = 1 ]; then
		echo "#### one huge MSET ($setting)"
		echo
		BENCH_MODE=$setting REDIS_PORT=$((REDIS_PORT + 2)) LUX_PORT=$((LUX_PORT + 2)) bash "$DIR/bigreq.sh" | grep -v '^machine:'
		echo
	fi
done
echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo); $(redis-server --version | awk '{print $3}'); lux ${LUX_BIN:-$(cd "$DIR/.." && git rev-parse --short HEAD)}; load average $(cut -d' ' -f1-3 /proc/loadavg)"
