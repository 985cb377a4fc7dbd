"""`make demo`: the toolkit on the built-in local cluster, step by step, as an admin would see it."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

from slurm_diag import config as config_mod
from slurm_diag.devcluster import cluster
from slurm_diag.errors import SdiagError
from slurm_diag.slurm import CommandClient

FAILING_JOB = """#!/bin/sh
#SBATCH -J demo-fails
echo "loading model"
echo "RuntimeError: CUDA error: an illegal memory access was encountered" >&2
echo "NVRM: Xid (PCI:0000:1b:00): 79, pid=1234, GPU has fallen off the bus." >&2
exit 3
"""


USER_FAULTS = {
    "demo-oom": ("#!/bin/sh\npython3 -c 'b = bytearray(400 * 1024 * 1024)'\n", ["--mem=60M"]),
    "demo-config": ("#!/bin/sh\npython3 -c 'import json\ndef load_config():\n    return json.loads(\"{lr: 3e-4}\")\n"
                    "load_config()'\n", []),
}
TO_EXPLAIN: list[str] = []


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def show_nodes(slurm: CommandClient) -> None:
    for node in slurm.list_nodes():
        print(f"  {node.name:6} {'+'.join([node.state, *node.flags]):14} gpus {node.gpus_used}/{node.gpus}"
              f"  {node.reason or ''}")


def failed_job(slurm: CommandClient) -> Path | None:
    step("a job that fails (exit 3)")
    job_id = slurm.submit(FAILING_JOB, ["-o", "/tmp/sdiag-demo-%j.out", "--gres=gpu:1"], workdir="/tmp")
    print(f"  job {job_id} submitted; waiting for it to end", flush=True)
    job = slurm.wait(job_id, timeout=60)
    TO_EXPLAIN.append(job_id)
    step(f"what the Slurm adapter knows about job {job_id}  (sdiag-agent job {job_id})")
    print(f"  state      {job.state_detail}   exit code {job.exit_code}, signal {job.signal}")
    print(f"  nodes      {job.node_list}   GPUs {job.gpus}   elapsed {job.elapsed_s} s")
    print(f"  stdout     {job.stdout}")
    for s in job.steps:
        print(f"  step {s.step_id:6} {s.state:10} exit {s.exit_code}:{s.signal}")
    return Path(job.stdout) if job.stdout else None


def bad_gpu(lay, slurm: CommandClient) -> None:
    step("health checks in the prolog: node3's GPU 3 is stuck at 200 MHz (HW slowdown)")
    print("  sdiag-agent devcluster inject node3 h100-8-throttled-gpu3", flush=True)
    cluster.set_profile(lay, "node3", "h100-8-throttled-gpu3")
    others = [n for n in lay.node_names if n != "node3"]
    try:
        for name in others:  # make node3 the scheduler's first pick without pinning the job to it
            slurm.set_node_weight(name, 100)
        job_id = slurm.submit("#!/bin/sh\nhostname\n", ["-o", "/tmp/sdiag-demo-%j.out", "--gres=gpu:1"],
                              workdir="/tmp")
        job = slurm.wait(job_id, timeout=120, poll=1)
        node3 = slurm.get_node("node3")
        print(f"  job {job_id}: {job.state} on {job.node_list} (kept off node3, requeued, ran elsewhere)")
        print(f"  node3: {'+'.join([node3.state, *node3.flags])}  reason: {node3.reason}")
    finally:
        cluster.set_profile(lay, "node3", cluster.HEALTHY_PROFILE)
        for name in others:
            slurm.set_node_weight(name, 1)
    print("  sdiag-agent devcluster heal node3  (HealthCheckProgram resumes it after clean runs; "
          "resuming now)")
    deadline = time.monotonic() + 20
    while not slurm.get_node("node3").drained and time.monotonic() < deadline:
        time.sleep(0.5)
    if slurm.get_node("node3").drained:
        slurm.resume_node("node3")


def approved_drain(lay, slurm: CommandClient) -> None:
    """The actions part: the agent proposes a drain from a health finding, an approver approves it,
    the approver's command drains node3 through Slurm with the proposal's reason."""
    import dataclasses
    import json

    from slurm_diag import process
    from slurm_diag.actions import Context, Refused, approve, breaker, propose
    from slurm_diag.actions.report import target_now

    step("node actions: the agent proposes, an admin approves, Slurm drains  (sdiag-agent actions ...)")
    conf = lay.base / "etc" / "sdiag.toml"
    cfg = config_mod.load(conf if conf.exists() else None)
    checked = process.run([sys.executable, "-m", "slurm_diag", "health", "check", "--profile", "h100-8-throttled-gpu3",
                           "--node", "node3", "--json"], timeout=60)
    report = json.loads(checked.stdout)
    check = next(c for c in report["checks"] if c["status"] == "CRITICAL")
    finding = {"id": f"health:node3:{check['name']}:{report['time']}", "source": "health", "node": "node3",
               "gpu": check.get("gpu"), "severity": "CRITICAL", "summary": check["message"], "time": report["time"]}
    attribution = {"label": "gpu_throttle", "scope": "infra", "component": "gpu", "confidence": 0.9,
                   "suspect_nodes": ["node3"], "supporting": [finding["id"]], "contradicting": [],
                   "explanation": "gpu3 on node3 is held at 200 MHz (HW slowdown)", "next_steps": ["drain node3"]}
    ctx = Context.from_config(cfg, client=slurm)
    agent = dataclasses.replace(ctx, caller=dataclasses.replace(ctx.caller, name=cfg.get("access.agent_user") or "sdiag-agent"))
    try:
        doc = propose(agent, "drain", "node3", reason="gpu3 SM clock 200 MHz (HW slowdown)", attribution=attribution,
                      findings=[finding], model="engine (no LLM)", prompt_version="none")
    except Refused as exc:
        print(f"  {exc}")
        return
    now = target_now(slurm, doc)
    print(f"  proposal {doc['id']} by {doc['proposed_by']}: {doc['action']} {doc['target']}  [{doc['state']}]")
    print(f"  evidence  [health CRITICAL] {finding['summary'][:90]}")
    print(f"  command   {' '.join(doc['command'])}")
    print(f"  takes     {now.get('gpus')} GPUs offline, running jobs: {', '.join(now['jobs']) or 'none'}")
    print(f"  sdiag-agent actions approve {doc['id']}   (as {ctx.actor})", flush=True)
    try:
        done = approve(ctx, doc["id"], note="demo")
    except Refused as exc:
        print(f"  {exc}")
        return
    node3 = slurm.get_node("node3")
    print(f"  {done['state']}: {done.get('outcome')}")
    print(f"  node3: {'+'.join([node3.state, *node3.flags])}  reason: {node3.reason}  "
          f"(approval to drained {done.get('approval_to_effect_s')} s)")
    state = breaker.status(ctx.store, slurm, ctx.limits)
    print(f"  breaker {'TRIPPED' if state['tripped'] else 'closed'}: slurm-diag holds {', '.join(state['held']) or 'none'}"
          f" (limit {state['limits']['max_nodes']} node(s))")
    if node3.drained:
        slurm.resume_node("node3")
        print("  node3 resumed for the rest of the demo")


def knowledge(log: Path | None) -> None:
    step("knowledge base: what does the failed job's log mean?  (sdiag-agent kb search)")
    try:
        from slurm_diag import kb
    except ImportError as exc:
        print(f"  knowledge base not installed ({exc}); `make setup` installs it")
        return
    text = log.read_text(errors="replace")[-4000:] if log and log.exists() else FAILING_JOB
    for hit in kb.search(text, top=3):
        print(f"  {hit.score:5.2f} {hit.id:28} {hit.label:13} {hit.result[:90]}")


def explain_failed(lay, slurm: CommandClient) -> None:
    """What a user sees: `sdiag-agent explain JOBID` on the demo's failed jobs, the GPU fault above
    and two faults of the jobs' own (host memory, a bad config file in their code)."""
    from slurm_diag import process

    for name, (script, args) in USER_FAULTS.items():
        job_id = slurm.submit(script, ["-J", name, "-o", "/tmp/sdiag-demo-%j.out", *args], workdir="/tmp")
        slurm.wait(job_id, timeout=60)
        TO_EXPLAIN.append(job_id)
    time.sleep(2)                 # the epilog moves its health report into the store
    env = {"SLURM_CONF": str(lay.slurm_conf), "SDIAG_CONFIG": str(lay.base / "etc" / "sdiag.toml")}
    for job_id in TO_EXPLAIN:
        step(f"why did job {job_id} fail?  (sdiag-agent explain {job_id})")
        done = process.run([sys.executable, "-m", "slurm_diag", "explain", job_id], timeout=60, env=env)
        for line in (done.stdout or done.stderr).rstrip().splitlines():
            print(f"  {line}")
    step("the jobs that ended badly in the last hour, at a glance  (sdiag-agent explain --since 1h --all --limit 10)")
    done = process.run([sys.executable, "-m", "slurm_diag", "explain", "--since", "1h", "--all", "--limit", "10"],
                       timeout=120, env=env)
    for line in (done.stdout or done.stderr).rstrip().splitlines():
        print(f"  {line}")


