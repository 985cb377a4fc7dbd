"""An installed wheel carries everything slurm-diag reads at run time: the knowledge base's
entries, the JSON schemas, the performance model and the GPU profiles (not only an editable
install that reads them from the source tree)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PIP = [sys.executable, "-m", "pip"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the sources (the shared tree gets no build/ or egg-info)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "slurm_diag", src / "slurm_diag",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so"))
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([*PIP, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    [whl] = out.glob("slurm_diag-*.whl")
    return whl


def test_wheel_holds_the_knowledge_base_entries(wheel):
    shipped = sorted(p.name for p in (REPO / "slurm_diag" / "kb" / "content").glob("*.jsonl"))
    assert len(shipped) >= 10
    names = zipfile.ZipFile(wheel).namelist()
    in_wheel = sorted(Path(n).name for n in names if n.startswith("slurm_diag/kb/content/") and n.endswith(".jsonl"))
    assert in_wheel == shipped
    for data in ("slurm_diag/schemas/kb_entry.schema.json", "slurm_diag/schemas/config_sections/kb.json"):
        assert data in names


def test_installed_wheel_finds_and_loads_its_entries(wheel, tmp_path):
    target = tmp_path / "site"
    done = subprocess.run([*PIP, "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    code = ("import slurm_diag.kb.entries as e; "
            "print(e.__file__); print(e.SHIPPED_DIR); print(len(e.load_dir(e.SHIPPED_DIR)))")
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {code}"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    module, content, count = out.stdout.split("\n")[:3]
    assert module.startswith(str(target)) and content.startswith(str(target))   # not the source tree
    assert int(count) >= 50
