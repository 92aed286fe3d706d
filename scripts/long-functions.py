#!/usr/bin/env python3
"""Lists functions in src/ longer than a limit (default 120 lines), counting from the `fn` line
to its closing brace. Used to keep the review rule "no function over 120 lines" checkable."""
import pathlib
import re
import sys

limit = int(sys.argv[1]) if len(sys.argv) > 1 else 120
root = pathlib.Path(__file__).resolve().parent.parent / "src"
found = 0
for path in sorted(root.rglob("*.rs")):
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if not re.match(r"\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+\w+", line):
            continue
        depth, started = 0, False
        for j in range(i, len(lines)):
            code = re.sub(r'"(\\.|[^"\\])*"|//.*', "", lines[j])
            if not started and ";" in code and "{" not in code:
                break
            depth += code.count("{") - code.count("}")
            started = started or "{" in code
            if started and depth <= 0:
                if j - i + 1 > limit:
                    found += 1
                    name = re.search(r"fn\s+(\w+)", line).group(1)
                    print(f"{path.relative_to(root.parent)}:{i + 1} {name} {j - i + 1} lines")
                break
sys.exit(1 if found else 0)
