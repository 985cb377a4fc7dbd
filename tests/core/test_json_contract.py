"""Every `--json` output validates against its schema in slurm_diag/schemas/.

The commands are enumerated from the click group, so a new command with `--json` and no case here
fails `test_every_json_command_has_a_case`. Each case runs the command through the real entry
point and validates what it printed, independently of the check `emit_json` makes itself. The
commands that need the cluster run in `test_cluster_commands_print_valid_json` (under the lock).
"""

from __future__ import annotations

import json

import click
import pytest

from slurm_diag import schemas
from slurm_diag.cli import cli

from tests.conftest import run_main, sdiag

ATTRIBUTION = {"label": "network", "scope": "infra", "component": "infiniband", "confidence": 0.8,
               "supporting": [], "contradicting": [], "explanation": "rail 3 cable fault",
               "next_steps": ["replace the cable"]}

# command path -> (schema, argv after the path, allowed exit codes); {name} fills from the workspace
LOCAL = {
    ("health", "check"): ("health_report", ["--profile", "h100-8-throttled-gpu3"], {1}),
    ("health", "profiles"): ("health_profile", [], {0}),
    ("health", "forget"): ("health_forget", ["--node", "node7"], {0}),
    ("perf", "expect"): ("perf_prediction", ["--sku", "H100-SXM", "--probe", "gemm", "--dtype", "bf16"], {0}),
    ("perf", "allreduce"): ("perf_allreduce", ["--ranks", "8", "--bytes", "1G", "--sku", "H100-SXM"], {0}),
    ("perf", "skus"): ("perf_sku", [], {0}),
    ("perf", "calibrate"): ("perf_calibration", ["membw", "--runs", "1", "--param", "device=cpu",
                                                 "--param", "n=200000", "--param", "repeats=1"], {0}),
    ("probe", "list"): ("probe_spec", [], {0}),
    ("probe", "run"): ("probe_result", ["membw", "--param", "device=cpu", "--param", "n=200000",
                                        "--param", "repeats=1"], {0, 1}),
    ("probe", "judge"): ("probe_result", ["{results_file}"], {0, 1}),
    ("probe", "results"): ("probe_result", [], {0}),
    ("config", "show"): ("config_show", [], {0}),
    ("explain",): ("explain", ["--log", "{log}", "--state", "FAILED", "--exit-code", "1"], {0}),
    ("store", "info"): ("store_info", [], {0}),
    ("store", "ingest"): ("store_ingest", ["--spool", "{spool}"], {0}),
    ("kb", "build"): ("kb_build", [], {0}),
    ("kb", "search"): ("kb_hit", ["NCCL WARN NET/IB : Got completion from peer with error 12"], {0}),
    ("kb", "stats"): ("kb_stats", [], {0}),
    ("kb", "add"): ("kb_add", ["--attribution", "{attribution}", "--text",
                               "mlx5_core 0000:c5:00.0: rail3 lost carrier 17 times"], {0}),
    ("kb", "gaps"): ("kb_gaps", [], {0}),
    ("kb", "forget"): ("kb_forget", ["{added_id}"], {0}),
    ("actions", "list"): ("actions_list", [], {0}),
    ("actions", "show"): ("actions_show", ["{proposal}"], {0}),
    ("actions", "breaker"): ("actions_breaker", ["status"], {0}),
}
# commands that need the local cluster: covered by the cluster test below
CLUSTER = {("nodes",): "node", ("job",): "job", ("devcluster", "status"): "devcluster_status",
           ("probe", "submit"): "probe_submission", ("probe", "collect"): "probe_sweep",
           ("store", "info"): "store_info", ("store", "ingest"): "store_ingest", ("agent", "run"): "agent_run"}
KB_ORDER = [("kb", "build"), ("kb", "search"), ("kb", "stats"), ("kb", "add"), ("kb", "gaps"), ("kb", "forget")]


