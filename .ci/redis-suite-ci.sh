#!/usr/bin/env bash
# Run units of the official Redis 7.0 Tcl test suite against lux, in two modes,
# and fail if a unit's pass count drops below its floor in .ci/suite-floors.tsv.
#
#   .ci/redis-suite-ci.sh REDIS_SRC_DIR
#
# REDIS_SRC_DIR is a Redis 7.0 source tree with ./runtest and ./tests (.ci/run
# extracts Debian's `redis` source package; nothing of it is committed here).
#
# Modes (each unit gets a freshly started lux with an empty data dir):
#   nolimit   --persistence=false                    (as docs/COMPATIBILITY.md)
#   1mb       --maxmemory 1mb --persistence=true --appendfsync everysec
#             (nearly every value is evicted from memory and read back from disk)
#   persist   --persistence=true  (no limit; not in the default set, useful to
#             tell an eviction bug from a persistence bug)
#
# Environment (all optional):
#   LUX_BIN        lux binary; default: built from ./cmd/lux (no -race) into OUT_DIR
#   MODES          "nolimit 1mb"
#   PARALLEL       1 = run the modes at the same time on different ports, 0 = one after another
#   UNITS          units to run (default: the list below)
#   FLOORS         floors file (default .ci/suite-floors.tsv; empty = no floor check)
#   WRITE_FLOORS   write the measured pass counts to this file (same format as FLOORS)
#   OUT_DIR        logs and results (default: a new temp dir); per mode OUT_DIR/MODE/
#                  holds results.tsv, one runtest log and one lux log per unit
#   PORT_BASE      7390: mode number i (0, 1, ...) serves on PORT_BASE+i, and its
#                  runtest gets --baseport 30000+1000*i
#   UNIT_TIMEOUT   300 (s, hard limit per unit), STALL_TIMEOUT 60 (s without progress)
#   SUITE_TAGS     runtest --tags value, default "-slow" (the floors are for that)
#   REPORT_ONLY    1 = run nothing, only print the table/diffs for an existing OUT_DIR
#   RETRIES        1: a unit that ends below its floor without a crash of lux is run
#                  again (fresh lux) up to this many times; the last run counts and
#                  the table marks it "retried". Some tests send a command on one
#                  connection and at once another on a second, and expect arrival
#                  order, which lux does not give (issue 11): rarely, one of them
#                  stalls a unit. 0 = no retries.
#
# Exit status: 0 = every unit at or above its floor and lux never crashed;
# 1 = a floor miss, a crash of lux, a unit without result, or (with CI=true)
# a missing tool. Without CI=true a missing tool skips the suite (exit 0).
set -uo pipefail

# paths given relative to the caller's directory stay valid after the cd
SRC=${1:-}
[ -n "$SRC" ] && [ -d "$SRC" ] && SRC=$(cd "$SRC" && pwd)
[ -n "${OUT_DIR:-}" ] && mkdir -p "$OUT_DIR" && OUT_DIR=$(cd "$OUT_DIR" && pwd)
cd "$(dirname "$0")/.."
repo=$(pwd)

REPORT_ONLY=${REPORT_ONLY:-0}
MODES=${MODES:-nolimit 1mb}
PARALLEL=${PARALLEL:-1}
FLOORS=${FLOORS-.ci/suite-floors.tsv}
WRITE_FLOORS=${WRITE_FLOORS:-}
PORT_BASE=${PORT_BASE:-7390}
SUITE_TAGS=${SUITE_TAGS--slow}
export UNIT_TIMEOUT=${UNIT_TIMEOUT:-300}
export STALL_TIMEOUT=${STALL_TIMEOUT:-60}
# unit/querybuf and unit/type/list-2 are left out: all of their tests are
# tagged slow or external:skip, so under --tags -slow they run nothing.
UNITS=${UNITS:-unit/type/string unit/type/incr unit/expire unit/keyspace unit/pubsub
	unit/multi unit/info-command unit/protocol unit/type/list
	unit/type/list-3 unit/type/hash unit/type/set unit/type/zset unit/scan unit/other
	unit/bitops unit/bitfield unit/tracking unit/sort unit/geo unit/hyperloglog
	unit/slowlog unit/latency-monitor unit/dump unit/pause unit/introspection-2
	unit/scripting unit/functions unit/introspection
	unit/type/stream unit/type/stream-cgroups}

