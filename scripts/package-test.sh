#!/usr/bin/env bash
# The Debian package on this machine, as an admin meets it: builds the .deb from the release
# build (cpack), installs it with apt-get, checks where its files went, the user and the
# enabled-not-started unit, starts the service as the unit does (systemctl when systemd runs;
# otherwise the unit's ExecStart as its User= in its WorkingDirectory=), waits for /healthz on the
# configured address and for a dropped example report to be stored (read back with the default
# configuration), then removes the package (the conffile stays) and purges it (the user, the
# state and the conffile go). A reinstall before the start keeps an edit of the conffile.
#
#   scripts/package-test.sh [BUILD_DIR]      (default build; as root; ~1 minute)
#
# It refuses to run when dmarc-report is installed already: it would purge that installation.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "${1:-build}")
unit=/lib/systemd/system/dmarc-report.service
config=/etc/dmarc-report/dmarc-report.toml
state=/var/lib/dmarc-report

step() { printf '\n--- %s\n' "$*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[ "$(id -u)" = 0 ] || fail "run as root (it installs and purges a package)"
if dpkg-query -W -f='${Status}' dmarc-report 2>/dev/null | grep -q "installed"; then
  fail "dmarc-report is installed on this machine; this test would purge it"
fi

service_pid=""
cleanup() {
  if [ -n "$service_pid" ] && kill -0 "$service_pid" 2>/dev/null; then
    kill -TERM "$service_pid" 2>/dev/null || true
    wait "$service_pid" 2>/dev/null || true
  fi
  if dpkg-query -W -f='${Status}' dmarc-report 2>/dev/null | grep -qv "not-installed"; then
    echo "cleanup: purging dmarc-report" >&2
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -q dmarc-report >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

step "package (cpack, from the release build in $build)"
cmake --build "$build" --target dmarc-report cli-docs
rm -rf "$build/package"
cpack --config "$build/CPackConfig.cmake" -B "$build/package" >"$build/cpack.log" 2>&1 ||
  { cat "$build/cpack.log"; fail "cpack"; }
deb=$(ls "$build"/package/dmarc-report_*.deb)
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
dpkg-deb --info "$deb" conffiles | grep -qx "$config" || fail "conffiles does not list $config"
# Every shared library the binary needs comes from a dependency (dpkg-shlibdeps).
dpkg-deb --field "$deb" Depends | grep -q "libc6" || fail "Depends has no shared libraries"

step "install (apt-get install ./$(basename "$deb"))"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb" >"$build/apt-install.log" 2>&1 ||
  { cat "$build/apt-install.log"; fail "apt-get install"; }

step "files, user, unit"
for f in /usr/bin/dmarc-report "$config" "$unit" \
  /usr/share/dmarc-report/geoip/node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb \
  /usr/share/man/man1/dmarc-report.1.gz /usr/share/bash-completion/completions/dmarc-report \
  /usr/share/zsh/vendor-completions/_dmarc-report; do
  [ -f "$f" ] || fail "$f is missing"
done
ls /usr/share/dmarc-report/examples/*.xml >/dev/null || fail "no example reports"
getent passwd dmarc-report | grep -q ":$state:/usr/sbin/nologin$" ||
  fail "no system user dmarc-report with home $state: $(getent passwd dmarc-report)"
[ "$(getent passwd dmarc-report | cut -d: -f3)" -lt 1000 ] || fail "dmarc-report is not a system user"
[ "$(stat -c %U:%a "$state")" = "dmarc-report:750" ] || fail "$state: $(stat -c %U:%a "$state")"
[ -L /etc/systemd/system/multi-user.target.wants/dmarc-report.service ] || fail "unit not enabled"
! pgrep -u dmarc-report >/dev/null || fail "something runs as dmarc-report before a start"
man -w dmarc-report >/dev/null || fail "man dmarc-report: no page"
dmarc-report --version | head -1
dmarc-report check-config "$config" || fail "the installed configuration does not pass check-config"

step "reinstall: an edited conffile is kept"
echo "# edited by package-test.sh" >>"$config"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall "$deb" >"$build/apt-reinstall.log" 2>&1 ||
  { cat "$build/apt-reinstall.log"; fail "apt-get install --reinstall"; }
grep -qx "# edited by package-test.sh" "$config" || fail "the reinstall replaced the edited $config"
[ -L /etc/systemd/system/multi-user.target.wants/dmarc-report.service ] || fail "unit not enabled"

step "start the service"
# One example report in the drop folder before the start: the first round stores it.
example=$(ls /usr/share/dmarc-report/examples/*.xml | head -1)
install -o dmarc-report -g dmarc-report -m 600 "$example" "$state/inbox/"
listen=$(sed -n '/^\[web\]/,/^\[/s/^listen *= *"\([^"]*\)".*/\1/p' "$config")
[ -n "$listen" ] || fail "no [web] listen in $config"
env_args=(DMARC_REPORT_ENRICH_OFFLINE=true) # no DNS from a test; countries still come
if (echo >"/dev/tcp/${listen%:*}/${listen##*:}") 2>/dev/null; then
  # Another program (a test of another build) has the configured port: the variable that
  # overrides [web] listen, as a systemd drop-in would set it.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  echo "$listen is taken: listening on 127.0.0.1:$port instead (DMARC_REPORT_WEB_LISTEN)"
  listen=127.0.0.1:$port
  env_args+=(DMARC_REPORT_WEB_LISTEN="$listen")
fi
log=$build/package-service.log
if [ "$(ps -p 1 -o comm=)" = systemd ]; then
  mkdir -p /run/systemd/system/dmarc-report.service.d
  printf '[Service]\n%s\n' "${env_args[@]/#/Environment=}" \
    >/run/systemd/system/dmarc-report.service.d/test.conf
  systemctl daemon-reload
  systemctl start dmarc-report
else
  # No systemd as PID 1 here: what the unit runs, as whom and where it says.
  exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
  user=$(sed -n 's/^User=//p' "$unit")
  workdir=$(sed -n 's/^WorkingDirectory=//p' "$unit")
  echo "systemd is not PID 1: running '$exec_start' as $user in $workdir"
  (cd "$workdir" && umask 0077 && exec env -i PATH=/usr/bin:/bin "${env_args[@]}" \
    setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs $exec_start) \
    >"$log" 2>&1 &
  service_pid=$!
fi

step "wait for http://$listen/healthz"
healthy=0
for _ in $(seq 1 150); do
  if curl -fsS "http://$listen/healthz" >"$build/healthz.out" 2>/dev/null; then
    healthy=1
    break
  fi
  [ -z "$service_pid" ] || kill -0 "$service_pid" 2>/dev/null || break
  sleep 0.2
done
[ $healthy -eq 1 ] || { cat "$log" 2>/dev/null; fail "no answer on http://$listen/healthz"; }
echo "healthz: $(cat "$build/healthz.out")"
# The dropped report is stored; `stats` (as the service user, as the README says) finds the
# store through the default configuration.
stored=0
for _ in $(seq 1 100); do
  if runuser -u dmarc-report -- dmarc-report stats --json 2>/dev/null | grep -q '"reports": *[1-9]'; then
    stored=1
    break
  fi
  sleep 0.2
done
[ $stored -eq 1 ] || { cat "$log" 2>/dev/null; fail "the dropped report was not stored"; }
[ "$(stat -c %U "$state/dmarc-report.db")" = dmarc-report ] || fail "the store is not the user's"
located=0
for _ in $(seq 1 100); do
  if runuser -u dmarc-report -- dmarc-report export -f json 2>/dev/null | grep -qE '"country": *"[A-Z]{2}"'; then
    located=1
    break
  fi
  sleep 0.2
done
[ $located -eq 1 ] || fail "no country from the bundled database"
echo "stored and geolocated: $(basename "$example")"

step "stop"
if [ -n "$service_pid" ]; then
  kill -TERM "$service_pid"
  wait "$service_pid" || fail "the service did not stop cleanly (status $?)"
  service_pid=""
else
  systemctl stop dmarc-report
  rm -rf /run/systemd/system/dmarc-report.service.d
  systemctl daemon-reload
fi

step "remove: the conffile, the user and the state stay"
DEBIAN_FRONTEND=noninteractive apt-get remove -y -q dmarc-report >/dev/null
[ ! -e /usr/bin/dmarc-report ] || fail "/usr/bin/dmarc-report is left after remove"
[ -f "$config" ] || fail "remove took the conffile"
[ -d "$state" ] && getent passwd dmarc-report >/dev/null || fail "remove took the user or state"

step "purge: the conffile, the user and the state go"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q dmarc-report >/dev/null
for gone in "$config" "$state" /var/log/dmarc-report \
  /etc/systemd/system/multi-user.target.wants/dmarc-report.service; do
  [ ! -e "$gone" ] || fail "$gone is left after purge"
done
! getent passwd dmarc-report >/dev/null || fail "the user dmarc-report is left after purge"
! getent group dmarc-report >/dev/null || fail "the group dmarc-report is left after purge"
echo "package test passed: $(basename "$deb")"
