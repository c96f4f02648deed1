#!/usr/bin/env bash
# R31 error handling and info leaks (docs/reliability.md): smoke crawlers against a real `marquee serve` (Production).
#   1. wapiti -m xss,exec,file,ssrf,redirect (JSON report) over the public pages and API start points, anonymous;
#   2. the same signed in as an admin (session cookie);
#   3. the same signed in as a viewer (an account signed up through the API like a person, its code read from the mail
#      pickup folder; the sign-up risk check's hold is set to 0 for it);
#   4. sqlmap --batch on the query parameters of endpoints that return content: catalogue search and listing
#      (anonymous), the audit log and the media library (admin), search and a genre's titles (viewer: its profile's
#      visibility rules apply).
# wapiti runs through a small wrapper: 3.0.4's -x (exclusions) builds its pattern with the regex flags last, which
# Python 3.11 refuses ("global flags not at the start"); the wrapper builds the same pattern with the flags first. The
# signed-in crawls exclude the sign-out endpoints (otherwise the crawler posts the header's sign-out form while exploring,
# and the rest of the crawl runs signed out).
# Each tool is bounded (SCAN_SECONDS, default 150 s per wapiti run, each module at most a third of it; SQLMAP_SECONDS,
# default 120 s per sqlmap URL); each wapiti run prints the bounds it reached ("Max ... time was reached") or says that
# every module ran to its end. wapiti's own bounds are soft: --max-scan-time bounds the crawl (exploration) only, and
# --max-attack-time is checked between attacked resources, so a module attacking a page with many parameters runs on;
# the hard bound is `timeout` at SCAN_SECONDS + 60 s (a run killed by it writes no report: "wapiti exit 124").
# Prints: requests the server answered (from its request log) per phase and by status, wapiti findings per module
# (vulnerabilities and anomalies), sqlmap's verdict per URL, every 500, every unhandled exception in the server log,
# and every captured response (sqlmap's full traffic) that holds a stack trace, database error text or a server path.
# Exits 1 on any of those.
#
#   bench/web-scan.sh
#   SCAN_SECONDS=60 bench/web-scan.sh
#   CONFIGURATION=Release bench/web-scan.sh   # default Debug (the build the tests use)
#   CRAWLS=admin SQLMAP=0 SCAN_SECONDS=3000 bench/web-scan.sh   # one crawl only (of anonymous, admin, viewer), no sqlmap
#
# Installs wapiti and sqlmap (apt) if missing. Everything lives in a temp folder deleted at the end (KEEP=1 keeps it).
# Not part of CI.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
SCAN_SECONDS="${SCAN_SECONDS:-150}"
SQLMAP_SECONDS="${SQLMAP_SECONDS:-120}"
CRAWLS="${CRAWLS:-anonymous admin viewer}"
SQLMAP="${SQLMAP:-1}"
CONFIGURATION="${CONFIGURATION:-Debug}"
for tool in wapiti sqlmap; do
    if ! command -v "$tool" >/dev/null; then
        echo "web-scan: installing $tool (apt)" >&2
        apt-get install -y -qq --no-install-recommends "$tool" >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "$tool" >/dev/null; }
    fi
done
dll="$repo/src/Marquee/bin/$CONFIGURATION/net10.0/marquee.dll"
if [[ ! -f "$dll" || "${BUILD:-0}" == 1 ]]; then
    echo "Building Marquee ($CONFIGURATION) ..."
    dotnet build "$repo/src/Marquee" -c "$CONFIGURATION" --nologo -v quiet >/dev/null
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
tmp="$(mktemp -d /tmp/marquee-webscan.XXXXXX)"
server_pid=""
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    if [[ "${KEEP:-0}" == 1 ]]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

port="$(free_port)"
base="http://127.0.0.1:$port"
export Marquee__DataDir="$tmp/data"
export ASPNETCORE_ENVIRONMENT=Production DOTNET_ENVIRONMENT=Production
export Logging__LogLevel__Default=Warning
# A held sign-up's code works at once (the viewer below signs up without the page's form token, which the risk check holds).
export Marquee__Identity__Risk__ChallengeDelay=00:00:00
# One line per answered request ("Request finished ... - 200 ..."): the request count and every status.
export Logging__Console__FormatterName=simple Logging__Console__FormatterOptions__SingleLine=true
mkdir -p "$Marquee__DataDir"
started=$(date +%s)

