#!/usr/bin/env bash
# tiering.sh: the memory-bounded hot tier under load, side by side in one run.
#
#   bench/tiering.sh | tee /tmp/tiering.md   (progress on stderr, markdown on stdout)
#
# Sections (each starts fresh servers in their own temporary directories):
#   writes   N_WRITES random SETs over KEYS keys x VALUE_SIZE B (-P 64), lux with
#            --maxmemory LIMIT vs lux without a limit: throughput ratio, refused
#            writes (INFO errorstats), peak RSS (VmHWM) against LIMIT x 1.2 + 64 MB,
#            RSS sampled every second (a table).
#   hotget   GET on a working set of HOT keys that fits in LIMIT (after KEYS were
#            written), limit vs no limit: throughput ratio.
#   coldget  GET of random keys right after a restart with --maxmemory LIMIT
#            (nothing resident), -P 1 -c 10: p50/p99 latency, and the same on
#            the warm no-limit server.
#   restart  time from start to the first PONG after kill -9, for each size in
#            RESTART_SIZES, vs Debian's redis-server loading an AOF with an RDB
#            preamble (appendonly yes, aof-use-rdb-preamble yes, rewritten
#            before the stop) of the same data.
#
# Environment (optional): KEYS=1000000 N_WRITES=2000000 VALUE_SIZE=100 LIMIT=64mb
#   HOT=100000 N_GET=2000000 N_COLD=100000 RESTART_SIZES="1000000 10000000"
#   SECTIONS="writes hotget coldget restart" LUX_BIN= (default: go build ./cmd/lux)
#   PORT=7610 REDIS_PORT=7611 KEEP=0
set -euo pipefail

KEYS=${KEYS:-1000000}
N_WRITES=${N_WRITES:-2000000}
VALUE_SIZE=${VALUE_SIZE:-100}
LIMIT=${LIMIT:-64mb}
HOT=${HOT:-100000}
N_GET=${N_GET:-2000000}
N_COLD=${N_COLD:-100000}
RESTART_SIZES=${RESTART_SIZES:-"1000000 10000000"}
SECTIONS=${SECTIONS:-"writes hotget coldget restart"}
PORT=${PORT:-7610}
REDIS_PORT=${REDIS_PORT:-7611}
KEEP=${KEEP:-0}

cd "$(dirname "$0")/.."
for t in redis-benchmark redis-cli redis-server; do
	command -v "$t" >/dev/null || { echo "tiering.sh: $t missing (apt-get install redis-server redis-tools)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/lux-tiering.XXXXXX)
cleanup() {
	pkill -f -- "--port $PORT " 2>/dev/null || true
	redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
	[ "$KEEP" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
LUX=${LUX_BIN:-$work/lux}
[ -n "${LUX_BIN:-}" ] || go build -o "$LUX" ./cmd/lux
FIRSTREPLY=$work/firstreply
go build -o "$FIRSTREPLY" ./bench/firstreply
log() { echo "tiering: $*" >&2; }

limit_bytes() {
	local v=${1,,}
	case $v in
	*gb) echo $(( ${v%gb} << 30 )) ;; *mb) echo $(( ${v%mb} << 20 )) ;; *kb) echo $(( ${v%kb} << 10 )) ;; *) echo "$v" ;;
	esac
}

