"""The prolog path stays light: checked in a fresh interpreter, the way slurmd starts it."""

import json
import subprocess
import sys

HEAVY = ("torch", "transformers", "chromadb", "onnxruntime", "numpy", "sqlalchemy", "jsonschema", "click",
         "pynvml", "cupy")

PROBE = """
import json, os, sys
from slurm_diag.health.hooks import run_hook
code = run_hook("prolog")
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def test_prolog_imports_nothing_heavy(tmp_path):
    env = {"SDIAG_HOME": str(tmp_path), "SDIAG_GPU_PROFILE": "h100-8-healthy", "SLURMD_NODENAME": "n1",
           "SLURM_JOB_ID": "5", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert doc["code"] == 0
    loaded = {m.split(".")[0] for m in doc["modules"]}
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_prolog_module_entry_point(tmp_path):
    env = {"SDIAG_HOME": str(tmp_path), "SDIAG_GPU_PROFILE": "h100-8-dbe-gpu5", "SLURMD_NODENAME": "n1",
           "SLURM_JOB_ID": "6", "PATH": "/nonexistent"}
    out = subprocess.run([sys.executable, "-m", "slurm_diag.health.prolog"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "would drain n1 (sdiag:" in out.stderr     # no Slurm here: fail safe