def json_commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every command path of the CLI that has a --json option."""
    ctx = click.Context(group)
    found = set()
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        path = (*prefix, name)
        if isinstance(command, click.Group):
            found |= json_commands(command, path)
        elif any("--json" in p.opts for p in command.params):
            found.add(path)
    return found


def test_every_json_command_has_a_case():
    missing = json_commands() - set(LOCAL) - set(CLUSTER)
    assert not missing, f"commands with --json but no schema case here: {sorted(missing)}"
    assert json_commands() >= set(LOCAL) | set(CLUSTER), "a case names a command that no longer exists"
    for schema in {s for s, _, _ in LOCAL.values()} | set(CLUSTER.values()):
        assert schema in schemas.NAMES


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A private SDIAG_HOME with a stored ProbeResult, a results file, a spool, an attribution and
    a job log."""
    base = tmp_path_factory.mktemp("contract")
    mp = pytest.MonkeyPatch()
    mp.setenv("SDIAG_HOME", str(base / "home"))
    mp.delenv("SDIAG_CONFIG", raising=False)
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("OPENBLAS_NUM_THREADS", "1")
    from slurm_diag import config
    from slurm_diag.probes.execute import run_probe
    from slurm_diag.store import Store

    try:
        docs = run_probe("membw", {"device": "cpu", "n": 200000, "repeats": 1})
        results_file = base / "results.json"
        results_file.write_text(json.dumps(docs))
        Store.from_config(config.load()).add_probe_result(docs[0])
        spool = base / "spool"
        (spool / "health").mkdir(parents=True)
        report = sdiag("health", "check", "--profile", "h100-8-healthy", "--node", "node7", "--json",
                       env={"SDIAG_HOME": str(base / "home")})
        assert report.returncode == 0, report.stderr
        (spool / "health" / "1-node7-prolog-42.json").write_text(report.stdout)
        (spool / "health" / "2-node7-prolog-43.json").write_text('{"node": "node7", "checks": [')
        attribution = base / "attribution.json"
        attribution.write_text(json.dumps(ATTRIBUTION))
        log = base / "slurm-42.out"
        log.write_text("epoch 3 step 120\ntorch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate "
                       "2.00 GiB (GPU 0; 79.15 GiB total capacity; 77.80 GiB already allocated)\n")
        Store.from_config(config.load()).add_finding(
            {"id": "42:stderr:unrecognised-0badc0de", "job_id": "42", "source": "log", "severity": "UNKNOWN",
             "summary": "an error line no rule recognises: widgetd: fatal: table 4 not reconciled",
             "raw": {"where": "stderr", "line": 2, "text": "widgetd: fatal: table 4 not reconciled"}})
        proposal = Store.from_config(config.load()).add_proposal(
            {"id": "contract0001", "action": "drain", "target": "node3", "reason": "gpu3 stuck at 200 MHz",
             "evidence": [], "origin": "person", "command": ["scontrol", "update", "NodeName=node3", "State=DRAIN",
                                                             "Reason=sdiag: contract0001: gpu3 stuck at 200 MHz"]},
            actor="root")
        from slurm_diag.kb.add import entry_from_attribution

        added_id = entry_from_attribution(ATTRIBUTION, LOCAL[("kb", "add")][1][-1])["id"]   # what kb add adds
        yield {"results_file": str(results_file), "spool": str(spool), "attribution": str(attribution),
               "log": str(log), "proposal": proposal, "added_id": added_id}
    finally:
        mp.undo()


def _valid_output(schema: str, out: str):
    doc = json.loads(out)                       # one JSON document, nothing else on stdout
    problems = schemas.output_errors(schema, doc)
    assert not problems, f"{schema}: {problems[:3]}"
    assert doc not in ([], {}), "an empty document proves nothing"
    return doc


@pytest.mark.parametrize("path", [p for p in LOCAL if p[0] != "kb"], ids=" ".join)
def test_local_commands_print_valid_json(workspace, capsys, path):
    schema, args, codes = LOCAL[path]
    code, out, err = run_main(capsys, *path, *[a.format(**workspace) for a in args], "--json")
    assert code in codes, err
    _valid_output(schema, out)


