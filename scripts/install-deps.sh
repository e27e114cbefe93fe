#!/usr/bin/env bash
# Installs every build and test dependency of dmarc-report from Debian 12's packages.
# Idempotent: packages already present are left alone. Run as root (or with sudo).
# Then installs the dashboard front end's npm packages (web/package-lock.json) with `npm ci`.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # build
  build-essential cmake ninja-build pkg-config git
  # libraries
  libpugixml-dev zlib1g-dev libzstd-dev libzip-dev libgmime-3.0-dev libglib2.0-dev
  libcli11-dev libfmt-dev libspdlog-dev nlohmann-json3-dev libsqlite3-dev
  libcurl4-gnutls-dev libpsl-dev publicsuffix libsodium-dev sqlite3
  # the Kafka output (librdkafka; its tests use the library's built-in mock cluster)
  librdkafka-dev
  # the PostgreSQL store (libpq); its tests start servers of Debian's postgresql package
  libpq-dev postgresql postgresql-client
  # source enrichment: reverse DNS, MaxMind DB files; npm fetches the default country database
  libc-ares-dev libmaxminddb-dev
  # web dashboard: HTTP(S) server (GnuTLS); bearer token strength (zxcvbn); the browser its tests drive
  libmicrohttpd-dev libzxcvbn-dev chromium openssl
  # HTTP client of the Consul registration and of the tests
  libcpp-httplib-dev libssl-dev
  # fetch: mailbox protocols, configuration, certificate checks
  libetpan-dev libtomlplusplus-dev libssl-dev libsasl2-modules
  # tests, benchmarks, fuzzing
  dovecot-core dovecot-imapd dovecot-pop3d openssl zstd
  libgtest-dev libgmock-dev libbenchmark-dev clang-14 libclang-rt-14-dev clang-tidy-14
  clang-format-14
  zip gzip python3 time dnsmasq-base
  # the SMTP receiver's tests: a real SMTP client, and a real Postfix relaying to the receiver
  # (the tests run private instances of their own; see the debconf answer below)
  # (swaks speaks STARTTLS through Net::SSLeay, only recommended by its package)
  swaks libnet-ssleay-perl postfix
  # service tests: remote syslog receiver, /metrics format checker
  syslog-ng-core prometheus
  # systemd-analyze checks deploy/dmarc-report.service
  systemd
  # the Debian package (cpack: dpkg-shlibdeps; the man page; the completion test)
  dpkg-dev help2man zsh man-db curl
  # the container test (scripts/container-test.sh): podman, runc where crun cannot run, and
  # mmdebstrap for a base image when no registry is reachable
  podman runc mmdebstrap
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# npm: Debian's package unless an npm is already there (e.g. with a nodejs from elsewhere).
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-deps: installing ${missing[*]}"
  # Postfix is installed unconfigured: no /etc/postfix/main.cf, so no system instance is started
  # or listens on port 25 (the tests start private instances with their own configuration).
  # An existing Postfix is left as it is: the answer is given only when the package is missing.
  if [[ " ${missing[*]} " == *" postfix "* ]]; then
    echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi

# Node.js and npm build the dashboard front end; Debian's are enough where none is installed.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-deps: installing nodejs npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -f "$root/web/node_modules/.package-lock.json" ] ||
  [ "$root/web/package-lock.json" -nt "$root/web/node_modules/.package-lock.json" ]; then
  echo "install-deps: npm ci in web/"
  (cd "$root/web" && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "install-deps: web/node_modules up to date"
fi

# The default country database of source enrichment (CC0, @ip-location-db/geo-whois-asn-country-
# mmdb), at the version pinned in geoip/package-lock.json; the program finds it in
# geoip/node_modules (see README, "Source enrichment").
geoip_dir="$root/geoip"
if [ -f "$geoip_dir/node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb" ]; then
  echo "install-deps: country database present"
else
  echo "install-deps: installing the country database (npm ci in geoip/)"
  (cd "$geoip_dir" && npm ci --no-audit --no-fund --ignore-scripts)
fi
