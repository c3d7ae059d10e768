#!/usr/bin/env bash
# families.sh: HyperLogLog, GEO and SORT in lux against Debian's redis-server,
# on loopback, in the same run (issue 10's bench/ part for those families;
# bitmaps are bench/bitmap.sh, tracking bench/tracking). Both durable: lux
# --appendfsync everysec, redis --appendonly yes --appendfsync everysec.
#
#   PFADD hll <random element>             redis-benchmark -c 50 -n $N -r 100000000
#   PFCOUNT hll (one dense HLL)            redis-benchmark -c 50 -n $N
#   PFCOUNT hll hll2 hll3 (merged per call) redis-benchmark -c 50 -n $N
#   GEOSEARCH over $GEO members, radius 5 km, 10 nearest
#                                          redis-benchmark -c 50 -n $N_GEO
#   SORT of a $SORTN-element list (numeric, LIMIT 0 10) and SORT ... ALPHA
#                                          redis-benchmark -c 1 -n $N_SORT
#
# Prints requests/s for both servers and lux/redis, plus the server CPU
# (user+system from /proc) per request. Environment: N=200000 N_GEO=20000
# GEO=1000000 SORTN=100000 N_SORT=50 REDIS_PORT=8450 LUX_PORT=8460
# LUX_BIN= (skip the build) KEEP=0
set -euo pipefail

N=${N:-200000}
N_GEO=${N_GEO:-20000}
GEO=${GEO:-1000000}
SORTN=${SORTN:-100000}
N_SORT=${N_SORT:-50}
REDIS_PORT=${REDIS_PORT:-8450}
LUX_PORT=${LUX_PORT:-8460}

. "$(dirname "$0")/lib.sh"
bench_start fambench

# the data: three HLLs of 200,000 elements, $GEO members spread over a
# 10 x 10 degree box (about one per km²), a list of $SORTN random numbers
awk -v g="$GEO" -v s="$SORTN" 'BEGIN { srand(11)
	for (h = 1; h <= 3; h++) { k = (h == 1 ? "hll" : "hll" h)
		for (i = 0; i < 200000; i += 500) { printf "PFADD %s", k; for (j = i; j < i + 500; j++) printf " e%d-%d", h, j; printf "\r\n" } }
	for (i = 0; i < g; i += 1000) { printf "GEOADD geo"; for (j = i; j < i + 1000; j++) printf " %.6f %.6f m%d", 8 + rand() * 10, 40 + rand() * 10, j; printf "\r\n" }
	for (i = 0; i < s; i += 1000) { printf "RPUSH biglist"; for (j = i; j < i + 1000; j++) printf " %d", int(rand() * 1000000000); printf "\r\n" } }' >"$WORK/load"
for p in "$REDIS_PORT" "$LUX_PORT"; do
	redis-cli -p "$p" --pipe <"$WORK/load" >/dev/null
done
# the same answers from both
for q in "PFCOUNT hll hll2 hll3" "ZCARD geo" "GEOSEARCH geo FROMLONLAT 13 45 BYRADIUS 5 km ASC COUNT 10" "SORT biglist LIMIT 0 10"; do
	a=$(redis-cli -p "$REDIS_PORT" $q | tr '\n' ' ') b=$(redis-cli -p "$LUX_PORT" $q | tr '\n' ' ')
	[ "$a" = "$b" ] || { echo "$q: redis [$a], lux [$b]" >&2; exit 1; }
done

bench_header
bench "PFADD hll <random>" "$N" -c 50 -r 100000000 PFADD hll __rand_int__
bench "PFCOUNT hll" "$N" -c 50 PFCOUNT hll
bench "PFCOUNT hll hll2 hll3" "$N" -c 50 PFCOUNT hll hll2 hll3
bench "GEOSEARCH 5 km, 10 nearest ($GEO members)" "$N_GEO" -c 50 GEOSEARCH geo FROMLONLAT 13 45 BYRADIUS 5 km ASC COUNT 10
bench "SORT biglist LIMIT 0 10 ($SORTN numbers)" "$N_SORT" -c 1 SORT biglist LIMIT 0 10
bench "SORT biglist ALPHA LIMIT 0 10" "$N_SORT" -c 1 SORT biglist ALPHA LIMIT 0 10
bench_footer