admin="admin-$RANDOM@bench.test"
password="$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
echo "$password" | dotnet "$dll" admin create --email "$admin" --password-stdin >/dev/null
env Logging__LogLevel__Microsoft.AspNetCore.Hosting.Diagnostics=Information dotnet "$dll" serve --urls "$base" >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 120); do curl -fs "$base/health/ready" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fs "$base/health/ready" >/dev/null || { echo "server did not start"; tail -20 "$tmp/server.log"; exit 2; }

headers="$(curl -s -D - -o /dev/null -X POST -H 'Content-Type: application/json' -H 'Cookie: __Host-marquee-device=bench' \
    --data "{\"email\":\"$admin\",\"password\":\"$password\"}" "$base/api/identity/signin" | tr -d '\r')"
cookie="$(awk -F': ' 'tolower($1) == "set-cookie" && $2 ~ /^__Host-marquee=/ { split($2, a, ";"); print a[1] }' <<<"$headers")"
[[ -n "$cookie" ]] || { echo "admin sign-in failed"; echo "$headers"; exit 2; }
cookie="$cookie; __Host-marquee-device=bench"

# A viewer, signed up like a person: the code comes from the mail pickup folder.
viewer="viewer-$RANDOM@bench.test"
vpassword="$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
curl -fs -o /dev/null -X POST -H 'Content-Type: application/json' \
    --data "{\"email\":\"$viewer\",\"password\":\"$vpassword\",\"acceptTerms\":true,\"acceptPrivacy\":true}" "$base/api/identity/signup" ||
    { echo "viewer sign-up refused"; exit 2; }
code=""
for _ in $(seq 1 40); do
    mail="$(grep -lF "$viewer" "$Marquee__DataDir"/mail/*.eml 2>/dev/null | head -1 || true)"
    [[ -n "$mail" ]] && code="$(grep -aoE '\b[0-9]{6}\b' "$mail" | head -1)" && break
    sleep 0.5
done
[[ -n "$code" ]] || { echo "no sign-up code for the viewer in the mail folder"; exit 2; }
vheaders="$(curl -s -D - -o /dev/null -X POST -H 'Content-Type: application/json' -H 'Cookie: __Host-marquee-device=bench-viewer' \
    --data "{\"email\":\"$viewer\",\"code\":\"$code\"}" "$base/api/identity/signup/verify" | tr -d '\r')"
vcookie="$(awk -F': ' 'tolower($1) == "set-cookie" && $2 ~ /^__Host-marquee=/ { split($2, a, ";"); print a[1] }' <<<"$vheaders")"
[[ -n "$vcookie" ]] || { echo "viewer sign-up verification failed"; echo "$vheaders"; exit 2; }
vcookie="$vcookie; __Host-marquee-device=bench-viewer"
# The pages' antiforgery cookie (__Host-marquee-af, Secure: wapiti's cookie jar would not send it back over http), fetched
# once and sent with the session: the forms the crawler finds then carry tokens that match it, so its form attacks
# reach the handlers instead of ending at the antiforgery check (400).
antiforgery() { # cookie header -> the same with the antiforgery cookie
    local af
    af="$(curl -s -D - -o /dev/null -H "Cookie: $1" "$base/account" | tr -d '\r' |
        awk -F': ' 'tolower($1) == "set-cookie" && $2 ~ /^__Host-marquee-af=/ { split($2, a, ";"); print a[1] }')"
    if [[ -n "$af" ]]; then echo "$1; $af"; else echo "$1"; fi
}
vcookie="$(antiforgery "$vcookie")"
cookie="$(antiforgery "$cookie")" # the admin's form attacks too (its sqlmap sends only the query parameters)
# It is a viewer: its own account answers, the audit log (admins) does not.
[[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $vcookie" "$base/api/identity/me")" == 200 ]] || { echo "viewer session not accepted"; exit 2; }
[[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $vcookie" "$base/api/compliance/audit")" == 403 ]] || { echo "viewer session is not a viewer's"; exit 2; }

