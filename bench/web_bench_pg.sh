#!/usr/bin/env bash
# The dashboard benchmark (bench/web_bench.mjs, docs/benchmarks.md "Dashboard") on PostgreSQL:
# a server of its own from Debian's postgresql package (initdb in WORK, loopback only, run as
# the postgres user when we are root), the ~1,000,000-record dashboard corpus imported into it
# with `import --offline`, then the API's latency per endpoint.
#
#   bench/web_bench_pg.sh BUILD [RUNS]
#
# BUILD: a build folder with dmarc-report and bench/dmarc-bench-corpus (-DDMARC_BUILD_BENCH=ON;
# not needed when WORK holds the corpus of an earlier run, c1/ and c2/).
# Environment:
#   WORK            scratch folder (corpus, server, kept); by default a temp dir (removed)
#   SHARED_BUFFERS  the server's shared_buffers (default 1GB)
#   SENDERS         give the sources this many base domains (senders) after the import
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: bench/web_bench_pg.sh BUILD [RUNS]}
runs=${2:-20}
[ -x "$build/dmarc-report" ] || { echo "$build/dmarc-report is missing" >&2; exit 2; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/postgres" ] || { echo "PostgreSQL is missing: install postgresql" >&2; exit 2; }

if [ -n "${WORK:-}" ]; then
  work=$(realpath "$WORK")
  mkdir -p "$work"
else
  work=$(mktemp -d)
fi
as_server() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop() {
  as_server "$pgbin/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  [ -n "${WORK:-}" ] || rm -rf "$work"
}
trap stop EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rm -rf "$work/pg"
mkdir -p "$work/pg"
chmod 0777 "$work/pg"
chmod o+x "$work"
[ "$(id -u)" -eq 0 ] && chown postgres: "$work/pg"
as_server "$pgbin/initdb" -D "$work/pg/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
cat >>"$work/pg/data/postgresql.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work/pg'
shared_buffers = ${SHARED_BUFFERS:-1GB}
EOF
as_server "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" -w start >/dev/null
url="postgresql://postgres@127.0.0.1:$port/dmarc"
psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c 'CREATE DATABASE dmarc'

echo "== PostgreSQL $("$pgbin/postgres" --version | awk '{ print $3 }') on 127.0.0.1:$port," \
     "shared_buffers ${SHARED_BUFFERS:-1GB}"
if [ ! -d "$work/c1" ]; then  # else the corpus of an earlier run in WORK
  [ -x "$build/bench/dmarc-bench-corpus" ] || { echo "$build/bench/dmarc-bench-corpus is missing" >&2; exit 2; }
  "$build/bench/dmarc-bench-corpus" --out "$work/c1" --reports 8200 --seed 2 | sed 's/^/   /'
  "$build/bench/dmarc-bench-corpus" --out "$work/c2" --reports 200 --seed 3 | sed 's/^/   /'
fi
echo "== import -q --offline into $url"
start=$(date +%s.%N)
"$build/dmarc-report" import -q --offline --db "$url" "$work/c1" "$work/c2" || [ $? -eq 1 ]
echo "   $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s;" \
     "$(psql -X -A -t -h 127.0.0.1 -p "$port" -U postgres -d dmarc -c 'SELECT count(*) FROM aggregate_records') records"
if [ -n "${SENDERS:-}" ]; then
  # Offline, every source is the sender "unknown": give each address one of SENDERS base domains
  # (docs/benchmarks.md, "Sender inventory and enforcement advisor").
  psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d dmarc -c "UPDATE aggregate_records r
    SET source_base_domain = 'sender' || (s.id % $SENDERS) || '.example'
    FROM source_ips s WHERE s.ip = r.source_ip"
fi
psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d dmarc -c 'VACUUM ANALYZE'
echo "== node bench/web_bench.mjs $build/dmarc-report $url $runs"
node bench/web_bench.mjs "$build/dmarc-report" "$url" "$runs"