missing() {
	if [ "${CI:-}" = true ]; then
		echo "redis-suite-ci: $* (required with CI=true)" >&2
		exit 1
	fi
	echo "redis-suite-ci: $*; skipping the Redis suite" >&2
	exit 0
}

mode_flags() {
	case $1 in
	nolimit) echo "--persistence=false" ;;
	1mb) echo "--maxmemory 1mb --persistence=true --appendfsync everysec" ;;
	persist) echo "--persistence=true --appendfsync everysec" ;;
	*) echo "redis-suite-ci: unknown mode $1" >&2; exit 2 ;;
	esac
}

port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

ctl=$repo/.ci/lux-ctl.sh
cleanup() {
	for m in $MODES; do "$ctl" stop "$OUT_DIR/$m" 2>/dev/null; done
}

# run_mode MODE INDEX [DIR [UNITS...]]: one runner over the units (default all),
# summary lines to DIR/summary.txt (DIR defaults to OUT_DIR/MODE)
run_mode() {
	local mode=$1 i=$2 port=$((PORT_BASE + $2)) dir=${3:-$OUT_DIR/$1} flags
	local units=$UNITS
	[ $# -gt 3 ] && units=${*:4}
	flags=$(mode_flags "$mode")
	mkdir -p "$dir"
	# shellcheck disable=SC2086
	BEFORE_UNIT="'$ctl' restart '$dir' $port $flags" \
	AFTER_UNIT="'$ctl' check '$dir' $port" \
	TAGS="$SUITE_TAGS" DURABLE=1 LOG_DIR="$dir" \
	EXTRA_ARGS="--baseport $((30000 + 1000 * i))" \
		"$repo/.ci/redis-suite.sh" "$SRC" 127.0.0.1 "$port" $units 2>&1 |
		tee "$dir/summary.txt" | sed -u "s/^/[$mode] /"
	"$ctl" stop "$dir"
}

# run_all: check the tools, build lux if needed, run every mode; sets wall.
run_all() {
	[ -n "$SRC" ] || missing "no Redis source dir given"
	[ -x "$SRC/runtest" ] && [ -d "$SRC/tests/unit" ] || missing "no runtest/tests in $SRC"
	for tool in tclsh timeout setsid; do
		command -v "$tool" >/dev/null 2>&1 || missing "$tool not found"
	done
	OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/lux-suite.XXXXXX)}

	if [ -z "${LUX_BIN:-}" ]; then
		command -v go >/dev/null 2>&1 || missing "go not found (needed to build lux)"
		echo "redis-suite-ci: building lux (no -race)"
		go build -o "$OUT_DIR/lux" ./cmd/lux || exit 1
		LUX_BIN=$OUT_DIR/lux
	fi
	[ -x "$LUX_BIN" ] || missing "LUX_BIN $LUX_BIN is not executable"
	export LUX_BIN=$(cd "$(dirname "$LUX_BIN")" && pwd)/$(basename "$LUX_BIN")

	trap cleanup EXIT
	trap 'exit 130' INT TERM

	i=0
	for m in $MODES; do
		mode_flags "$m" >/dev/null || exit 2
		if port_busy $((PORT_BASE + i)); then
			echo "redis-suite-ci: port $((PORT_BASE + i)) is in use (set PORT_BASE)" >&2
			exit 1
		fi
		i=$((i + 1))
	done

	echo "redis-suite-ci: modes [$MODES], parallel=$PARALLEL, tags "$SUITE_TAGS" --durable, logs in $OUT_DIR"
	t0=$(date +%s)
	i=0
	pids=()
	for m in $MODES; do
		if [ "$PARALLEL" = 1 ]; then
			run_mode "$m" "$i" &
			pids+=($!)
		else
			run_mode "$m" "$i"
		fi
		i=$((i + 1))
	done
	for p in "${pids[@]}"; do wait "$p"; done
	retry_low
	wall=$(( $(date +%s) - t0 ))
}