def model() -> None:
    step("performance model: what an H100 SXM should do  (sdiag-agent perf expect)")
    from slurm_diag.perf.expect import expected
    from slurm_diag.perf.hardware import get_sku

    for probe, dtype in (("gemm", "bf16"), ("membw", None)):
        exp = expected(probe, get_sku("H100-SXM"), dtype)
        div, unit = (1e12, "TFLOP/s") if exp.unit == "FLOP/s" else (1e9, "GB/s")
        print(f"  {probe:6} {dtype or '':5} expected {exp.value / div:,.1f} {unit} "
              f"(FAIL under {exp.lower / div:,.1f})")


def close_breaker(lay) -> None:
    """The demo drains nodes on purpose: a breaker an earlier run left tripped (a test that hit the
    cap, say) is reset first, as an admin would, and says so."""
    from slurm_diag.actions import breaker
    from slurm_diag.store import Store

    conf = lay.base / "etc" / "sdiag.toml"
    store = Store.from_config(config_mod.load(conf if conf.exists() else None))
    state = breaker.state(store)
    if state["tripped"]:
        breaker.reset(store, "demo", "reset by the demo before it drains nodes on purpose")
        why = textwrap.shorten(state["why"] or "", 110, placeholder=" ...")
        print(f"  the circuit breaker was tripped since {state['at']} ({why}); "
              "the demo resets it (sdiag-agent actions breaker reset)")


