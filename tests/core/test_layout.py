"""Names say what a module is, once: no two modules of the package share a name (a reader who sees
`runner` or `store` must not have to ask which one), and none is another's plural."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import slurm_diag

PACKAGE = Path(slurm_diag.__file__).parent
# __init__/__main__ are Python's; errors.py is each boundary's typed errors beside the base ones, and
# fake.py each boundary's in-memory stand-in for unit tests (slurm/fake.py, agent/llm/fake.py)
SHARED_ON_PURPOSE = {"__init__", "__main__", "errors", "fake"}


def modules() -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for path in PACKAGE.rglob("*.py"):
        found[path.stem].append(str(path.relative_to(PACKAGE)))
    return found


def test_no_two_modules_share_a_name():
    clashes = {name: paths for name, paths in modules().items() if len(paths) > 1 and name not in SHARED_ON_PURPOSE}
    assert clashes == {}


def test_no_module_is_another_ones_plural():
    names = set(modules())
    assert sorted(n for n in names if n.endswith("s") and n[:-1] in names) == []
