"""`sdiag-agent job` on the real local cluster: arrays as their tasks, pending tasks, missing
tasks, and answers with slurmctld or slurmdbd down (run under the cluster lock; the daemons are
always brought back)."""

from __future__ import annotations

import json

import pytest

from slurm_diag import schemas
from slurm_diag.devcluster import cluster, daemons
from slurm_diag.slurm import JobArray

from tests.conftest import sdiag

pytestmark = pytest.mark.cluster

TASK1_EXITS_7 = "#!/bin/sh\n[ \"$SLURM_ARRAY_TASK_ID\" = 1 ] && exit 7\nexit 0\n"


def submit_array(slurm, script: str, *args: str) -> str:
    return slurm.submit(script, ["-o", "/tmp/sdiag-test-%A_%a.out", *args], workdir="/tmp")


@pytest.fixture()
def failed_array(slurm) -> str:
    """A finished array whose task 1 of 1..3 exited 7."""
    arr = submit_array(slurm, TASK1_EXITS_7, "-J", "arr7", "--array=1-3")
    found = slurm.wait(arr, timeout=90)
    assert isinstance(found, JobArray) and found.finished
    return arr


def test_array_shows_every_task_failed_first(failed_array, cluster_env):
    arr = failed_array
    text = sdiag("job", arr, env=cluster_env)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith(f"array    {arr} (arr7)")
    assert lines[1] == "summary  3 tasks: 2 COMPLETED, 1 FAILED"
    assert lines[2] == f"failed   {arr}_1"
    tasks = [line.split()[1:3] for line in lines if line.startswith("task ")]
    assert tasks == [[f"{arr}_1", "FAILED"], [f"{arr}_2", "COMPLETED"], [f"{arr}_3", "COMPLETED"]]
    assert "exit 7:0" in next(line for line in lines if f"{arr}_1 " in line)
    out = sdiag("job", arr, "--json", env=cluster_env)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    schemas.validate("job_array", doc)
    assert doc["summary"] == {"tasks": 3, "states": {"COMPLETED": 2, "FAILED": 1}, "finished": True,
                              "failed": [f"{arr}_1"]}
    assert [(t["job_id"], t["exit_code"]) for t in doc["tasks"]] == [(f"{arr}_1", 7), (f"{arr}_2", 0), (f"{arr}_3", 0)]
    assert doc["tasks"][0]["stdout"] == f"/tmp/sdiag-test-{arr}_1.out"
    one = json.loads(sdiag("job", f"{arr}_1", "--json", env=cluster_env).stdout)
    schemas.validate("job", one)
    assert (one["state"], one["exit_code"], one["steps"][0]["step_id"]) == ("FAILED", 7, "batch")
    # a user's own time format for Slurm's commands does not reach the parsers (gateway.FIXED_ENV)
    relative = sdiag("job", f"{arr}_1", "--json", env=cluster_env | {"SLURM_TIME_FORMAT": "relative"})
    assert relative.returncode == 0, relative.stderr
    assert [json.loads(relative.stdout)[k] for k in ("start", "end")] == [one["start"], one["end"]]
    missing = sdiag("job", f"{arr}_9", env=cluster_env)
    assert missing.returncode == 2 and f"array {arr} has no task 9: its tasks are 1-3" in missing.stderr


def test_pending_array_task_is_pending(slurm, cluster_env):
    arr = submit_array(slurm, "#!/bin/sh\nexit 0\n", "-J", "held", "--array=1-5", "--hold")
    try:
        task = sdiag("job", f"{arr}_3", env=cluster_env)
        assert task.returncode == 0, task.stderr
        assert "state    PENDING  reason: JobHeldUser" in task.stdout and "retry" not in task.stdout + task.stderr
        whole = json.loads(sdiag("job", arr, "--json", env=cluster_env).stdout)
        schemas.validate("job_array", whole)
        assert whole["summary"]["states"] == {"PENDING": 5} and not whole["summary"]["finished"]
        assert sdiag("job", f"{arr}_6", env=cluster_env).returncode == 2
    finally:
        slurm.cancel(arr)


@pytest.fixture()
def restore_daemons(devcluster):
    """Whatever a test stops, every daemon runs again afterwards."""
    yield lambda name: daemons.stop(cluster.daemon(devcluster, name))
    cluster.up(devcluster, say=lambda m: None)


