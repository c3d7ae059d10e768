#!/usr/bin/env bash
# memory.sh: the memory part of redis-compare.sh alone. For each setting it
# starts a fresh redis-server and then a fresh lux (one at a time, same run),
# loads one data shape through redis-cli --pipe, waits SETTLE seconds and
# reports VmRSS (empty and loaded) and INFO memory's used_memory of both.
#
# Shapes (SHAPES, each measured in its own fresh servers):
#   keys  RSS_KEYS distinct keys ("key:%012d") with VALUE_SIZE-byte values
#   hash  one hash of MEMBERS fields   (HSET h field:N value:N, 100 per command)
#   set   one set of MEMBERS members   (SADD s member:N, 100 per command)
#   zset  one zset of MEMBERS members  (ZADD z N member:N, 100 per command)
#   list  one list of MEMBERS elements (RPUSH l element:N, 100 per command)
#
# Settings (as in redis-compare.sh):
#   mem       lux --persistence=false        vs  redis --save '' --appendonly no
#   everysec  lux --appendfsync everysec     vs  redis --save '' --appendonly yes --appendfsync everysec
#
# Environment (all optional):
#   RSS_KEYS=1000000 VALUE_SIZE=100 SETTINGS="mem everysec" ROUNDS=1 SETTLE=2
#   SHAPES=keys MEMBERS=1000000
#   REDIS_PORT=7510 LUX_PORT=7520 PPROF_PORT=7530
#   LUX_BIN= (skip the build and use this binary)  LUX_ARGS= (extra lux flags)
#   HEAP_OUT= (a directory: keep a heap profile of each loaded lux, taken
#              through --pprof after the settle time)
#   KEEP=0
set -euo pipefail

RSS_KEYS=${RSS_KEYS:-1000000}
VALUE_SIZE=${VALUE_SIZE:-100}
SETTINGS=${SETTINGS:-"mem everysec"}
SHAPES=${SHAPES:-keys}
MEMBERS=${MEMBERS:-1000000}
ROUNDS=${ROUNDS:-1}
SETTLE=${SETTLE:-2}
REDIS_PORT=${REDIS_PORT:-7510}
LUX_PORT=${LUX_PORT:-7520}
PPROF_PORT=${PPROF_PORT:-7530}
LUX_ARGS=${LUX_ARGS:-}
HEAP_OUT=${HEAP_OUT:-}
KEEP=${KEEP:-0}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh" # resp_sets (the script's own helpers below take precedence)
WORK=$(mktemp -d /tmp/lux-memory.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	if [ "$KEEP" = 1 ]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

for tool in redis-server redis-cli; do
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

wait_ping() {
	local i
	for i in $(seq 200); do
		[ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0
		sleep 0.1
	done
	echo "server on port $1 did not start" >&2
	return 1
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
used_memory() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '$1 == "used_memory" {print $2}'; }

# gen_members SHAPE: MEMBERS members of one collection, 100 per command.
gen_members() {
	awk -v n="$MEMBERS" -v shape="$1" 'function bulk(s) { return sprintf("$%d\r\n%s\r\n", length(s), s) }
	BEGIN {
		cmd = shape == "hash" ? "HSET" : shape == "set" ? "SADD" : shape == "list" ? "RPUSH" : "ZADD"
		key = shape == "hash" ? "h" : shape == "set" ? "s" : shape == "list" ? "l" : "z"
		per = shape == "set" || shape == "list" ? 1 : 2
		for (i = 0; i < n; i += 100) {
			m = n - i < 100 ? n - i : 100
			out = sprintf("*%d\r\n", 2 + per * m) bulk(cmd) bulk(key)
			for (j = i; j < i + m; j++) {
				if (shape == "hash") out = out bulk("field:" j) bulk("value:" j)
				else if (shape == "set") out = out bulk("member:" j)
				else if (shape == "list") out = out bulk("element:" j)
				else out = out bulk(j) bulk("member:" j)
			}
			printf "%s", out
		}
	}'
}

for shape in $SHAPES; do
	case $shape in
	keys) resp_sets "$RSS_KEYS" "$VALUE_SIZE" >"$WORK/load_keys.resp" ;;
	hash | set | zset | list) gen_members "$shape" >"$WORK/load_$shape.resp" ;;
	*) echo "unknown shape $shape" >&2; exit 1 ;;
	esac
done

# count SHAPE PORT: how many keys or members the shape's load left
count() {
	case $1 in
	keys) redis-cli -p "$2" dbsize ;;
	hash) redis-cli -p "$2" hlen h ;;
	set) redis-cli -p "$2" scard s ;;
	zset) redis-cli -p "$2" zcard z ;;
	list) redis-cli -p "$2" llen l ;;
	esac
}

