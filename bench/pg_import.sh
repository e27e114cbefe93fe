#!/usr/bin/env bash
# Import into PostgreSQL (issue #17's target: >= 100,000 records/s, server on the same machine).
#
#   bench/pg_import.sh BIN CORPUS WORK
#
# Starts a PostgreSQL server of its own (Debian's postgresql package: initdb + pg_ctl, as the
# user postgres when run as root) in WORK/pg on a loopback port, imports CORPUS into a new
# database with `BIN import -q --no-enrich --db postgresql://...`, and prints the wall time,
# records/s, the CPU time of the importer and of the server, and the last line
# "RATE <records/s>" for bench/run.sh. The server is stopped and WORK/pg removed at the end.
#
# The server's configuration is a durable one: fsync, synchronous_commit and full_page_writes
# on (PostgreSQL's defaults); shared_buffers = 512MB and max_wal_size = 4GB (a checkpoint every
# few hundred MB of WAL would otherwise dominate a bulk load), pg_stat_statements loaded for the
# per-statement breakdown printed at the end; everything else default.
set -euo pipefail
bin=$1
corpus=$2
work=$3
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/postgres" ] || { echo "PostgreSQL is missing (install postgresql)" >&2; exit 2; }
dir="$work/pg"
rm -rf "$dir"
mkdir -p "$dir"
as_server() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" -eq 0 ]; then
  chmod 711 "$work"  # the server's user reaches its folder below
  chown postgres "$dir"
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_server "$pgbin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
cat >>"$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
shared_buffers = 512MB
max_wal_size = 4GB
shared_preload_libraries = 'pg_stat_statements'
CONF
as_server "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
cleanup() {
  as_server "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
psql() { command psql -X -q -A -t -h 127.0.0.1 -p "$port" -U postgres "$@"; }
psql -d postgres -c "CREATE DATABASE bench"
psql -d bench -c "CREATE EXTENSION pg_stat_statements"
echo "   server: PostgreSQL $(psql -d postgres -c 'SHOW server_version'), fsync=$(psql -d postgres -c 'SHOW fsync'), synchronous_commit=$(psql -d postgres -c 'SHOW synchronous_commit'), shared_buffers=$(psql -d postgres -c 'SHOW shared_buffers'), max_wal_size=$(psql -d postgres -c 'SHOW max_wal_size')"

# The server's CPU time: its backends' times, added to the postmaster's children's once they end.
postmaster=$(head -1 "$dir/data/postmaster.pid")
ticks=$(getconf CLK_TCK)
server_cpu() { awk -v t="$ticks" '{ printf "%.2f", ($16 + $17) / t }' "/proc/$postmaster/stat"; }
before=$(server_cpu)
url="postgresql://postgres@127.0.0.1:$port/bench"
rc=0
/usr/bin/time -f "%e %U %S %M" -o "$dir/time" "$bin" import -q --no-enrich --db "$url" "$corpus" || rc=$?
[ $rc -le 1 ] || { echo "import failed ($rc)" >&2; cat "$dir/time" >&2; exit 1; }
sleep 0.5  # the backend ends and is counted
after=$(server_cpu)
read -r secs user sys rss_kb <"$dir/time"
records=$(psql -d bench -c "SELECT count(*) FROM aggregate_records")
reports=$(psql -d bench -c "SELECT count(*) FROM aggregate_reports")
size=$(psql -d bench -c "SELECT pg_size_pretty(pg_database_size('bench'))")
awk -v r="$records" -v n="$reports" -v s="$secs" -v u="$user" -v y="$sys" -v a="$before" \
    -v b="$after" -v m="$rss_kb" -v z="$size" 'BEGIN {
  printf "   %d reports, %d records in %.2f s: %.0f records/s; importer CPU %.1f s (%.1f us/record), peak RSS %.0f MB; server CPU %.1f s (%.1f us/record); database %s\n",
    n, r, s, r / s, u + y, (u + y) * 1e6 / r, m / 1024, b - a, (b - a) * 1e6 / r, z }'
echo "   server time per statement (ms, calls, rows):"
psql -d bench -F ' ' -c "SELECT round(total_exec_time), calls, rows,
  left(regexp_replace(query, '\s+', ' ', 'g'), 60) FROM pg_stat_statements
  WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT 8" | sed 's/^/     /'
awk -v r="$records" -v s="$secs" 'BEGIN { printf "RATE %.0f\n", r / s }'
