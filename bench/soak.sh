#!/usr/bin/env bash
# R26 soak under CPU and memory pressure (docs/reliability.md): token-checked segment requests at a modest load against
# the real `marquee serve` (web and worker roles), first on a quiet machine, then beside
# `stress-ng --cpu 2 --vm 1 --vm-bytes 4G`, while a transcode runs through the durable job queue. It reports, for each
# phase, requests, non-2xx answers, socket errors and latency (p50/p99), whether the transcode finished, and the
# server's memory. Pass: 0 errors in both phases, latency bounded (p99 under PRESSURE_P99_MS), the job Ready, the
# server alive.
#
#   bench/soak.sh                         # 60 s per phase
#   DURATION=30s bench/soak.sh
#
# Reads ../shared/data/media/video/bbb-720p-5s.mp4 and bbb-480p-30s.mp4 (CC BY 3.0, Blender Foundation; see
# ../shared/data/README.md), or $MARQUEE_SHARED_DATA; exits 2 when absent. Installs wrk and stress-ng (apt) if missing.
# Run it alone: anything else on the machine is measured too.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
data="${MARQUEE_SHARED_DATA:-$repo/../shared/data}"
clip="$data/media/video/bbb-720p-5s.mp4"
second="$data/media/video/bbb-480p-30s.mp4"
for f in "$clip" "$second"; do
    if [[ ! -f "$f" ]]; then
        echo "soak: $f is absent: this benchmark needs the shared data folder (../shared/data, or set MARQUEE_SHARED_DATA)." >&2
        exit 2
    fi
done

DURATION="${DURATION:-60s}"
CONNECTIONS="${CONNECTIONS:-8}"
FILES="${FILES:-32}"
PRESSURE_P99_MS="${PRESSURE_P99_MS:-2000}"
for tool in wrk stress-ng; do
    if ! command -v "$tool" >/dev/null; then
        echo "soak: installing $tool (apt)" >&2
        apt-get install -y "$tool" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "$tool" >/dev/null; }
    fi
done

dll="$repo/src/Marquee/bin/Release/net10.0/marquee.dll"
if [[ ! -f "$dll" || "${BUILD:-0}" == 1 ]]; then
    echo "Building Marquee (Release) ..."
    dotnet build "$repo/src/Marquee" -c Release --nologo -v quiet >/dev/null
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
tmp="$(mktemp -d /tmp/marquee-soak.XXXXXX)"
server_pid="" stress_pid=""
cleanup() {
    [[ -n "$stress_pid" ]] && kill "$stress_pid" 2>/dev/null || true
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

port="$(free_port)"
export Marquee__DataDir="$tmp/data"
export Marquee__PublicBaseUrl="http://127.0.0.1:$port"
export Logging__LogLevel__Default=Warning
mkdir -p "$Marquee__DataDir"

echo "Ingesting $(basename "$clip") (marquee ingest --wait) ..."
title="$(dotnet "$dll" ingest "$clip" --title "Soak" --wait | tail -1)"
package="$(dirname "$(find "$Marquee__DataDir/media" -name master.m3u8 -not -path '*.staging*' | head -1)")"
variant="$(basename "$(dirname "$(find "$package" -mindepth 2 -name index.m3u8 | grep -v /audio/ | head -1)")")"
for ((i = 0; i < FILES; i++)); do
    head -c 1048576 /dev/urandom >"$package/$variant/soak_$(printf '%05d' "$i").m4s"
done
url="$(dotnet "$dll" playback-url "$title" --ttl 2h | tail -1)"
base="${url%master.m3u8}"
mpath="/${base#http://*/}"

dotnet "$dll" serve --urls "http://127.0.0.1:$port" --Marquee:Roles=web,worker >"$tmp/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 240); do
    curl -sf -o /dev/null "${base}master.m3u8" && break
    sleep 0.5
done

{
    echo "local paths = {"
    for ((i = 0; i < FILES; i++)); do printf '  "%s%s/soak_%05d.m4s",\n' "$mpath" "$variant" "$i"; done
    echo "}"
    cat <<'EOF'
local n = #paths
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % n) + 1])
end
EOF
} >"$tmp/soak.lua"

origin="http://127.0.0.1:$port"
rss() { awk '/VmRSS/ { printf "%d MiB", $2 / 1024 }' "/proc/$server_pid/status" 2>/dev/null || echo "gone"; }
phase() { # name
    echo
    echo "== $1: wrk -t2 -c$CONNECTIONS -d$DURATION --latency (load before: $(cut -d' ' -f1-3 /proc/loadavg), server RSS $(rss))"
    wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$tmp/soak.lua" "$origin" >"$tmp/$1.out"
    awk -v t="$1" -v rss="$(rss)" '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
        /^Requests\/sec/ { rps = $2 }
        /Non-2xx/ { non2xx = $NF }
        /Socket errors/ { gsub(",", ""); sock = $4 + $6 + $8 + $10 }
        /requests in/ { reqs = $1 }
        END { printf "%s\t%s\t%.1f\t%.2f\t%.2f\t%d\t%d\t%s\n", t, reqs, rps, p50, p99, non2xx, sock, rss }' "$tmp/$1.out" | tee -a "$tmp/summary.tsv"
}

wrk -t2 -c"$CONNECTIONS" -d10s -s "$tmp/soak.lua" "$origin" >/dev/null # warm-up (tiered JIT), not counted
phase quiet

# Pressure: two CPU hogs and 4 GiB of memory churn, while a second source is uploaded and transcoded by the server's
# worker (the durable queue) and the same load goes on.
stress-ng --cpu 2 --vm 1 --vm-bytes 4G --timeout "$(( ${DURATION%s} + 30 ))s" --quiet &
stress_pid=$!
sleep 2
job_start=$SECONDS
dotnet "$dll" ingest "$second" --title "Soak under pressure" >"$tmp/ingest.out" 2>&1
pressured_title="$(tail -1 "$tmp/ingest.out")"
phase pressure
state=""
for _ in $(seq 1 600); do
    state="$(curl -s "$origin/health/ready" -o /dev/null -w '%{http_code}')"
    ready="$(find "$Marquee__DataDir/media" -name master.m3u8 -not -path '*.staging*' | wc -l)"
    [[ $ready -ge 2 ]] && break
    sleep 1
done
job_seconds=$((SECONDS - job_start))
wait "$stress_pid" 2>/dev/null || true
stress_pid=""

echo
echo "phase	requests	req/s	p50_ms	p99_ms	non2xx	socket_errors	server_rss"
cat "$tmp/summary.tsv"
alive=yes; kill -0 "$server_pid" 2>/dev/null || alive=no
echo "transcode under pressure: title $pressured_title, $( [[ $ready -ge 2 ]] && echo "published after ${job_seconds} s" || echo "NOT published after ${job_seconds} s"); /health/ready $state; server alive: $alive"
ooms="$(grep -ci "out of memory\|OutOfMemory" "$tmp/serve.log" || true)"
echo "server log: $(grep -c . "$tmp/serve.log" || true) lines, $ooms out-of-memory mentions"
awk -F'\t' -v limit="$PRESSURE_P99_MS" -v ready="$ready" -v alive="$alive" '
    { err += $6 + $7; if ($1 == "pressure") p99 = $5 }
    END {
        ok = err == 0 && p99 <= limit && ready >= 2 && alive == "yes"
        printf "R26: %s (errors %d, p99 under pressure %.0f ms, limit %d ms)\n", ok ? "PASS" : "FAIL", err, p99, limit
        exit ok ? 0 : 1
    }' "$tmp/summary.tsv"
