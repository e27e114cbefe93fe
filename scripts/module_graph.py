#!/usr/bin/env python3
"""The module dependency diagram of docs/architecture.md, drawn from the CMake targets.

Reads every src/*/CMakeLists.txt, takes each `dmarc_module(NAME ... DEPS ...)` and the dmarc_*
libraries it links, and prints a Mermaid graph (one edge per direct dependency).

  scripts/module_graph.py              prints the diagram
  scripts/module_graph.py --check DOC  fails when DOC's diagram (between the markers
                                       `<!-- module-graph -->` and `<!-- /module-graph -->`)
                                       differs from the CMake targets
  scripts/module_graph.py --write DOC  rewrites that part of DOC
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- module-graph -->", "<!-- /module-graph -->"


def modules():
    deps = {}
    for cmake in sorted((ROOT / "src").glob("*/CMakeLists.txt")):
        text = re.sub(r"#[^\n]*", "", cmake.read_text())
        folder = cmake.parent.name
        for m in re.finditer(r"dmarc_module\(\s*(\w+)(.*?)\)", text, re.S):
            body = m.group(2)
            dep_part = body.split("DEPS", 1)[1] if "DEPS" in body else ""
            names = re.findall(r"\bdmarc_(\w+)", dep_part)
            deps[folder] = sorted({n for n in names if n != "options"})
        if folder not in deps and re.search(r"add_library\(dmarc_\w+ INTERFACE", text):
            deps[folder] = []  # header-only module (model)
    # Library names that differ from their folder (app_commands lives in src/app).
    folder_of = {}
    for cmake in (ROOT / "src").glob("*/CMakeLists.txt"):
        for m in re.finditer(r"(?:dmarc_module\(|add_library\(dmarc_)(\w+)", cmake.read_text()):
            folder_of[m.group(1)] = cmake.parent.name
    return {k: sorted({folder_of.get(d, d) for d in v}) for k, v in deps.items()}


def diagram():
    lines = ["```mermaid", "graph BT"]
    for name, ds in sorted(modules().items()):
        if not ds:
            lines.append(f"  {name}")
        for d in ds:
            lines.append(f"  {name} --> {d}")
    lines.append("```")
    return "\n".join(lines)


def section(doc):
    text = doc.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < 0:
        sys.exit(f"{doc}: markers {BEGIN} ... {END} not found")
    return text, start + len(BEGIN), end


def main(argv):
    if len(argv) == 1:
        print(diagram())
        return 0
    if len(argv) == 3 and argv[1] in ("--check", "--write"):
        doc = pathlib.Path(argv[2])
        text, a, b = section(doc)
        want = "\n" + diagram() + "\n"
        if argv[1] == "--write":
            doc.write_text(text[:a] + want + text[b:])
            return 0
        if text[a:b] != want:
            print(f"{doc}: the module diagram differs from the CMake targets; run "
                  f"scripts/module_graph.py --write {argv[2]}\nexpected:{want}")
            return 1
        print(f"{doc}: module diagram matches the CMake targets")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
