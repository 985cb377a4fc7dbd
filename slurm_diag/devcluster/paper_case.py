"""The case of arXiv 2411.05349, end to end on the local cluster, timed.

A baseline sweep first, as an administrator would probe a healthy fleet, picks two nodes in good
standing. A two-node job ran fast twice on them. On its third run one node slows down mid-job (a
CPU quota put on that node's slurmd and on the job's tasks already running there). The job still
completes, only later. The agent then runs as a Slurm job, the way scrontab starts it. It sees the slow job, asks for
probes on the job's nodes and a fleet to compare them with, and leaves a follow-up pass behind the
probes. That pass judges the probes against the fleet, attributes the slowness to the node, and
proposes draining it.

The paper reports under 10 minutes from the fault to the answer, against about an hour for a senior
engineer. This module measures our time.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from slurm_diag import process
from slurm_diag.devcluster import cluster
from slurm_diag.errors import EnvironmentProblem

REPO = Path(__file__).resolve().parents[2]
WORK = "python3 -c 'sum(i * i for i in range(40_000_000))'"


@dataclass
class Outcome:
    job_id: str = ""
    earlier: list[str] = field(default_factory=list)
    slowed: str = ""
    fault_at: float = 0.0
    job_elapsed_s: dict = field(default_factory=dict)      # job id -> elapsed seconds
    first_pass: dict = field(default_factory=dict)
    follow_up: dict = field(default_factory=dict)
    proposal: dict | None = None
    attribution: dict | None = None
    timings: dict = field(default_factory=dict)           # what -> seconds after the fault


def _submit_agent(lay, log: Path, since: str, python: str) -> str:
    """jobs/agent.sbatch as scrontab or cron would submit it, looking back ``since``."""
    env = {**cluster.slurm_env(lay), "SDIAG_PYTHON": python, "PYTHONPATH": str(REPO),   # this checkout's code
           "SDIAG_CONFIG": str(lay.base / "etc" / "sdiag.toml")}
    done = process.run(["sbatch", "--parsable", "--chdir=/tmp", "-o", str(log), str(REPO / "jobs" / "agent.sbatch"),
                        "--since", since, "--json"], env=env, timeout=30)
    if done.returncode != 0:
        raise EnvironmentProblem(f"sbatch jobs/agent.sbatch failed: {done.stderr.strip()[:300]}")
    return done.stdout.strip().split(";")[0]


def _agent_json(path: Path) -> dict:
    text = path.read_text(errors="replace")
    try:
        return json.loads(text[text.index("{"):])
    except ValueError:
        raise EnvironmentProblem(f"the agent job's output {path} holds no JSON report",
                                 hint="its last lines: " + " | ".join(text.strip().splitlines()[-3:])) from None


def baseline(lay, slurm, store, cfg, say) -> list[str]:
    """What an administrator does before trusting a fleet comparison: probe every node once while
    healthy. Returns the nodes the sweep found fine; a clean run also clears an older flag."""
    from slurm_diag.agent import probing
    from slurm_diag.probes import submit as sub

    sweep = probing.new_sweep(cfg, probing.Settings.from_config(cfg), lay.node_names)
    sweep_id = sweep.sweep_id
    outcome = sub.run_sweep(slurm, store, cfg, sweep, lambda m: None)
    flagged = {v.node for v in outcome.flagged}
    fine = [n for n in lay.node_names if n not in flagged]
    say(f"baseline sweep {sweep_id}: {', '.join(fine)} fine" + (f"; {', '.join(sorted(flagged))} below the fleet"
                                                               if flagged else ""))
    return fine


def quiet_nodes(store, nodes, minutes: float = 1.5) -> list[str]:
    """Nodes whose health checks raised nothing in the last minutes (the case's job reads its nodes'
    health from a minute before it started)."""
    from datetime import datetime, timedelta, timezone

    from slurm_diag.diagnose.node_facts import when

    since = datetime.now(timezone.utc) - timedelta(minutes=minutes)
    return [n for n in nodes if not any((at := when(r.get("time"))) is not None and at >= since
                                        and r.get("status") != "OK" for r in store.health_reports(node=n, limit=50))]


def run(lay, slurm, store, cfg, *, share: float = 0.2, say=print, python: str = sys.executable) -> Outcome:
    """Run the case on two nodes a baseline sweep found fine; the second one slows down. It is back
    at full speed afterwards, whatever happens. The proposal is left for an admin (the caller
    decides what to do with it)."""
    fresh = quiet_nodes(store, baseline(lay, slurm, store, cfg, say))
    if len(fresh) < 2:
        raise EnvironmentProblem(f"the case needs two healthy nodes; the baseline sweep and the health checks "
                                 f"leave {fresh or 'none'}", hint="`sdiag-agent nodes`, then rerun the case")
    pair = fresh[:2]
    node = pair[1]
    name = f"paper-case-{int(time.time())}"
    script = f"#!/bin/bash\nsrun {WORK}\n"
    args = ["-J", name, "-N", "2", "-w", ",".join(pair), "--ntasks-per-node=1", "-o", "/tmp/sdiag-paper-%j.out"]
    out = Outcome(slowed=node)
    began = time.time()
    for _ in range(2):
        job_id = slurm.submit(script, args, workdir="/tmp")
        job = slurm.wait(job_id, timeout=300, poll=0.5)
        out.earlier.append(job_id)
        out.job_elapsed_s[job_id] = job.elapsed_s
        say(f"earlier run {job_id} on {','.join(pair)}: {job.state} in {job.elapsed_s} s")
    out.job_id = slurm.submit(script, args, workdir="/tmp")
    deadline = time.monotonic() + 120
    while not cluster.tasks_on(node) and time.monotonic() < deadline:   # past the prologs, its task computing there
        time.sleep(0.2)
    try:
        cluster.slow(lay, node, share, running_jobs=True)
        out.fault_at = time.time()
        say(f"run {out.job_id} is running; {node} slowed to {share:g} CPU under it (the fault)")
        job = slurm.wait(out.job_id, timeout=600, poll=0.5)
        out.job_elapsed_s[out.job_id] = job.elapsed_s
        out.timings["job_ended"] = round(time.time() - out.fault_at, 1)
        say(f"run {out.job_id}: {job.state} in {job.elapsed_s} s (the earlier runs: "
            f"{', '.join(str(out.job_elapsed_s[j]) for j in out.earlier)} s)")

        logs = Path(lay.base.parent) / "agent"
        logs.mkdir(parents=True, exist_ok=True)
        first_log = logs / f"paper-case-{out.job_id}-pass1.out"
        agent_id = _submit_agent(lay, first_log, f"{int(time.time() - began) // 60 + 1}m", python)
        say(f"the agent runs as Slurm job {agent_id} (as scrontab would start it)")
        slurm.wait(agent_id, timeout=300, poll=0.5)
        out.first_pass = _agent_json(first_log)
        out.timings["first_pass_done"] = round(time.time() - out.fault_at, 1)
        asked = [a for a in out.first_pass.get("probes_asked", []) if out.job_id in a["for_jobs"]]
        if asked:
            asked = asked[0]
            say(f"it flags run {out.job_id} as slow and asks for {asked['probe']} probes on "
                f"{', '.join(asked['nodes'])} (jobs {asked['jobs'][0]}..{asked['jobs'][-1]}); "
                f"follow-up pass: job {asked['follow_up']}")
            slurm.wait(asked["follow_up"], timeout=900, poll=1)
            out.follow_up = _agent_json(logs / f"agent-follow-up-{asked['follow_up']}.out")
            out.timings["follow_up_done"] = round(time.time() - out.fault_at, 1)
        else:                          # the records already held a probe against the node: no new sweep
            say(f"it flags run {out.job_id} as slow; the probes on record already decide (no new sweep)")
            out.follow_up = out.first_pass
    finally:
        cluster.unslow(lay, node)
    out.attribution = next((a for a in out.follow_up.get("attributions", []) if a.get("job_id") == out.job_id), None)
    out.proposal = next((p for p in out.first_pass.get("proposals", []) + out.follow_up.get("proposals", [])
                         if (p["action"], p["target"]) == ("drain", node)), None)
    if out.proposal is None:          # the same drain still waits for a decision: not proposed twice
        out.proposal = next((p for p in store.proposals() if (p["action"], p["target"]) == ("drain", node)
                             and p["state"] in ("proposed", "approved")), None)
        if out.proposal:
            say(f"drain {node} was already proposed ({out.proposal['id']}) and waits for a decision")
    elif out.proposal.get("created"):
        created = datetime.fromisoformat(out.proposal["created"].replace("Z", "+00:00"))
        if created.tzinfo is None:
            created = created.replace(tzinfo=timezone.utc)
        out.timings["fault_to_proposal"] = round(created.timestamp() - out.fault_at, 1)
    for c in out.follow_up.get("probes_collected", []):
        say(f"probes judged: {', '.join(c['flagged']) or 'no node'} below the fleet of {', '.join(c['nodes'])}")
    if out.attribution:
        say(f"job {out.job_id}: {out.attribution['label']} ({out.attribution['scope']}) on "
            f"{', '.join(out.attribution.get('suspect_nodes', [])) or 'no node'}: {out.attribution['explanation'][:160]}")
    if "fault_to_proposal" in out.timings:
        say(f"proposal {out.proposal['id']}: drain {node}, {out.timings['fault_to_proposal']} s after the fault "
            f"(the paper: under 10 minutes; a senior engineer: about an hour)")
    return out
