"""`sdiag-agent kb`: build, search, inspect and grow the failure-pattern knowledge base."""

from __future__ import annotations

import json
import sys

import click

from slurm_diag.cli.output import clip, emit_json, table
from slurm_diag.errors import UsageError
from slurm_diag.kb.sanitize import as_log_text, binary_reason
from slurm_diag.schemas import ATTRIBUTION_LABELS

MAX_READ_BYTES = 4 * 1024 * 1024
LABELS = [label for label in ATTRIBUTION_LABELS if label != "unknown"]    # a confirmed cause has one


@click.group("kb")
def command() -> None:
    """Knowledge base of failure patterns (chromadb, offline MiniLM embeddings)."""


@command.command("build")
@click.option("--rebuild", is_flag=True, help="drop the index and embed every entry again")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def build(rebuild: bool, as_json: bool) -> None:
    """Index the shipped entries (slurm_diag/kb/content/*.jsonl) and those added from attributions."""
    from slurm_diag.kb.api import build as do_build

    info = do_build(rebuild=rebuild)
    if as_json:
        emit_json(info, schema="kb_build")
    else:
        click.echo(f"indexed {info['indexed']} entries, removed {info['removed']} "
                   f"in {info['seconds']} s{' (rebuilt)' if info['rebuilt'] else ''}")


