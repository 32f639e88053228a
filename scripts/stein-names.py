#!/usr/bin/env python3
"""Write the names a Stein wheel defines, one ``path:qualname`` a line.

The code-location test checks every ``code.location`` a boot records against these
lists, so a label that names no function or class of Stein cannot slip in. Derived from
the wheels themselves (read, never imported or installed):

    pip download --no-deps nova==19.0.0 openstack-placement==1.0.0 -d /tmp/stein
    python3 scripts/stein-names.py /tmp/stein/nova-19.0.0-py2.py3-none-any.whl \
        > tests/fixtures/nova-19.0.0-names.txt
    python3 scripts/stein-names.py /tmp/stein/openstack_placement-1.0.0-py2.py3-none-any.whl \
        > tests/fixtures/placement-1.0.0-names.txt

Test modules (``*/tests``) are left out. A nested function is named as Python names
it: ``Class.method.<locals>.inner``.
"""

from __future__ import annotations

import ast
import sys
import zipfile
from collections.abc import Iterator


def qualnames(tree: ast.Module) -> Iterator[str]:
    def walk(node: ast.AST, prefix: str) -> Iterator[str]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                name = prefix + child.name
                yield name
                yield from walk(child, name + ".")
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = prefix + child.name
                yield name
                yield from walk(child, name + ".<locals>.")
            elif isinstance(child, ast.If | ast.Try | ast.With):
                yield from walk(child, prefix)   # definitions under if/try at this level

    yield from walk(tree, "")


def main(wheel: str) -> None:
    names: set[str] = set()
    with zipfile.ZipFile(wheel) as zf:
        for path in zf.namelist():
            package = path.split("/", 1)[0]
            if package not in ("nova", "placement") or not path.endswith(".py"):
                continue
            if path.startswith(f"{package}/tests/"):
                continue
            tree = ast.parse(zf.read(path), filename=path)
            names.add(path)
            names.update(f"{path}:{q}" for q in qualnames(tree))
    sys.stdout.write("".join(f"{n}\n" for n in sorted(names)))


if __name__ == "__main__":
    main(sys.argv[1])