def test_job_answers_from_whichever_daemon_is_up(failed_array, cluster_env, restore_daemons, devcluster):
    arr = failed_array
    restore_daemons("slurmdbd")
    text = sdiag("job", arr, env=cluster_env)
    assert text.returncode == 0, text.stderr
    assert "summary  3 tasks: 2 COMPLETED, 1 FAILED" in text.stdout
    missing = next(line for line in text.stdout.splitlines() if line.startswith("missing"))
    assert "slurmdbd did not answer (sacct:" in missing and "next: start slurmdbd " in missing
    assert "slurmctld" not in missing.split("next:")[1]
    doc = json.loads(sdiag("job", arr, "--json", env=cluster_env).stdout)
    schemas.validate("job_array", doc)
    assert doc["sources"] == ["slurmctld"] and [u["daemon"] for u in doc["unreachable"]] == ["slurmdbd"]

    restore_daemons("slurmctld")  # now both are down: could not check, naming both
    both = sdiag("job", arr, env=cluster_env)
    assert both.returncode == 3, both.stderr
    assert "neither slurmdbd nor slurmctld answered" in both.stderr
    assert "start slurmdbd and slurmctld" in both.stderr and "Traceback" not in both.stderr

    cluster.up(devcluster, say=lambda m: None)
    restore_daemons("slurmctld")
    text = sdiag("job", arr, env=cluster_env)
    assert text.returncode == 0, text.stderr
    assert f"failed   {arr}_1" in text.stdout
    missing = next(line for line in text.stdout.splitlines() if line.startswith("missing"))
    assert "slurmctld did not answer (scontrol:" in missing and "next: start slurmctld " in missing
    doc = json.loads(sdiag("job", f"{arr}_1", "--json", env=cluster_env).stdout)
    schemas.validate("job", doc)
    assert (doc["state"], doc["exit_code"], doc["sources"]) == ("FAILED", 7, ["slurmdbd"])
    assert doc["unreachable"][0]["daemon"] == "slurmctld" and doc["steps"]


SUBMISSIONS = [   # (sbatch's options, environment, script): where 22.05 sends the output decides
    ([], {}, "#!/bin/sh\n#SBATCH -o sb-%j.out\ntrue\n"),
    ([], {}, "#!/bin/sh\n#SBATCH -o sb-%j.out\n#SBATCH -e sb-%j.err\ntrue\n#PBS -o pbs-late-%j.out\n"),
    (["--ignore-pbs"], {}, "#!/bin/sh\n#SBATCH -o sb-%j.out\n#PBS -o pbs-%j.out\ntrue\n"),
    ([], {"SBATCH_IGNORE_PBS": "1"}, "#!/bin/sh\n#PBS -o pbs-%j.out\ntrue\n"),
    ([], {"SBATCH_OUTPUT": "env-%j.out"}, "#!/bin/sh\n#PBS -o pbs-%j.out -e pbs-%j.err\n#SBATCH -o sb-%j.out\ntrue\n"),
    (["-o", "cli-%j.out"], {"SBATCH_ERROR": "env-%j.err"}, "#!/bin/sh\n#PBS -o pbs-%j.out\n#PBS -e pbs-%j.err\ntrue\n"),
    ([], {}, "#!/bin/sh\n  #PBS -o indented-%j.out\n#pbs -o lower-%j.out\n#PBS -j oe\ntrue\n"),
    (["--error=/tmp/abs-%j.err"], {}, "#!/bin/sh\n#SLURM --output=old-%j.out\ntrue\n"),
    ([], {"SBATCH_IGNORE_PBS": ""}, "#!/bin/sh\n#PBS -o pbs-%j.out\ntrue\n"),
    ([], {}, "#!/bin/sh\n#PBS-o glued-%j.out\n#PBS --err=long-%j.err\n#PBS -Vo grouped-%j.out\ntrue\n"),
    ([], {}, "#!/bin/sh\n#PBS -o NONE -e none\ntrue\n"),
    ([], {}, "#!/bin/sh\n" + "true\n" * 95 + "#PBS -o late95-%j.out\n"),
    ([], {}, "#!/bin/sh\n" + "\n" * 101 + "#PBS -o late101-%j.out\ntrue\n"),
    ([], {}, "#!/bin/sh\n#SBATCH -o sb-%j.out\n#BSUB -J x\n#PBS -o pbs-%j.out\ntrue\n"),
    ([], {}, "#!/bin/sh\n#SBATCH -o sb-%j.out\n#BSUB -cwd sub\n#BSUB -o bsub-%j.out -e none\ntrue\n"),
]