@command.command("search")
@click.argument("text", required=False)
@click.option("--file", "path", type=click.Path(dir_okay=False), help="read the text from a log file ('-' for stdin)")
@click.option("--top", type=click.IntRange(1, 100), default=None, help="number of hits (default kb.top)")
@click.option("--label", type=click.Choice(ATTRIBUTION_LABELS), help="only entries with this attribution label")
@click.option("--component", help="only entries for this component (e.g. nccl, infiniband)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def search(text, path, top, label, component, as_json) -> None:
    """Find the patterns that best explain TEXT (a log excerpt or a description)."""
    from slurm_diag import config
    from slurm_diag.kb.api import search as do_search

    text = as_log_text(_read_input(text, path))
    cfg = config.load()
    hits = do_search(text, top=top or cfg.get("kb.top"), label=label, component=component, cfg=cfg)
    if as_json:
        emit_json([h.to_dict() for h in hits], schema="kb_hit")
        return
    if not hits:
        click.echo("no matching entry")
        return
    for h in hits:
        sig = f"  signatures: {', '.join(h.matched_signatures)}" if h.matched_signatures else ""
        click.echo(f"{h.score:.3f}  {h.id}  [{h.label}/{h.scope}/{h.component}]  "
                   f"{', '.join(h.problemkey[:6])}{sig}")
        click.echo(f"       {h.result}")
        click.echo(f"       confirm with {h.function}; action: {h.action}")


@command.command("stats")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def stats(as_json: bool) -> None:
    """Count entries by label and file; say whether the index is built and current."""
    from slurm_diag.kb.api import stats as do_stats

    info = do_stats()
    if as_json:
        emit_json(info, schema="kb_stats")
        return
    idx = info["index"]
    click.echo(f"entries: {info['entries']} ({info['added']} added), signatures: {info['signatures']}")
    click.echo(f"index: {idx['path']} built={idx['built']} indexed={idx['indexed']} stale={idx['stale']}"
               + ("  (run `sdiag-agent kb build`)" if idx["stale"] or not idx["built"] else ""))
    table([[k, str(v)] for k, v in info["by_label"].items()], ["label", "entries"])


@command.command("add")
@click.option("--attribution", "attr_path", type=click.Path(dir_okay=False),
              help="Attribution JSON file ('-' for stdin), e.g. from `explain --json`")
@click.option("--label", type=click.Choice(LABELS), help="instead of --attribution: the confirmed cause")
@click.option("--scope", type=click.Choice(["user", "infra"]), help="with --label: whose it is")
@click.option("--why", help="with --label: what the failure is and what fixes it, in a sentence")
@click.option("--next-step", "next_steps", multiple=True, help="with --label: what to do (repeatable)")
@click.option("--job", "job_id", help="with --label: the job it was confirmed on")
@click.option("--excerpt", "excerpt_path", type=click.Path(dir_okay=False),
              help="file with the log lines that showed the failure")
@click.option("--text", "excerpt_text", help="the log excerpt given inline")
@click.option("--signature", help="regex for the symptom; default: derived from the excerpt's key line")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def add(attr_path, label, scope, why, next_steps, job_id, excerpt_path, excerpt_text, signature, as_json) -> None:
    """Add a confirmed attribution as a new entry (skipped if its signature is already known).

    \b
    The cause comes from an Attribution file (--attribution) or is given in words:
      sdiag-agent kb add --label filesystem --scope infra --job 4242 \\
        --why "the project GPFS fileset hit its inode limit; the admins raise it" \\
        --text "mmfs: [E] Error writing to fileset proj: No space (inodes)"
    With a signature of at least 20 literal letters (none optional), `explain` then names this
    cause for the next job that fails the same way (a shorter or looser one only suggests it)."""
    from slurm_diag.kb.add import add as do_add

    attribution = _attribution(attr_path, label, scope, why, next_steps, job_id)
    if excerpt_path and excerpt_text:
        raise UsageError("give --excerpt or --text, not both", hint="drop one of them")
    if excerpt_text is not None:
        excerpt = _text_or_refuse(excerpt_text, "--text")
    else:
        excerpt = _text_or_refuse(_read_input(None, excerpt_path), excerpt_path) if excerpt_path else ""
    if not excerpt.strip() and not signature:
        raise UsageError("no log excerpt and no signature", hint="pass --excerpt FILE, --text or --signature")
    info = do_add(attribution, excerpt, signature, own_words=label is not None)
    if info["added"]:
        info.update(will_decide(info, from_lines=bool(excerpt.strip())))
    if as_json:
        emit_json(info, schema="kb_add")
    elif info["added"]:
        click.echo(added_line(info))
    else:
        click.echo(f"not added: signature /{info['signature']}/ already in {info['duplicate_of']}")


def will_decide(info: dict, from_lines: bool = True) -> dict:
    """Whether `explain` will name the added entry's cause for the next job whose log matches it, or
    only suggest it, and why (kb_hits: a short or loose signature, a line read as a symptom). With no
    log line given (``from_lines`` false: a --signature alone) the second cannot be told: None."""
    from slurm_diag.diagnose import kb_hits
    from slurm_diag.kb.entries import load_all

    if not kb_hits.decisive(info["signature"]):
        return {"decides": False, "why_not": f"its signature has fewer than {kb_hits.MIN_SITE_LETTERS} literal "
                                              "letters, or optional parts"}
    if not from_lines:
        return {"decides": None, "why_not": "no log line was given: where the engine or a shipped entry reads "
                                            "the line it matches as a symptom, explain only suggests it"}
    why = kb_hits.known_symptom(info["text"].split("\n")[0], load_all())
    return {"decides": False, "why_not": why} if why else {"decides": True}


def added_line(info: dict) -> str:
    """What `kb add` (and `actions kb-add`) say after adding: the entry, whether it will decide, and
    the only log text it keeps, which every user can read."""
    info = {**info, **will_decide(info)} if "decides" not in info else info
    decides = ("  explain names this cause for the next job whose log has a matching line" if info["decides"]
               else f"  explain {'may only suggest' if info['decides'] is None else 'only suggests'} this cause: "
                    f"{info['why_not']}")
    return (f"added {info['id']} with signature /{info['signature']}/\n{decides}\n"
            f"  kept as its text (every user can read it with `kb search`): {clip(info['text'], 300)}")


@command.command("forget")
@click.argument("entry_id")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def forget(entry_id, as_json) -> None:
    """Remove ENTRY_ID, a cause this site taught with `kb add` (or `actions kb-add`), from the
    knowledge base: the next job failing that way is explained by the rules alone again."""
    from slurm_diag.kb.add import forget as do_forget

    info = do_forget(entry_id)
    if as_json:
        emit_json(info, schema="kb_forget")
    else:
        click.echo(f"forgot {info['forgotten']} ({info['label']}, signature /{info['signature']}/)")


@command.command("gaps")
@click.option("--days", type=click.IntRange(1, 3650), default=7, show_default=True,
              help="only lines the agent stored in the last DAYS days")
@click.option("--top", type=click.IntRange(1, 10000), default=20, show_default=True, help="at most this many rows")
@click.option("--all", "show_all", is_flag=True, help="also the lines a site entry has taught since")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def gaps(days, top, show_all, as_json) -> None:
    """What the engine could not explain: the error lines no rule recognised in the failed jobs
    the agent diagnosed, grouped by signature, the most jobs first, with the `kb add` line to
    teach the top one. For root, SlurmUser and approvers (the lines are other users' logs)."""
    from datetime import timedelta

    from slurm_diag import config as config_mod
    from slurm_diag.diagnose import gaps as gaps_mod
    from slurm_diag.errors import PermissionRefused
    from slurm_diag.identity import Access, Caller
    from slurm_diag.kb.entries import load_all
    from slurm_diag.store import Store
    from slurm_diag.store.db import now

    cfg = config_mod.load()
    caller = Caller.current()
    if not Access.from_config(cfg).privileged(caller):
        raise PermissionRefused(f"the unexplained lines come from every user's jobs; {caller.name} may not list them",
                                hint="ask an administrator (root, SlurmUser or an approver in access.approvers); "
                                     "`explain JOBID` shows your own job's lines")
    rows = Store(cfg.store_url).findings_with_time(gaps_mod.ID_LIKE, since=now() - timedelta(days=days))
    found = [g for g in gaps_mod.collect(rows, load_all(cfg)) if show_all or not g.taught_by][:top]
    if as_json:
        emit_json([g.to_dict() for g in found], schema="kb_gaps")
        return
    if not found:
        click.echo(f"no unexplained error lines in the last {days} day(s) of the agent's diagnoses")
        return
    table([[str(len(g.jobs)), str(g.lines), g.last_seen.strftime("%Y-%m-%d %H:%M") if g.last_seen else "-",
            g.taught_by or "", clip(g.example, 90)] for g in found],
          ["jobs", "lines", "last seen", "taught by", "line"])
    first = next((g for g in found if not g.taught_by), None)
    if first:
        from slurm_diag.kb.add import teach_command

        click.echo("\nTo teach the first one, once you know its cause (LABEL, SCOPE user or infra, and why):")
        click.echo(f"  {teach_command(first.example, first.jobs[0] if first.jobs else None)}")


def _attribution(attr_path, label, scope, why, next_steps, job_id) -> dict:
    """The confirmed cause: read from --attribution, or built from --label/--scope/--why."""
    from slurm_diag.kb.add import attribution_from_words

    worded = {"--scope": scope, "--why": why, "--next-step": next_steps, "--job": job_id}
    if attr_path and label:
        raise UsageError("give --attribution or --label, not both", hint="drop one of them")
    if label:
        missing = [name for name in ("--scope", "--why") if not worded[name]]
        if missing:
            raise UsageError(f"--label {label} needs {' and '.join(missing)}",
                             hint="say whose it is (--scope user|infra) and what it is (--why '...')")
        return attribution_from_words(label, scope, why, list(next_steps), job_id)
    if not attr_path:
        raise UsageError("no cause given", hint="pass --attribution FILE, or --label, --scope and --why")
    given = [name for name, value in worded.items() if value]
    if given:
        raise UsageError(f"{', '.join(given)} go with --label, not --attribution",
                         hint="edit the Attribution file instead, or give the cause in words with --label")
    raw = _read_input(None, attr_path)
    try:
        attribution = json.loads(_text_or_refuse(raw, attr_path))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{attr_path}: not JSON (line {exc.lineno}: {exc.msg})",
                         hint="pass the Attribution JSON the agent wrote") from None
    if not isinstance(attribution, dict):
        raise UsageError(f"{attr_path}: expected one JSON object", hint="pass a single Attribution")
    return attribution


def _read_input(text: str | None, path: str | None) -> str | bytes:
    """TEXT as given, or the last MAX_READ_BYTES of --file (or stdin) as bytes."""
    if text is not None and path:
        raise UsageError("give TEXT or --file, not both", hint="drop one of them")
    if text is not None:
        return text
    if path is None:
        raise UsageError("no text to search", hint='pass TEXT, --file LOG or --file - for stdin')
    if path == "-":
        return sys.stdin.buffer.read()[-MAX_READ_BYTES:]
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - MAX_READ_BYTES))   # errors sit at the end of a log
            return fh.read(MAX_READ_BYTES)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", hint="check the path") from None


def _text_or_refuse(data: str | bytes, origin: str) -> str:
    """What `kb add` stores must be text: refuse binary (it would rank first for unrelated searches)."""
    why = binary_reason(data)
    if why:
        shown = "stdin" if origin == "-" else origin
        raise UsageError(f"{shown}: expected a UTF-8 text log excerpt, found {why}",
                         hint="pass the log lines as text (e.g. `strings FILE`, or copy the lines that "
                              "showed the failure)")
    return data if isinstance(data, str) else data.decode("utf-8")
