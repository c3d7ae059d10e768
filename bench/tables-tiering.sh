#!/bin/sh
# tables-tiering.sh: tables tiered to disk, side by side in one run
# (bench/tablestier/main.go describes the sections). Markdown on stdout,
# progress on stderr. Arguments go to the program, e.g. a quicker run:
#   bench/tables-tiering.sh -n 200000 -hist-n 500000
set -e
cd "$(dirname "$0")/.."
exec go run ./bench/tablestier "$@"