def test_the_paths_read_back_from_accounting_are_the_ones_slurmctld_used(devcluster, slurm, tmp_path):
    """For jobs slurmctld still shows, the paths submission.request reads from what accounting kept
    (command line, environment, #SBATCH and #PBS lines) are the ones slurmctld gave the job: the
    ground truth for the order sbatch takes them in, on the real 22.05."""
    import dataclasses
    import os
    import subprocess
    import time

    from slurm_diag.diagnose import job_facts
    from slurm_diag.slurm import job_lookup
    from slurm_diag.slurm.records import CONTROLLER

    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    ids = []
    for args, env, script in SUBMISSIONS:
        sent = subprocess.run(["sbatch", "--parsable", f"--chdir={work}", "-J", "sdiag-paths", *args],
                              input=script, capture_output=True, text=True, timeout=30,
                              env={"PATH": os.environ["PATH"], "SLURM_CONF": str(devcluster.slurm_conf), **env})
        assert sent.returncode == 0, sent.stderr
        ids.append(sent.stdout.strip())
    for job_id in ids:
        slurm.wait(job_id, timeout=120, poll=0.5)
    for job_id, (args, env, script) in zip(ids, SUBMISSIONS):
        shown = slurm.get_job(job_id)
        assert CONTROLLER in shown.sources and shown.stdout, shown
        deadline = time.monotonic() + 30
        while not (req := slurm.job_request(job_id)).complete and time.monotonic() < deadline:
            time.sleep(1)          # slurmdbd may record a job this short after its end
        assert req.complete, (args, env, script, req)
        forgotten = job_lookup.with_request(dataclasses.replace(
            shown, stdout=None, stderr=None, sources=tuple(s for s in shown.sources if s != CONTROLLER)), req)
        told = [(s, job_facts.expand_path(p, shown)) for s, p in job_facts.log_paths(forgotten)]
        used = [(s, job_facts.expand_path(p, shown)) for s, p in job_facts.log_paths(shown)]
        assert told == used, (args, env, script)
    # all fifteen asked at once (an agent's pass, explain --since): three sacct calls, the same answers
    assert slurm.job_requests(ids) == {job_id: slurm.job_request(job_id) for job_id in ids}
    assert slurm.remembered([*ids, "99999999"]) == set(ids)
    again = {j.job_id: j for j in slurm.accounting_jobs([*ids, "12_[1-3]"])}      # a range is not asked
    assert set(again) == set(ids) and all(again[i].steps == slurm.get_job(i).steps for i in ids)


# what slurmstepd made of each -o pattern on the real 22.05 (its %N is the host's name, which on the
# local cluster is not the node's: left to the unit tests)
PATTERNS = ["p.%J.%s.%t.%n.%5j.%z.%%.out", "q\\.%j.out", "r\\\\x-%j.out", "s.%12j.%3a.%3A.out",
            "u-%u-%x-%a-%A.out", "t-%j-%"]


def test_the_output_file_explain_reads_is_the_one_slurmstepd_wrote(devcluster, slurm, tmp_path):
    """Each pattern an -o may hold, including those scontrol leaves as they are (%J, %s, %t, %n, a
    width, a backslash, an unknown letter): the path explain reads is the file the job wrote."""
    import os
    import subprocess

    from slurm_diag.diagnose import job_facts

    os.chmod(tmp_path, 0o755)
    ids = []
    for n, pattern in enumerate(PATTERNS):
        sent = subprocess.run(["sbatch", "--parsable", f"--chdir={tmp_path}", "-J", f"pat{n}", "-o", pattern,
                               "--wrap", f"echo written by pattern {n}"], capture_output=True, text=True,
                              timeout=30, env={"PATH": os.environ["PATH"], "SLURM_CONF": str(devcluster.slurm_conf)})
        assert sent.returncode == 0, sent.stderr
        ids.append(sent.stdout.strip())
    array = subprocess.run(["sbatch", "--parsable", f"--chdir={tmp_path}", "--array=3-4", "-o", "arr-%A_%4a.out",
                            "--wrap", "echo written by task $SLURM_ARRAY_TASK_ID"], capture_output=True, text=True,
                           timeout=30, env={"PATH": os.environ["PATH"], "SLURM_CONF": str(devcluster.slurm_conf)})
    assert array.returncode == 0, array.stderr
    for job_id in ids:
        slurm.wait(job_id, timeout=120, poll=0.5)
    slurm.wait(array.stdout.strip(), timeout=120, poll=0.5)
    written = {p.name for p in tmp_path.iterdir()}
    for n, job_id in enumerate(ids):
        job = slurm.get_job(job_id)
        [(stream, path)] = job_facts.log_paths(job)
        assert os.path.dirname(path) == str(tmp_path) and os.path.basename(path) in written, (PATTERNS[n], path, written)
        assert open(path).read() == f"written by pattern {n}\n"
    for task in slurm.get_job(array.stdout.strip()).tasks:
        [(stream, path)] = job_facts.log_paths(task)
        assert open(path).read() == f"written by task {task.array_task_id}\n", (path, written)
