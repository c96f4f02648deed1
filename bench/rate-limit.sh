#!/usr/bin/env bash
# R20 rate limiting beside legitimate traffic (docs/reliability.md): `hey -z 10s -c 50` floods POST /api/identity/signin
# from 127.0.0.1 (wrong passwords for an e-mail without an account) against the real `marquee serve`, while a
# legitimate client signs in with the right password from another address (curl --interface 127.0.0.2) every 4 s
# and reads its account every 0.2 s.
# Prints hey's figures (requests, status codes, rate, latency) and the legitimate client's requests and errors.
# Pass: the flood is answered 429 past the limit (Marquee:Identity:RequestsPerMinutePerIp, default 20), and the
# legitimate client gets 0 errors.
#
#   bench/rate-limit.sh                      # 10 s, 50 connections
#   DURATION=30s CONNECTIONS=100 bench/rate-limit.sh
#   CONFIGURATION=Release bench/rate-limit.sh   # default Debug (the build the tests use)
#
# Installs hey (apt) if missing. Everything lives in a temp folder deleted at the end. Not part of CI: the same
# property is checked in the suite by RateLimitTrafficTests (a .NET flood instead of hey).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-50}"
CONFIGURATION="${CONFIGURATION:-Debug}"
if ! command -v hey >/dev/null; then
    echo "rate-limit: installing hey (apt)" >&2
    apt-get install -y hey >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y hey >/dev/null; }
fi
dll="$repo/src/Marquee/bin/$CONFIGURATION/net10.0/marquee.dll"
if [[ ! -f "$dll" || "${BUILD:-0}" == 1 ]]; then
    echo "Building Marquee ($CONFIGURATION) ..."
    dotnet build "$repo/src/Marquee" -c "$CONFIGURATION" --nologo -v quiet >/dev/null
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
tmp="$(mktemp -d /tmp/marquee-ratelimit.XXXXXX)"
server_pid="" legit_pid=""
cleanup() {
    [[ -n "$legit_pid" ]] && kill "$legit_pid" 2>/dev/null || true
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

port="$(free_port)"
base="http://127.0.0.1:$port"
export Marquee__DataDir="$tmp/data"
export Logging__LogLevel__Default=Warning
mkdir -p "$Marquee__DataDir"

legit="legit-$RANDOM@bench.test"
password="$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
echo "$password" | dotnet "$dll" admin create --email "$legit" --password-stdin >/dev/null
dotnet "$dll" serve --urls "$base" >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 120); do curl -fs "$base/health/ready" >/dev/null 2>&1 && break; sleep 0.5; done

# The legitimate client, from 127.0.0.2 until told to stop: a sign-in every 4 s (15 a minute, under the limit of 20),
# and between them its account read with the session cookie every 0.2 s; one status code per line.
: >"$tmp/legit"
(
    n=0 cookie=""
    while [[ ! -f "$tmp/stop" ]]; do
        if (( n % 20 == 0 )); then
            headers="$(curl -s --interface 127.0.0.2 -D - -o /dev/null -X POST -H 'Content-Type: application/json' \
                -H 'Cookie: __Host-marquee-device=bench' --data "{\"email\":\"$legit\",\"password\":\"$password\"}" \
                "$base/api/identity/signin" | tr -d '\r' || true)"
            echo "signin $(awk 'NR == 1 { print $2 }' <<<"$headers")" >>"$tmp/legit"
            cookie="$(awk -F': ' 'tolower($1) == "set-cookie" && $2 ~ /^__Host-marquee=/ { split($2, a, ";"); print a[1] }' <<<"$headers")"
        else
            echo "me $(curl -s --interface 127.0.0.2 -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "$base/api/identity/me" || echo 000)" >>"$tmp/legit"
        fi
        n=$((n + 1))
        sleep 0.2
    done
) &
legit_pid=$!
# Warm-up: the legitimate client is under way (JIT, the first password hash) before the flood starts.
for _ in $(seq 1 120); do [[ "$(grep -c . "$tmp/legit" || true)" -ge 3 ]] && break; sleep 0.5; done

echo "== hey -z $DURATION -c $CONNECTIONS POST /api/identity/signin from 127.0.0.1 (load before: $(cut -d' ' -f1-3 /proc/loadavg))"
hey -z "$DURATION" -c "$CONNECTIONS" -m POST -T application/json \
    -d '{"email":"nobody@bench.test","password":"not the password at all"}' "$base/api/identity/signin" >"$tmp/hey.out"
touch "$tmp/stop"
wait "$legit_pid" 2>/dev/null || true
legit_pid=""

grep -E "Total:|Requests/sec|Average:|Slowest:|Fastest:" "$tmp/hey.out" | sed 's/^ */  /'
sed -n '/Status code distribution/,/^$/p' "$tmp/hey.out" | sed 's/^ */  /'
sed -n '/Error distribution/,/^$/p' "$tmp/hey.out" | sed 's/^ */  /'
retry="$(curl -s -D - -o /dev/null -X POST -H 'Content-Type: application/json' --data '{"email":"nobody@bench.test","password":"x"}' "$base/api/identity/signin" | tr -d '\r' | awk -F': ' 'tolower($1) == "retry-after" { print $2 }')"
echo "  a flood request now: Retry-After ${retry:-absent}"
total="$(grep -c . "$tmp/legit" || true)"
ok="$(grep -cE '^(signin 204|me 200)$' "$tmp/legit" || true)"
echo "== legitimate client from 127.0.0.2: $total requests ($(grep -c '^signin' "$tmp/legit" || true) sign-ins), $((total - ok)) errors ($(sort "$tmp/legit" | uniq -c | tr '\n' ' '))"
if [[ "$total" -gt 0 && "$ok" -eq "$total" ]] && grep -q '\[429\]' "$tmp/hey.out"; then
    echo "PASS"
else
    echo "FAIL"
    exit 1
fi
