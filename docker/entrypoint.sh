#!/bin/sh
# The container's entry point: the image's defaults, then lux.
#
#   docker run -p 6379:6379 -p 8080:8080 IMAGE            database + chat demo
#   docker run ... IMAGE --maxmemory 1gb                    flags go to lux
#   docker run ... IMAGE demo --db lux://db:6379            only the demo's web tier
#   docker run ... IMAGE sh                                 anything else runs as is
#
# Defaults (each only when the variable is unset, so an explicit empty
# value, e.g. LUX_DEMO= to turn the demo off, is kept):
#   LUX_BIND_HOST=0.0.0.0  LUX_PORT=6379  LUX_DATA_DIR=/data  LUX_DEMO=0.0.0.0:8080
#   LUX_PROTECTED_MODE=no when LUX_PASSWORD is not set, as the official Redis
#   image runs: it works out of the box, with a loud warning. Set LUX_PASSWORD
#   for anything reachable beyond this host.
# LUX_BIN names the binary (tests run this script without a container).
set -eu

: "${LUX_BIN:=/usr/local/bin/lux}"
[ -n "${LUX_BIND_HOST+x}" ] || LUX_BIND_HOST=0.0.0.0
[ -n "${LUX_PORT+x}" ] || LUX_PORT=6379
[ -n "${LUX_DATA_DIR+x}" ] || LUX_DATA_DIR=/data
[ -n "${LUX_DEMO+x}" ] || LUX_DEMO=0.0.0.0:8080
export LUX_BIND_HOST LUX_PORT LUX_DATA_DIR LUX_DEMO

# flags only, or the demo subcommand: run lux with them
case "${1:-}" in
'' | -*) set -- lux "$@" ;;
demo) set -- lux "$@" ;;
esac

if [ "$1" = lux ]; then
	shift
	if [ "${1:-}" != demo ]; then
		if [ -z "${LUX_PASSWORD:-}" ]; then
			[ -n "${LUX_PROTECTED_MODE+x}" ] || LUX_PROTECTED_MODE=no
			export LUX_PROTECTED_MODE
			if [ "$LUX_PROTECTED_MODE" = no ]; then
				cat >&2 <<WARN
########################################################################
# WARNING: lux runs WITHOUT A PASSWORD on $LUX_BIND_HOST:$LUX_PORT.
# Anyone who can reach this port can read, change and delete all data.
# Fine on a private network or behind -p 127.0.0.1:6379:6379; otherwise
# set LUX_PASSWORD (docker run -e LUX_PASSWORD=... IMAGE).
########################################################################
WARN
			fi
		fi
		if [ "${LUX_PERSISTENCE:-true}" != false ] && [ -n "$LUX_DATA_DIR" ]; then
			if [ ! -d "$LUX_DATA_DIR" ]; then
				mkdir -p "$LUX_DATA_DIR" 2>/dev/null || {
					echo "lux entrypoint: cannot create the data directory $LUX_DATA_DIR (user $(id -u)); mount a volume there or set LUX_DATA_DIR" >&2
					exit 1
				}
			fi
			if [ ! -w "$LUX_DATA_DIR" ]; then
				echo "lux entrypoint: the data directory $LUX_DATA_DIR is not writable by user $(id -u); mount a volume owned by it (e.g. chown 10001 on the host) or run with --user" >&2
				exit 1
			fi
		fi
	fi
	exec "$LUX_BIN" "$@"
fi
exec "$@"