pid=
start_lux() { # start_lux DIR ARGS...
	local dir=$1; shift
	"$LUX" --port "$PORT" --data-dir "$dir" "$@" >>"$work/lux.log" 2>&1 &
	pid=$!
	wait_pong "$PORT"
}
gone() { # gone PID: wait until the process is gone (a child or not)
	wait "$1" 2>/dev/null || true
	while kill -0 "$1" 2>/dev/null; do sleep 0.01; done
}
stop_lux() { kill "$pid" 2>/dev/null || true; gone "$pid"; }
kill9_lux() { kill -9 "$pid" 2>/dev/null || true; gone "$pid"; }
wait_pong() { # wait_pong PORT: until PING answers PONG (not -LOADING)
	until [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; do sleep 0.002; done
}
bench() { # bench PORT ARGS... -> "rps,p50,p99"
	local port=$1; shift
	redis-benchmark -p "$port" --csv "$@" 2>/dev/null | tail -1 | tr -d '"' |
		awk -F, '{printf "%.0f,%s,%s", $2, $5, $7}'
}
peak_rss_mb() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
info_field() { redis-cli -p "$PORT" info all | tr -d '\r' | awk -F: -v k="$1" '$1==k {print $2}'; }
sample_rss() { # sample_rss PID OUT: VmRSS every second until the process exits
	local t=0
	while kill -0 "$1" 2>/dev/null; do
		awk -v t=$t '/VmRSS/ {printf "%d,%.1f\n", t, $2/1024}' "/proc/$1/status" 2>/dev/null >>"$2" || true
		sleep 1; t=$((t + 1))
	done
}

echo "# Tiering benchmark"
echo
echo "$(date -u +%F), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(redis-server --version | awk '{print $1, $3}'), lux $(git rev-parse --short HEAD)."
echo "KEYS=$KEYS N_WRITES=$N_WRITES VALUE_SIZE=$VALUE_SIZE LIMIT=$LIMIT; command: \`bench/tiering.sh\`"
echo

lim=$(limit_bytes "$LIMIT")
bound=$(awk -v l="$lim" 'BEGIN {printf "%.1f", l*1.2/1048576 + 64}')

if [[ " $SECTIONS " == *" writes "* ]]; then
	echo "## Writes past the limit"
	echo
	echo "redis-benchmark -c 50 -P 64 -t set -n $N_WRITES -r $KEYS -d $VALUE_SIZE, persistence on (everysec)."
	echo
	echo "| server | SET/s | refused writes | peak RSS MB | bound MB | keys |"
	echo "|---|---|---|---|---|---|"
	for mode in limit nolimit; do
		args=()
		[ $mode = limit ] && args=(--maxmemory "$LIMIT")
		rm -rf "$work/d-$mode"
		start_lux "$work/d-$mode" "${args[@]}"
		: >"$work/rss-$mode.csv"
		sample_rss "$pid" "$work/rss-$mode.csv" &
		sp=$!
		log "writes: $mode"
		r=$(bench "$PORT" -c 50 -P 64 -t set -n "$N_WRITES" -r "$KEYS" -d "$VALUE_SIZE")
		refused=$(redis-cli -p "$PORT" info errorstats | tr -d '\r' | awk -F'[=,]' '/errorstat_OOM/ {print $2}')
		keys=$(redis-cli -p "$PORT" dbsize)
		peak=$(peak_rss_mb "$pid")
		echo "| lux ${args[*]:-(no limit)} | ${r%%,*} | ${refused:-0} | $peak | $([ $mode = limit ] && echo "$bound" || echo -) | $keys |"
		eval "rps_$mode=${r%%,*}"
		stop_lux
		wait "$sp" 2>/dev/null || true
	done
	echo
	awk -v a="$rps_limit" -v b="$rps_nolimit" 'BEGIN {printf "Ratio with the limit / without: **%.2f×**.\n\n", a/b}'
	echo "RSS over time (MB, one sample a second):"
	echo
	echo "| s | lux $LIMIT | lux no limit |"
	echo "|---|---|---|"
	awk -F, 'FNR==NR {a[$1]=$2; if ($1>m) m=$1; next} {b[$1]=$2; if ($1>m) m=$1}
		END {step = m > 60 ? 5 : 1; for (t=0; t<=m; t+=step) printf "| %d | %s | %s |\n", t, (t in a) ? a[t] : "-", (t in b) ? b[t] : "-"}' \
		"$work/rss-limit.csv" "$work/rss-nolimit.csv"
	echo
fi

if [[ " $SECTIONS " == *" hotget "* || " $SECTIONS " == *" coldget "* ]]; then
	echo "## Reads"
	echo
	echo "| server | test | GET/s | p50 ms | p99 ms |"
	echo "|---|---|---|---|---|"
	for mode in limit nolimit; do
		args=()
		[ $mode = limit ] && args=(--maxmemory "$LIMIT")
		rm -rf "$work/r-$mode"
		start_lux "$work/r-$mode" "${args[@]}"
		log "reads: $mode: loading $KEYS keys"
		bench "$PORT" -c 50 -P 64 -t set -n "$KEYS" -r "$KEYS" -d "$VALUE_SIZE" >/dev/null
		if [[ " $SECTIONS " == *" coldget "* ]]; then
			stop_lux
			start_lux "$work/r-$mode" "${args[@]}"
			log "reads: $mode: cold GET"
			r=$(bench "$PORT" -c 10 -P 1 -t get -n "$N_COLD" -r "$KEYS")
			IFS=, read -r rps p50 p99 <<<"$r"
			echo "| lux ${args[*]:-(no limit)} | GET random of $KEYS after restart, -c 10 -P 1 | $rps | $p50 | $p99 |"
		fi
		if [[ " $SECTIONS " == *" hotget "* ]]; then
			log "reads: $mode: hot GET"
			bench "$PORT" -c 50 -P 64 -t get -n "$N_GET" -r "$HOT" >/dev/null # warm
			r=$(bench "$PORT" -c 50 -P 64 -t get -n "$N_GET" -r "$HOT")
			IFS=, read -r rps p50 p99 <<<"$r"
			eval "hot_$mode=$rps"
			echo "| lux ${args[*]:-(no limit)} | GET of a $HOT-key working set, -c 50 -P 64 | $rps | $p50 | $p99 |"
		fi
		stop_lux
	done
	echo
	if [[ " $SECTIONS " == *" hotget "* ]]; then
		awk -v a="$hot_limit" -v b="$hot_nolimit" 'BEGIN {printf "Hot working set, with the limit / without: **%.2f×**.\n\n", a/b}'
	fi
fi

if [[ " $SECTIONS " == *" restart "* ]]; then
	echo "## Restart to the first reply"
	echo
	echo "Keys of $VALUE_SIZE B written with redis-benchmark (-P 64), then the server is killed"
	echo "(lux: kill -9; Redis: the AOF is rewritten with its RDB preamble and the server stopped),"
	echo "started again, and the time from exec to the first PONG is measured by bench/firstreply (a raw"
	echo "TCP PING every 0.5 ms; Redis answers -LOADING until loaded)."
	echo
	echo "| keys | lux after kill -9 ms | lux after clean stop ms | redis-server AOF+RDB preamble ms |"
	echo "|---|---|---|---|"
	for n in $RESTART_SIZES; do
		log "restart: $n keys"
		rm -rf "$work/rs"
		start_lux "$work/rs"
		bench "$PORT" -c 50 -P 64 -t set -n "$n" -r "$n" -d "$VALUE_SIZE" >/dev/null
		kill9_lux
		read -r lux_kill pid < <("$FIRSTREPLY" "$PORT" "$LUX" --port "$PORT" --data-dir "$work/rs" 2>>"$work/lux.log")
		stop_lux
		read -r lux_clean pid < <("$FIRSTREPLY" "$PORT" "$LUX" --port "$PORT" --data-dir "$work/rs" 2>>"$work/lux.log")
		stop_lux
		rm -rf "$work/rs"
		mkdir -p "$work/redis"
		rm -f "$work/redis"/*
		redis-server --port "$REDIS_PORT" --dir "$work/redis" --save '' --appendonly yes \
			--aof-use-rdb-preamble yes --appendfsync everysec --daemonize yes --logfile "$work/redis.log" >/dev/null
		wait_pong "$REDIS_PORT"
		bench "$REDIS_PORT" -c 50 -P 64 -t set -n "$n" -r "$n" -d "$VALUE_SIZE" >/dev/null
		redis-cli -p "$REDIS_PORT" bgrewriteaof >/dev/null
		while [ "$(redis-cli -p "$REDIS_PORT" info persistence | tr -d '\r' | awk -F: '$1=="aof_rewrite_in_progress" {print $2}')" != 0 ]; do sleep 0.1; done
		redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
		sleep 0.5
		read -r redis_ms _ < <("$FIRSTREPLY" "$REDIS_PORT" redis-server --port "$REDIS_PORT" --dir "$work/redis" --save '' \
			--appendonly yes --aof-use-rdb-preamble yes --logfile "$work/redis.log")
		redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
		rm -rf "$work/redis"
		echo "| $n | $lux_kill | $lux_clean | $redis_ms |"
	done
	echo
fi
