#!/usr/bin/env bash
# redis-compare.sh: throughput and memory of lux against Debian's redis-server,
# both on loopback, measured in the same run so that machine noise hits both.
#
# Settings compared:
#   mem       lux --persistence=false        vs  redis --save '' --appendonly no
#   everysec  lux --appendfsync everysec     vs  redis --save '' --appendonly yes --appendfsync everysec
#
# For each setting it runs
#   redis-benchmark -c $CLIENTS -n N -t $TESTS -P 1 --csv     (N = $N)
#   redis-benchmark -c $CLIENTS -n N -t $TESTS -P 64 --csv    (N = $N_PIPE)
# against Redis and then lux, and it loads exactly $RSS_KEYS distinct keys with
# $VALUE_SIZE-byte values (redis-cli --pipe) into fresh servers and reads VmRSS
# from /proc/<pid>/status. With PROFILE=1 it also records a CPU profile of lux
# during an extra P=64 SET run in the everysec setting (Go's pprof through
# lux's --pprof flag when the binary has it, else perf).
#
# Environment (all optional):
#   N=100000 N_PIPE=1000000 CLIENTS=50 TESTS=set,get,incr,mset,ping
#   PIPELINES="1 64" SETTINGS="mem everysec" ROUNDS=1 (best of ROUNDS per test)
#   RANDKEYS=  (empty: redis-benchmark's default single key; a number: -r RANDKEYS)
#   RSS_KEYS=1000000 VALUE_SIZE=100 RSS=1 PROFILE=1
#   PROFILE_SECONDS=10 PROFILE_OUT= (also copy the Go CPU profile to this path)
#   REDIS_PORT=7510 LUX_PORT=7520 PPROF_PORT=7530 LUX_BIN= (skip the build and use this binary)
#   BENCH_TIMEOUT=900 (seconds per redis-benchmark run)
#   KEEP=0 (1 keeps the work directory with raw CSV, logs and the profile)
set -euo pipefail

N=${N:-100000}
N_PIPE=${N_PIPE:-1000000}
CLIENTS=${CLIENTS:-50}
TESTS=${TESTS:-set,get,incr,mset,ping}
PIPELINES=${PIPELINES:-"1 64"}
SETTINGS=${SETTINGS:-"mem everysec"}
ROUNDS=${ROUNDS:-1}
RANDKEYS=${RANDKEYS:-}
RSS_KEYS=${RSS_KEYS:-1000000}
VALUE_SIZE=${VALUE_SIZE:-100}
RSS=${RSS:-1}
PROFILE=${PROFILE:-1}
REDIS_PORT=${REDIS_PORT:-7510}
LUX_PORT=${LUX_PORT:-7520}
PPROF_PORT=${PPROF_PORT:-7530}
PROFILE_SECONDS=${PROFILE_SECONDS:-10}
KEEP=${KEEP:-0}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-900}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh" # resp_sets (the script's own helpers below take precedence)
WORK=$(mktemp -d /tmp/lux-bench.XXXXXX)
RES=$WORK/results
mkdir -p "$RES"
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null || true
	done
	if [ "$KEEP" = 1 ]; then
		echo "work directory kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

for tool in redis-server redis-benchmark redis-cli; do
	command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

if [ -n "${LUX_BIN:-}" ]; then
	LUX=$LUX_BIN
else
	LUX=$WORK/lux
	echo "building lux ..." >&2
	(cd "$ROOT" && go build -o "$LUX" ./cmd/lux)
fi

log() { echo "[$(date +%T)] $*" >&2; }

