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

. "$(dirname "$0")/lib.sh"
bench_start bitbench

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

bench_header
bench "BITCOUNT bm (64 MB)" "$N_BIG" -c 1 BITCOUNT bm
bench "BITOP AND dst bm bm2 (64 MB each)" "$N_BIG" -c 1 BITOP AND dst bm bm2
bench "GETBIT small 123457 ($BITS bits)" "$N" -c 50 GETBIT small 123457
bench "SETBIT k:<random> 7 1 (new 1-byte keys)" "$N" -c 50 -r 1000000 SETBIT k:__rand_int__ 7 1
# random SETBITs on the one bitmap, pipelined (redis-benchmark cannot
# randomize an offset: Redis refuses its zero-padded numbers as offsets)
awk -v n="$N" -v b="$BITS" 'BEGIN { srand(7); for (i = 0; i < n; i++) { o = int(rand() * b); printf "SETBIT small %d %d\r\n", o, int(rand() * 2) } }' >"$WORK/setbits"
read -r rr rc < <(pipe_timed "$REDIS_PORT" "$RPID" "$WORK/setbits" "$N")
read -r lr lc < <(pipe_timed "$LUX_PORT" "$LPID" "$WORK/setbits" "$N")
row "SETBIT small <random> <0|1> ($BITS bits), redis-cli --pipe" "$rr" "$rc" "$lr" "$lc"
[ "$(redis-cli -p "$REDIS_PORT" BITCOUNT small)" = "$(redis-cli -p "$LUX_PORT" BITCOUNT small)" ] ||
	{ echo "the random SETBITs left different bitmaps" >&2; exit 1; }
bench_footer
