#!/usr/bin/env bash
# Start/stop/check one lux server for the Redis suite (.ci/redis-suite-ci.sh).
#
#   lux-ctl.sh restart STATE_DIR PORT [lux flags...]
#       stop the server recorded in STATE_DIR (if any), wipe STATE_DIR/data,
#       start LUX_BIN on 127.0.0.1:PORT with --data-dir STATE_DIR/data and the
#       given flags, logging to STATE_DIR/lux-<unit>.log ($SUITE_UNIT), and
#       wait until it answers PING.
#   lux-ctl.sh check STATE_DIR PORT
#       exit 0 if the recorded process is alive and answers PING; otherwise
#       print why and the tail of its log to stderr and exit 1.
#   lux-ctl.sh stop STATE_DIR
#
# LUX_BIN: the lux binary (required for restart).
set -u

cmd=${1:?usage: lux-ctl.sh restart|check|stop STATE_DIR [PORT [flags...]]}
state=${2:?STATE_DIR missing}
pidf=$state/lux.pid
mkdir -p "$state"

ping_ok() {
	local port=$1 reply
	# braces: a bare "exec 3<>... 2>/dev/null" would silence stderr for good
	{ exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
	printf 'PING\r\n' >&3
	read -r -t 5 reply <&3
	exec 3>&- 3<&-
	# -BUSY: alive, running a script past lua-time-limit (a test left one
	# looping); stop kills it with the server
	[[ "$reply" == +PONG* || "$reply" == -BUSY* ]]
}

stop() {
	[ -f "$pidf" ] || return 0
	local pid
	pid=$(cat "$pidf")
	rm -f "$pidf"
	kill "$pid" 2>/dev/null || return 0
	# SIGTERM syncs and exits; give it 10 s before SIGKILL.
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	echo "lux-ctl: pid $pid ignored SIGTERM for 10 s, killing it" >&2
	kill -9 "$pid" 2>/dev/null
	return 0
}

log_name() {
	echo "$state/lux-$(echo "${SUITE_UNIT:-server}" | tr '/' '_').log"
}

case $cmd in
restart)
	port=${3:?PORT missing}
	shift 3
	: "${LUX_BIN:?LUX_BIN must name the lux binary}"
	stop
	rm -rf "$state/data"
	log=$(log_name)
	# setsid: lux gets its own session, so a timeout killing the runner's
	# process group never takes lux down with it. --demo=: no chat demo,
	# whose own client (a pattern subscriber) would show in CLIENT LIST,
	# connected_clients and PUBSUB NUMPAT.
	setsid "$LUX_BIN" --bind 127.0.0.1 --port "$port" --data-dir "$state/data" --demo= "$@" \
		>"$log" 2>&1 </dev/null &
	echo $! >"$pidf"
	for _ in $(seq 200); do
		ping_ok "$port" && exit 0
		kill -0 "$(cat "$pidf")" 2>/dev/null || break
		sleep 0.05
	done
	echo "lux-ctl: lux did not come up on port $port; log tail:" >&2
	tail -n 30 "$log" >&2
	exit 1
	;;
check)
	port=${3:?PORT missing}
	log=$(log_name)
	why=
	if [ ! -f "$pidf" ]; then
		why="no pid file"
	elif ! kill -0 "$(cat "$pidf")" 2>/dev/null; then
		why="lux (pid $(cat "$pidf")) is gone"
	elif ! ping_ok "$port"; then
		why="lux (pid $(cat "$pidf")) does not answer PING on port $port"
	fi
	[ -z "$why" ] && exit 0
	{
		echo "lux-ctl: CRASH after ${SUITE_UNIT:-?}: $why; tail of $log:"
		tail -n 40 "$log" | sed 's/^/  | /'
	} >&2
	exit 1
	;;
stop)
	stop
	;;
*)
	echo "lux-ctl: unknown command $cmd" >&2
	exit 2
	;;
esac
