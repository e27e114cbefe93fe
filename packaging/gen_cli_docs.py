#!/usr/bin/env python3
"""Writes what the Debian package installs beside the binary, from the binary's own --help:

  dmarc-report.bash    bash completion (every subcommand, its options, the choices of options
                       that take one of a list, files elsewhere)
  _dmarc-report        zsh completion (the same, with the help texts)
  commands.h2m         the COMMANDS section of the man page (every subcommand's --help), which
                       help2man includes

Usage: gen_cli_docs.py BINARY OUTDIR

Nothing here is written by hand per subcommand: a subcommand or an option added to the program
appears in the completions and the man page at the next build (tests/packaging checks that).
"""
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Option:
    names: list           # e.g. ["-c", "--config"]
    takes_value: bool
    repeatable: bool
    choices: list         # from TEXT:{a,b,c}
    help: str


@dataclass
class Command:
    name: str
    help: str
    usage: str = ""
    options: list = field(default_factory=list)
    positionals: list = field(default_factory=list)  # (name, help)
    text: str = ""        # the whole --help output


# An option line of CLI11's help: "  -c,--config TEXT ...   Help" (the help may be on the next
# line when the names are long).
OPTION_LINE = re.compile(r"^  (-[^ ]+)(?: ([^ ].*?))?(?: {2,}(.*))?$")
ENTRY_LINE = re.compile(r"^  ([^ -][^ ]*)(?: ([^ ].*?))?(?: {2,}(.*))?$")


def run_help(binary, *args):
    return subprocess.run([binary, *args, "--help"], check=True, capture_output=True,
                          text=True).stdout


def parse_help(text):
    """Options, positionals and subcommands (name, help) of one --help text."""
    options, positionals, subcommands = [], [], []
    section = None
    last = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            section = line.rstrip(":").strip()
            last = None
            continue
        if line.startswith("   ") and last is not None:  # a help text on its own line
            last.help = (last.help + " " + line.strip()).strip()
            continue
        m = OPTION_LINE.match(line)
        if m:
            kind = m.group(2) or ""
            choices = []
            cm = re.search(r":\{([^}]*)\}", kind)
            if cm:
                choices = [c.strip() for c in cm.group(1).split(",") if c.strip()]
            last = Option(names=m.group(1).split(","), takes_value=bool(kind) and
                          not kind.startswith("Excludes"), repeatable="..." in kind,
                          choices=choices, help=(m.group(3) or "").strip())
            options.append(last)
            continue
        m = ENTRY_LINE.match(line)
        if m and section == "Subcommands":
            subcommands.append((m.group(1), (m.group(3) or m.group(2) or "").strip()))
            last = None
        elif m and section == "Positionals":
            positionals.append((m.group(1), (m.group(3) or "").strip()))
            last = None
    return options, positionals, subcommands


def load(binary):
    top = run_help(binary)
    top_options, _, subs = parse_help(top)
    if not subs:
        sys.exit(f"{binary} --help lists no subcommands")
    commands = []
    for name, help_text in subs:
        text = run_help(binary, name)
        options, positionals, _ = parse_help(text)
        usage = next((l for l in text.splitlines() if l.startswith("Usage:")), "")
        commands.append(Command(name, help_text, usage, options, positionals, text))
    return top_options, commands


def sh_words(words):
    return " ".join(words)


