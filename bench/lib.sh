# lib.sh: what the side-by-side shell benchmarks against redis-server share
# (bitmap.sh, streams.sh, scripting.sh, families.sh source it).
#
# bench_start NAME starts Debian's redis-server (--appendonly yes
# --appendfsync everysec) on REDIS_PORT and lux (--appendfsync everysec) on
# LUX_PORT, each with a fresh data directory under WORK, and waits for both
# (BENCH_MODE=mem: redis --appendonly no, lux --persistence=false);
# it sets ROOT, WORK, LUX, RPID and LPID. LUX_BIN names a lux binary (else
# one is built from this checkout); KEEP=1 keeps WORK.

cpu() { awk '{print $14+$15}' "/proc/$1/stat"; } # clock ticks

wait_ping() {
	for _ in $(seq 1200); do
		[ "$(redis-cli -p "$1" PING 2>/dev/null)" = PONG ] && return 0
		sleep 0.1
	done
	echo "no server on $1" >&2
	exit 1
}

bench_cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}

bench_start() {
	ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	WORK=$(mktemp -d "/tmp/lux-$1.XXXXXX")
	PIDS=()
	trap bench_cleanup EXIT
	for tool in redis-server redis-benchmark redis-cli; do
		command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
	done
	if [ -n "${LUX_BIN:-}" ]; then
		LUX=$LUX_BIN
	else
		LUX=$WORK/lux
		(cd "$ROOT" && go build -o "$LUX" ./cmd/lux)
	fi
	mkdir -p "$WORK/redis-data" "$WORK/lux-data"
	local raof=(--appendonly yes --appendfsync everysec) lopt=(--data-dir "$WORK/lux-data" --appendfsync everysec)
	if [ "${BENCH_MODE:-everysec}" = mem ]; then
		raof=(--appendonly no) lopt=(--persistence=false)
	fi
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' "${raof[@]}" \
		--dir "$WORK/redis-data" --logfile "$WORK/redis.log" &
	RPID=$!
	PIDS+=("$RPID")
	disown
	"$LUX" --port "$LUX_PORT" --bind 127.0.0.1 "${lopt[@]}" --demo= \
		>"$WORK/lux.log" 2>&1 &
	LPID=$!
	PIDS+=("$LPID")
	disown
	wait_ping "$REDIS_PORT"
	wait_ping "$LUX_PORT"
}

# run PORT PID N ARGS...: redis-benchmark -n N ARGS against one server;
# prints "requests/s server-CPU-µs-per-request" of its last test (a test such
# as lrange_100 runs the LPUSH it needs first)
run() {
	local port=$1 pid=$2 n=$3
	shift 3
	local c0 c1 rps
	c0=$(cpu "$pid")
	rps=$(redis-benchmark -p "$port" --csv -n "$n" "$@" | awk -F'"' 'NR > 1 {r = $4} END {print r}')
	c1=$(cpu "$pid")
	awk -v r="$rps" -v c=$((c1 - c0)) -v n="$n" 'BEGIN {printf "%s %.2f\n", r, c * 10000 / n}'
}

bench_header() {
	echo "| command | redis req/s | lux req/s | lux/redis | redis CPU µs/req | lux CPU µs/req | CPU lux/redis |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
}

# row NAME REDIS_RPS REDIS_CPU LUX_RPS LUX_CPU
row() {
	awk -v nm="$1" -v rr="$2" -v rc="$3" -v lr="$4" -v lc="$5" \
		'BEGIN {printf "| %s | %.0f | %.0f | %.2f | %s | %s | %.2f |\n", nm, rr, lr, lr / rr, rc, lc, (rc > 0 ? lc / rc : 0)}'
}

# bench NAME N ARGS...: the same redis-benchmark run against both servers
bench() {
	local name=$1 n=$2 rr rc lr lc
	shift 2
	read -r rr rc < <(run "$REDIS_PORT" "$RPID" "$n" "$@")
	read -r lr lc < <(run "$LUX_PORT" "$LPID" "$n" "$@")
	row "$name" "$rr" "$rc" "$lr" "$lc"
}

# pipe_timed PORT PID FILE N: FILE's N commands through redis-cli --pipe;
# prints "commands/s server-CPU-µs-per-command"
pipe_timed() {
	local port=$1 pid=$2 file=$3 n=$4 c0 c1 t0 t1
	c0=$(cpu "$pid")
	t0=$(date +%s%N)
	redis-cli -p "$port" --pipe <"$file" >/dev/null
	t1=$(date +%s%N)
	c1=$(cpu "$pid")
	awk -v n="$n" -v t=$((t1 - t0)) -v c=$((c1 - c0)) 'BEGIN {printf "%.0f %.1f\n", n / (t / 1e9), c * 10000 / n}'
}

bench_footer() {
	echo
	echo "machine: $(nproc) cores, $(uname -m); $(redis-server --version | awk '{print $3}'); lux ${LUX_BIN:-$(cd "$ROOT" && git rev-parse --short HEAD)}"
}

# resp_sets N SIZE: RESP SET commands for N distinct keys ("key:%012d") with
# SIZE-byte values, on stdout (the memory measurements' load).
resp_sets() {
	awk -v n="$1" -v size="$2" 'BEGIN {
		v = sprintf("%" size "s", ""); gsub(/ /, "x", v)
		for (i = 0; i < n; i++) {
			k = sprintf("key:%012d", i)
			printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, size, v
		}
	}'
}
