#!/usr/bin/env bash
# Issue #14: peak memory (RSS) and throughput of `parse` and `import` on huge aggregate reports.
# Prints one line per run and a PASS/FAIL line per target of the issue.
#
#   bench/memory.sh            a 1 GB and a 100 MB report, the 1 GB mixed corpus, two 100 MB
#                              reports at once, one 100 MB report among 2,000 small ones
#   bench/memory.sh --quick    the same with 100 MB in place of 1 GB (a smoke run)
#
# Environment:
#   BUILD  build folder with dmarc-report and bench/dmarc-bench-corpus (default build-bench,
#          configured and built as by bench/run.sh when missing)
#   BIN    the dmarc-report measured (default $BUILD/dmarc-report; e.g. an older build's for
#          "before" numbers)
#   WORK   folder for the corpora and stores (default $BUILD/bench-memory; kept: corpora already
#          there are reused). Needs ~3.5 GB free (checked).
#   STREAM_BYTES  passed as --stream-bytes when `parse --help` has that option (default 8 MiB)
#   IMPORT_TIMEOUT  seconds an import may take before it is given up (default 300)
#   ONLY   a regular expression: only the runs whose name matches (e.g. 'mixed|2000')
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done
cores=$(nproc)
build=${BUILD:-build-bench}
if [ ! -x "$build/bench/dmarc-bench-corpus" ] || { [ -z "${BIN:-}" ] && [ ! -x "$build/dmarc-report" ]; }; then
  echo "== building Release into $build"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDMARC_BUILD_BENCH=ON >/dev/null
  cmake --build "$build" -j "$cores" --target dmarc-report dmarc-bench-corpus >/dev/null
fi
bin=${BIN:-$build/dmarc-report}
gen=$build/bench/dmarc-bench-corpus
work=${WORK:-$build/bench-memory}
mkdir -p "$work"
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing (apt-get install time)" >&2; exit 2; }

if [ $quick -eq 1 ]; then big=100000000; mixed_bytes=100000000; else big=1000000000; mixed_bytes=1000000000; fi
big_mb=$((big / 1000000))
free_mb=$(df -Pm "$work" | awk 'NR == 2 { print $4 }')
need_mb=$((big_mb * 3 + 1500))
if [ "$free_mb" -lt "$need_mb" ]; then
  echo "$work: $free_mb MB free, $need_mb MB needed (set WORK to a larger disk)" >&2
  exit 2
fi

# The options this build has: limits raised for a 1 GB report, and --stream-bytes.
help=$("$bin" parse --help)
opts=()
has() { grep -q -- "$1" <<<"$help"; }
for o in --max-report-bytes --max-input-bytes; do has "$o" && opts+=("$o" 2000000000); done
for o in --max-records --max-xml-elements; do has "$o " && opts+=("$o" 1000000000); done
# --stream-bytes goes to each command whose --help lists it (parse streams; import may not yet).
parse_opts=("${opts[@]}")
import_opts=("${opts[@]}")
streaming=0
import_streaming=0
if has --stream-bytes; then parse_opts+=(--stream-bytes "${STREAM_BYTES:-8388608}"); streaming=1; fi
if grep -q -- --stream-bytes <<<"$("$bin" import --help)"; then
  import_opts+=(--stream-bytes "${STREAM_BYTES:-8388608}")
  import_streaming=1
fi

# gen_once NAME ARGS...: runs the generator into $work/NAME unless its summary is there.
gen_once() {
  local name=$1; shift
  if [ ! -s "$work/$name.summary" ]; then
    rm -rf "${work:?}/$name"; mkdir -p "$work/$name"
    "$gen" "$@" >"$work/$name.summary.tmp" && mv "$work/$name.summary.tmp" "$work/$name.summary"
  fi
}
xml_mb() { sed -E 's/.* ([0-9]+) bytes of decompressed XML.*/\1/' "$work/$1.summary" | awk '{ printf "%.1f", $1 / 1e6 }'; }
records() { awk '{ print $5 }' "$work/$1.summary"; }

echo "== corpora in $work ($free_mb MB free)"
gen_once big --out "$work/big" --reports 0 --seed 11 --huge-bytes "$big" \
  --huge-xml "$work/big/report.xml" --huge-gz "$work/big/report.xml.gz"
gen_once h100 --out "$work/h100" --reports 0 --seed 12 --huge-bytes 100000000 \
  --huge-xml "$work/h100/report.xml" --huge-gz "$work/h100/report.xml.gz"
gen_once h100b --out "$work/h100b" --reports 0 --seed 13 --huge-bytes 100000000 \
  --huge-xml "$work/h100b/report.xml"
gen_once mixed --out "$work/mixed" --target-bytes "$mixed_bytes" --seed 1
# The 100 MB report sorts first: every small one is parsed while it is (the worst order).
gen_once among --out "$work/among" --reports 2000 --seed 14 --huge-bytes 100000000 \
  --huge-xml "$work/among/report-000000-huge.xml"