# A little content so the listings and the search have something to return.
for t in "Sintel:Film" "Big Buck Bunny:Film" "Tears of Steel:Film" "Test Tone:Track"; do
    curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -H "Cookie: $cookie" \
        --data "{\"name\":\"${t%%:*}\",\"kind\":\"${t##*:}\",\"synopsis\":\"A demo title\",\"collection\":\"Demo\",\"number\":1}" \
        "$base/api/catalog/titles"
done

requests() { grep -ac 'Request finished' "$tmp/server.log" || true; }
# "Request finished HTTP/1.1 GET http://... - 200 55645 text/html 3.1ms" (or "- 400 - text/html ..." without a length):
# the status is the field after the URL's " - ".
finished_status() { sed -nE 's/.*Request finished [^ ]+ [^ ]+ [^ ]+ - ([0-9]{3}) .*/\1/p'; }
phase() { # name, count before
    local after; after=$(requests)
    echo "   server answered $((after - $2)) requests; by status: $({ grep -a 'Request finished' "$tmp/server.log" || true; } | tail -n +$(($2 + 1)) |
        finished_status | sort | uniq -c | awk '{printf "%s×%s ", $1, $2}')"
}

wapiti_py="$tmp/wapiti-x.py"
wapiti_python="$(head -1 "$(command -v wapiti)" | sed 's/^#! *//')" # the interpreter wapiti is installed for
cat >"$wapiti_py" <<'EOF'
import re, sys
from importlib.metadata import distribution
import wapitiCore.net.crawler as crawler

def wildcard_translate(pattern):  # as wapiti 3.0.4's, with the flags at the start
    return re.compile("(?ms)" + "".join(".*" if c == "*" else re.escape(c) for c in pattern) + r"\Z")

crawler.wildcard_translate = wildcard_translate
main = next(e for e in distribution("wapiti3").entry_points if e.group == "console_scripts" and e.name == "wapiti").load()
sys.argv[0] = "wapiti"
sys.exit(main())
EOF
signed_in=(-x "$base/signout" -x "$base/signout?*" -x "$base/api/identity/signout")
starts=(-s "$base/api/catalog/titles?kind=Film&skip=0&take=5" -s "$base/api/catalog/titles?collection=Demo"
    -s "$base/api/catalog/search?q=sintel&take=5" -s "$base/api/catalog/genres" -s "$base/signin" -s "$base/browse")
wapiti_run() { # name, extra args...
    local name="$1"; shift
    [[ " $CRAWLS " == *" $name "* ]] || { echo "== wapiti ($name): skipped (CRAWLS=$CRAWLS)"; return 0; }
    local before; before=$(requests)
    local t0; t0=$(date +%s)
    local rc=0
    echo "== wapiti ($name), at most ${SCAN_SECONDS}s"
    timeout -k 10 $((SCAN_SECONDS + 60)) $wapiti_python "$wapiti_py" -u "$base/" --scope folder "${starts[@]}" -m xss,exec,file,ssrf,redirect --flush-session -d 4 \
        --max-scan-time "$SCAN_SECONDS" --max-attack-time $((SCAN_SECONDS / 3)) -t 10 \
        -f json -o "$tmp/wapiti-$name.json" --store-session "$tmp/wapiti-session-$name" "$@" \
        >"$tmp/wapiti-$name.log" 2>&1 || { rc=$?; echo "   wapiti exit $rc (see its log: $(tail -1 "$tmp/wapiti-$name.log"))"; }
    phase "$name" "$before"
    echo "   $(grep -aoE 'Wapiti found [0-9]+ URLs and forms' "$tmp/wapiti-$name.log" || echo 'crawl count not reported'); modules run: $(grep -aoE 'Launching module [a-z]+' "$tmp/wapiti-$name.log" | awk '{print $3}' | tr '\n' ' ')"
    echo "   bounds reached: $({ grep -aE 'was reached' "$tmp/wapiti-$name.log" || true; } | sed 's/, stopping\.//' | tr '\n' ';' | sed 's/;$//')"
    if ((rc == 124 || rc == 137 || rc == 143)); then
        echo "   (killed (at the hard bound of $((SCAN_SECONDS + 60)) s, or by hand): the module running then did not finish, no report)"
    elif [[ -z "$(grep -a 'was reached' "$tmp/wapiti-$name.log" || true)" ]]; then
        echo "   (none: every module ran to its end)"
    fi
    # The account page's form posts (the signed-in crawls): 200 is the page answering signed in, 302 the sign-in redirect.
    echo "   POST /account answers by status: $({ grep -a 'Request finished' "$tmp/server.log" || true; } | tail -n +$((before + 1)) |
        grep -aE 'Request finished [^ ]+ POST [^ ]+/account - ' | finished_status | sort | uniq -c | awk '{printf "%s×%s ", $1, $2}')"
    echo "   took $(( $(date +%s) - t0 )) s"
    [[ -f "$tmp/wapiti-$name.json" ]] && python3 - "$tmp/wapiti-$name.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
