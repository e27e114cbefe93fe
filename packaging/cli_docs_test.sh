#!/usr/bin/env bash
# The generated completions and man page cover the real command line: every subcommand that
# `dmarc-report --help` lists, and every option of every subcommand's --help (read here with
# grep, not with the generator's parser), is offered by the bash completion (run in bash, as
# bash runs it on Tab), named in the zsh completion (which zsh accepts) and in the man page.
#
#   cli_docs_test.sh BINARY CLI_DOCS_DIR
set -euo pipefail
bin=$1
docs=$2
fail=0
say() { echo "FAIL: $*" >&2; fail=1; }

commands=$("$bin" --help | sed -n '/^Subcommands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
for known in parse import enrich stats export serve report hash-password fetch login check-config run \
  vacuum migrate senders advise; do
  grep -qx -- "$known" <<<"$commands" || say "--help does not list $known"
done

# bash: what Tab offers after the words given.
complete_words() {
  bash -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    _dmarc_report
    printf "%s\n" "${COMPREPLY[@]}"' _ "$docs/dmarc-report.bash" "$@"
}

offered=$(complete_words dmarc-report "")
for c in $commands; do
  grep -qx -- "$c" <<<"$offered" || say "bash: 'dmarc-report <Tab>' does not offer $c"
  grep -q "^    '$c:" "$docs/_dmarc-report" || say "zsh: no command $c"
  zcat "$docs/dmarc-report.1.gz" | grep -q "^\.SS \"$(sed 's/-/\\\\-/g' <<<"$c")\"" ||
    say "man page: no section for $c"
  options=$("$bin" "$c" --help | grep -oE '^  -[^ ]+' | tr ',' '\n' | sed 's/^ *//' | grep '^-')
  offered_options=$(complete_words dmarc-report "$c" -)
  for o in $options; do
    grep -qx -- "$o" <<<"$offered_options" || say "bash: 'dmarc-report $c -<Tab>' does not offer $o"
    grep -qF -- "$o[" "$docs/_dmarc-report" || grep -qF -- "$o}" "$docs/_dmarc-report" ||
      grep -qF -- "$o," "$docs/_dmarc-report" || say "zsh: $c has no $o"
  done
done

# A value from a list: the choices, not the options.
values=$(complete_words dmarc-report import --failure-sample "")
[ "$(sort <<<"$values" | tr '\n' ' ')" = "full headers none " ] ||
  say "bash: --failure-sample offers '$values'"
# A word that is not an option: files.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
touch "$tmp/report-one.xml"
grep -qx "$tmp/report-one.xml" <<<"$(complete_words dmarc-report parse "$tmp/report-")" ||
  say "bash: 'dmarc-report parse FILE<Tab>' does not complete files"

if command -v zsh >/dev/null; then
  zsh -n "$docs/_dmarc-report" || say "zsh: syntax error in _dmarc-report"
fi
man -l "$docs/dmarc-report.1.gz" >/dev/null 2>"$tmp/man.err" || say "man cannot read the page"
if [ -s "$tmp/man.err" ]; then say "man warns: $(cat "$tmp/man.err")"; fi

[ $fail -eq 0 ] && echo "completions and man page cover $(wc -w <<<"$commands") commands"
exit $fail