# measure SETTING NAME PORT PID ROUND SHAPE
measure() {
	local before after keys um
	sleep 1
	before=$(rss_kb "$4")
	redis-cli -p "$3" --pipe <"$WORK/load_$6.resp" >"$WORK/pipe_$1_$2.log" 2>&1
	keys=$(count "$6" "$3")
	sleep "$SETTLE"
	after=$(rss_kb "$4")
	um=$(used_memory "$3")
	log "$1 $6 $2: count=$keys rss_before=${before}kB rss_after=${after}kB used_memory=$um $(grep -E 'RssAnon|RssFile' "/proc/$4/status" | tr -s ' \t\n' ' ')"
	if [ "$2" = lux ]; then
		# the parts of lux's used_memory (hot tier, key index, pending writes, Pebble)
		log "$1 $2: $(redis-cli -p "$3" info memory | tr -d '\r' | grep '^lux_' | tr '\n' ' ')"
	fi
	echo "$1 $2 $5 $keys $before $after $um $6" >>"$WORK/rss.txt"
	if [ "$2" = lux ] && [ -n "$HEAP_OUT" ]; then
		mkdir -p "$HEAP_OUT"
		curl -s -o "$HEAP_OUT/heap_$1_$6_$5.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/heap" || true
	fi
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$ROUNDS"); do
	for shape in $SHAPES; do
	for s in $SETTINGS; do
		rm -rf "$WORK/redis" "$WORK/lux"
		mkdir -p "$WORK/redis" "$WORK/lux"
		aof=(--appendonly no)
		[ "$s" = everysec ] && aof=(--appendonly yes --appendfsync everysec)
		redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" --save '' "${aof[@]}" \
			--daemonize no --logfile "$WORK/redis/redis.log" &
		pid=$!
		PIDS+=("$pid")
		wait_ping "$REDIS_PORT"
		measure "$s" redis "$REDIS_PORT" "$pid" "$round" "$shape"
		kill -TERM "$pid"
		wait "$pid" 2>/dev/null || true

		mode=(--persistence=false)
		[ "$s" = everysec ] && mode=(--data-dir "$WORK/lux/data" --appendfsync everysec)
		[ -n "$HEAP_OUT" ] && mode+=(--pprof "127.0.0.1:$PPROF_PORT")
		# shellcheck disable=SC2086
		"$LUX" --port "$LUX_PORT" --bind 127.0.0.1 "${mode[@]}" $LUX_ARGS 2>"$WORK/lux/lux.log" &
		pid=$!
		PIDS+=("$pid")
		wait_ping "$LUX_PORT"
		measure "$s" lux "$LUX_PORT" "$pid" "$round" "$shape"
		kill -TERM "$pid"
		wait "$pid" 2>/dev/null || true
	done
	done
done

echo "## Memory: shapes $SHAPES (keys: $RSS_KEYS distinct keys, ${VALUE_SIZE}-byte values; collections: $MEMBERS members)"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); lux commit: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && [ -n "$(git status --porcelain 2>/dev/null)" ] && echo ' (+ uncommitted changes)'); load average at start: $LOAD_START, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| shape | setting | round | server | keys/members | RSS empty (MiB) | RSS loaded (MiB) | used_memory (MiB) | RSS growth B/item | lux/redis RSS | lux/redis RSS growth |"
echo "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"
awk '
	{ k = $8 SUBSEP $1 SUBSEP $3; keys[k, $2] = $4; b[k, $2] = $5; a[k, $2] = $6; u[k, $2] = $7
	  if (!(k in seen)) { seen[k] = 1; order[++m] = k; sh[k] = $8; st[k] = $1; rd[k] = $3 } }
	END {
		for (i = 1; i <= m; i++) {
			k = order[i]
			for (j = 0; j < 2; j++) {
				srv = j ? "lux" : "redis"
				ratio = (j && a[k, "redis"] > 0) ? sprintf("%.2f", a[k, "lux"] / a[k, "redis"]) : ""
				gr = (j && a[k, "redis"] > b[k, "redis"]) ? sprintf("%.2f", (a[k, "lux"] - b[k, "lux"]) / (a[k, "redis"] - b[k, "redis"])) : ""
				n = keys[k, srv] > 0 ? keys[k, srv] : 1
				printf "| %s | %s | %s | %s | %s | %.1f | %.1f | %.1f | %.0f | %s | %s |\n", sh[k], st[k], rd[k], srv, keys[k, srv],
					b[k, srv] / 1024, a[k, srv] / 1024, u[k, srv] / 1048576, (a[k, srv] - b[k, srv]) * 1024 / n, ratio, gr
			}
		}
	}' "$WORK/rss.txt"
