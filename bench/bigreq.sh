#!/usr/bin/env bash
# bigreq.sh: one request of many arguments, lux vs redis-server, same run.
#
# Sends one `MSET k:1 v:1 … k:M v:M` of SIZES arguments (the command name
# included; 1048575 is the largest odd count within the 1,048,576-argument
# limit) through `redis-cli --pipe`, ROUNDS times to each server (redis
# first, then lux), and prints the median wall time from send to reply and
# the server's CPU time (user+system from /proc) for the request.
#
#   bench/bigreq.sh                           # SIZES="99999 1048575" ROUNDS=3
#   LUX_BIN=/tmp/lux SIZES=99999 bench/bigreq.sh
#   BENCH_MODE=mem bench/bigreq.sh            # both without persistence
set -euo pipefail
REDIS_PORT=${REDIS_PORT:-8490}
LUX_PORT=${LUX_PORT:-8491}
SIZES=${SIZES:-99999 1048575}
ROUNDS=${ROUNDS:-3}
. "$(dirname "$0")/lib.sh"
bench_start bigreq

# one request of $1 arguments in RESP
gen() {
	awk -v n="$1" 'BEGIN {
		m = (n - 1) / 2
		printf "*%d\r\n$4\r\nMSET\r\n", n
		for (i = 1; i <= m; i++) {
			k = "k:" i; v = "v:" i
			printf "$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v
		}
	}'
}

# timed PORT PID FILE: prints "wall-ms cpu-ms" for one run of FILE
timed() {
	local c0 c1 t0 t1
	c0=$(cpu "$2")
	t0=$(date +%s%N)
	redis-cli -p "$1" --pipe <"$3" >/dev/null
	t1=$(date +%s%N)
	c1=$(cpu "$2")
	awk -v t=$((t1 - t0)) -v c=$((c1 - c0)) 'BEGIN {printf "%.1f %.0f\n", t / 1e6, c * 10}'
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

echo "| arguments | bytes | redis wall ms | lux wall ms | wall lux/redis | redis CPU ms | lux CPU ms | CPU lux/redis |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in $SIZES; do
	[ $((n % 2)) = 1 ] || { echo "SIZES must be odd (MSET and pairs): $n" >&2; exit 1; }
	f=$WORK/mset-$n.resp
	gen "$n" >"$f"
	: >"$WORK/r" && : >"$WORK/l"
	for _ in $(seq "$ROUNDS"); do
		timed "$REDIS_PORT" "$RPID" "$f" >>"$WORK/r"
		timed "$LUX_PORT" "$LPID" "$f" >>"$WORK/l"
	done
	rw=$(cut -d' ' -f1 "$WORK/r" | median); rc=$(cut -d' ' -f2 "$WORK/r" | median)
	lw=$(cut -d' ' -f1 "$WORK/l" | median); lc=$(cut -d' ' -f2 "$WORK/l" | median)
	awk -v n="$n" -v b="$(stat -c %s "$f")" -v rw="$rw" -v lw="$lw" -v rc="$rc" -v lc="$lc" \
		'BEGIN {printf "| %d | %d | %s | %s | %.2f | %s | %s | %.2f |\n", n, b, rw, lw, lw / rw, rc, lc, (rc > 0 ? lc / rc : 0)}'
done
echo
if [ "${BENCH_MODE:-everysec}" = mem ]; then
	echo "(median of $ROUNDS rounds; redis --appendonly no, lux --persistence=false; CPU in 10 ms clock ticks)"
else
	echo "(median of $ROUNDS rounds; redis --appendonly yes --appendfsync everysec, lux --appendfsync everysec; CPU in 10 ms clock ticks)"
fi
bench_footer
