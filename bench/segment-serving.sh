#!/usr/bin/env bash
# Segment-serving benchmark: 1 MB segment files through Marquee's token-checked Delivery route
# (/api/playback/s/{token}/...) against the same files served by nginx (sendfile on), with the same wrk load.
#
#   bench/segment-serving.sh                 # 60 s runs
#   DURATION=20s bench/segment-serving.sh    # shorter runs
#
# Ingests ../shared/data/media/video/bbb-720p-5s.mp4 (CC BY 3.0, Blender Foundation; see ../shared/data/README.md),
# read directly, or from $MARQUEE_SHARED_DATA; exits 2 when it is absent. Everything else lives in a temp folder that
# is deleted at the end. Run as root (nginx and apt).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
data="${MARQUEE_SHARED_DATA:-$repo/../shared/data}"
clip="$data/media/video/bbb-720p-5s.mp4"
if [[ ! -f "$clip" ]]; then
    echo "segment-serving: $clip is absent: this benchmark needs the shared data folder (../shared/data, or set MARQUEE_SHARED_DATA)." >&2
    exit 2
fi

DURATION="${DURATION:-60s}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-64}"
FILES="${FILES:-64}"                       # number of 1 MB segment files

if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
    echo "segment-serving: installing wrk and nginx (apt)" >&2
    apt-get install -y wrk nginx-light >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk nginx-light >/dev/null; }
fi

dll="$repo/src/Marquee/bin/Release/net10.0/marquee.dll"
if [[ ! -f "$dll" || "${BUILD:-0}" == 1 ]]; then
    echo "Building Marquee (Release) ..."
    dotnet build "$repo/src/Marquee" -c Release --nologo -v quiet >/dev/null
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
tmp="$(mktemp -d /tmp/marquee-serving.XXXXXX)"
server_pid="" nginx_pid=""
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    [[ -n "$nginx_pid" ]] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

port="$(free_port)"
export Marquee__DataDir="$tmp/data"
export Marquee__PublicBaseUrl="http://127.0.0.1:$port"
export Logging__LogLevel__Default=Warning
mkdir -p "$Marquee__DataDir"

echo "Ingesting $(basename "$clip") into $Marquee__DataDir (marquee ingest --wait) ..."
title="$(dotnet "$dll" ingest "$clip" --title "Bench" --wait | tail -1)"
package="$(dirname "$(find "$Marquee__DataDir/media" -name master.m3u8 -not -path '*.staging*' | head -1)")"
variant="$(basename "$(dirname "$(find "$package" -mindepth 2 -name index.m3u8 | grep -v /audio/ | head -1)")")"
echo "Title $title, package $package, variant folder $variant"

# N files of 1 MB of random bytes, named like segments, in a variant folder of the published package. Delivery serves
# any .m4s under the package (it refuses only files of variants above a session's height limit, and this session has
# none), so the files need not be listed in a playlist.
for ((i = 0; i < FILES; i++)); do
    head -c 1048576 /dev/urandom >"$package/$variant/bench_$(printf '%05d' "$i").m4s"
done

url="$(dotnet "$dll" playback-url "$title" --ttl 2h | tail -1)"
base="${url%master.m3u8}"            # http://127.0.0.1:PORT/api/playback/s/TOKEN/
echo "Playback URL: $url"

dotnet "$dll" serve --urls "http://127.0.0.1:$port" --Logging:LogLevel:Default=Warning >"$tmp/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 120); do
    curl -sf -o /dev/null "${base}master.m3u8" && break
    sleep 0.5
done

nport="$(free_port)"
mkdir -p "$tmp/nginx/logs"
cat >"$tmp/nginx/nginx.conf" <<EOF
user root;
worker_processes auto;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    sendfile on;
    tcp_nopush on;
    access_log off;
    keepalive_requests 1000000;
    types { video/iso.segment m4s; }
    server {
        listen 127.0.0.1:$nport;
        location / { root $package; }
    }
}
EOF
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" &
nginx_pid=$!
sleep 1

# One wrk Lua script per server: each thread walks the segment list round-robin (thread offset so threads differ).
lua() { # $1 = path prefix
    {
        echo "local paths = {"
        for ((i = 0; i < FILES; i++)); do printf '  "%s%s/bench_%05d.m4s",\n' "$1" "$variant" "$i"; done
        echo "}"
        cat <<'EOF'
local n = #paths
local counter = 0
local offset = 0
local threads = 0
setup = function(thread) thread:set("offset", threads * 17); threads = threads + 1 end
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[((counter + offset) % n) + 1])
end
EOF
    } >"$2"
}
mpath="/${base#http://*/}"
lua "$mpath" "$tmp/marquee.lua"
lua "/" "$tmp/nginx.lua"

for target in marquee nginx; do
    if [[ $target == marquee ]]; then origin="http://127.0.0.1:$port"; first="$origin${mpath}$variant/bench_00000.m4s"
    else origin="http://127.0.0.1:$nport"; first="$origin/$variant/bench_00000.m4s"; fi
    code="$(curl -s -o "$tmp/check.bin" -w '%{http_code}' "$first")"
    if [[ $code != 200 ]] || ! cmp -s "$tmp/check.bin" "$package/$variant/bench_00000.m4s"; then
        echo "segment-serving: $target answered $code for $first (or other bytes); stopping." >&2
        exit 1
    fi
done

summary="$tmp/summary.tsv"
for target in marquee nginx; do
    if [[ $target == marquee ]]; then origin="http://127.0.0.1:$port"; else origin="http://127.0.0.1:$nport"; fi
    echo
    # Warm-up, not counted: the first seconds of a fresh .NET process are spent compiling (tiered JIT); nginx gets the same.
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP:-10s}" -s "$tmp/$target.lua" "$origin" >/dev/null
    echo "== $target: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency -s $target.lua $origin"
    echo "load before: $(uptime)"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$tmp/$target.lua" "$origin" | tee "$tmp/$target.out"
    echo "load after:  $(uptime)"
    awk -v t="$target" '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        function mb(v) { if (v ~ /GB$/) return v * 1024; if (v ~ /MB$/) return v + 0; if (v ~ /KB$/) return v / 1024; return v / 1048576 }
        /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
        /^Requests\/sec/ { rps = $2 } /^Transfer\/sec/ { tps = mb($2) }
        /Non-2xx/ { non2xx = $NF }
        /Socket errors/ { gsub(",", ""); sock = $4 + $6 + $8 + $10 }
        /requests in/ { reqs = $1 }
        END { printf "%s\t%s\t%.2f\t%.2f\t%.2f\t%.1f\t%d\t%d\n", t, reqs, rps, p50, p99, tps, non2xx, sock }' "$tmp/$target.out" >>"$summary"
done

echo
echo "server	requests	req/s	p50_ms	p99_ms	MB/s	non2xx	socket_errors"
cat "$summary"
awk -F'\t' '{ rps[$1] = $3; mbs[$1] = $6; err[$1] = $7 + $8 }
    END { printf "\nMarquee/nginx requests/s = %.2f, transfer = %.2f (target >= 0.9 with no errors); Marquee errors: %d\n", rps["marquee"] / rps["nginx"], mbs["marquee"] / mbs["nginx"], err["marquee"] }' "$summary"
if [[ -s "$tmp/serve.log" ]]; then
    echo "Marquee log (warnings and errors):"; tail -20 "$tmp/serve.log"
fi
