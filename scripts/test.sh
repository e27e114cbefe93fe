#!/usr/bin/env bash
# Runs every test of dmarc-report: the format check, the release build with warnings as errors
# and its whole suite (with the layering probes), clang-tidy's checks (.clang-tidy), the same
# suite under AddressSanitizer + UndefinedBehaviorSanitizer, a short run of each fuzz target
# over testdata/, the Debian package of the release build installed, started and purged on
# this machine, and its container image built and run with podman.
#
#   scripts/test.sh              everything (what CI runs)
#   scripts/test.sh --quick      release build and suite only
#
# Environment: JOBS (parallel jobs, default nproc), FUZZ_SECONDS (per target, default 30).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1
jobs=${JOBS:-$(nproc)}

step() { printf '\n=== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

if [ $quick -eq 0 ]; then
  step "format check (clang-format-14)"
  files=$(git ls-files '*.cc' '*.h' 2>/dev/null || find src tests bench fuzz -name '*.cc' -o -name '*.h')
  clang-format-14 --dry-run --Werror $files
fi

step "release build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDMARC_WERROR=ON >/dev/null
cmake --build build -j "$jobs"
step "test suite (release)"
ctest --test-dir build -j "$jobs" --output-on-failure

[ $quick -eq 1 ] && exit 0

# The memory cases of docs/security.md run the program under a memory cap (ulimit -v): part of
# the release suite above, named again here so that CI shows them and fails if they are gone.
step "memory caps"
ctest --test-dir build -R '^MemoryTest\.' --no-tests=error --output-on-failure

step "lint (clang-tidy-14, checks in .clang-tidy)"
JOBS=$jobs scripts/lint.sh build

# -Og -g1: a third of the compile time of -O2 -g (the sanitizer build was CI's longest stage),
# still with file:line in every sanitizer report.
step "sanitizer build (address + undefined)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-Og -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-Og -g1 -DNDEBUG" \
  -DDMARC_SANITIZE=ON -DDMARC_WERROR=ON -DDMARC_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs"
step "test suite (address + undefined sanitizers)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -j "$jobs" --output-on-failure

step "fuzz targets (${FUZZ_SECONDS:-30} s each)"
fuzz/run.sh "${FUZZ_SECONDS:-30}"

# The Debian package of this release build: built, installed on this machine, started,
# checked, purged (scripts/package-test.sh, docs/packaging.md). As root only: it installs.
step "Debian package (install, start, /healthz, purge)"
if [ "$(id -u)" = 0 ]; then
  scripts/package-test.sh build
else
  echo "not root: the package test needs root (apt-get install, a system user)" >&2
  exit 1
fi

# The container image of that package (packaging/container/), built and run with podman
# (scripts/container-test.sh; the first run makes a Debian 12 base image from the mirror).
step "container (podman: build, run, /healthz, stop)"
scripts/container-test.sh build
