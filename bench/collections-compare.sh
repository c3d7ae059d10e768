#!/usr/bin/env bash
# collections-compare.sh: lists, hashes, sets and sorted sets in lux against
# Debian's redis-server, both on loopback, measured in the same run so that
# machine noise hits both (issue 3's bench/ part; modelled on redis-compare.sh).
#
# 1. Throughput, for each setting
#      mem       lux --persistence=false     vs  redis --save '' --appendonly no
#      everysec  lux --appendfsync everysec  vs  redis --save '' --appendonly yes --appendfsync everysec
#    redis-benchmark -c $CLIENTS -n N -t $TESTS -P 1 --csv   (N = $N)
#    redis-benchmark -c $CLIENTS -n N -t $TESTS -P 64 --csv  (N = $N_PIPE)
#    Targets: lux/redis >= 1.0 at P=1, >= 1.2 at P=64.
# 2. Memory (mem setting): one $MEMBERS-member hash (HSET h field:N value:N),
#    set (SADD s member:N) and zset (ZADD z N member:N), loaded one after the
#    other with redis-cli --pipe into fresh servers; VmRSS growth per structure.
#    Target: lux <= 1.5x redis.
# 3. Cold load: lux everysec loads the hash and zset, SHUTDOWN, restarts on the
#    same data dir; reports the restart time until PING answers and the time of
#    HGETALL h and ZRANGE z 0 -1 WITHSCORES on the cold collections (then once
#    more warm), from sending the command to the end of the reply
#    (redis-cli ... >/dev/null). Redis runs the same commands warm, for reference.
#
# Environment (all optional):
#   N=50000 N_PIPE=500000 CLIENTS=50
#   TESTS=lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100
#   PIPELINES="1 64" SETTINGS="mem everysec" MEMBERS=1000000 BATCH=100 (members per load command)
#   MEM=1 COLD=1 REDIS_PORT=8310 LUX_PORT=8320 LUX_BIN= (skip the build)
#   BENCH_TIMEOUT=600 KEEP=0
set -euo pipefail

N=${N:-50000}
N_PIPE=${N_PIPE:-500000}
CLIENTS=${CLIENTS:-50}
TESTS=${TESTS:-lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100}
PIPELINES=${PIPELINES:-"1 64"}
SETTINGS=${SETTINGS:-"mem everysec"}
MEMBERS=${MEMBERS:-1000000}
BATCH=${BATCH:-100}
MEM=${MEM:-1}
COLD=${COLD:-1}
REDIS_PORT=${REDIS_PORT:-8310}
LUX_PORT=${LUX_PORT:-8320}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}
KEEP=${KEEP:-0}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/lux-collbench.XXXXXX)
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
now_ns() { date +%s%N; }