def test_kb_commands_print_valid_json(workspace, capsys):
    pytest.importorskip("chromadb", reason="the kb extra is not installed")
    for path in KB_ORDER:
        schema, args, codes = LOCAL[path]
        code, out, err = run_main(capsys, *path, *[a.format(**workspace) for a in args], "--json")
        assert code in codes, (path, err)
        _valid_output(schema, out)


@pytest.mark.cluster
def test_cluster_commands_print_valid_json(cluster_env, slurm, tmp_path):
    def run(*args, codes=(0,)):
        done = sdiag(*args, "--json", env=cluster_env, timeout=300)
        assert done.returncode in codes, (args, done.stderr)
        return done.stdout

    _valid_output("node", run("nodes"))
    _valid_output("devcluster_status", run("devcluster", "status"))
    submitted = _valid_output("probe_submission", run(
        "probe", "submit", "membw", "--nodes", "node[1-2]", "--rounds", "1", "--no-wait", "--time-limit", "5",
        "--param", "n=200000", "--param", "repeats=1", "--threads", "1"))
    sweep = _valid_output("probe_sweep", run("probe", "collect", submitted["sweep"], codes=(0, 1)))
    assert {j["job_id"] for j in sweep["jobs"]} == {j["job_id"] for j in submitted["jobs"]}
    job = _valid_output("job", run("job", submitted["jobs"][0]["job_id"]))
    assert job["state"] == "COMPLETED", job
    agent = _valid_output("agent_run", run("agent", "run", "--jobs", job["job_id"], "--llm", "none"))
    assert agent["jobs_seen"] == 1 and agent["proposals"] == [], agent
    spool = tmp_path / "spool"
    (spool / "health").mkdir(parents=True)
    report = sdiag("health", "check", "--profile", "h100-8-healthy", "--node", "json-contract", "--json",
                   env=cluster_env)                # a name no real node has: node histories stay clean
    (spool / "health" / "1-json-contract-manual-1.json").write_text(report.stdout)
    ingested = _valid_output("store_ingest", run("store", "ingest", "--spool", str(spool)))
    assert ingested["health"] == 1, ingested
    info = _valid_output("store_info", run("store", "info"))
    assert info["url"].startswith("mysql") and info["health_reports"] >= 1, info


def test_output_that_breaks_its_schema_is_an_internal_error_not_json(tmp_path, monkeypatch, capsys):
    """What a user sees when slurm-diag has such a bug: one message, exit 1, no traceback, no JSON."""
    from pathlib import Path

    from slurm_diag.health import state

    monkeypatch.setenv("SDIAG_HOME", str(tmp_path))
    monkeypatch.setattr(state, "clear", lambda home, node: [Path("xids.json")])   # a Path, not a str
    code, out, err = run_main(capsys, "health", "forget", "--node", "node7", "--json")
    assert (code, out) == (1, "")
    assert "internal error: the JSON output does not match health_forget.schema.json: removed/0" in err
    assert "please report" in err and "Traceback" not in err


def test_a_value_that_is_not_json_is_an_internal_error(tmp_path, monkeypatch, capsys):
    """No `default=str`: a Path inside an open-ended object would have been printed as a string."""
    from pathlib import Path

    from slurm_diag import config

    monkeypatch.setenv("SDIAG_HOME", str(tmp_path))
    monkeypatch.delenv("SDIAG_CONFIG", raising=False)
    real = config.load

    def load(*args, **kwargs):
        cfg = real(*args, **kwargs)
        cfg.data["home"] = Path("/x")
        return cfg
    monkeypatch.setattr(config, "load", load)
    code, out, err = run_main(capsys, "config", "show", "--json")
    assert (code, out) == (1, "")
    assert "internal error: the config_show output cannot be written as JSON" in err and "PosixPath" in err
