#!/usr/bin/env bash
# R29: afl++ over Marquee's parsers of outside input, through SharpFuzz (docs/reliability.md, row R29).
#
#   fuzz/run.sh [MINUTES] [TARGET...]     # default: 3 minutes for each of the targets in fuzz/Marquee.Fuzz/Targets.cs
#   FUZZ_REUSE=1 fuzz/run.sh 1 cmcd      # run again on the instrumented build of the last run (no rebuild)
#
# Installs what it needs (apt afl++, the SharpFuzz.CommandLine dotnet tool into fuzz/.tools), builds fuzz/Marquee.Fuzz
# in Release into $FUZZ_WORK (default /tmp/marquee-fuzz), instruments the product assembly there (marquee.dll, only the
# namespaces with the parsers) with sharpfuzz, then runs afl-fuzz on each target for MINUTES, seeded with
# fuzz/corpus/<target>/. Prints execs, paths (afl's corpus_count), crashes and hangs per target, and replays every
# crash it found through the uninstrumented harness to print its exception. A crash is fixed in the product and its
# input added to fuzz/corpus/<target>/ (replayed in CI by FuzzCorpusReplayTests). Exits 1 when any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MINUTES=${1:-3}
shift || true
WORK=${FUZZ_WORK:-/tmp/marquee-fuzz}
TOOLS=$ROOT/fuzz/.tools

if ! command -v afl-fuzz >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >/dev/null
fi
if [ ! -x "$TOOLS/sharpfuzz" ]; then
  dotnet tool install --tool-path "$TOOLS" SharpFuzz.CommandLine --version 2.3.0 >/dev/null
fi

if [ "${FUZZ_REUSE:-0}" = 1 ] && [ -f "$WORK/bin/Marquee.Fuzz.dll" ]; then
  echo "reusing the instrumented build in $WORK/bin (FUZZ_REUSE=1)"
else
  rm -rf "$WORK/bin" "$WORK/plain"
  dotnet build fuzz/Marquee.Fuzz/Marquee.Fuzz.csproj -c Release -v q -nologo -o "$WORK/bin" >/dev/null
  cp -r "$WORK/bin" "$WORK/plain" # uninstrumented copy, to replay crashes with their stack traces
  # Only the modules with the parsers are instrumented (the rest of the program is not reached by the targets).
  "$TOOLS/sharpfuzz" "$WORK/bin/marquee.dll" Marquee.Media.Uploads Marquee.Delivery Marquee.Analytics Marquee.Billing
  # Stripe.net's signature and event parsing (the Stripe webhook target goes through it).
  "$TOOLS/sharpfuzz" "$WORK/bin/Stripe.net.dll" Stripe.EventUtility Stripe.Infrastructure || echo "(Stripe.net not instrumented)"
fi
mkdir -p "$WORK/findings"

if [ $# -gt 0 ]; then TARGETS=("$@"); else
  TARGETS=(tus token event beacon cmcd sandbox-webhook stripe-webhook)
fi

export AFL_SKIP_BIN_CHECK=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1
export DOTNET_TieredPGO=0 DOTNET_CLI_TELEMETRY_OPTOUT=1
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; $MINUTES min per target"
printf '%-16s %12s %9s %7s %8s %6s %8s\n' target execs exec/s paths edges crash hangs > "$WORK/summary.txt"
status=0
for t in "${TARGETS[@]}"; do
  out=$WORK/findings/$t
  rm -rf "$out"
  afl-fuzz -i "fuzz/corpus/$t" -o "$out" -V $((MINUTES * 60)) -t 5000 -m none -- dotnet "$WORK/bin/Marquee.Fuzz.dll" "$t" > "$WORK/$t.log" 2>&1 || true
  stats=$out/default/fuzzer_stats
  if [ ! -f "$stats" ]; then
    echo "$t: afl-fuzz did not start; see $WORK/$t.log" | tee -a "$WORK/summary.txt"; tail -5 "$WORK/$t.log"; status=1; continue
  fi
  get() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
  printf '%-16s %12s %9s %7s %8s %6s %8s\n' "$t" "$(get execs_done)" "$(get execs_per_sec)" "$(get corpus_count)" \
    "$(get edges_found)" "$(get saved_crashes)" "$(get saved_hangs)" >> "$WORK/summary.txt"
  crashes=("$out"/default/crashes/id:*)
  if [ -e "${crashes[0]}" ]; then
    status=1
    dotnet "$WORK/plain/Marquee.Fuzz.dll" "$t" "${crashes[@]}" | grep -A3 '^CRASH' | head -40 || true
  fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$WORK/summary.txt"
exit $status
