"""The real SmolLM2-135M is loaded once per test session (its safetensors copy is cached across
sessions under the temp dir, so only the first session pays the ~20 s GGUF conversion)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from slurm_diag.diagnose import engine, logfile

CACHE = Path(tempfile.gettempdir()) / "sdiag-test-llm-cache"


@pytest.fixture(scope="session")
def smollm2():
    pytest.importorskip("llguidance", reason="the llm extra is not installed (make setup installs it)")
    from slurm_diag.agent.llm.local import load_local

    return load_local("", cache_dir=CACHE)


def diagnose(text: str, **kw) -> dict:
    return engine.diagnose_log(logfile.from_text(text), **kw).to_dict()


GPU_OOM_LOG = """\
Epoch 3: 41%|####      | 1200/2900
Traceback (most recent call last):
  File "/home/alice/train.py", line 88, in <module>
    loss.backward()
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.15 GiB total capacity; 76.80 GiB already allocated)
"""

XID_LOG = """\
[Mon Mar  4 02:11:09 2024] NVRM: Xid (PCI:0000:3b:00): 79, pid=2231, GPU has fallen off the bus.
gpu-node07: RuntimeError: CUDA error: unspecified launch failure
"""