# wait_ping PORT: waits until the server on PORT answers PING (up to ~20 s).
wait_ping() {
	local i
	for i in $(seq 200); do
		if [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; then
			return 0
		fi
		sleep 0.1
	done
	echo "server on port $1 did not start" >&2
	return 1
}

# start_redis SETTING DIR: starts redis-server and sets REDIS_PID.
start_redis() {
	local aof=(--appendonly no)
	if [ "$1" = everysec ]; then
		aof=(--appendonly yes --appendfsync everysec)
	fi
	mkdir -p "$2"
	# --save '' in both settings: no RDB snapshots (and no fork) during the run;
	# lux has no snapshots either, so the durable comparison is AOF vs Pebble WAL.
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$2" --save '' "${aof[@]}" \
		--daemonize no --logfile "$2/redis.log" &
	REDIS_PID=$!
	PIDS+=("$REDIS_PID")
	wait_ping "$REDIS_PORT"
}

# start_lux SETTING DIR: starts lux and sets LUX_PID.
start_lux() {
	local mode=(--persistence=false)
	if [ "$1" = everysec ]; then
		mode=(--data-dir "$2/data" --appendfsync everysec)
		if [ -n "$PPROF_ADDR" ]; then
			mode+=(--pprof "$PPROF_ADDR")
		fi
	fi
	mkdir -p "$2"
	"$LUX" --port "$LUX_PORT" --bind 127.0.0.1 "${mode[@]}" 2>"$2/lux.log" &
	LUX_PID=$!
	PIDS+=("$LUX_PID")
	wait_ping "$LUX_PORT"
}

# stop PID: SIGTERM and wait (both servers shut down cleanly on SIGTERM).
stop() {
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# bench SETTING P NAME PORT ROUND: one redis-benchmark run, CSV kept in $RES.
bench() {
	local n=$N
	if [ "$2" != 1 ]; then
		n=$N_PIPE
	fi
	local r=()
	if [ -n "$RANDKEYS" ]; then
		r=(-r "$RANDKEYS")
	fi
	if [ "$(redis-cli -p "$4" ping 2>/dev/null)" != PONG ]; then
		log "$3 on port $4 is not answering: skipping $1 P=$2"
		return
	fi
	log "$1 P=$2 $3: redis-benchmark -c $CLIENTS -n $n -t $TESTS -P $2 ${r[*]}"
	# timeout: redis-benchmark spins forever if the server dies under it.
	timeout "$BENCH_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$4" -c "$CLIENTS" -n "$n" -t "$TESTS" -P "$2" \
		"${r[@]}" --csv 2>/dev/null | tr -d '\r' >"$RES/$1_$2_$3_$5.csv" ||
		log "redis-benchmark against $3 failed (missing command or server died); its rows show n/a"
}

# The load file for the RSS measurement: RESP SET commands for RSS_KEYS distinct keys.
gen_load() {
	resp_sets "$RSS_KEYS" "$VALUE_SIZE" >"$WORK/load.resp"
}

# rss SETTING NAME PORT PID: loads the keys and records RSS before/after.
rss() {
	local before after keys
	sleep 1
	before=$(rss_kb "$4")
	redis-cli -p "$3" --pipe <"$WORK/load.resp" >"$WORK/pipe_$1_$2.log" 2>&1
	keys=$(redis-cli -p "$3" dbsize)
	sleep 2 # let the Go runtime / jemalloc settle
	after=$(rss_kb "$4")
	log "$1 $2: dbsize=$keys rss_before=${before}kB rss_after=${after}kB"
	echo "$1 $2 $keys $before $after" >>"$RES/rss.txt"
}

# profile: a CPU profile of lux under redis-benchmark -t set -P 64 (everysec).
# With lux's --pprof flag it is a Go CPU profile of PROFILE_SECONDS taken while
# redis-benchmark loops (-l); otherwise perf record for one N_PIPE run.
profile() {
	if [ -n "$PPROF_ADDR" ]; then
		log "Go CPU profile of lux (${PROFILE_SECONDS}s) during redis-benchmark -t set -P 64 -l (everysec)"
		timeout $((PROFILE_SECONDS + 30)) redis-benchmark -h 127.0.0.1 -p "$LUX_PORT" -c "$CLIENTS" \
			-n "$N_PIPE" -t set -P 64 -l -q >/dev/null 2>&1 &
		local bench_pid=$!
		sleep 1
		curl -s -o "$WORK/lux.cpu.pprof" "http://$PPROF_ADDR/debug/pprof/profile?seconds=$PROFILE_SECONDS" ||
			log "fetching the profile failed"
		kill "$bench_pid" 2>/dev/null || true
		wait "$bench_pid" 2>/dev/null || true
		cp "$WORK/lux.cpu.pprof" "$RES/lux.cpu.pprof" 2>/dev/null || true
		if [ -n "${PROFILE_OUT:-}" ]; then
			cp "$WORK/lux.cpu.pprof" "$PROFILE_OUT"
		fi
		{
			echo "## go tool pprof -top (flat)"
			(cd "$ROOT" && go tool pprof -top -nodecount=25 "$WORK/lux.cpu.pprof" 2>/dev/null) || true
			echo
			echo "## go tool pprof -top -cum"
			(cd "$ROOT" && go tool pprof -top -cum -nodecount=40 "$WORK/lux.cpu.pprof" 2>/dev/null) || true
		} >"$RES/profile.txt"
		return
	fi
	if ! command -v perf >/dev/null; then
		log "neither lux --pprof nor perf available: no profile"
		return
	fi
	log "perf profile of lux during redis-benchmark -t set -P 64 -n $N_PIPE (everysec)"
	perf record -F 999 -g -p "$LUX_PID" -o "$WORK/lux.perf.data" >/dev/null 2>&1 &
	local perf_pid=$!
	sleep 0.5
	timeout "$BENCH_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$LUX_PORT" -c "$CLIENTS" -n "$N_PIPE" -t set -P 64 \
		--csv 2>/dev/null | tr -d '\r' >"$RES/profile_run.csv" || log "profiled run failed"
	kill -INT "$perf_pid"
	wait "$perf_pid" 2>/dev/null || true
	perf report -i "$WORK/lux.perf.data" --stdio --no-children --sort symbol -g none \
		>"$WORK/perf-self.txt" 2>/dev/null || true
	perf report -i "$WORK/lux.perf.data" --stdio --children --sort symbol -g none \
		>"$WORK/perf-children.txt" 2>/dev/null || true
	{
		echo "## perf: self time (top functions)"
		grep -v -e '^#' -e '^$' "$WORK/perf-self.txt" | sed 's/[ -]*$//' | head -25 || true
		echo
		echo "## perf: cumulative time (children included)"
		grep -v -e '^#' -e '^$' "$WORK/perf-children.txt" | sed 's/[ -]*$//' | head -40 || true
	} >"$RES/profile.txt"
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# Use Go's profiler when this lux has --pprof (an idle HTTP listener; it only
# costs CPU while a profile is being taken).
PPROF_ADDR=
LUX_HELP=$("$LUX" -h 2>&1 || true)
if [ "$PROFILE" = 1 ] && [[ $LUX_HELP == *-pprof* ]]; then
	PPROF_ADDR=127.0.0.1:$PPROF_PORT
fi

if [ "$RSS" = 1 ]; then
	log "generating $RSS_KEYS SET commands with ${VALUE_SIZE}-byte values"
	gen_load
fi

for s in $SETTINGS; do
	rm -rf "$WORK/redis-$s" "$WORK/lux-$s"
	start_redis "$s" "$WORK/redis-$s"
	start_lux "$s" "$WORK/lux-$s"
	for round in $(seq "$ROUNDS"); do
		for p in $PIPELINES; do
			bench "$s" "$p" redis "$REDIS_PORT" "$round"
			bench "$s" "$p" lux "$LUX_PORT" "$round"
		done
	done
	if [ "$PROFILE" = 1 ] && [ "$s" = everysec ]; then
		profile
	fi
	stop "$REDIS_PID"
	stop "$LUX_PID"

	if [ "$RSS" = 1 ]; then
		rm -rf "$WORK/redis-$s" "$WORK/lux-$s"
		start_redis "$s" "$WORK/redis-$s"
		rss "$s" redis "$REDIS_PORT" "$REDIS_PID"
		stop "$REDIS_PID"
		start_lux "$s" "$WORK/lux-$s"
		rss "$s" lux "$LUX_PORT" "$LUX_PID"
		stop "$LUX_PID"
	fi
done

# ---- report ----
echo "## Machine and run"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); lux commit: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && [ -n "$(git status --porcelain 2>/dev/null)" ] && echo ' (+ uncommitted changes)')"
echo "- CPU: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo); RAM: $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "- $(redis-server --version | cut -d' ' -f1-3); $(go version 2>/dev/null | cut -d' ' -f3)"
echo "- load average at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "## Throughput (ops/s, best of $ROUNDS; -c $CLIENTS; P=1: -n $N; pipelined: -n $N_PIPE${RANDKEYS:+; -r $RANDKEYS})"
echo
echo "| setting | test | P | redis ops/s | lux ops/s | lux/redis | target | met |"
echo "|---|---|---:|---:|---:|---:|---:|---|"
for s in $SETTINGS; do
	for p in $PIPELINES; do
		for f in "$RES/${s}_${p}_"*.csv; do
			srv=$(basename "$f" .csv | cut -d_ -f3)
			awk -F'","' -v srv="$srv" 'NR > 1 { gsub(/"/, "", $1); gsub(/"/, "", $2); print srv "\t" $1 "\t" $2 }' "$f"
		done | awk -F'\t' -v s="$s" -v p="$p" '
			{
				if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 }
				k = $1 SUBSEP $2
				if ($3 + 0 > best[k] + 0) best[k] = $3
			}
			END {
				for (i = 1; i <= n; i++) {
					t = order[i]; r = best["redis", t]; l = best["lux", t]
					ratio = (r > 0) ? l / r : 0
					target = "-"; met = "-"
					if (t == "SET" || t == "GET" || t == "INCR") {
						target = (p == 1) ? 1.0 : 1.2
						met = (ratio >= target) ? "met" : "MISSED"
						target = sprintf("%.1fx", target)
					}
					if (r == "" || l == "") {
						printf "| %s | %s | %s | %s | %s | n/a | %s | n/a |\n", s, t, p, (r == "" ? "n/a" : sprintf("%.0f", r)), (l == "" ? "n/a" : sprintf("%.0f", l)), target
						continue
					}
					printf "| %s | %s | %s | %.0f | %.0f | %.2f | %s | %s |\n", s, t, p, r, l, ratio, target, met
				}
			}'
	done
