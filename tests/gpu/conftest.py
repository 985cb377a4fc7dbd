import copy
import json

import pytest

from slurm_diag.gpu import profile as profile_mod


@pytest.fixture
def healthy_doc():
    return json.loads((profile_mod.SHIPPED / "h100-8-healthy.json").read_text())


@pytest.fixture
def write_profile(tmp_path):
    """Write a (modified) profile document to a file and return its path."""
    def write(doc, name="node.json"):
        path = tmp_path / name
        path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
        return path
    return write


def tweak(doc, gpu, **fields):
    out = copy.deepcopy(doc)
    out["gpus"][gpu].update(fields)
    return out
