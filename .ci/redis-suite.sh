#!/usr/bin/env bash
# Run units of the official Redis Tcl test suite against an EXTERNAL server
# and print one summary line per unit plus a total line.
#
# Adapted copy of the project's shared runner (shared/tools/redis-suite.sh):
# adds AFTER_UNIT (crash check after every unit, status=server-crashed),
# exports SUITE_UNIT to the BEFORE_UNIT/AFTER_UNIT commands, and keeps stderr
# open (server_up's "exec 3<>... 2>/dev/null" silenced it for the rest of the
# run after the first successful connect). Used by .ci/redis-suite-ci.sh.
#
# Usage:
#   redis-suite.sh SRC_DIR HOST PORT unit/type/string unit/expire ...
#
# SRC_DIR is a redis source tree (needs ./runtest and ./tests; nothing has to
# be built: in external mode runtest never starts src/redis-server for the
# units that are not tagged external:skip).
#
# Environment knobs (all optional):
#   UNIT_TIMEOUT=600     hard wall-clock limit per unit (coreutils timeout; kills
#                        runtest and its tclsh test client, same process group)
#   STALL_TIMEOUT=180    runtest --timeout: abort a unit after N s without progress
#   TAGS="-slow"         value for runtest --tags (empty = no tag filter).
#                        e.g. TAGS="-slow -needs:debug" for a server without DEBUG
#   DURABLE=1            pass --durable (non-assertion errors such as
#                        "ERR unknown command" count as a failed test instead of
#                        aborting the whole unit). Strongly recommended.
#   EXTRA_ARGS=""        extra runtest args, e.g. "--singledb --ignore-encoding
#                        --ignore-digest" or "--skipfile /path/skips.txt"
#   LOG_DIR=...          where per-unit logs go (default /tmp/redis-suite-logs/<ts>)
#   Per-test results are also appended to $LOG_DIR/results.tsv as
#   "unit<TAB>ok|err|skip|ignore<TAB>test name" (diff two runs with
#   sort/comm or join to compare servers test by test).
#   BEFORE_UNIT="cmd"    shell command run (eval) before every unit, e.g. to
#                        restart the server under test so that config/state
#                        leaked by one unit (external mode does NOT restart the
#                        server) cannot break the next one. Example:
#                        BEFORE_UNIT="../shared/tools/redis-ref.sh restart 6390"
#   AFTER_UNIT="cmd"     shell command run (eval) after every unit; a non-zero
#                        exit marks the unit status=server-crashed (e.g. check
#                        that the server process is still alive and answers).
#   Both hooks see the current unit in $SUITE_UNIT (exported).
#
# Output line per unit:
#   unit/xxx passed=N failed=M skipped=K ignored=I exception=0|1 status=S time=Ts
# skipped = [skip] (name filters) + [ignore] (tag filters/external:skip);
# ignored = the [ignore] part alone. NOTE: one [ignore] line may stand for a
# whole skipped start_server/tags block (many tests), so skip counts are a
# lower bound. status: done | exception | stall-timeout | killed-timeout |
# server-down | server-crashed | rcN.
set -u