mkdir -p "$work/two"
# Hard links: a folder's symbolic links are not followed.
ln -f "$work/h100/report.xml" "$work/two/a.xml"
ln -f "$work/h100b/report.xml" "$work/two/b.xml"
for c in big h100 mixed among; do echo "   $c: $(cat "$work/$c.summary")"; done

# shellcheck disable=SC1091
echo "== machine: $cores cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2/1048576 }' /proc/meminfo)," \
     "$(. /etc/os-release && echo "$PRETTY_NAME"), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== binary: $bin ($([ $streaming -eq 1 ] && echo "streaming: --stream-bytes ${STREAM_BYTES:-8388608}" || echo "no --stream-bytes: whole-document path"))"
echo "   parse options: ${parse_opts[*]}"
echo "   import options: ${import_opts[*]}"

fails=0
verdict() {  # verdict NAME VALUE OP LIMIT UNIT
  if [ "$2" = "-" ]; then printf 'SKIP  %-58s (target %s %s %s)\n' "$1" "$3" "$4" "$5"; return; fi
  if awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN { exit !((op == ">=") ? v >= l : v <= l) }'; then
    printf 'PASS  %-58s %s %s (target %s %s)\n' "$1" "$2" "$5" "$3" "$4"
  else
    printf 'FAIL  %-58s %s %s (target %s %s)\n' "$1" "$2" "$5" "$3" "$4"
    fails=$((fails + 1))
  fi
}

# run KEY MB RECORDS LIMIT_S CMD...: runs CMD under /usr/bin/time -v (exit status 0 or 1
# accepted); prints wall and CPU seconds, MB of XML per second of wall clock and per CPU-second
# (on a busy machine the wall clock measures the neighbours too), records/s and peak RSS; sets
# RSS[KEY], MBS[KEY], CPUMBS[KEY], SECS[KEY] ("-" when the command failed or ran out of time).
declare -A RSS MBS CPUMBS SECS
run() {
  local key=$1 mb=$2 recs=$3 limit=$4 rc=0 secs=0 cpu=0 pct=0 rss=0; shift 4
  if [ -n "${ONLY:-}" ] && ! [[ $key =~ $ONLY ]]; then
    RSS[$key]=-; MBS[$key]=-; CPUMBS[$key]=-; SECS[$key]=-; return
  fi
  /usr/bin/time -v -o "$work/time" timeout "$limit" "$@" >/dev/null 2>"$work/stderr" || rc=$?
  if [ $rc -gt 1 ]; then
    RSS[$key]=-; MBS[$key]=-; CPUMBS[$key]=-; SECS[$key]=-
    printf '   %-28s %s\n' "$key" "$([ $rc -eq 124 ] && echo "not finished in $limit s: given up" || echo "failed ($rc): $(tail -c 300 "$work/stderr" | tr '\n' ' ')")"
    return
  fi
  eval "$(awk -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print "secs=" s }
    /User time/ { u = $2 } /System time/ { y = $2 }
    /Percent of CPU/ { sub("%", "", $2); print "pct=" $2 }
    /Maximum resident set size/ { printf "rss=%.1f\n", $2 / 1024 }
    END { printf "cpu=%.2f\n", u + y }' "$work/time")"
  RSS[$key]=$rss; SECS[$key]=$secs
  MBS[$key]=$(awk -v m="$mb" -v s="$secs" 'BEGIN { printf "%.0f", m / (s > 0 ? s : 0.01) }')
  CPUMBS[$key]=$(awk -v m="$mb" -v s="$cpu" 'BEGIN { printf "%.0f", m / (s > 0 ? s : 0.01) }')
  printf '   %-28s %7.2f s wall %7.2f s CPU (%4s%%) %5s MB/s %5s MB/CPU-s %8s records/s  peak RSS %7s MB\n' \
    "$key" "$secs" "$cpu" "$pct" "${MBS[$key]}" "${CPUMBS[$key]}" \
    "$(awk -v r="$recs" -v s="$secs" 'BEGIN { printf "%.0f", r / (s > 0 ? s : 0.01) }')" "$rss"
}

# run_parse KEY MB RECORDS ARGS... and run_import (into a new store) KEY MB RECORDS ARGS...
run_parse() { run "$1" "$2" "$3" 900 "$bin" parse -q --no-enrich -o /dev/null "${parse_opts[@]}" "${@:4}"; }
run_import() {
  rm -f "$work/store.db" "$work/store.db"-*
  run "$1" "$2" "$3" "${IMPORT_TIMEOUT:-300}" "$bin" import -q --offline --db "$work/store.db" "${import_opts[@]}" "${@:4}"
}

# Runs that would hold a whole report in memory are skipped when it might not fit (the
# whole-document path takes ~10 × the XML; the machine is shared).
avail_mb=$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
fits() { [ "${2:-$streaming}" -eq 1 ] || [ $(($1 * 10)) -lt $((avail_mb - 2000)) ]; }
skip() {
  RSS[$1]=-; MBS[$1]=-; CPUMBS[$1]=-; SECS[$1]=-
  printf '   %-28s skipped: ~10 × %s MB of XML > %s MB available - 2 GB\n' "$1" "$big_mb" "$avail_mb"
}
cat "$work/big/report.xml" "$work/h100/report.xml" >/dev/null  # the same page cache state