for section in ("vulnerabilities", "anomalies"):
    found = {k: len(v) for k, v in r.get(section, {}).items() if v}
    print(f"   {section}: {sum(found.values())}" + (f" {found}" if found else ""))
    for k, v in r.get(section, {}).items():
        for f in v:
            print(f"     {k}: {f.get('method')} {f.get('path')} {f.get('parameter')} -- {f.get('info')}")
EOF
    return 0
}
wapiti_run anonymous
wapiti_run admin -H "Cookie: $cookie" "${signed_in[@]}"
wapiti_run viewer -H "Cookie: $vcookie" "${signed_in[@]}"
if [[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $vcookie" "$base/api/identity/me")" == 200 ]]; then
    echo "   viewer session still signed in after its crawl"
else # its crawl signed it out (the sign-out form) or changed its password: a new session for sqlmap
    echo "   viewer session signed out by its crawl; signing in again for sqlmap"
    vheaders="$(curl -s -D - -o /dev/null -X POST -H 'Content-Type: application/json' -H 'Cookie: __Host-marquee-device=bench-viewer' \
        --data "{\"email\":\"$viewer\",\"password\":\"$vpassword\"}" "$base/api/identity/signin" | tr -d '\r')"
    vcookie="$(awk -F': ' 'tolower($1) == "set-cookie" && $2 ~ /^__Host-marquee=/ { split($2, a, ";"); print a[1] }' <<<"$vheaders"); __Host-marquee-device=bench-viewer"
fi

echo "== sqlmap --batch, at most ${SQLMAP_SECONDS}s per URL"
sql_urls=("anon|$base/api/catalog/search?q=sintel&take=5" "anon|$base/api/catalog/titles?kind=Film&skip=0&take=5"
    "anon|$base/api/catalog/titles?collection=Demo" "admin|$base/api/compliance/audit?action=catalog&actor=x&take=5"
    "admin|$base/api/media/library?q=x&kind=Source&tag=t&codec=h264&resolution=480p&status=Ready&take=5"
    "viewer|$base/api/catalog/search?q=sintel&take=5" "viewer|$base/api/catalog/genres/film?skip=0&take=5")
sql_findings=0
[[ "$SQLMAP" == 1 ]] || { sql_urls=(); echo "   skipped (SQLMAP=$SQLMAP)"; }
for entry in "${sql_urls[@]}"; do
    who="${entry%%|*}" url="${entry#*|}"
    before=$(requests); t0=$(date +%s)
    args=(-u "$url" --batch --disable-coloring --flush-session --output-dir "$tmp/sqlmap" -t "$tmp/sqlmap-traffic.txt"
        --level 2 --risk 1 --threads 2 --timeout 10 --retries 1)
    # Only the query parameters (level 2 would also inject into the session cookie and sign the admin out).
    params="$(python3 -c 'import sys, urllib.parse as u; print(",".join(u.parse_qs(u.urlsplit(sys.argv[1]).query)))' "$url")"
    args+=(-p "$params")
    [[ "$who" == admin ]] && args+=(--cookie "$cookie")
    [[ "$who" == viewer ]] && args+=(--cookie "$vcookie")
    out="$(timeout -k 10 "$SQLMAP_SECONDS" sqlmap "${args[@]}" 2>&1 || true)"
    verdict="$(grep -E "is vulnerable|appears to be .*injectable|do not appear to be injectable|might be injectable" <<<"$out" | sed 's/^\[[^]]*\] //' | sort -u | tr '\n' ';' || true)"
    [[ -z "$verdict" ]] && verdict="(no verdict: $(grep -E 'CRITICAL|ERROR' <<<"$out" | tail -1 || echo 'stopped at the time limit'))"
    echo "   [$who] ${url#$base} -> $((`requests` - before)) requests, $(( $(date +%s) - t0 )) s: $verdict"
    if grep -qE "is vulnerable|appears to be .*injectable" <<<"$out"; then sql_findings=$((sql_findings + 1)); fi
done

echo "== server and responses"
total=$(requests)
echo "   requests answered in all: $total; by status: $(finished_status <"$tmp/server.log" | sort | uniq -c | awk '{printf "%s×%s ", $1, $2}')"
# (Before 2026-11-27 this matched only " - 5xx - ", answers without a Content-Length: a 5xx with a length was not counted.)
fives=$(finished_status <"$tmp/server.log" | grep -c '^5' || true)
echo "   5xx answers: $fives"
{ grep -aE 'Request finished [^ ]+ [^ ]+ [^ ]+ - 5[0-9]{2} ' "$tmp/server.log" || true; } | head -20 | sed 's/^/     /'
unhandled=$(grep -aciE 'unhandled exception|fail: ' "$tmp/server.log" || true)
echo "   errors in the server log (fail: / unhandled): $unhandled"
{ grep -aiE 'unhandled exception|fail: ' "$tmp/server.log" || true; } | cut -c1-300 | sort | uniq -c | sort -rn | head -10 | sed 's/^/     /'
leaks=$(python3 - "$tmp/sqlmap-traffic.txt" "$tmp" <<'EOF'
import re, sys
leak = re.compile(r"(\bat [A-Z][\w.`]+\.[\w<>`]+\(|\.cs:line \d+|SqliteException|SQLite Error|Npgsql|PostgresException|"
                  r"SQL logic error|no such (table|column)|syntax error at or near|System\.[\w.]+Exception|"
                  r"/home/|/root/|/work/|/tmp/|/usr/share/dotnet|/src/Marquee)")
try:
    text = open(sys.argv[1], errors="replace").read()
except FileNotFoundError:
    text = ""
n = 0
# sqlmap's traffic file: "HTTP request [#n]:" blocks then "HTTP response [#n] (code) ..." blocks.
for block in re.split(r"\n(?=HTTP (?:request|response) \[#)", text):
    if not block.startswith("HTTP response"):
        continue
    m = leak.search(block)
    if m:
        n += 1
        if n <= 10:
            print("     " + block.splitlines()[0] + " :: ..." + block[max(0, m.start() - 80):m.end() + 80].replace("\n", " ") + "...", file=sys.stderr)
print(n)
EOF
)
echo "   captured responses: $(grep -c '^HTTP response' "$tmp/sqlmap-traffic.txt" 2>/dev/null || echo 0) (sqlmap traffic), with a stack trace, database error text or a server path: $leaks"

shopt -s nullglob
wfindings=$(python3 - "$tmp"/wapiti-*.json <<'EOF'
import json, sys
n = 0
for p in sys.argv[1:]:
    r = json.load(open(p))
    n += sum(len(v) for s in ("vulnerabilities", "anomalies") for v in r.get(s, {}).values())
print(n)
EOF
)
echo "== summary: $total requests in $(( $(date +%s) - started )) s; wapiti findings $wfindings; sqlmap injectable URLs $sql_findings; 5xx $fives; log errors $unhandled; leaking responses $leaks"
if (( wfindings + sql_findings + fives + unhandled + leaks > 0 )); then exit 1; fi
echo "web-scan: clean"
