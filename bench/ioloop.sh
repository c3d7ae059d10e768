#!/usr/bin/env bash
# ioloop.sh: server CPU per request of connection-handling models (issue 11's
# event-loop decision), side by side in one run: bench/ioloop's tiny server
# as goroutine-per-connection, one epoll loop and two epoll loops, against
# redis-server (no persistence) and lux --persistence=false.
#
#   bench/ioloop.sh                  # N=200000 P="1 64" ROUNDS=3 TESTS=set,get
#   LUX_BIN=/tmp/lux bench/ioloop.sh
#   MODELS=lux TESTS=set,get,incr,lpush,hset P=64 bench/ioloop.sh   # lux both ways
set -euo pipefail
N=${N:-200000}
PS=${P:-1 64}
ROUNDS=${ROUNDS:-3}
TESTS=${TESTS:-set,get}
PORT=${PORT:-7700}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/lux-ioloop.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
(cd "$ROOT" && go build -o "$WORK/ioloop" ./bench/ioloop)
LUX=${LUX_BIN:-}
if [ -z "$LUX" ]; then
	LUX=$WORK/lux
	(cd "$ROOT" && go build -o "$LUX" ./cmd/lux)
fi
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }

# server name -> command line
names=("redis-server" "ioloop goroutine" "ioloop epoll x1" "ioloop epoll x2" "lux" "lux event-loop")
# MODELS=lux keeps redis-server and the lux models only (the toy server's
# models are the baseline of the decision; lux's are the product).
[ "${MODELS:-all}" = lux ] && names=("redis-server" "lux" "lux event-loop")
start() {
	case $1 in
	"redis-server") redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --logfile /dev/null & ;;
	"ioloop goroutine") "$WORK/ioloop" -addr "127.0.0.1:$PORT" -mode goroutine & ;;
	"ioloop epoll x1") "$WORK/ioloop" -addr "127.0.0.1:$PORT" -mode epoll -loops 1 & ;;
	"ioloop epoll x2") "$WORK/ioloop" -addr "127.0.0.1:$PORT" -mode epoll -loops 2 & ;;
	"lux") "$LUX" --port "$PORT" --bind 127.0.0.1 --persistence=false --demo= --event-loop=false >/dev/null 2>&1 & ;;
	"lux event-loop") "$LUX" --port "$PORT" --bind 127.0.0.1 --persistence=false --demo= --event-loop=true >/dev/null 2>&1 & ;;
	esac
	SPID=$!
	for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && return; sleep 0.05; done
	echo "no server $1" >&2
	exit 1
}

: >"$WORK/res"
for r in $(seq "$ROUNDS"); do
	for p in $PS; do
		n=$N
		[ "$p" = 1 ] || n=$((N * 10))
		for name in "${names[@]}"; do
			start "$name"
			c0=$(cpu "$SPID")
			redis-benchmark -p "$PORT" -c 50 -P "$p" -n "$n" -t "$TESTS" --csv 2>/dev/null |
				awk -F'"' 'NR > 1 {print $2, $4}' >"$WORK/out"
			c1=$(cpu "$SPID")
			kill "$SPID"
			wait "$SPID" 2>/dev/null || true
			ntests=$(wc -l <"$WORK/out")
			rps=$(awk '{printf "%s%.0f", (NR > 1 ? "/" : ""), $2}' "$WORK/out")
			echo "$p|$name|$rps|$(awk -v c=$((c1 - c0)) -v n="$n" -v t="$ntests" 'BEGIN {printf "%.2f", c * 10000 / (n * t)}')" >>"$WORK/res"
		done
	done
done
echo "| P | server | requests/s ($TESTS), median run | server CPU µs/request (median of $ROUNDS) | CPU vs redis |"
echo "|---:|---|---|---:|---:|"
for p in $PS; do
	rc=$(awk -F'|' -v p="$p" '$1 == p && $2 == "redis-server" {print $4}' "$WORK/res" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
	for name in "${names[@]}"; do
		awk -F'|' -v p="$p" -v nm="$name" '$1 == p && $2 == nm {print $4, $3}' "$WORK/res" | sort -n |
			awk -v p="$p" -v nm="$name" -v rc="$rc" '{c[NR] = $1; r[NR] = $2} END {m = int((NR + 1) / 2); printf "| %s | %s | %s | %.2f | %.2f |\n", p, nm, r[m], c[m], c[m] / rc}'
	done
done
echo
echo "machine: $(nproc) cores; $(redis-server --version | awk '{print $3}'); lux ${LUX_BIN:-$(cd "$ROOT" && git rev-parse --short HEAD)}; load average $(cut -d' ' -f1-3 /proc/loadavg)"
