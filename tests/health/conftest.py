import pytest

from slurm_diag.health.context import Context
from slurm_diag.config import load


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    """Defaults only, state under tmp_path, 8 GPUs expected."""
    for var in ("SDIAG_CONFIG", "SDIAG_GPU_PROFILE", "SPANK_SDIAG_HEALTH", "SLURM_CONF"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SDIAG_HOME", str(tmp_path / "home"))
    cfg = load()
    cfg.data["health"]["expected_gpus"] = 8
    return cfg


@pytest.fixture
def make_ctx(cfg):
    def make(profile="h100-8-healthy", context="manual", level="quick", node="node1", job_gpus=None, **env):
        env = {"SDIAG_GPU_PROFILE": str(profile), **env} if profile else dict(env)
        return Context(cfg=cfg, context=context, level=level, node=node, job_gpus=job_gpus, env=env)
    return make


@pytest.fixture
def healthy_profile_without_ib(tmp_path):
    import json

    from slurm_diag.gpu.profile import SHIPPED

    doc = json.loads((SHIPPED / "h100-8-healthy.json").read_text())
    doc["infiniband"] = None
    path = tmp_path / "no-ib.json"
    path.write_text(json.dumps(doc))
    return path
