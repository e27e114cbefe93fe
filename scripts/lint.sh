#!/usr/bin/env bash
# Runs clang-tidy-14 with the checks in .clang-tidy (as errors) over every non-test source of
# src/, using the compile commands of a configured build folder (default: build).
#
#   scripts/lint.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
jobs=${JOBS:-$(nproc)}
[ -f "$build/compile_commands.json" ] || { echo "lint: no $build/compile_commands.json"; exit 2; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
# The sources under src/ (not the files the build generates from data, such as the embedded
# migrations). Test files and test helpers are left out: gtest's macros trip checks meant for
# product code.
run-clang-tidy-14 -p "$build" -j "$jobs" -quiet "^$(pwd)/src/(?!testing/).*(?<!_test)\.cc\$" \
  >"$out" 2>&1 || status=$?
# Only the findings, without colours or clang-tidy's counts of suppressed warnings.
sed 's/\x1b\[[0-9;]*m//g' "$out" |
  grep -vE '^[0-9]+ warnings? generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter' || true
[ $status -eq 0 ] && echo "lint: no findings"
exit $status
