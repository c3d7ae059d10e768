#!/usr/bin/env bash
# ab-cpu.sh: server CPU per operation of two lux binaries, A and B, side by
# side: redis-benchmark against each in turn (in memory, --persistence=false),
# ROUNDS times alternating, printing the server's user+system time from
# /proc per request (far less noisy than throughput on a shared machine).
#
#   bench/ab-cpu.sh A_BIN B_BIN
#
# Environment: TESTS="get:64:3000000 set:64:3000000 set:1:300000" (test:pipeline:requests),
# ROUNDS=2, CLIENTS=50, PORT=7611, MODE=mem (or everysec: a fresh data
# directory per run, --appendfsync everysec).
# Build the two binaries first, e.g. git worktree add /tmp/base <rev> &&
# (cd /tmp/base && go build -o /tmp/lux-a ./cmd/lux); go build -o /tmp/lux-b ./cmd/lux
set -euo pipefail
A=${1:?A_BIN missing}
B=${2:?B_BIN missing}
TESTS=${TESTS:-"get:64:3000000 set:64:3000000 set:1:300000"}
ROUNDS=${ROUNDS:-2}
CLIENTS=${CLIENTS:-50}
PORT=${PORT:-7611}
MODE=${MODE:-mem}
tick=$(getconf CLK_TCK)

one() { # bin test pipeline requests
	local bin=$1 t=$2 p=$3 n=$4
	local mode=(--persistence=false) dir=
	if [ "$MODE" = everysec ]; then
		dir=$(mktemp -d /tmp/ab-cpu.XXXXXX)
		mode=(--data-dir "$dir" --appendfsync everysec)
	fi
	"$bin" --port "$PORT" "${mode[@]}" --demo= >/dev/null 2>&1 &
	local pid=$!
	for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
	redis-benchmark -p "$PORT" -t "$t" -n 100000 -P "$p" -q >/dev/null 2>&1 # warm-up
	local s0 s1 rps
	s0=$(awk '{print $14+$15}' "/proc/$pid/stat")
	rps=$(redis-benchmark -p "$PORT" -t "$t" -n "$n" -P "$p" -c "$CLIENTS" --csv 2>/dev/null | tail -1 | cut -d, -f2 | tr -d '"')
	s1=$(awk '{print $14+$15}' "/proc/$pid/stat")
	kill "$pid"; wait "$pid" 2>/dev/null || true
	[ -n "$dir" ] && rm -rf "$dir"
	awk -v a="$s0" -v b="$s1" -v n="$n" -v hz="$tick" -v r="$rps" \
		'BEGIN { printf "%.3f us/op  %.0f req/s\n", (b-a)/hz*1e6/n, r }'
}

echo "| test | P | round | A: $(basename "$A") | B: $(basename "$B") |"
echo "|---|---:|---:|---|---|"
for r in $(seq "$ROUNDS"); do
	for spec in $TESTS; do
		IFS=: read -r t p n <<<"$spec"
		echo "| $t | $p | $r | $(one "$A" "$t" "$p" "$n") | $(one "$B" "$t" "$p" "$n") |"
	done
done