# wait_ping PORT: waits until the server on PORT answers PING (up to ~120 s).
wait_ping() {
	local i
	for i in $(seq 12000); do
		if [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; then
			return 0
		fi
		sleep 0.01
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
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$2" --save '' "${aof[@]}" \
		--daemonize no --logfile "$2/redis.log" &
	REDIS_PID=$!
	PIDS+=("$REDIS_PID")
	wait_ping "$REDIS_PORT"
}

# start_lux SETTING DIR: starts lux and sets LUX_PID (the data dir is $DIR/data).
start_lux() {
	local mode=(--persistence=false)
	if [ "$1" = everysec ]; then
		mode=(--data-dir "$2/data" --appendfsync everysec)
	fi
	mkdir -p "$2"
	"$LUX" --port "$LUX_PORT" --bind 127.0.0.1 "${mode[@]}" 2>>"$2/lux.log" &
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

# bench SETTING P NAME PORT: one redis-benchmark run, CSV kept in $RES.
bench() {
	local n=$N
	if [ "$2" != 1 ]; then
		n=$N_PIPE
	fi
	if [ "$(redis-cli -p "$4" ping 2>/dev/null)" != PONG ]; then
		log "$3 on port $4 is not answering: skipping $1 P=$2"
		return
	fi
	redis-cli -p "$4" flushall >/dev/null
	log "$1 P=$2 $3: redis-benchmark -c $CLIENTS -n $n -t $TESTS -P $2"
	timeout "$BENCH_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$4" -c "$CLIENTS" -n "$n" -t "$TESTS" -P "$2" \
		--csv 2>/dev/null | tr -d '\r' >"$RES/$1_$2_$3.csv" ||
		log "redis-benchmark against $3 failed; its rows show n/a"
}

# gen_load TYPE FILE: RESP commands building one $MEMBERS-member collection,
# $BATCH members per command.
gen_load() {
	awk -v n="$MEMBERS" -v b="$BATCH" -v t="$1" 'BEGIN {
		cmd = (t == "hash") ? "HSET" : (t == "set") ? "SADD" : "ZADD"
		key = (t == "hash") ? "h" : (t == "set") ? "s" : "z"
		per = (t == "set") ? 1 : 2
		for (i = 0; i < n; i += b) {
			m = (n - i < b) ? n - i : b
			out = sprintf("*%d\r\n$%d\r\n%s\r\n$1\r\n%s\r\n", 2 + m * per, length(cmd), cmd, key)
			for (j = i; j < i + m; j++) {
				if (t == "hash") {
					f = "field:" j; v = "value:" j
					out = out sprintf("$%d\r\n%s\r\n$%d\r\n%s\r\n", length(f), f, length(v), v)
				} else if (t == "set") {
					f = "member:" j
					out = out sprintf("$%d\r\n%s\r\n", length(f), f)
				} else {
					f = "member:" j; v = j ""
					out = out sprintf("$%d\r\n%s\r\n$%d\r\n%s\r\n", length(v), v, length(f), f)
				}
			}
			printf "%s", out
		}
	}' >"$2"
}

# load PORT TYPE: pipes the load file of TYPE into the server on PORT.
load() {
	redis-cli -p "$1" --pipe <"$WORK/$2.resp" >>"$WORK/pipe.log" 2>&1
}

# mem NAME PORT PID: loads hash, set, zset one after the other; records RSS.
mem() {
	local before after t
	sleep 1
	before=$(rss_kb "$3")
	for t in hash set zset; do
		load "$2" "$t"
		sleep 2 # let the Go runtime / jemalloc settle
		after=$(rss_kb "$3")
		log "mem $1 $t: rss ${before}kB -> ${after}kB"
		echo "$1 $t $before $after" >>"$RES/mem.txt"
		before=$after
	done
	echo "$1 card $(redis-cli -p "$2" hlen h) $(redis-cli -p "$2" scard s) $(redis-cli -p "$2" zcard z)" >>"$RES/mem.txt"
}

# timed NAME LABEL PORT CMD...: runs one command with redis-cli, output discarded,
# and records the wall time in ms from start to the end of the reply.
timed() {
	local name=$1 label=$2 port=$3 t0 t1
	shift 3
	t0=$(now_ns)
	redis-cli -p "$port" "$@" >/dev/null
	t1=$(now_ns)
	echo "$name|$label|$(((t1 - t0) / 1000000))" >>"$RES/cold.txt"
	log "$name $label: $(((t1 - t0) / 1000000)) ms"
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- 1. throughput ----
for s in $SETTINGS; do
	rm -rf "$WORK/redis-$s" "$WORK/lux-$s"
	start_redis "$s" "$WORK/redis-$s"
	start_lux "$s" "$WORK/lux-$s"
	for p in $PIPELINES; do
		bench "$s" "$p" redis "$REDIS_PORT"
		bench "$s" "$p" lux "$LUX_PORT"
	done
	stop "$REDIS_PID"
	stop "$LUX_PID"
	rm -rf "$WORK/redis-$s" "$WORK/lux-$s"
done

if [ "$MEM" = 1 ] || [ "$COLD" = 1 ]; then
	log "generating load files: $MEMBERS members each, $BATCH per command"
	for t in hash set zset; do
		gen_load "$t" "$WORK/$t.resp"
	done
fi

# ---- 2. memory (mem setting) ----
if [ "$MEM" = 1 ]; then
	start_redis mem "$WORK/redis-mem"
	mem redis "$REDIS_PORT" "$REDIS_PID"
	stop "$REDIS_PID"
	start_lux mem "$WORK/lux-mem"
	mem lux "$LUX_PORT" "$LUX_PID"
	stop "$LUX_PID"
	rm -rf "$WORK/redis-mem" "$WORK/lux-mem"
fi

# ---- 3. cold load ----
if [ "$COLD" = 1 ]; then
	start_lux everysec "$WORK/lux-cold"
	load "$LUX_PORT" hash
	load "$LUX_PORT" zset
	redis-cli -p "$LUX_PORT" shutdown >/dev/null 2>&1 || true
	wait "$LUX_PID" 2>/dev/null || true
	du -sm "$WORK/lux-cold/data" | awk '{print "lux|data dir MB|" $1}' >>"$RES/cold.txt"
	t0=$(now_ns)
	start_lux everysec "$WORK/lux-cold"
	t1=$(now_ns)
	echo "lux|restart until PING|$(((t1 - t0) / 1000000))" >>"$RES/cold.txt"
	echo "lux|RSS after restart MB|$(($(rss_kb "$LUX_PID") / 1024))" >>"$RES/cold.txt"
	timed lux "HGETALL h (cold)" "$LUX_PORT" hgetall h
	timed lux "ZRANGE z 0 -1 WITHSCORES (cold)" "$LUX_PORT" zrange z 0 -1 withscores
	timed lux "HGETALL h (warm)" "$LUX_PORT" hgetall h
	timed lux "ZRANGE z 0 -1 WITHSCORES (warm)" "$LUX_PORT" zrange z 0 -1 withscores
	echo "lux|HLEN / ZCARD after restart|$(redis-cli -p "$LUX_PORT" hlen h) / $(redis-cli -p "$LUX_PORT" zcard z)" >>"$RES/cold.txt"
	stop "$LUX_PID"

	start_redis everysec "$WORK/redis-cold"
	load "$REDIS_PORT" hash
	load "$REDIS_PORT" zset
	timed redis "HGETALL h (warm)" "$REDIS_PORT" hgetall h
	timed redis "ZRANGE z 0 -1 WITHSCORES (warm)" "$REDIS_PORT" zrange z 0 -1 withscores
	stop "$REDIS_PID"
	rm -rf "$WORK/redis-cold" "$WORK/lux-cold"
fi

# ---- report ----
echo "### Machine and run"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); lux commit: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && [ -n "$(git status --porcelain 2>/dev/null)" ] && echo ' (+ uncommitted changes)')"
echo "- CPU: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo); RAM: $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "- $(redis-server --version | cut -d' ' -f1-3); $(go version 2>/dev/null | cut -d' ' -f3)"
echo "- load average at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "### Throughput (ops/s; -c $CLIENTS; P=1: -n $N; P=64: -n $N_PIPE)"
echo
echo "| setting | test | P | redis ops/s | lux ops/s | lux/redis | target | met |"
echo "|---|---|---:|---:|---:|---:|---:|---|"
for s in $SETTINGS; do
	for p in $PIPELINES; do
		for f in "$RES/${s}_${p}_"*.csv; do
			[ -f "$f" ] || continue
			srv=$(basename "$f" .csv | cut -d_ -f3)
			awk -F'","' -v srv="$srv" 'NR > 1 { gsub(/"/, "", $1); gsub(/"/, "", $2); print srv "\t" $1 "\t" $2 }' "$f"
		done | awk -F'\t' -v s="$s" -v p="$p" '
			{
				if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 }
				val[$1, $2] = $3
			}
			END {
				target = (p == 1) ? 1.0 : 1.2
				for (i = 1; i <= n; i++) {
					t = order[i]; r = val["redis", t]; l = val["lux", t]
					if (r == "" || l == "") {
						printf "| %s | %s | %s | %s | %s | n/a | %.1fx | n/a |\n", s, t, p, (r == "" ? "n/a" : sprintf("%.0f", r)), (l == "" ? "n/a" : sprintf("%.0f", l)), target
						continue
					}
					ratio = (r > 0) ? l / r : 0
					printf "| %s | %s | %s | %.0f | %.0f | %.2f | %.1fx | %s |\n", s, t, p, r, l, ratio, target, (ratio >= target ? "met" : "MISSED")
				}
			}'
	done