echo "== parse: $bin parse -q --no-enrich -o /dev/null OPTIONS [-j N] INPUT"
for f in report.xml report.xml.gz; do
  if fits "$big_mb"; then run_parse "parse ${big_mb}MB $f" "$(xml_mb big)" "$(records big)" -j 1 "$work/big/$f"
  else skip "parse ${big_mb}MB $f"; fi
  run_parse "parse 100MB $f" "$(xml_mb h100)" "$(records h100)" -j 1 "$work/h100/$f"
done
run_parse "parse two 100MB -j2" 200 "$(($(records h100) * 2))" -j 2 "$work/two"
for j in 1 2; do run_parse "parse mixed -j$j" "$(xml_mb mixed)" "$(records mixed)" -j $j "$work/mixed"; done
for j in 1 2; do run_parse "parse 100MB+2000 -j$j" "$(xml_mb among)" "$(records among)" -j $j "$work/among"; done

echo "== import: $bin import -q --offline --db NEW.db OPTIONS [-j N] INPUT (SQLite, a new store each)"
if fits "$big_mb" "$import_streaming"; then run_import "import ${big_mb}MB report.xml.gz" "$(xml_mb big)" "$(records big)" -j 1 "$work/big/report.xml.gz"
else skip "import ${big_mb}MB report.xml.gz"; fi
run_import "import 100MB report.xml.gz" "$(xml_mb h100)" "$(records h100)" -j 1 "$work/h100/report.xml.gz"
run_import "import two 100MB -j2" 200 "$(($(records h100) * 2))" -j 2 "$work/two"
for j in 1 2; do run_import "import mixed -j$j" "$(xml_mb mixed)" "$(records mixed)" -j $j "$work/mixed"; done
for j in 1 2; do run_import "import 100MB+2000 -j$j" "$(xml_mb among)" "$(records among)" -j $j "$work/among"; done
rm -f "$work/store.db" "$work/store.db"-*

echo "== targets of issue #14"
ratio() { if [ "${SECS[$1]}" = - ] || [ "${SECS[$2]}" = - ]; then echo -; else awk -v a="${SECS[$1]}" -v b="${SECS[$2]}" 'BEGIN { printf "%.2f", a / b }'; fi; }
per_core() { if [ "$1" = - ]; then echo -; else awk -v m="$1" -v c="$2" 'BEGIN { printf "%.0f", m / c }'; fi; }
verdict "parse: peak RSS, one ${big_mb} MB report (.xml)" "${RSS["parse ${big_mb}MB report.xml"]}" "<=" 128 MB
verdict "parse: peak RSS, one ${big_mb} MB report (.xml.gz)" "${RSS["parse ${big_mb}MB report.xml.gz"]}" "<=" 128 MB
verdict "import: peak RSS, one ${big_mb} MB report (.xml.gz)" "${RSS["import ${big_mb}MB report.xml.gz"]}" "<=" 128 MB
verdict "parse: peak RSS, mixed corpus -j1" "${RSS["parse mixed -j1"]}" "<=" 64 MB
verdict "parse: peak RSS, mixed corpus -j2" "${RSS["parse mixed -j2"]}" "<=" 64 MB
verdict "import: peak RSS, mixed corpus -j2" "${RSS["import mixed -j2"]}" "<=" 64 MB
verdict "parse: peak RSS, two 100 MB reports -j2" "${RSS["parse two 100MB -j2"]}" "<=" 256 MB
verdict "import: peak RSS, two 100 MB reports -j2" "${RSS["import two 100MB -j2"]}" "<=" 256 MB
verdict "parse: MB/s, one ${big_mb} MB report to JSON (-j1, wall)" "${MBS["parse ${big_mb}MB report.xml"]}" ">=" 150 MB/s
verdict "parse: MB/CPU-s, one ${big_mb} MB report to JSON (-j1)" "${CPUMBS["parse ${big_mb}MB report.xml"]}" ">=" 150 MB/s
verdict "parse: MB/s, one 100 MB report to JSON (-j1, wall)" "${MBS["parse 100MB report.xml"]}" ">=" 150 MB/s
verdict "parse: MB/s, mixed corpus -j1 (wall)" "${MBS["parse mixed -j1"]}" ">=" 250 MB/s
verdict "parse: MB/CPU-s, mixed corpus -j1" "${CPUMBS["parse mixed -j1"]}" ">=" 250 MB/s
verdict "parse: MB/s per core, mixed corpus -j2 (wall / 2)" "$(per_core "${MBS["parse mixed -j2"]}" 2)" ">=" 250 MB/s
verdict "parse: speedup -j2 over -j1, mixed corpus" "$(ratio "parse mixed -j1" "parse mixed -j2")" ">=" 1.8 ×
verdict "parse: speedup -j2 over -j1, 100 MB among 2,000" "$(ratio "parse 100MB+2000 -j1" "parse 100MB+2000 -j2")" ">=" 1.8 ×
echo "== $fails target(s) missed"