if [ $# -lt 4 ]; then
    sed -n '2,30p' "$0" >&2
    exit 2
fi

SRC_DIR=$1 HOST=$2 PORT=$3
shift 3
UNIT_TIMEOUT=${UNIT_TIMEOUT:-600}
STALL_TIMEOUT=${STALL_TIMEOUT:-180}
TAGS=${TAGS--slow}
DURABLE=${DURABLE:-1}
EXTRA_ARGS=${EXTRA_ARGS:-}
BEFORE_UNIT=${BEFORE_UNIT:-}
AFTER_UNIT=${AFTER_UNIT:-}
LOG_DIR=${LOG_DIR:-/tmp/redis-suite-logs/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$LOG_DIR"

[ -x "$SRC_DIR/runtest" ] || { echo "no runtest in $SRC_DIR" >&2; exit 2; }
mkdir -p "$SRC_DIR/tests/tmp"

server_up() {
    # a bare TCP connect + PING using bash's /dev/tcp (no redis-cli needed)
    local reply
    # braces: a bare "exec 3<>... 2>/dev/null" would send the whole
    # script's stderr to /dev/null from then on
    { exec 3<>"/dev/tcp/$HOST/$PORT"; } 2>/dev/null || return 1
    printf 'PING\r\n' >&3
    read -r -t 5 reply <&3
    exec 3>&- 3<&-
    [[ "$reply" == +PONG* ]]
}

tp=0 tf=0 ts=0 ti=0 tt=0 nunits=0 nbad=0
for unit in "$@"; do
    unit=${unit%.tcl}; unit=${unit#tests/}
    log="$LOG_DIR/$(echo "$unit" | tr '/' '_').log"
    nunits=$((nunits + 1))
    export SUITE_UNIT=$unit
    if [ -n "$BEFORE_UNIT" ]; then
        eval "$BEFORE_UNIT" >>"$LOG_DIR/before-unit.log" 2>&1 ||
            echo "warning: BEFORE_UNIT failed before $unit" >&2
    fi
    if ! server_up; then
        echo "$unit passed=0 failed=0 skipped=0 ignored=0 exception=0 status=server-down time=0s"
        nbad=$((nbad + 1))
        continue
    fi
    args=(--host "$HOST" --port "$PORT" --single "$unit" --timeout "$STALL_TIMEOUT")
    [ -n "$TAGS" ] && args+=(--tags "$TAGS")
    [ "$DURABLE" = 1 ] && args+=(--durable)
    # shellcheck disable=SC2206
    [ -n "$EXTRA_ARGS" ] && args+=($EXTRA_ARGS)
    start=$(date +%s)
    (cd "$SRC_DIR" && TERM=dumb timeout -k 10 "$UNIT_TIMEOUT" ./runtest "${args[@]}") >"$log" 2>&1
    rc=$?
    el=$(( $(date +%s) - start ))
    # strip ANSI colours just in case, then count status lines
    clean=$(sed 's/\x1b\[[0-9;]*m//g' "$log")
    p=$(grep -c '^\[ok\]:' <<<"$clean")
    f=$(grep -c '^\[err\]:' <<<"$clean")
    s=$(grep -c '^\[skip\]:' <<<"$clean")
    i=$(grep -c '^\[ignore\]:' <<<"$clean")
    ex=$(grep -c '^\[exception\]:' <<<"$clean")
    sed -n -E 's/^\[(ok|err|skip|ignore)\]: (.*)$/\1\t\2/p' <<<"$clean" |
        sed -E -e 's/^(ok\t.*) \([0-9]+ ms\)$/\1/' -e 's/^(err\t.*) in tests\/[^ ]*\.tcl$/\1/' |
        awk -v u="$unit" '{print u "\t" $0}' >>"$LOG_DIR/results.tsv"
    [ "$ex" -gt 0 ] && printf '%s\texception\t%s\n' "$unit" "$(grep -m1 '^\[exception\]:' <<<"$clean" | cut -c1-200)" >>"$LOG_DIR/results.tsv"
    crashed=0
    if [ -n "$AFTER_UNIT" ]; then
        eval "$AFTER_UNIT" || crashed=1
    fi
    if [ $crashed = 1 ]; then status=server-crashed
    elif [ "$ex" -gt 0 ]; then status=exception
    elif grep -q '^\[TIMEOUT\]' <<<"$clean"; then status=stall-timeout
    elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then status=killed-timeout
    elif grep -q '^\[[0-9]*/[0-9]* done\]:' <<<"$clean" && grep -q 'The End' <<<"$clean"; then status=done
    else status=rc$rc
    fi
    [ "$status" = done ] || nbad=$((nbad + 1))
    skipped=$((s + i))
    echo "$unit passed=$p failed=$f skipped=$skipped ignored=$i exception=$ex status=$status time=${el}s"
    tp=$((tp + p)) tf=$((tf + f)) ts=$((ts + skipped)) ti=$((ti + i)) tt=$((tt + el))
done
echo "TOTAL units=$nunits passed=$tp failed=$tf skipped=$ts ignored=$ti not_done=$nbad time=${tt}s logs=$LOG_DIR"