done

if [ -f "$RES/mem.txt" ]; then
	echo
	echo "### Memory: one $MEMBERS-member hash, set and zset (VmRSS growth, persistence off)"
	echo
	grep ' card ' "$RES/mem.txt" | awk '{ printf "- %s: HLEN %s, SCARD %s, ZCARD %s\n", $1, $3, $4, $5 }'
	echo
	echo "| structure | redis MiB | lux MiB | lux/redis | target | met |"
	echo "|---|---:|---:|---:|---:|---|"
	grep -v ' card ' "$RES/mem.txt" | awk '
		{ d[$1, $2] = ($4 - $3) / 1024; if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 } }
		END {
			for (i = 1; i <= n; i++) {
				t = order[i]; r = d["redis", t]; l = d["lux", t]
				ratio = (r > 0) ? l / r : 0
				printf "| %s | %.1f | %.1f | %.2f | 1.5x | %s |\n", t, r, l, ratio, (ratio <= 1.5 ? "met" : "MISSED")
				tr += r; tl += l
			}
			printf "| total | %.1f | %.1f | %.2f | 1.5x | %s |\n", tr, tl, tl / tr, (tl / tr <= 1.5 ? "met" : "MISSED")
		}'
fi

if [ -f "$RES/cold.txt" ]; then
	echo
	echo "### Cold load: $MEMBERS-member hash and zset, lux everysec restarted on its data dir (ms unless noted)"
	echo
	echo "| server | measurement | value |"
	echo "|---|---|---:|"
	awk -F'|' '{ printf "| %s | %s | %s |\n", $1, $2, $3 }' "$RES/cold.txt"
fi
