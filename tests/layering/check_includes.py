#!/usr/bin/python3
"""The include-layer check: nothing in the product includes upward.

Every product source file belongs to a unit (a folder, or for daemon/'s own
files, the composition root or the base). A file may include its own unit or
a unit of lower rank; units of the same rank are siblings and may not include
each other (http and intents both sit on the engine; neither knows the other).
This stands in for Go's package import rules: a new include that turns the
direction around fails the suite, with the file and line.

Usage: check_includes.py SOURCE_DIR
"""

import pathlib
import re
import sys

# unit -> rank. Order of the pipeline, from the composition root down.
RANKS = {
    "daemon:root": 90,  # main.cpp, app.*, config.cpp: they compose every room
    "daemon/replay": 80,
    "daemon/http": 70,
    "daemon/intents": 70,
    "daemon/engine": 60,
    "daemon/remediation": 50,
    "daemon/safety": 40,
    "daemon/notify": 30,
    "daemon/state": 20,
    "daemon:base": 10,  # config.hpp, log, metrics, version, detail/
    "connectors/alertmanager": 5,
    "connectors/kafka": 5,
    "connectors/ssh": 5,
    "connectors/oidc": 5,
    "connectors/common": 3,
    "rules": 1,
}

ROOT_FILES = {"main.cpp", "app.hpp", "app_impl.hpp", "app.cpp", "app_kafka.cpp", "app_reload.cpp",
              "config.cpp", "config_auth.cpp"}
PRODUCT_DIRS = ("rules", "connectors", "daemon")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def unit_of(rel: pathlib.PurePosixPath) -> str | None:
    parts = rel.parts
    if parts[0] == "rules":
        return "rules"
    if parts[0] == "connectors":
        return f"connectors/{parts[1]}" if len(parts) > 2 else None
    if parts[0] != "daemon":
        return None
    if len(parts) == 2:
        return "daemon:root" if parts[1] in ROOT_FILES else "daemon:base"
    if parts[1] == "detail":
        return "daemon:base"
    return f"daemon/{parts[1]}"


def main() -> int:
    src = pathlib.Path(sys.argv[1]).resolve()
    problems = []
    files = 0
    for top in PRODUCT_DIRS:
        for path in sorted((src / top).rglob("*")):
            if path.suffix not in (".cpp", ".hpp"):
                continue
            rel = pathlib.PurePosixPath(path.relative_to(src).as_posix())
            unit = unit_of(rel)
            if unit is None or unit not in RANKS:
                problems.append(f"{rel}: in no known layer; add its folder to {__file__}")
                continue
            files += 1
            for lineno, line in enumerate(path.read_text().splitlines(), 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = pathlib.PurePosixPath(m.group(1))
                if target.parts[0] not in PRODUCT_DIRS:
                    continue
                if not (src / target).exists():
                    problems.append(f"{rel}:{lineno}: includes {target}, which does not exist")
                    continue
                to = unit_of(target)
                if to == unit:
                    continue
                if to not in RANKS or RANKS[to] >= RANKS[unit]:
                    why = "a sibling" if RANKS.get(to) == RANKS[unit] else "a higher layer"
                    problems.append(f"{rel}:{lineno}: {unit} includes {target} ({to}), {why}")
    for p in problems:
        print(p)
    if files == 0:
        print(f"no product source found under {src}")
        return 1
    print(f"{files} files checked, {len(problems)} upward or sideways includes")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
