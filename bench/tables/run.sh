#!/bin/sh
# Runs the tables benchmark (bench/tables/README.md), installing Debian's
# PostgreSQL 15 first when it is missing. Arguments go to the benchmark:
#   bench/tables/run.sh -n 100000 -modes everysec
set -e
cd "$(dirname "$0")/../.."
if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
	if [ "$(id -u)" = 0 ]; then
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
	else
		echo "PostgreSQL 15 is missing: sudo apt-get install postgresql" >&2
		exit 1
	fi
fi
exec go run ./bench/tables "$@"
