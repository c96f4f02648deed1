#!/usr/bin/env bash
# R21 (docs/reliability.md): testssl.sh against Marquee's own TLS listener. Starts `marquee serve` with Kestrel on
# https://127.0.0.1:<free port> and a throwaway self-signed certificate (PEM, made with openssl), runs testssl.sh
# (apt testssl.sh) over it and checks what R21 asks: no SSLv2/SSLv3/TLS 1.0/TLS 1.1, TLS 1.2 and 1.3 offered, no
# NULL/export/RC4/3DES/anonymous ciphers, HSTS with max-age >= 31536000 and includeSubDomains, no Server banner, no
# finding rated HIGH or CRITICAL. The certificate findings (self-signed, no OCSP/CT/CAA) are expected of a test
# certificate and not counted. Takes 1-3 minutes (outside CI).
#
#   bench/testssl.sh                 # the Debug build of this worktree (dotnet build first), or
#   DLL=path/to/marquee.dll bench/testssl.sh
#
# Prints the summary and leaves the full JSON in $OUT (default /tmp/marquee-testssl.json). Exit 0 when every check holds.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
dll="${DLL:-$repo/src/Marquee/bin/Debug/net10.0/marquee.dll}"
out="${OUT:-/tmp/marquee-testssl.json}"
if [[ ! -f "$dll" ]]; then
    echo "testssl: $dll is missing: dotnet build Marquee.slnx first (or set DLL)." >&2
    exit 2
fi
if ! command -v testssl.sh >/dev/null && ! command -v testssl >/dev/null; then
    echo "testssl: installing testssl.sh (apt)" >&2
    apt-get install -y testssl.sh >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y testssl.sh >/dev/null; }
fi
testssl="$(command -v testssl.sh || command -v testssl)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
tmp="$(mktemp -d /tmp/marquee-testssl.XXXXXX)"
server_pid=""
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
port="$(free_port)"
mkdir -p "$tmp/data"
Marquee__DataDir="$tmp/data" Logging__LogLevel__Default=Warning \
Kestrel__Endpoints__Https__Url="https://127.0.0.1:$port" \
Kestrel__Endpoints__Https__Certificate__Path="$tmp/cert.pem" \
Kestrel__Endpoints__Https__Certificate__KeyPath="$tmp/key.pem" \
    dotnet "$dll" serve >"$tmp/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 240); do
    curl -skf -o /dev/null "https://127.0.0.1:$port/health/ready" && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; exit 1; }
    sleep 0.5
done

echo "testssl.sh $("$testssl" --version 2>/dev/null | grep -m1 -o 'testssl.sh *[0-9.a-z-]*' || true) against https://127.0.0.1:$port ..."
start=$SECONDS
rm -f "$out"
# -p protocols, -s cipher categories, -f forward secrecy, -h headers, -U vulnerabilities, -S server defaults (certificate).
"$testssl" --quiet --color 0 --warnings off --sneaky -p -s -f -h -U -S --jsonfile "$out" "https://127.0.0.1:$port" >"$tmp/testssl.txt" 2>&1 || true
echo "took $((SECONDS - start)) s"

python3 - "$out" <<'EOF'
import json, sys
findings = json.load(open(sys.argv[1]))
by_id = {f["id"]: f for f in findings}
def finding(i): return by_id.get(i, {}).get("finding", "(absent)")
failures = []
for proto in ["SSLv2", "SSLv3", "TLS1", "TLS1_1"]:
    if not finding(proto).startswith("not offered"):
        failures.append(f"{proto}: {finding(proto)}")
for proto in ["TLS1_2", "TLS1_3"]:
    if not finding(proto).startswith("offered"):
        failures.append(f"{proto}: {finding(proto)}")
for cipher in ["cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW", "cipherlist_3DES_IDEA"]:
    if "not offered" not in finding(cipher):
        failures.append(f"{cipher}: {finding(cipher)}")
hsts = finding("HSTS_time")
if not hsts.startswith("365 days") and "31536000" not in hsts and not any(f"{d} days" in hsts for d in range(366, 100000)):
    failures.append(f"HSTS_time: {hsts}")
if finding("HSTS_subdomains").startswith("only for this domain"):
    failures.append(f"HSTS_subdomains: {finding('HSTS_subdomains')}")
if "banner" in by_id and "No Server banner" not in finding("banner_server"):
    failures.append(f"banner_server: {finding('banner_server')}")
certificate = ("cert", "chain_of_trust", "OCSP", "CAA", "certificate_transparency", "DNS_CAArecord", "intermediate", "cert_")
serious = [f for f in findings if f.get("severity") in ("HIGH", "CRITICAL") and not f["id"].startswith(certificate)]
failures += [f"{f['id']} ({f['severity']}): {f['finding']}" for f in serious]
for i in ["SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3", "cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT",
          "cipherlist_LOW", "cipherlist_3DES_IDEA", "cipherlist_AVERAGE", "cipherlist_STRONG", "FS", "HSTS", "HSTS_time",
          "HSTS_subdomains", "banner_server", "cipher_order"]:
    if i in by_id:
        print(f"  {i:22} {finding(i)}")
others = sorted({f["severity"] for f in findings})
print("  severities seen:", ", ".join(f"{s}={sum(1 for f in findings if f['severity'] == s)}" for s in others))
for f in findings:
    if f.get("severity") in ("MEDIUM", "HIGH", "CRITICAL", "LOW"):
        print(f"  [{f['severity']}] {f['id']}: {f['finding']}")
if failures:
    print("FAIL:\n  " + "\n  ".join(failures))
    sys.exit(1)
print("PASS: TLS 1.2+ only, no weak cipher categories, HSTS >= 1 year with includeSubDomains, no banner, no HIGH/CRITICAL finding outside the test certificate")
EOF
