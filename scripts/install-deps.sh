#!/usr/bin/env bash
# Installs every build and test dependency of dmarc-report from Debian 12's packages.
# Idempotent: packages already present are left alone. Run as root (or with sudo).
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config git
  # libraries
  libpugixml-dev zlib1g-dev libzip-dev libgmime-3.0-dev libglib2.0-dev
  libcli11-dev libfmt-dev libspdlog-dev nlohmann-json3-dev libsqlite3-dev
  libcurl4-gnutls-dev libpsl-dev publicsuffix libsodium-dev sqlite3
  # tests, benchmarks, fuzzing
  libgtest-dev libgmock-dev libbenchmark-dev clang-14 libclang-rt-14-dev
  zip gzip python3 time
  # service tests: remote syslog receiver, /metrics format checker, Consul API stand-in
  syslog-ng-core prometheus libcpp-httplib-dev
  # systemd-analyze checks deploy/dmarc-report.service
  systemd
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi
