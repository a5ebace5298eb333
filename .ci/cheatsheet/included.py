"""Checks that every snippet file appears verbatim in project-docs/cheatsheet.md.

The files are the single source of truth: .ci/cheatsheet.sh runs them, and
the markdown shows them. Each block in the markdown is preceded by a marker

    <!-- snippet: project-docs/cheatsheet/curl.sh -->
    ```sh
    …the file's content…
    ```

`python3 .ci/cheatsheet/included.py` fails when a block differs from its
file, a marker names no file, or a snippet file has no marker;
`--write` rewrites the blocks from the files.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = ROOT / "project-docs" / "cheatsheet.md"
SNIPPET_FILES = sorted(
    [p for p in (ROOT / "project-docs" / "cheatsheet").iterdir() if p.is_file()]
    + list((ROOT / "examples" / "cheatsheet" / "src" / "bin").glob("*.rs"))
)
BLOCK = re.compile(
    r"(<!-- snippet: (?P<path>[^ ]+) -->\n(?P<fence>```+)(?P<lang>[^\n]*)\n)(?P<body>.*?)(?P=fence)\n",
    re.S,
)


def main() -> int:
    write = "--write" in sys.argv[1:]
    text = DOC.read_text()
    problems, seen = [], set()

    def replace(match: re.Match) -> str:
        path = ROOT / match["path"]
        seen.add(path)
        if not path.is_file():
            problems.append(f"{match['path']}: no such file")
            return match[0]
        content = path.read_text()
        if match["body"] != content:
            problems.append(f"{match['path']}: the block in cheatsheet.md differs from the file")
        return match[1] + content + match["fence"] + "\n"

    updated = BLOCK.sub(replace, text)
    for path in SNIPPET_FILES:
        if path not in seen:
            problems.append(f"{path.relative_to(ROOT)}: not shown in cheatsheet.md")
    if write:
        DOC.write_text(updated)
        problems = [p for p in problems if "differs" not in p]
    for problem in problems:
        print(f"[cheatsheet] {problem}", file=sys.stderr)
    if problems and not write:
        print("[cheatsheet] run: python3 .ci/cheatsheet/included.py --write", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
