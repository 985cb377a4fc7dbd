"""`sdiag-agent kb ...` as a person runs it: JSON output, stats, errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import run_cli


def test_help_stays_light():
    code = ("import sys\nfrom slurm_diag.cli import cli\n"
            "try:\n    cli.main(['kb', '--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            "print([m for m in ('chromadb', 'torch', 'onnxruntime', 'transformers', 'numpy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "search" in out and out.strip().endswith("[]")


def test_stats_json(kb_home):
    res = run_cli("kb", "stats", "--json", home=kb_home)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["entries"] >= 150 and doc["index"]["built"] and doc["index"]["indexed"] == doc["entries"]
    assert doc["index"]["stale"] is False and doc["by_label"]["gpu_hardware"] > 0


def test_search_human_output_and_label_filter(kb_home):
    res = run_cli("kb", "search", "slurmstepd: error: *** JOB 7 ON n1 CANCELLED AT 2025-01-01T00:00:00 DUE TO TIME LIMIT ***",
                  "--label", "time_limit", "--top", "2", home=kb_home)
    assert res.returncode == 0, res.stderr
    assert "slurm-timeout" in res.stdout and "[time_limit/" in res.stdout


def test_bad_label_and_bad_attribution_exit_2_without_traceback(kb_home):
    res = run_cli("kb", "search", "x", "--label", "gremlins", home=kb_home)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    res = run_cli("kb", "add", "--attribution", "-", "--text", "ERROR something", home=kb_home,
                  stdin=json.dumps({"label": "network"}))
    assert res.returncode == 2 and "attribution.schema.json" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("kb", "search", home=kb_home)
    assert res.returncode == 2 and "no text" in res.stderr


def test_search_on_fresh_home_builds_index_first(tmp_path):
    res = run_cli("kb", "search", "Failed to initialize NVML: Driver/library version mismatch", "--json",
                  home=tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)[0]["id"] == "nvml-mismatch"
    assert (tmp_path / "kb" / "stamp.json").exists()


def test_an_admins_confirmed_cause_in_words_explains_the_next_job_that_fails_the_same_way(tmp_path, kb_home):
    """`kb add --label --scope --why`, then `explain --log` on another job's log with the same
    line (other task numbers): the site's verdict decides; a bad request loses nothing."""
    import shutil

    home = tmp_path / "home"
    shutil.copytree(kb_home, home)           # the session's built index, without sharing what is added
    first = "31: slurmstepd: error: TaskProlog failed status=1\n"
    later = tmp_path / "later.err"
    later.write_text("+ srun -n 40 ./model.x\n 7: slurmstepd: error: TaskProlog failed status=1\n")
    res = run_cli("explain", "--log", str(later), "--json", home=home)
    assert json.loads(res.stdout)["attribution"]["label"] == "unknown"

    shown = run_cli("explain", "--log", str(later), home=home).stdout        # root administers the site
    assert "To teach it, once you know the cause" in shown
    assert "--job JOBID --why 'WHAT IT IS AND WHAT FIXES IT' --text '7: slurmstepd: error: TaskProlog failed status=1'" in shown

    refused = run_cli("kb", "add", "--label", "user_code", "--why", "the TaskProlog refuses <cores> requests",
                      "--text", first, home=home)
    assert refused.returncode == 2 and "needs --scope" in refused.stderr and "Traceback" not in refused.stderr
    assert not (home / "kb" / "added.jsonl").exists()

    res = run_cli("kb", "add", "--label", "user_code", "--scope", "user", "--job", "4242",
                  "--why", "the site's TaskProlog refuses a job that asks for <cores>; ask for whole nodes",
                  "--next-step", "request <nodes>1:ppn=X:tpp=1</nodes> in the workflow's job XML",
                  "--text", first, "--json", home=home)
    assert res.returncode == 0, res.stderr
    added = json.loads(res.stdout)
    assert added["added"] and added["id"].startswith("added-user-code-") and added["decides"] is True

    # a line many causes print: taught, but explain will only suggest its cause, and says so
    symptom = run_cli("kb", "add", "--label", "network", "--scope", "infra", "--job", "4243",
                      "--why", "a cable on rail 2 of this job's nodes dropped; facilities replaced it",
                      "--text", "[E ProcessGroupNCCL.cpp:455] Some NCCL operations have failed or timed out.",
                      home=home)
    assert symptom.returncode == 0, symptom.stderr
    assert "explain only suggests this cause: the engine reads it as a symptom" in symptom.stdout
    assert "kept as its text (every user can read it" in symptom.stdout
    run_cli("kb", "forget", symptom.stdout.split()[1], home=home)
    unchecked = run_cli("kb", "add", "--label", "network", "--scope", "infra", "--json",
                        "--why", "a cable on rail 2 of this job's nodes dropped; facilities replaced it",
                        "--signature", r"Some\s+NCCL\s+operations\s+have\s+failed\s+or\s+timed\s+out", home=home)
    doc = json.loads(unchecked.stdout)
    assert doc["decides"] is None and "no log line was given" in doc["why_not"]   # it cannot tell without one
    run_cli("kb", "forget", doc["id"], home=home)

    res = run_cli("explain", "--log", str(later), "--json", home=home)
    doc = json.loads(res.stdout)
    a = doc["attribution"]
    assert (a["label"], a["scope"]) == ("user_code", "user"), a
    assert a["supporting"] == [f"kb:{added['id']}"] and "4242" not in a["explanation"]
    res = run_cli("explain", "--log", str(later), home=home)
    assert "a failure this site confirmed before" in res.stdout
    assert "matched in the log:  7: slurmstepd: error: TaskProlog failed status=1" in res.stdout

    # taught by mistake: forgotten, the rules alone answer again; shipped entries stay
    shipped = run_cli("kb", "forget", "cuda-oom-torch", home=home)
    assert shipped.returncode == 2 and "shipped with slurm-diag" in shipped.stderr, shipped.stderr
    assert run_cli("kb", "forget", "added-nothing-0", home=home).returncode == 2
    gone = run_cli("kb", "forget", added["id"], "--json", home=home)
    assert gone.returncode == 0, gone.stderr
    assert json.loads(gone.stdout) == {"forgotten": added["id"], "label": "user_code", "signature": added["signature"]}
    res = run_cli("explain", "--log", str(later), "--json", home=home)
    assert json.loads(res.stdout)["attribution"]["label"] == "unknown"
    assert (home / "kb" / "added.jsonl").read_text() == ""
    hits = json.loads(run_cli("kb", "search", "TaskProlog failed status=1", "--json", home=home).stdout)
    assert added["id"] not in [h["id"] for h in hits]