done

if [ "$RSS" = 1 ] && [ -f "$RES/rss.txt" ]; then
	echo
	echo "## Memory: $RSS_KEYS distinct keys, ${VALUE_SIZE}-byte values (VmRSS)"
	echo
	echo "| setting | server | keys | RSS empty (MiB) | RSS loaded (MiB) | lux/redis (loaded) | target | met |"
	echo "|---|---|---:|---:|---:|---:|---:|---|"
	awk '
		{ keys[$1, $2] = $3; b[$1, $2] = $4; a[$1, $2] = $5; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
		END {
			for (i = 1; i <= n; i++) {
				s = order[i]
				ratio = (a[s, "redis"] > 0) ? a[s, "lux"] / a[s, "redis"] : 0
				printf "| %s | redis | %s | %.1f | %.1f | | | |\n", s, keys[s, "redis"], b[s, "redis"] / 1024, a[s, "redis"] / 1024
				printf "| %s | lux | %s | %.1f | %.1f | %.2f | 1.5x | %s |\n", s, keys[s, "lux"], b[s, "lux"] / 1024, a[s, "lux"] / 1024, ratio, (ratio <= 1.5 ? "met" : "MISSED")
			}
		}' "$RES/rss.txt"
fi

if [ -f "$RES/profile.txt" ]; then
	echo
	echo "## CPU profile of lux (everysec, redis-benchmark -c $CLIENTS -t set -P 64)"
	echo
	echo '```'
	cat "$RES/profile.txt"
	echo '```'
fi