# read_floors: FL[unit,mode] from FLOORS
declare -A FL
read_floors() {
	[ -n "$FLOORS" ] || return 0
	[ -f "$FLOORS" ] || { echo "redis-suite-ci: floors file $FLOORS missing" >&2; exit 1; }
	while IFS=$'\t' read -r unit mode min; do
		[[ "$unit" == unit/* ]] || continue
		FL[$unit,$mode]=$min
	done <"$FLOORS"
}

# low_units DIR MODE: units of DIR/summary.txt that passed fewer than their
# floor while lux stayed up (a crash is never retried)
low_units() {
	local unit rest kv p st
	while read -r unit rest; do
		[[ "$unit" == unit/* ]] || continue
		p= st=
		for kv in $rest; do
			case $kv in passed=*) p=${kv#*=} ;; status=*) st=${kv#*=} ;; esac
		done
		case $st in server-crashed | server-down) continue ;; esac
		local fl=${FL[$unit,$2]:-}
		[ -n "$fl" ] && [ -n "$p" ] && [ "$p" -lt "$fl" ] && echo "$unit"
	done < <(cat "$1/summary.txt" 2>/dev/null)
}

# retry_low: run each unit below its floor again, one mode after another;
# the retry's summary line, results and logs replace the first run's (which
# stay in DIR/attempt-N/)
retry_low() {
	[ -n "$FLOORS" ] || return 0
	read_floors
	local n m i u low dir rdir
	for n in $(seq 1 "${RETRIES:-1}"); do
		i=0
		for m in $MODES; do
			dir=$OUT_DIR/$m
			low=$(low_units "$dir" "$m" | tr '\n' ' ')
			if [ -n "${low// /}" ]; then
				echo "redis-suite-ci: [$m] below floor, running again (retry $n): $low"
				rdir=$dir/attempt-$n
				mkdir -p "$rdir"
				# shellcheck disable=SC2086
				run_mode "$m" "$i" "$rdir" $low
				for u in $low; do
					grep -q "^$u " "$rdir/summary.txt" || continue
					f=$(echo "$u" | tr / _)
					# keep the first run's lines and logs beside the retry's
					grep "^$u " "$dir/summary.txt" | sed "s/\$/ (replaced by attempt-$n)/" >>"$rdir/replaced.txt"
					grep -v "^$u " "$dir/summary.txt" >"$dir/summary.tmp"
					grep "^$u " "$rdir/summary.txt" | sed 's/$/ retried=1/' >>"$dir/summary.tmp"
					mv "$dir/summary.tmp" "$dir/summary.txt"
					awk -F'\t' -v u="$u" '$1 != u' "$dir/results.tsv" >"$dir/results.tmp"
					awk -F'\t' -v u="$u" '$1 == u' "$rdir/results.tsv" >>"$dir/results.tmp"
					mv "$dir/results.tmp" "$dir/results.tsv"
					for lg in "$f.log" "lux-$f.log"; do
						[ -f "$dir/$lg" ] && mv "$dir/$lg" "$rdir/first-$lg"
						[ -f "$rdir/$lg" ] && cp "$rdir/$lg" "$dir/$lg"
					done
				done
			fi
			i=$((i + 1))
		done
	done
}

if [ "$REPORT_ONLY" = 1 ]; then
	: "${OUT_DIR:?REPORT_ONLY=1 needs OUT_DIR}"
	wall=0
else
	run_all
fi

# ---- per-unit table and floor check ----
declare -A P F S ST RT
for m in $MODES; do
	while read -r unit rest; do
		[[ "$unit" == unit/* ]] || continue
		for kv in $rest; do
			case $kv in
			passed=*) P[$unit,$m]=${kv#*=} ;;
			failed=*) F[$unit,$m]=${kv#*=} ;;
			skipped=*) S[$unit,$m]=${kv#*=} ;;
			status=*) ST[$unit,$m]=${kv#*=} ;;
			retried=*) RT[$unit,$m]=1 ;;
			esac
		done
	done < <(cat "$OUT_DIR/$m/summary.txt" 2>/dev/null)
done
read_floors

bad=0
problems=()
echo
printf '%-18s' unit
for m in $MODES; do printf ' | %-34s' "$m: pass/fail/skip (floor)"; done
echo
for u in $UNITS; do
	printf '%-18s' "$u"
	for m in $MODES; do
		p=${P[$u,$m]:-} fl=${FL[$u,$m]:-} st=${ST[$u,$m]:-none} mark=
		if [ -z "$p" ]; then
			cell="no result"
			mark=" FAIL"
			problems+=("$u [$m]: no result")
		else
			cell="$p/${F[$u,$m]}/${S[$u,$m]} (${fl:--})"
			[ "$st" = done ] || cell="$cell $st"
			[ -n "${RT[$u,$m]:-}" ] && cell="$cell retried"
			if [ -n "$fl" ] && [ "$p" -lt "$fl" ]; then
				mark=" FAIL"
				problems+=("$u [$m]: passed $p < floor $fl")
			fi
			case $st in server-crashed | server-down)
				mark=" FAIL"
				problems+=("$u [$m]: lux $st (see $OUT_DIR/$m/lux-$(echo "$u" | tr / _).log)") ;;
			esac
			if [ -n "$FLOORS" ] && [ -z "$fl" ]; then
				problems+=("$u [$m]: no floor in $FLOORS (not a failure; add one)")
			fi
		fi
		[ -n "$mark" ] && bad=1
		printf ' | %-34s' "$cell$mark"
	done
	echo
done
printf '%-18s' total
for m in $MODES; do
	tp=0 tf=0 ts=0
	for u in $UNITS; do
		tp=$((tp + ${P[$u,$m]:-0})) tf=$((tf + ${F[$u,$m]:-0})) ts=$((ts + ${S[$u,$m]:-0}))
	done
	printf ' | %-34s' "$tp/$tf/$ts"
done
echo

# errors.tsv per mode: unit<TAB>test<TAB>first line of the failure message
for m in $MODES; do
	for u in $UNITS; do
		log=$OUT_DIR/$m/$(echo "$u" | tr / _).log
		[ -f "$log" ] || continue
		sed 's/\x1b\[[0-9;]*m//g' "$log" | awk -v u="$u" '
			/^\[err\]: / { name = substr($0, 8); sub(/ in tests\/[^ ]*\.tcl$/, "", name)
				# an assertion prints "Expected ..."; an error reply prints a
				# truncated copy, then the whole reply on the next line
				if ((getline msg) <= 0) msg = ""
				if (msg !~ /^Expected/ && (getline m2) > 0 && m2 != "") msg = m2
				gsub(/\t/, " ", msg)
				print u "\t" name "\t" substr(msg, 1, 300) }'
	done >"$OUT_DIR/$m/errors.tsv"
done

# Tests that pass in the first mode but not in another: storage bugs when the
# other mode only adds eviction/persistence. (And the reverse, usually flaky tests.)
set -- $MODES
base=$1
shift
mode_diff() { # A B: tests ok in A and not ok in B, with B's status and message
	awk -F'\t' -v a="$OUT_DIR/$1/results.tsv" -v b="$OUT_DIR/$2/results.tsv" \
		-v e="$OUT_DIR/$2/errors.tsv" '
		FILENAME == a { if ($2 == "ok") oka[$1 "\t" $3] = 1; next }
		FILENAME == b { st[$1 "\t" $3] = $2; next }
		FILENAME == e { msg[$1 "\t" $2] = $3; next }
		END { for (k in oka) {
			if (!(k in st)) print k "\tnot run\t"
			else if (st[k] != "ok") print k "\t" st[k] "\t" msg[k] } }' \
		"$OUT_DIR/$1/results.tsv" "$OUT_DIR/$2/results.tsv" "$OUT_DIR/$2/errors.tsv" | sort
}
for m in "$@"; do
	for pair in "$base:$m" "$m:$base"; do
		a=${pair%:*} b=${pair#*:}
		diff=$OUT_DIR/diff-ok-in-$a-not-in-$b.tsv
		mode_diff "$a" "$b" >"$diff"
		echo
		echo "tests passing in $a but not in $b: $(wc -l <"$diff") (list: $diff)"
		sed 's/^/  /' "$diff" | cut -c1-220 | head -n 50
	done
done

if [ -n "$WRITE_FLOORS" ]; then
	{
		printf 'unit\tmode\tmin_passed\n'
		for m in $MODES; do
			for u in $UNITS; do
				[ -n "${P[$u,$m]:-}" ] && printf '%s\t%s\t%s\n' "$u" "$m" "${P[$u,$m]}"
			done
		done
	} >"$WRITE_FLOORS"
	echo "redis-suite-ci: measured pass counts written to $WRITE_FLOORS"
fi

echo
echo "redis-suite-ci: wall time ${wall}s (parallel=$PARALLEL); logs in $OUT_DIR"
for msg in "${problems[@]}"; do echo "  $msg"; done
if [ $bad = 1 ]; then
	echo "redis-suite-ci: FAILED (floor miss, crash or missing result above)" >&2
	exit 1
fi
echo "redis-suite-ci: OK"