def bash(top_options, commands):
    out = ["# bash completion of dmarc-report; generated from its --help by",
           "# packaging/gen_cli_docs.py (do not edit).",
           "_dmarc_report() {",
           "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}",
           "  local cmd='' i",
           "  for ((i = 1; i < COMP_CWORD; i++)); do",
           "    case ${COMP_WORDS[i]} in -*) ;; *) cmd=${COMP_WORDS[i]}; break ;; esac",
           "  done",
           "  if [[ -z $cmd ]]; then",
           "    COMPREPLY=($(compgen -W '" + sh_words([c.name for c in commands] +
                                               [n for o in top_options for n in o.names]) +
           "' -- \"$cur\"))",
           "    return",
           "  fi",
           "  local opts='' valued='' choices=''",
           "  case $cmd in"]
    for c in commands:
        opts = [n for o in c.options for n in o.names]
        valued = [n for o in c.options if o.takes_value for n in o.names]
        out.append(f"    {c.name})")
        out.append(f"      opts='{sh_words(opts)}'")
        out.append(f"      valued=' {sh_words(valued)} '")
        lists = [(n, o.choices) for o in c.options if o.choices for n in o.names]
        if lists:
            out.append("      case $prev in")
            for n, ch in lists:
                out.append(f"        {n}) choices='{sh_words(ch)}' ;;")
            out.append("      esac")
        out.append("      ;;")
    out += ["    *) return ;;",
            "  esac",
            "  if [[ -n $choices ]]; then",
            "    COMPREPLY=($(compgen -W \"$choices\" -- \"$cur\"))",
            "  elif [[ $prev == -* && $valued == *\" $prev \"* ]] || [[ $cur != -* ]]; then",
            "    compopt -o filenames 2>/dev/null",
            "    COMPREPLY=($(compgen -f -- \"$cur\"))",
            "  else",
            "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))",
            "  fi",
            "}",
            "complete -F _dmarc_report dmarc-report",
            ""]
    return "\n".join(out)


def zsh_quote(text):
    """A help text inside '...[text]' of _arguments."""
    text = text[:200].replace("[", "(").replace("]", ")")
    return text.replace("'", "'\\''")


def zsh(top_options, commands):
    out = ["#compdef dmarc-report",
           "# zsh completion of dmarc-report; generated from its --help by",
           "# packaging/gen_cli_docs.py (do not edit).",
           "_dmarc_report() {",
           "  local -a commands",
           "  commands=("]
    for c in commands:
        out.append(f"    '{c.name}:{zsh_quote(c.help)}'")
    out += ["  )",
            "  if (( CURRENT == 2 )); then",
            "    _describe -t commands 'dmarc-report command' commands",
            "    _arguments '--help[Print this help message and exit]' '--version[Print the "
            "version and exit]'",
            "    return",
            "  fi",
            "  local cmd=${words[2]}",
            "  shift words",
            "  (( CURRENT-- ))",
            "  curcontext=\"${curcontext%:*:*}:dmarc-report-$cmd:\"",
            "  case $cmd in"]
    for c in commands:
        out.append(f"    {c.name})")
        out.append("      _arguments -s \\")
        for o in c.options:
            desc = zsh_quote(o.help)
            action = ""
            if o.takes_value:
                action = (":value:(" + " ".join(o.choices) + ")") if o.choices else ":value:_files"
            rep = "*" if o.repeatable else ""
            if len(o.names) > 1 and not o.repeatable:
                excl = "(" + " ".join(o.names) + ")"
                out.append(f"        '{excl}'{{{','.join(o.names)}}}'[{desc}]{action}' \\")
            else:
                for n in o.names:
                    out.append(f"        '{rep}{n}[{desc}]{action}' \\")
        out.append("        '*:file:_files'")
        out.append("      ;;")
    out += ["  esac",
            "}",
            "_dmarc_report \"$@\"",
            ""]
    return "\n".join(out)


def roff(text):
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text.startswith((".", "'")) else text


def man_commands(commands):
    out = ["[COMMANDS]",
           "Each command has its own options; \\fBdmarc\\-report\\fR \\fICOMMAND\\fR "
           "\\fB\\-\\-help\\fR prints them too."]
    for c in commands:
        out.append(f".SS \"{roff(c.name)}\"")
        out.append(roff(c.help) + ".")
        out.append(".PP")
        out.append(roff(c.usage))
        for name, help_text in c.positionals:
            out += [".TP", f"\\fI{roff(name)}\\fR", roff(help_text)]
        for o in c.options:
            if o.names == ["-h", "--help"]:
                continue
            names = ", ".join(f"\\fB{roff(n)}\\fR" for n in o.names)
            if o.takes_value:
                names += " \\fIVALUE\\fR"
            if o.choices:
                names += " (" + roff("|".join(o.choices)) + ")"
            out += [".TP", names, roff(o.help)]
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, outdir = sys.argv[1], Path(sys.argv[2])
    outdir.mkdir(parents=True, exist_ok=True)
    top_options, commands = load(binary)
    (outdir / "dmarc-report.bash").write_text(bash(top_options, commands))
    (outdir / "_dmarc-report").write_text(zsh(top_options, commands))
    (outdir / "commands.h2m").write_text(man_commands(commands))


if __name__ == "__main__":
    main()
