#!/usr/bin/env bash
# Identity timing benchmark (R19, issue 5): do sign-in and password reset take the same time for a known and an
# unknown e-mail? N requests of each, interleaved (known, unknown, known, ...) so that drift hits both alike; prints
# the median and p95 of each in milliseconds (curl's time_total, one request per connection).
#
#   bench/identity-timing.sh              # N=90 each (sign-in is capped at 90: the known account must not lock out)
#   N=50 bench/identity-timing.sh
#   CONFIGURATION=Release bench/identity-timing.sh   # default Debug (the build the tests use)
#
# Sign-in: a wrong password for both (what an attacker probing for accounts sends); lockout is raised to 100 attempts
# for the run so that the known account stays unlocked. Reset: POST /api/identity/password/reset (the known e-mail
# gets a mail in the pickup folder). Everything lives in a temp folder deleted at the end.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
N="${N:-90}"
if (( N > 90 )); then echo "identity-timing: N is at most 90 (lockout)" >&2; exit 2; fi
CONFIGURATION="${CONFIGURATION:-Debug}"
dll="$repo/src/Marquee/bin/$CONFIGURATION/net10.0/marquee.dll"
if [[ ! -f "$dll" || "${BUILD:-0}" == 1 ]]; then
    echo "Building Marquee ($CONFIGURATION) ..."
    dotnet build "$repo/src/Marquee" -c "$CONFIGURATION" --nologo -v quiet >/dev/null
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
tmp="$(mktemp -d /tmp/marquee-idtiming.XXXXXX)"
server_pid=""
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

port="$(free_port)"
base="http://127.0.0.1:$port"
export Marquee__DataDir="$tmp/data"
export Logging__LogLevel__Default=Warning
export Marquee__Identity__RequestsPerMinutePerIp=100000
export Marquee__Identity__LockoutAttempts=100
mkdir -p "$Marquee__DataDir"

known="known-$RANDOM@bench.test"
password="$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
echo "$password" | dotnet "$dll" admin create --email "$known" --password-stdin >/dev/null
dotnet "$dll" serve --urls "$base" >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 120); do curl -fs "$base/health/ready" >/dev/null 2>&1 && break; sleep 0.5; done

time_post() { # path json -> seconds
    curl -s -o /dev/null -w '%{time_total}\n' -X POST -H 'Content-Type: application/json' --data "$2" "$base$1"
}

# Warm-up (JIT, connection pools, the hasher) with neither e-mail of the run.
for i in $(seq 1 10); do
    time_post /api/identity/signin "{\"email\":\"warm-$i@bench.test\",\"password\":\"wrong-password-123\"}" >/dev/null
    time_post /api/identity/password/reset "{\"email\":\"warm-$i@bench.test\"}" >/dev/null
done

: >"$tmp/signin-known"; : >"$tmp/signin-unknown"; : >"$tmp/reset-known"; : >"$tmp/reset-unknown"
for i in $(seq 1 "$N"); do
    unknown="nobody-$i-$RANDOM@bench.test"
    time_post /api/identity/signin "{\"email\":\"$known\",\"password\":\"wrong-password-$i\"}" >>"$tmp/signin-known"
    time_post /api/identity/signin "{\"email\":\"$unknown\",\"password\":\"wrong-password-$i\"}" >>"$tmp/signin-unknown"
    time_post /api/identity/password/reset "{\"email\":\"$known\"}" >>"$tmp/reset-known"
    time_post /api/identity/password/reset "{\"email\":\"$unknown\"}" >>"$tmp/reset-unknown"
done

python3 - "$tmp" "$N" <<'PY'
import statistics, sys
tmp, n = sys.argv[1], sys.argv[2]
def stats(name):
    xs = sorted(float(x) * 1000 for x in open(f"{tmp}/{name}") if x.strip())
    p95 = xs[min(len(xs) - 1, int(round(0.95 * len(xs))) - 1)]
    return statistics.median(xs), p95, len(xs)
print(f"N={n} each, milliseconds")
print(f"{'request':<22}{'median':>10}{'p95':>10}")
for what in ("signin", "reset"):
    for who in ("known", "unknown"):
        m, p, c = stats(f"{what}-{who}")
        print(f"{what + ' ' + who:<22}{m:>10.1f}{p:>10.1f}")
PY
mails=$(find "$Marquee__DataDir/mail" -name '*.eml' 2>/dev/null | wc -l)
echo "mails written (known e-mail resets): $mails"
