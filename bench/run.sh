#!/usr/bin/env bash
# The benchmarks of docs/benchmarks.md. Prints numbers and a PASS/MISS line per target.
#
#   bench/run.sh            full: 1 GB of report XML for parse; 10,000 reports for the store
#   bench/run.sh --quick    100 MB and 2,000 reports (a smoke run; targets are judged on full)
#
# Environment: BUILD (build folder, default build), WORK (scratch folder, default a temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1
build=${BUILD:-build}
work=${WORK:-$(mktemp -d)}
cores=$(nproc)
command -v /usr/bin/time >/dev/null || { echo "install the 'time' package (scripts/install-deps.sh)"; exit 2; }

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$cores" --target dmarc-report dmarc-bench-corpus dmarc-bench-parse >/dev/null
bin="$build/dmarc-report"

if [ $quick -eq 1 ]; then parse_bytes=100000000; store_reports=2000; else parse_bytes=1000000000; store_reports=10000; fi

verdict() {  # verdict NAME VALUE OP LIMIT UNIT
  if awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN { exit !((op == ">=") ? v >= l : v <= l) }'; then
    printf 'PASS  %-52s %s %s (target %s %s)\n' "$1" "$2" "$5" "$3" "$4"
  else
    printf 'MISS  %-52s %s %s (target %s %s)\n' "$1" "$2" "$5" "$3" "$4"
  fi
}

# Runs a command under /usr/bin/time; sets SECS and RSS_MB.
timed() {
  /usr/bin/time -f "%e %M" -o "$work/time" "$@"
  read -r SECS rss_kb < "$work/time"
  RSS_MB=$(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k / 1024 }')
}

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2/1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

echo "== micro-benchmarks (one core)"
"$build/bench/dmarc-bench-parse" --benchmark_min_time=0.5 2>/dev/null | grep -E "^BM_"

echo "== parse: corpus of $((parse_bytes / 1000000)) MB of report XML"
"$build/bench/dmarc-bench-corpus" --out "$work/parse" --target-bytes "$parse_bytes" --seed 1
xml_mb=$(awk -v b="$parse_bytes" 'BEGIN { printf "%.0f", b / 1e6 }')
timed "$bin" parse -q -j 1 -o /dev/null "$work/parse"
one=$(awk -v mb="$xml_mb" -v s="$SECS" 'BEGIN { printf "%.0f", mb / s }')
echo "   1 worker:  ${SECS} s, ${one} MB/s, peak ${RSS_MB} MB"
timed "$bin" parse -q -o /dev/null "$work/parse"
all=$(awk -v mb="$xml_mb" -v s="$SECS" 'BEGIN { printf "%.0f", mb / s }')
per_core=$(awk -v a="$all" -v c="$cores" 'BEGIN { printf "%.0f", a / c }')
echo "   $cores workers: ${SECS} s, ${all} MB/s (${per_core} MB/s per core), peak ${RSS_MB} MB"
verdict "parse: MB/s of XML per core to JSON (1 worker)" "$one" ">=" 200 "MB/s"
verdict "parse: peak memory, $xml_mb MB corpus, all cores" "$RSS_MB" "<=" 64 "MB"
rm -rf "$work/parse"

echo "== import: $store_reports reports into a new SQLite store"
"$build/bench/dmarc-bench-corpus" --out "$work/store" --reports "$store_reports" --seed 2
records=$("$bin" parse -q -f csv "$work/store" | tail -n +2 | wc -l)
rm -f "$work/bench.db"*
timed "$bin" import -q --db "$work/bench.db" "$work/store"
rate=$(awk -v r="$records" -v s="$SECS" 'BEGIN { printf "%.0f", r / s }')
echo "   $records records in ${SECS} s: ${rate} records/s, peak ${RSS_MB} MB"
verdict "import: records/s stored (all cores parse, one writer)" "$rate" ">=" 100000 "records/s"

echo "== stats over the stored records"
best=999
for _ in 1 2 3 4 5; do
  timed "$bin" stats --db "$work/bench.db" --json
  best=$(awk -v a="$best" -v b="$SECS" 'BEGIN { print (b < a) ? b : a }')
done > /dev/null
ms=$(awk -v s="$best" 'BEGIN { printf "%.0f", s * 1000 }')
echo "   stats --json (whole process, best of 5): ${ms} ms over $records records"
verdict "stats: ms over the stored records (>= 1,000,000 on full)" "$ms" "<=" 200 "ms"
timed "$bin" stats --db "$work/bench.db" --json --domain example1.com --from 2024-01-01 --to 2024-06-30 > /dev/null
echo "   stats with --domain and a 6-month range: $(awk -v s="$SECS" 'BEGIN { printf "%.0f", s * 1000 }') ms"
if [ -z "${WORK:-}" ]; then rm -rf "$work"; fi