def paper_case(lay, slurm: CommandClient) -> None:
    """arXiv 2411.05349's case: a node slows down under a two-node job; the agent, as a Slurm job,
    finds it with probes and proposes a drain. Timed from the fault to the proposal."""
    from slurm_diag.actions import Context, Refused, reject
    from slurm_diag.devcluster import paper_case as case

    step("the paper's case: a node slows down mid-job; the agent (a Slurm job) finds it  (sdiag-agent agent run)")
    conf = lay.base / "etc" / "sdiag.toml"
    ctx = Context.from_config(config_mod.load(conf if conf.exists() else None), client=slurm)
    out = case.run(lay, slurm, ctx.store, ctx.cfg, share=0.2, say=lambda m: print(f"  {m}", flush=True))
    t = out.timings
    print(f"  timeline after the fault: job ended {t.get('job_ended')} s, agent pass {t.get('first_pass_done')} s"
          + (f", probes judged and follow-up pass done {t['follow_up_done']} s" if "follow_up_done" in t else ""))
    if out.proposal is None:
        print("  no drain proposed: see the follow-up pass's report under ~/.sdiag/agent/")
        return
    print(f"  an admin would now run: sdiag-agent actions show {out.proposal['id']}  (then approve or reject)")
    try:
        reject(ctx, out.proposal["id"], why=f"demo: {out.slowed} was slowed on purpose and is back at full speed")
        print(f"  rejected for the demo ({out.slowed} was slowed on purpose); the rejection is kept as feedback")
    except Refused as exc:
        print(f"  {exc}")


def main() -> int:
    cfg = config_mod.load()
    lay = cluster.layout(cfg=cfg)
    step(f"local Slurm cluster under {lay.base}")
    cluster.up(lay, say=lambda m: print(f"  {m}", flush=True))
    slurm = CommandClient(conf=str(lay.slurm_conf), timeout=30)
    close_breaker(lay)
    show_nodes(slurm)
    log = failed_job(slurm)
    bad_gpu(lay, slurm)
    approved_drain(lay, slurm)
    knowledge(log)
    model()
    explain_failed(lay, slurm)
    paper_case(lay, slurm)
    step("nodes now")
    show_nodes(slurm)
    print(f"\nSLURM_CONF={lay.slurm_conf}   (eval $(sdiag-agent devcluster env) to use sinfo/sacct yourself)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SdiagError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
