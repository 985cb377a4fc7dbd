"""`sdiag-agent agent run`: the diagnosis agent's loop, one pass (scheduled as jobs/agent.sbatch)."""

from __future__ import annotations

import re

import click

from slurm_diag.cli.output import emit_json

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, hint: str = "sdiag-agent agent run --since 2h"):
    """``30m``, ``2h``, ``1d``, ``90s`` or Slurm's ``[D-]HH:MM:SS`` -> timedelta."""
    from datetime import timedelta

    from slurm_diag.errors import UsageError

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text or "")
    if m:
        return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    if re.fullmatch(r"(\d+-)?(\d+:){1,2}\d+", (text or "").strip()):
        from slurm_diag.slurm.parse import duration_s
        return timedelta(seconds=duration_s(text))
    raise UsageError(f"--since: expected a duration like 30m, 2h, 1d or 01:30:00, found {text!r}", hint=hint)


@click.group("agent")
def command() -> None:
    """The diagnosis agent: observe, orient, decide, act (it proposes; a person approves)."""


@command.command("run")
@click.option("--since", default=None, metavar="DURATION",
              help="look back this far (30m, 2h, 1d) instead of from where the last run stopped")
@click.option("--jobs", "job_ids", multiple=True, metavar="ID",
              help="diagnose these jobs only (repeat the option, or give a comma-separated list)")
@click.option("--llm", default=None, type=click.Choice(["none", "transformers", "openai"]),
              help="reason over the engine's findings with an LLM (default: llm.backend in the config)")
@click.option("--json", "as_json", is_flag=True, help="print JSON (validates against agent_run.schema.json)")
def run(since, job_ids, llm, as_json) -> None:
    """One pass over the jobs that ended since the last run (or --since, or --jobs): an attribution per
    job that failed or ran slow, node-level findings across jobs, and proposals (drain, requeue) for
    infra causes backed by a node's health or probe findings. A rerun over the same window adds
    nothing. Two runs never overlap (a lock in the agent's home).

    Exit codes: 0 the pass ran (whatever it found), 2 bad input, 3 could not check (Slurm or the
    store unreachable, another run holds the lock), 4 this user may not propose.
    """
    from datetime import timedelta

    from slurm_diag import config
    from slurm_diag.actions import Context
    from slurm_diag.agent import loop, probing
    from slurm_diag.cli.explain_cmd import _kb_entries

    cfg = config.load()
    backend_name = llm or cfg.get("llm.backend")
    window = parse_since(since) if since else None
    ids = [j.strip() for item in job_ids for j in item.split(",") if j.strip()]
    ctx = Context.from_config(cfg)
    ctx.require_proposer("run the diagnosis agent (it proposes node and job actions)")
    reason = None
    if backend_name != "none":
        from slurm_diag.agent.llm import make_backend
        reason = loop.llm_reasoner(make_backend(backend_name, cfg), cfg, client=ctx.client, store=ctx.store)
    settings = cfg.get("agent")
    with loop.single_run(cfg.home):
        agent = loop.Loop(ctx, loop.engine_diagnoser(ctx.client, ctx.store, _kb_entries(cfg)), reason=reason,
                          llm=backend_name, min_jobs=settings["node_min_jobs"], max_jobs=settings["max_jobs"],
                          probes=probing.Settings.from_config(cfg))
        report = agent.run(since=window, job_ids=ids, first=timedelta(hours=settings["first_window_h"])).to_dict()
    if as_json:
        emit_json(report, schema="agent_run")
    else:
        render(report)


def render(report: dict) -> None:
    w = report["window"]
    click.echo(f"agent run {w['start']} .. {w['end']}  (llm: {report['llm']}): {report['jobs_seen']} jobs, "
               f"{len(report['controls'])} controls, {len(report['unchanged'])} unchanged, "
               f"{report['seconds']:.1f} s")
    for a in report["attributions"]:
        who = f"job {a['job_id']}" if a.get("job_id") else f"node {', '.join(a.get('suspect_nodes', []))}"
        click.echo(f"  {who}: {a['label']} ({a['scope']}, {a['confidence']:.2f}) {a['explanation'][:140]}")
    for n in report["nodes_observed"]:
        click.echo(f"  node {n['node']}: {'; '.join(n['findings'][:4])}")
    for p in report["proposals"]:
        click.echo(f"  proposed {p['id']}: {p['action']} {p['target']} ({p['reason'][:100]})"
                   f"  -> sdiag-agent actions show {p['id']}")
    for c in report["probes_collected"]:
        click.echo(f"  probe sweep {c['sweep']} judged: {', '.join(c['flagged']) or 'no node'} flagged of "
                   f"{', '.join(c['nodes'])}")
    for a in report["probes_asked"]:
        click.echo(f"  asked for {a['probe']} probes on {', '.join(a['nodes'])} for job(s) {', '.join(a['for_jobs'])}: "
                   f"sweep {a['sweep']}, follow-up pass job {a['follow_up']}")
    for r in report["refused"]:
        click.echo(f"  not proposed: {r['action']} {r['target']}: {r['why'][:160]} [{r['rule']}]")
    undecided = [a["job_id"] for a in report["attributions"] if a["label"] == "unknown" and a.get("job_id")]
    if undecided:
        click.echo(f"  {len(undecided)} job(s) left unknown ({', '.join(undecided[:5])}"
                   f"{', ...' if len(undecided) > 5 else ''}): `sdiag-agent kb gaps` lists the error lines "
                   "no rule recognised, to teach with `kb add`")
