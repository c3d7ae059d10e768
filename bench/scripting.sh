#!/usr/bin/env bash
# scripting.sh: Lua scripts and functions in lux against Debian's
# redis-server, on loopback, in the same run (issue 12's bench/ part for
# scripting). Both durable: lux --appendfsync everysec, redis --appendonly yes
# --appendfsync everysec. Driven by redis-benchmark (-c 50, keys from -r).
#
#   INCR rl:<random>                      the plain command, for scale
#   EVALSHA of a fixed-window rate limiter (INCR, EXPIRE on the first hit,
#     compare with the limit) on rl:<random>, pipelines of 1 and 16
#   FCALL of the same limiter loaded as a function library
#   EVALSHA of a read-only script (GET) on rl:<random>
#
# Prints requests/s for both servers and lux/redis, plus the server CPU
# (user+system from /proc) per request. Environment: N=200000 KEYS=10000
# REDIS_PORT=8470 LUX_PORT=8480 LUX_BIN= (skip the build) KEEP=0
set -euo pipefail

N=${N:-200000}
NKEYS=${KEYS:-10000}
REDIS_PORT=${REDIS_PORT:-8470}
LUX_PORT=${LUX_PORT:-8480}

. "$(dirname "$0")/lib.sh"
bench_start scriptbench

LIMITER='local n = redis.call("INCR", KEYS[1])
if n == 1 then redis.call("EXPIRE", KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then return 0 end
return 1'
LIB="#!lua name=ratelimit
redis.register_function('limit', function(keys, args)
$LIMITER
end)"
LIB=${LIB//KEYS\[1\]/keys[1]}
LIB=${LIB//ARGV\[/args[}
READER='return redis.call("GET", KEYS[1])'
for p in "$REDIS_PORT" "$LUX_PORT"; do
	sha=$(redis-cli -p "$p" SCRIPT LOAD "$LIMITER")
	rsha=$(redis-cli -p "$p" SCRIPT LOAD "$READER")
	redis-cli -p "$p" FUNCTION LOAD "$LIB" >/dev/null
done
# the same answers from both
for p in "$REDIS_PORT" "$LUX_PORT"; do
	redis-cli -p "$p" EVALSHA "$sha" 1 check 2 60 >/dev/null
	redis-cli -p "$p" FCALL limit 1 check 2 60 >/dev/null
	echo "$(redis-cli -p "$p" EVALSHA "$sha" 1 check 2 60) $(redis-cli -p "$p" GET check) $(redis-cli -p "$p" TTL check)"
done | uniq | awk 'END { if (NR != 1) { print "lux and redis disagree on the limiter" > "/dev/stderr"; exit 1 } }'

bench_header
bench "INCR rl:<random>, P=1" "$N" -c 50 -r "$NKEYS" -P 1 INCR rl:__rand_int__
bench "EVALSHA rate limiter, P=1" "$N" -c 50 -r "$NKEYS" -P 1 EVALSHA "$sha" 1 rl:__rand_int__ 100 60
bench "EVALSHA rate limiter, P=16" "$N" -c 50 -r "$NKEYS" -P 16 EVALSHA "$sha" 1 rl:__rand_int__ 100 60
bench "FCALL rate limiter, P=1" "$N" -c 50 -r "$NKEYS" -P 1 FCALL limit 1 rl:__rand_int__ 100 60
bench "EVALSHA GET (read-only script), P=1" "$N" -c 50 -r "$NKEYS" -P 1 EVALSHA "$rsha" 1 rl:__rand_int__
bench_footer
