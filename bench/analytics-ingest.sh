#!/bin/bash
# The analytics ingest benchmark's driver (docs/benchmarks.md, issue 8): starts `marquee serve` from a Release build on
# a data folder, then for each N runs `Marquee.Bench ingest --events N` against it (on top of what is there) and prints
# the server process's CPU (utime + stime from /proc/<pid>/stat) spent over the run, per event, with the load averages.
# The server is left running (its pid in <data>/../server-<port>.pid) for `Marquee.Bench catalogue`; stop it with kill.
#   bench/analytics-ingest.sh src/Marquee/bin/Release/net10.0 /tmp/ib/data 5620 100000 10000000
# Env: EXTRA (more `marquee serve` arguments, e.g. --Logging:LogLevel:Marquee.Analytics.Pipeline=Debug for the
# pipeline's per-phase timings, or --Marquee:Roles=web), BENCHARGS (more bench arguments, e.g. "--wait no").
set -u
BIN=$1; DATA=$2; PORT=$3; shift 3
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH=$HERE/Marquee.Bench/bin/Release/net10.0/Marquee.Bench.dll
mkdir -p "$DATA"
export DOTNET_TieredPGO=0
dotnet "$BIN/marquee.dll" serve --urls "http://127.0.0.1:$PORT" "--Marquee:DataDir=$DATA" ${EXTRA:-} > "$DATA/../server-$PORT.log" 2>&1 &
PID=$!
echo "server pid $PID"
echo $PID > "$DATA/../server-$PORT.pid"
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/api/analytics/status" >/dev/null && break; sleep 1; done
for N in "$@"; do
  c0=$(awk '{print $14+$15}' /proc/$PID/stat); t0=$(date +%s.%N)
  echo "$(date -u +%H:%M:%S) load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  dotnet "$BENCH" ingest --url "http://127.0.0.1:$PORT" --events "$N" ${BENCHARGS:-}
  c1=$(awk '{print $14+$15}' /proc/$PID/stat); t1=$(date +%s.%N)
  echo "$(date -u +%H:%M:%S) load after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "RESULT events=$N serverCPU=$(echo "($c1-$c0)/100" | bc -l | cut -c1-7)s wall=$(echo "$t1-$t0" | bc -l | cut -c1-7)s cpu_per_event_us=$(echo "($c1-$c0)*10000/$N" | bc -l | cut -c1-6)"
  curl -s "http://127.0.0.1:$PORT/api/analytics/status"; echo
done
# Where the server's CPU went, by thread name (DuckDB's threads inherit the name of the .NET thread that made them).
for t in /proc/$PID/task/*; do
  s=$(cat "$t/stat" 2>/dev/null) || continue
  echo "$(echo "$s" | sed 's/^[0-9]* (\(.*\)) .*/\1/' | tr ' ' '_') $(echo "$s" | sed 's/^.*) //' | awk '{print $12+$13}')"
done | awk '{a[$1]+=$2} END {for (k in a) printf "%-20s %8.1f s\n", k, a[k]/100}' | sort -k2 -nr | head -6
