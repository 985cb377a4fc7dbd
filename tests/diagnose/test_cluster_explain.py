"""`sdiag-agent explain JOBID` on jobs that really failed on the local cluster, each in its own
way: a bare non-zero exit, a Python traceback, a cgroup OOM, a missing module, a full filesystem,
a time limit, a GPU that fell off the bus during the job, and a node that died under its job."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from slurm_diag.devcluster import cluster, daemons
from tests.conftest import script_started, sdiag
from tests.core.test_real_users import user  # noqa: F401 (fixture)

pytestmark = pytest.mark.cluster

TINY = Path("/tmp/sdiag-test-tinyfs")
GPU_CODE = ("#!/bin/sh\npython3 -c 'import os\ndef _lazy_init():\n    if not os.environ.get(\"CUDA_VISIBLE_DEVICES\"):\n"
            "        raise RuntimeError(\"No CUDA GPUs are available\")\n_lazy_init()\nprint(\"training on GPU\")'\n")
SCRIPTS = {
    "exit3": ("#!/bin/sh\necho starting; exit 3\n", []),
    "traceback": ("#!/bin/sh\npython3 -c 'import json\ndef load():\n    return json.loads(\"{bad\")\nload()'\n", []),
    "oom": ("#!/bin/sh\npython3 -c 'import time; b=bytearray(400*1024*1024); time.sleep(5)'\n", ["--mem=60M"]),
    "module": ("#!/bin/sh\npython3 -c 'import flash_attn_missing_here'\n", []),
    "typo": ("#!/bin/sh\npython3 /tmp/sdiag-explain-no-such-script.py\n", []),
    "usage": ("#!/bin/sh\nls --long-listing /tmp\n", []),          # a misspelt option: exit 2
    "undecided": ("#!/bin/sh\necho starting stage 4\n"
                  "echo 'widgetd: fatal: calibration table for stage 4 could not be reconciled (code 77)' >&2\n"
                  "exit 2\n", ["-e", "/tmp/sdiag-explain-%j.err"]),
    "enospc": (f"#!/bin/sh\nset -e\necho saving checkpoint\ndd if=/dev/zero of={TINY}/ckpt.pt bs=64k count=16\n", []),
    # the CUDA runtime's view of a job's GPUs is the devices Slurm gave it (CUDA_VISIBLE_DEVICES): a job
    # that asked for none gets none, and torch's lazy init raises this (the GPU boundary, emulated)
    "no_gpu": (GPU_CODE, []),
    "with_gpu": (GPU_CODE, ["--gres=gpu:1"]),
}


def submit(devcluster, script: str, *args: str, output: str = "/tmp/sdiag-explain-%j.out") -> str:
    out = subprocess.run(["sbatch", "--parsable", "--chdir=/tmp", "-o", output, *args],
                         input=script, capture_output=True, text=True, timeout=30,
                         env={"PATH": "/usr/bin:/bin", "SLURM_CONF": str(devcluster.slurm_conf)})
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def explain(cluster_env, job_id: str) -> dict:
    done = sdiag("explain", job_id, "--json", env=cluster_env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def tinyfs():
    TINY.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(TINY)], check=True, timeout=30)
    yield TINY
    subprocess.run(["umount", str(TINY)], timeout=30)


@pytest.fixture(scope="module")
def failed_jobs(devcluster, tinyfs):
    from slurm_diag.slurm import CommandClient

    client = CommandClient(conf=str(devcluster.slurm_conf), timeout=30)
    ids = {name: submit(devcluster, script, *args) for name, (script, args) in SCRIPTS.items()}
    for job_id in ids.values():
        client.wait(job_id, timeout=120, poll=0.5)
    time.sleep(3)                      # the epilogs' detached ingest moves their reports to the store
    return ids


@pytest.mark.parametrize("name,label,scope", [
    ("traceback", "user_code", "user"),
    ("oom", "host_oom", "user"),
    ("module", "software_env", "user"),
    ("typo", "user_code", "user"),
    ("usage", "user_code", "user"),
    ("enospc", "filesystem", "infra"),
])
def test_each_failure_is_explained_by_its_cause(failed_jobs, cluster_env, name, label, scope):
    doc = explain(cluster_env, failed_jobs[name])
    a = doc["attribution"]
    assert (a["label"], a["scope"]) == (label, scope), a["explanation"]
    assert doc["job"]["job_id"] == failed_jobs[name] and a["supporting"]
    assert not [f for f in doc["findings"] if f["id"].startswith("health:") and f["severity"] == "UNKNOWN"], \
        "the prolog's and epilog's reports must be in the store"


def test_traceback_names_the_exception_and_the_function(failed_jobs, cluster_env):
    a = explain(cluster_env, failed_jobs["traceback"])["attribution"]
    assert "JSONDecodeError" in a["explanation"] and "called from load" in a["explanation"]


def test_oom_tells_the_user_how_to_ask_for_memory(failed_jobs, cluster_env):
    doc = explain(cluster_env, failed_jobs["oom"])
    assert doc["job"]["state"] == "OUT_OF_MEMORY" and any("--mem" in s for s in doc["attribution"]["next_steps"])
    text = sdiag("explain", failed_jobs["oom"], env=cluster_env).stdout
    assert "Why: host_oom, your job" in text and "State: OUT_OF_MEMORY" in text


def test_a_job_that_asked_for_no_gpu_is_told_its_request_is_the_cause(failed_jobs, cluster_env):
    """The same code ran on the same cluster twice: without --gres it found no GPU, and explain reads
    the job's AllocTRES to say the request is the cause (a log alone cannot); with
    --gres=gpu:1 it ran."""
    doc = explain(cluster_env, failed_jobs["no_gpu"])
    a = doc["attribution"]
    assert (a["label"], a["scope"]) == ("user_code", "user") and a["supporting"][0] == "sacct:no-gpu-asked"
    assert "asked Slurm for no GPU" in a["explanation"] and "No CUDA GPUs are available" in a["explanation"]
    assert any("--gres=gpu:N" in s for s in a["next_steps"]) and doc["job"]["gpus"] == 0
    log_only = sdiag("explain", "--log", "-", "--json", env=cluster_env,
                     input=Path(f"/tmp/sdiag-explain-{failed_jobs['no_gpu']}.out").read_text())
    alone = json.loads(log_only.stdout)["attribution"]           # the log alone cannot name the request
    assert "asked Slurm" not in alone["explanation"] and not any("--gres" in s for s in alone["next_steps"])
    ran = explain(cluster_env, failed_jobs["with_gpu"])
    assert ran["job"]["state"] == "COMPLETED" and ran["job"]["gpus"] == 1
    assert "sacct:no-gpu-asked" not in json.dumps(ran["findings"])


def test_a_bare_exit_code_is_unknown_and_says_what_was_seen(failed_jobs, cluster_env):
    doc = explain(cluster_env, failed_jobs["exit3"])
    assert doc["attribution"]["label"] == "unknown"
    assert doc["job"]["exit_code"] == 3 and doc["job"]["failed_step"]["step"] == "batch"


def test_an_undecided_job_points_at_the_error_line_no_rule_knows(failed_jobs, cluster_env):
    """No rule knows the job's error, so the cause stays unknown; the line itself is shown, with the
    stream and line number it came from, and the first next step says to read it."""
    job_id = failed_jobs["undecided"]
    doc = explain(cluster_env, job_id)
    assert doc["attribution"]["label"] == "unknown" and doc["job"]["exit_code"] == 2
    [line] = [f for f in doc["findings"] if "unrecognised-" in f["id"]]
    assert line["raw"]["text"].startswith("widgetd: fatal: calibration table") and line["raw"]["line"] == 1
    assert line["raw"]["where"] == "stderr" and line["severity"] == "UNKNOWN"
    assert doc["attribution"]["next_steps"][0].startswith("read the error lines no rule recognises, the last at stderr line 1")
    assert not doc["attribution"]["suspect_nodes"]
    text = sdiag("explain", job_id, env=cluster_env).stdout
    assert "Error lines no rule recognises:" in text and "could not be reconciled (code 77)  (stderr line 1)" in text
    assert f"kb add --label LABEL --scope SCOPE --job {job_id} " in text       # root administers the site


@pytest.fixture()
def site_home(devcluster, cluster_env, tmp_path):
    """The cluster's config and knowledge base in a home of the test's own, so what the test adds
    is seen by no other test: the cluster's built index copied (the embedding model shared,
    read-only), or, on a machine where nothing has built it yet, built here."""
    import shutil

    base, home = devcluster.base.parent, tmp_path / "home"
    (home / "kb").mkdir(parents=True)
    conf = tmp_path / "sdiag.toml"
    original = (devcluster.base / "etc" / "sdiag.toml").read_text()
    assert f'home = "{base}"' in original
    conf.write_text(original.replace(f'home = "{base}"', f'home = "{home}"'))
    env = {**cluster_env, "SDIAG_CONFIG": str(conf), "SDIAG_HOME": str(home)}
    if (base / "kb" / "stamp.json").exists():
        shutil.copytree(base / "kb" / "chroma", home / "kb" / "chroma")
        shutil.copy2(base / "kb" / "stamp.json", home / "kb" / "stamp.json")
        (home / "kb" / "model").symlink_to(base / "kb" / "model")
    else:
        built = sdiag("kb", "build", env={**env, "HF_HUB_OFFLINE": "1"}, timeout=600)
        assert built.returncode == 0, built.stderr
    return env


def test_a_cause_the_site_confirmed_explains_the_next_job_that_fails_the_same_way(
        failed_jobs, devcluster, site_home, slurm):
    """The agent could not explain the undecided job, so `kb gaps` lists its error line. Once an
    administrator records the cause (`kb add` in words, with that line), it explains the next job
    whose error has other numbers in it, with the scope the administrator gave; and the line is no
    longer a gap."""
    first = failed_jobs["undecided"]
    ran = sdiag("agent", "run", "--jobs", first, "--llm", "none", env=site_home, timeout=300)
    assert ran.returncode in (0, 1), ran.stderr
    assert f"1 job(s) left unknown ({first}): `sdiag-agent kb gaps` lists" in ran.stdout, ran.stdout
    listed = json.loads(sdiag("kb", "gaps", "--json", env=site_home).stdout)   # what the agent could not explain
    [row] = [g for g in listed if first in g["jobs"]]
    assert row["example"].startswith("widgetd: fatal: calibration table for stage 4") and row["where"] == "stderr"
    added = sdiag("kb", "add", "--label", "software_env", "--scope", "infra", "--job", first,
                  "--why", "widgetd's calibration tables on the shared software tree are out of date; "
                       "the admins regenerate them",
                  "--next-step", "tell the admins which stage failed",
                  "--text", "widgetd: fatal: calibration table for stage 4 could not be reconciled (code 77)",
                  "--json", env=site_home)
    assert added.returncode == 0, added.stderr
    entry = json.loads(added.stdout)["id"]
    script = ("#!/bin/sh\necho starting stage 9\n"
              "echo 'widgetd: fatal: calibration table for stage 9 could not be reconciled (code 78)' >&2\nexit 2\n")
    later = submit(devcluster, script, "-e", "/tmp/sdiag-explain-%j.err")
    slurm.wait(later, timeout=120, poll=0.5)
    a = explain(site_home, later)["attribution"]
    assert (a["label"], a["scope"]) == ("software_env", "infra"), a
    assert a["supporting"] == [f"kb:{entry}"] and "this site confirmed before" in a["explanation"]
    assert a["next_steps"][0].endswith("the admins regenerate them Next: tell the admins which stage failed")
    text = sdiag("explain", later, env=site_home).stdout
    assert "a failure this site confirmed before" in text
    assert "(matched in the log: widgetd: fatal: calibration table for stage 9" in text
    left = json.loads(sdiag("kb", "gaps", "--json", env=site_home).stdout)
    assert not [g for g in left if first in g["jobs"]], "a taught line is no longer a gap"


def test_an_array_counts_its_tasks_and_explains_each_distinct_failure_once(devcluster, cluster_env, slurm):
    """Twelve tasks: every third raises a Python error, the other odd ones exit 1 without a word, the
    rest complete. Two distinct failures, each once, with the tasks that show it."""
    script = ("#!/bin/sh\ni=$SLURM_ARRAY_TASK_ID\necho task $i\n"
              "if [ $((i % 3)) = 0 ]; then exec python3 -c 'import json; json.loads(\"{bad\")'; fi\nexit $((i % 2))\n")
    array_id = submit(devcluster, script, "--array=0-11", output="/tmp/sdiag-explain-%A_%a.out")
    slurm.wait(array_id, timeout=180, poll=1)
    doc = explain(cluster_env, array_id)
    arr = doc["array"]
    assert arr["states"] == {"COMPLETED": 4, "FAILED": 8}, arr
    by_label = {f["attribution"]["label"]: sorted(f["tasks"]) for f in arr["failures"]}
    assert by_label == {"user_code": sorted(f"{array_id}_{i}" for i in (0, 3, 6, 9)),
                        "unknown": sorted(f"{array_id}_{i}" for i in (1, 5, 7, 11))}, by_label
    text = sdiag("explain", array_id, env=cluster_env).stdout
    assert text.startswith(f"Array {array_id}: 12 tasks: 8 FAILED, 4 COMPLETED") and "JSONDecodeError" in text


def test_a_job_whose_output_directory_is_missing_is_told_to_create_it(devcluster, cluster_env, slurm):
    """sbatch -o into a directory that does not exist: the job ends at once without a log, and sacct
    says FAILED 0:53 with the batch step CANCELLED. explain names the directory."""
    missing = Path(f"/tmp/sdiag-explain-missing-{time.time_ns()}")
    job_id = submit(devcluster, "#!/bin/sh\necho never printed\n", output=f"{missing}/%j.out")
    slurm.wait(job_id, timeout=120, poll=0.5)
    doc = explain(cluster_env, job_id)
    a = doc["attribution"]
    assert (doc["job"]["state"], doc["job"]["signal"]) == ("FAILED", 53)
    assert (a["label"], a["scope"]) == ("user_code", "user") and a["supporting"][0] == "sacct:output-file"
    assert f"its directory {missing} does not exist" in a["explanation"]
    assert a["next_steps"][0].startswith("create the directory of --output/--error")
    assert "scheduler" not in [alt["label"] for alt in doc["alternatives"]]


def test_a_script_killed_by_sigkill_far_under_its_memory_is_neither_a_cancel_nor_host_memory(
        devcluster, cluster_env, slurm):
    """The batch shell killed by SIGKILL: sacct shows the job FAILED 0:9 and its batch step CANCELLED,
    though nobody cancelled it, and the job used a fraction of its memory (sampled every second here)."""
    script = ("#!/bin/sh\npython3 -c 'import time; b=bytearray(30*1024*1024); time.sleep(30)' &\n"
              "sleep 4\nkill -9 $$\n")
    job_id = submit(devcluster, script, "--mem=200M")
    slurm.wait(job_id, timeout=120, poll=0.5)
    doc = explain(cluster_env, job_id)
    a = doc["attribution"]
    assert (doc["job"]["state"], doc["job"]["signal"]) == ("FAILED", 9)
    assert a["label"] == "unknown", a
    assert "scheduler" not in [alt["label"] for alt in doc["alternatives"]]
    low = [f for f in doc["findings"] if f["id"] == "sacct:memory-low"]
    assert low and "of the 200 MiB it asked for" in low[0]["summary"]
    assert "probably not its memory limit" in a["explanation"]


def test_a_task_killed_first_is_the_failure_and_the_step_srun_ended_after_it_is_not_a_cancel(
        devcluster, cluster_env, slurm):
    """Two tasks under srun: task 1 is killed by SIGKILL, srun ends the step's other task. sacct shows
    the job FAILED and step 0 CANCELLED by SIGTERM, though nobody cancelled anything."""
    script = ("#!/bin/sh\nsrun -n 2 --kill-on-bad-exit=1 sh -c "
              "'echo task $SLURM_PROCID up; if [ $SLURM_PROCID = 1 ]; then sleep 1; kill -9 $$; fi; sleep 30'\n")
    job_id = submit(devcluster, script, "-n", "2", "--mem=200M")
    slurm.wait(job_id, timeout=120, poll=0.5)
    doc = explain(cluster_env, job_id)
    a, by_id = doc["attribution"], {f["id"]: f for f in doc["findings"]}
    assert doc["job"]["state"] == "FAILED"
    step = next(s for s in slurm.get_job(job_id).steps if s.step_id == "0")
    # SIGTERM; SIGKILL where the other task outlived KillWait (seen once, on a loaded machine)
    assert step.state == "CANCELLED" and step.signal in (9, 15), step
    # the task used a few MiB of the 200 it had: the SIGKILL was probably not memory, and nobody cancelled
    assert a["label"] == "unknown" and doc["alternatives"][0]["label"] != "scheduler", (a, doc["alternatives"])
    assert "killed by SIGKILL, but the job used at most" in a["explanation"]
    assert "srun ended the step's other tasks after a task failed" in by_id["sacct-step-0:signal"]["summary"]
    assert "consequence of the task failure" in by_id["stdout:cancelled-unsaid"]["summary"]
    assert ": task 1: Killed" in by_id["stdout:host-oom-sigkill"]["summary"]


def test_a_heterogeneous_job_is_explained_whole_from_the_component_that_failed(devcluster, cluster_env, slurm):
    """`#SBATCH hetjob`: component 0 (the leader, node1, 200 MiB) runs the script, component 1 (node2,
    60 MiB) runs a step that outgrows its memory. squeue and sacct print 123+0 and 123+1; a user
    may paste either, or component 1's own id. Each is the one job, explained from its failed step."""
    script = ("#!/bin/sh\n#SBATCH -w node1 --mem=200M\n#SBATCH hetjob\n#SBATCH -w node2 --mem=60M\n"
              "srun --het-group=0 echo leader up\n"
              "srun --het-group=1 python3 -c 'import time; b=bytearray(400*1024*1024); time.sleep(5)'\n")
    job_id = submit(devcluster, script)
    slurm.wait(job_id, timeout=120, poll=0.5)
    doc = explain(cluster_env, job_id)
    a, job = doc["attribution"], doc["job"]
    assert job["job_id"] == job_id and job["nodes"] == ["node1", "node2"]
    assert [(c["job_id"], c["nodes"], c["mem_alloc_kb"]) for c in job["het_components"]] == [
        (f"{job_id}+0", ["node1"], 200 * 1024), (f"{job_id}+1", ["node2"], 60 * 1024)]
    assert job["failed_step"]["step"] == "+1.1" and job["failed_step"]["state"] == "OUT_OF_MEMORY"
    assert (a["label"], a["scope"]) == ("host_oom", "user"), a
    assert a["next_steps"][0].startswith(f"#SBATCH --mem=128M in component 1's #SBATCH lines (after its "
                                         f"`#SBATCH hetjob`): {job_id}+1 had 60 MiB on node2")
    raw = next(j for j in slurm._sacct(["-j", job_id]) if j.job_id == f"{job_id}+1").job_id_raw
    assert raw != job_id
    for other in (f"{job_id}+1", raw):
        assert explain(cluster_env, other)["job"]["job_id"] == job_id
    refused = sdiag("explain", f"{job_id}+2", env=cluster_env)
    assert refused.returncode == 2 and f"has no component +2: its components are {job_id}+0, {job_id}+1" \
        in refused.stderr, refused.stderr
    recent = json.loads(sdiag("explain", "--since", "10m", "--json", env=cluster_env).stdout)
    assert [r["job"]["job_id"] for r in recent["jobs"]].count(job_id) == 1
    assert not [r for r in recent["jobs"] if "+" in r["job"]["job_id"]]


def test_a_job_an_administrator_requeued_says_so_while_it_waits_and_once_it_has_run(devcluster, cluster_env, slurm):
    """`scontrol requeue` under a running job: Slurm gives it a BeginTime a little ahead (its owner
    set none), then runs it again. Accounting keeps both runs (sacct --duplicates)."""
    job_id = submit(devcluster, "#!/bin/sh\necho started\nsleep 5\necho done\n")
    script_started(slurm, job_id, f"/tmp/sdiag-explain-{job_id}.out")
    first = slurm.get_job(job_id).nodes
    done = subprocess.run(["scontrol", "requeue", job_id], capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", "SLURM_CONF": str(devcluster.slurm_conf)})
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 30
    while slurm.get_job(job_id).state != "PENDING":
        assert time.monotonic() < deadline, slurm.get_job(job_id)
        time.sleep(0.2)
    waiting = explain(cluster_env, job_id)
    if waiting["job"]["state"] == "PENDING":          # not started again between the two looks
        assert "holds a requeued job back" in waiting["attribution"]["explanation"], waiting["attribution"]
        assert "--begin" not in waiting["attribution"]["explanation"]
    slurm.wait(job_id, timeout=120, poll=0.5)
    doc = explain(cluster_env, job_id)
    (run,) = doc["job"]["earlier_runs"]
    assert (run["state"], run["nodes"]) == ("REQUEUED", list(first))
    assert doc["job"]["state"] == "COMPLETED"
    assert doc["attribution"]["explanation"].endswith(f"Slurm requeued the job once: run 1 on {first[0]} ended "
                                                      f"REQUEUED at {run['end']}")


def test_an_interactive_job_says_its_output_went_to_the_terminal(devcluster, cluster_env, slurm):
    """srun from a shell, no batch script: there is no output file to read, and explain says where the
    output went instead of naming a slurm-JOBID.out that never existed."""
    ran = subprocess.run(["srun", "-n", "1", "sh", "-c", "echo $SLURM_JOB_ID; exit 3"], capture_output=True,
                         text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "SLURM_CONF": str(devcluster.slurm_conf)})
    assert ran.returncode == 3, ran.stderr
    job_id = ran.stdout.split()[0]
    slurm.wait(job_id, timeout=60, poll=0.5)
    doc = explain(cluster_env, job_id)
    assert any(f["id"] == "log:interactive" for f in doc["findings"])
    assert "the job's output (it went to the terminal srun or salloc ran in)" in doc["not_checked"]
    assert not any("slurm-" in item for item in doc["not_checked"]), doc["not_checked"]
    assert doc["attribution"]["next_steps"][0].endswith("`sdiag-agent explain --log run.log --exit-code 3`")


def test_pending_jobs_say_why_and_whether_they_will_ever_start(devcluster, cluster_env, slurm):
    """Three jobs Slurm keeps pending for different reasons: held by its owner (it starts once
    released), more nodes than the cluster has (Slurm's reason for it also covers nodes that are
    down, so it may never start), and a dependency on a job that failed (it never starts)."""
    failed = submit(devcluster, "#!/bin/sh\nexit 1\n")
    slurm.wait(failed, timeout=120, poll=0.5)
    ids = {"held": submit(devcluster, "#!/bin/sh\ntrue\n", "--hold"),
           "too_big": submit(devcluster, "#!/bin/sh\ntrue\n", "-N", "9"),
           "orphan": submit(devcluster, "#!/bin/sh\ntrue\n", f"--dependency=afterok:{failed}")}
    try:
        settled = {"held": ("JobHeldUser",), "too_big": ("PartitionNodeLimit", "PartitionConfig"),
                   "orphan": ("DependencyNeverSatisfied",)}
        deadline = time.monotonic() + 60            # until the scheduler has looked at each of them
        while time.monotonic() < deadline and any(slurm.get_job(ids[n]).reason not in r for n, r in settled.items()):
            time.sleep(1)
        docs = {name: explain(cluster_env, job_id) for name, job_id in ids.items()}
        held = docs["held"]["attribution"]
        assert held["label"] == "unknown" and held["next_steps"] == [f"scontrol release {ids['held']}"]
        orphan = docs["orphan"]["attribution"]
        assert orphan["label"] == "scheduler" and "will never start" in orphan["explanation"], orphan
        assert orphan["next_steps"][0].startswith(f"scancel {ids['orphan']}")
        too_big = docs["too_big"]["attribution"]        # Slurm's reason also covers nodes down: it may pass
        assert too_big["label"] == "unknown" and "it will never start" in too_big["explanation"], too_big
        assert ids["too_big"] in too_big["next_steps"][0]
        text = sdiag("explain", ids["held"], env=cluster_env).stdout
        assert "Why: pending, not failed" in text and "asked for" in text and "exit code" not in text
    finally:
        subprocess.run(["scancel", *ids.values()], timeout=30,
                       env={"PATH": "/usr/bin:/bin", "SLURM_CONF": str(devcluster.slurm_conf)})


def test_a_maintenance_window_and_an_array_throttle_are_said_in_words(devcluster, cluster_env, slurm):
    """Two jobs slurmctld keeps waiting with its own words: one whose --time runs into a maintenance
    reservation (scontrol: ReqNodeNotAvail,_Reserved_for_maintenance; it starts after it, or now with
    a shorter limit), and an array's task held back by the array's %1 throttle (raised on the array).
    And a running job an administrator suspended: not failed, and it goes on once resumed."""
    env = {"PATH": "/usr/bin:/bin", "SLURM_CONF": str(devcluster.slurm_conf)}
    made = subprocess.run(["scontrol", "create", "reservation", "ReservationName=sdiag-test-maint",
                           "StartTime=now+30minutes", "Duration=60", "Nodes=ALL", "Users=root",
                           "Flags=MAINT,IGNORE_JOBS"], capture_output=True, text=True, timeout=30, env=env)
    assert made.returncode == 0, made.stderr
    ids = []
    try:
        ids.append(submit(devcluster, "#!/bin/sh\ntrue\n", "--time=2:00:00"))
        ids.append(submit(devcluster, "#!/bin/sh\nsleep 60\n", "--time=5", "--array=0-1%1"))
        ids.append(submit(devcluster, "#!/bin/sh\necho started\nsleep 120\n", "--time=5"))
        long, task, paused = ids[0], f"{ids[1]}_1", ids[2]
        script_started(slurm, paused, f"/tmp/sdiag-explain-{paused}.out")
        subprocess.run(["scontrol", "suspend", paused], check=True, timeout=30, env=env)
        deadline = time.monotonic() + 60            # until the scheduler has looked at both
        while time.monotonic() < deadline and not (
                (slurm.get_job(long).reason or "").startswith("ReqNodeNotAvail")
                and slurm.get_job(task).reason == "JobArrayTaskLimit"):
            time.sleep(1)
        assert slurm.get_job(long).reason == "ReqNodeNotAvail,_Reserved_for_maintenance"
        maint = explain(cluster_env, long)["attribution"]
        assert maint["label"] == "unknown" and "run into a maintenance reservation" in maint["explanation"], maint
        assert maint["next_steps"][0].endswith(f"scontrol update JobId={long} TimeLimit=...")
        throttled = explain(cluster_env, task)["attribution"]
        assert "throttle (--array=...%N)" in throttled["explanation"], throttled
        assert throttled["next_steps"][0].endswith(f"scontrol update JobId={ids[1]} ArrayTaskThrottle=N")
        text = sdiag("explain", paused, env=cluster_env).stdout
        assert "Why: suspended, not failed" in text and "goes on where it stopped once resumed" in text, text
    finally:
        subprocess.run(["scancel", *ids], timeout=30, env=env)
        subprocess.run(["scontrol", "delete", "reservation", "sdiag-test-maint"], timeout=30, env=env)


def test_a_running_job_is_explained_so_far(devcluster, cluster_env, slurm):
    job_id = submit(devcluster, "#!/bin/sh\necho epoch 1 loss 2.31\nsleep 120\n")
    try:
        script_started(slurm, job_id, f"/tmp/sdiag-explain-{job_id}.out")
        text = sdiag("explain", job_id, env=cluster_env).stdout
        assert "State: RUNNING\n" in text and "exit code" not in text
        assert "So far (the job is still running): undetermined" in text and "nothing has gone wrong" in text
        assert f"explain it again once it ends (sdiag-agent explain {job_id})" in text
    finally:
        subprocess.run(["scancel", job_id], timeout=30,
                       env={"PATH": "/usr/bin:/bin", "SLURM_CONF": str(devcluster.slurm_conf)})


def test_time_limit(devcluster, cluster_env, slurm):
    """Three jobs reach a one-minute limit: one computing (more time is the fix), one asleep (it sat
    waiting, and more time will not help: sacct's CPU time says which), and one whose second step
    waited for the CPUs its first step held (srun says so)."""
    busy = submit(devcluster, "#!/bin/sh\necho working\npython3 -c 'while True: pass'\n", "--time=0:05")
    asleep = submit(devcluster, "#!/bin/sh\necho working; sleep 300\n", "--time=0:05")
    steps = submit(devcluster, "#!/bin/sh\nsrun -n 1 --exclusive sleep 300 &\nsleep 1\n"
                               "srun -n 2 --exclusive hostname\nwait\n", "--time=0:05", "-n", "2")
    ended = {job_id: slurm.wait(job_id, timeout=180, poll=1) for job_id in (busy, asleep, steps)}
    # the adapter's view of a time limit (Slurm's resolution is a minute: this test checks it for
    # tests/slurm/test_cluster.py, rather than a second wait of a minute there)
    assert all((job.state, job.time_limit_s) == ("TIMEOUT", 60) for job in ended.values()), ended
    a = explain(cluster_env, busy)["attribution"]
    assert (a["label"], a["scope"]) == ("time_limit", "user") and a["next_steps"][0].startswith("#SBATCH --time=")
    a = explain(cluster_env, asleep)["attribution"]
    assert (a["label"], a["scope"]) == ("time_limit", "user") and a["supporting"][0] == "sacct:idle-at-limit"
    assert a["next_steps"][0].startswith("more time will not help")
    doc = explain(cluster_env, steps)
    a = doc["attribution"]
    assert (a["label"], a["supporting"][0]) == ("time_limit", "sacct:idle-step-wait"), a
    assert a["next_steps"][0].startswith("give each step its share of the job")
    assert "scheduler" not in [alt["label"] for alt in doc["alternatives"]], doc["alternatives"]


@pytest.fixture()
def healthy_again(devcluster, slurm):
    yield
    from slurm_diag.health import state

    for name in devcluster.node_names:
        cluster.set_profile(devcluster, name, cluster.HEALTHY_PROFILE)
        state.clear(devcluster.base.parent, name)       # the sticky XIDs a test injected: `health forget`
        if slurm.get_node(name).drained:
            slurm.resume_node(name)


XID_JOB = ("#!/bin/sh\necho training\nsleep 4\n"
           "echo 'RuntimeError: CUDA error: an illegal memory access was encountered' >&2\nexit 1\n")


def test_a_gpu_that_fell_off_the_bus_during_the_job_is_the_cause_not_the_jobs_code(
        devcluster, cluster_env, slurm, healthy_again):
    job_id = submit(devcluster, XID_JOB, "-w", "node3", "--gres=gpu:8")
    script_started(slurm, job_id, f"/tmp/sdiag-explain-{job_id}.out")
    cluster.set_profile(devcluster, "node3", "h100-8-xid79")     # the Xid lands in its kernel log mid-job
    slurm.wait(job_id, timeout=120, poll=0.5)
    time.sleep(3)
    a = explain(cluster_env, job_id)["attribution"]
    assert (a["label"], a["scope"], a["suspect_nodes"]) == ("gpu_hardware", "infra", ["node3"]), a
    assert {"node": "node3", "gpu": 2} in a["suspect_gpus"]


def test_a_gpu_that_fell_off_the_bus_beside_the_job_is_not_its_cause(devcluster, cluster_env, slurm, healthy_again):
    """The same Xid on GPU 2, under a job Slurm gave GPUs 0 and 1 of node3 (its prolog recorded
    them): the illegal memory access is the job's own (the GPU it ran on shows no fault), and the
    Xid is there as context, saying whose GPU it was."""
    job_id = submit(devcluster, XID_JOB, "-w", "node3", "--gres=gpu:2")
    script_started(slurm, job_id, f"/tmp/sdiag-explain-{job_id}.out")
    cluster.set_profile(devcluster, "node3", "h100-8-xid79")
    slurm.wait(job_id, timeout=120, poll=0.5)
    time.sleep(3)
    doc = explain(cluster_env, job_id)
    a, by_id = doc["attribution"], {f["id"]: f for f in doc["findings"]}
    assert by_id["health:node3:job-gpus"]["raw"]["gpus"] == [0, 1]
    assert (a["label"], a["scope"]) == ("user_code", "user"), a
    assert "GPU 2 was not the job's: Slurm gave it GPUs 0, 1 on node3" in by_id["health:node3:xid:2"]["summary"]


def test_a_gpu_the_log_numbers_from_zero_is_named_as_the_nodes_gpu(devcluster, cluster_env, slurm):
    """A first job holds GPUs 0 and 1 of node3, so Slurm gives a second one GPUs 2 and 3, which its
    processes see as cuda:0 and cuda:1. The second job's ECC error on cuda:0 is GPU 2 of node3: its
    real prolog and epilog recorded the GPUs (SLURM_JOB_GPUS), and the finding names the node's GPU,
    the one an administrator would look at."""
    env = {"PATH": "/usr/bin:/bin", "SLURM_CONF": str(devcluster.slurm_conf)}
    holder = submit(devcluster, "#!/bin/sh\necho holding\nsleep 60\n", "-w", "node3", "--gres=gpu:2")
    try:
        script_started(slurm, holder, f"/tmp/sdiag-explain-{holder}.out")
        job_id = submit(devcluster, "#!/bin/sh\necho training\n"
                        "echo 'RuntimeError: CUDA error: uncorrectable ECC error encountered on cuda:0' >&2\nexit 1\n",
                        "-w", "node3", "--gres=gpu:2")
        slurm.wait(job_id, timeout=120, poll=0.5)
    finally:
        subprocess.run(["scancel", holder], timeout=30, env=env)
    time.sleep(3)
    doc = explain(cluster_env, job_id)
    by_id = {f["id"]: f for f in doc["findings"]}
    assert by_id["health:node3:job-gpus"]["raw"]["gpus"] == [2, 3]
    ecc = next(f for f in doc["findings"] if f["id"].endswith(":gpu-ecc-uncorrectable"))
    assert (ecc["node"], ecc["gpu"], ecc["raw"]["job_gpu"]) == ("node3", 2, 0), ecc
    assert "the job's GPU 0 is GPU 2 of node3" in ecc["summary"]
    # the GPU had no fault the driver saw during the job (no Xid in node3's kernel log): the line alone
    # does not decide; only a record of node3's own can (an earlier test's Xid on GPU 2, within the
    # minute before the job that the window reads)
    assert "the driver never reported it" in ecc["summary"]
    a = doc["attribution"]
    if a["label"] == "gpu_hardware":
        assert any(by_id[i]["source"] == "health" and by_id[i].get("gpu") == 2 for i in a["supporting"]), a
    else:
        assert a["label"] == "unknown", a


def test_a_job_slurmctld_has_forgotten_still_has_its_output_and_its_gpus(devcluster, slurm):
    """slurmctld forgets a job MinJobAge after it ends, and its output path and GPU request with it;
    22.05's accounting keeps neither as a field. Its command line, script and environment it keeps
    (AccountingStoreFlags=job_script,job_env, set on the local cluster): the job's #SBATCH -o file is
    read, and its cuda:1 is still the node's GPU. slurmctld's answer is the one it gives once the job is
    forgotten ("Invalid job id"); sacct, the store and the job's files are the real ones."""
    from slurm_diag.diagnose import collect, engine
    from slurm_diag import config
    from slurm_diag.slurm import CommandClient, job_lookup, submission
    from slurm_diag.slurm.records import CONTROLLER
    from slurm_diag.store import Store

    class Forgetful(CommandClient):
        def _controller_answer(self, base):
            return job_lookup.Answer()

    script = ("#!/bin/sh\n#SBATCH -o /tmp/sdiag-forgotten-%j.log\n#SBATCH --gres=gpu:2\necho training\n"
              "echo 'RuntimeError: CUDA error: uncorrectable ECC error encountered on cuda:1' >&2\nexit 1\n")
    done = subprocess.run(["sbatch", "--parsable", "--chdir=/tmp", "-w", "node4"], input=script,
                          capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", "SLURM_CONF": str(devcluster.slurm_conf)})
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.strip()
    slurm.wait(job_id, timeout=120, poll=0.5)
    time.sleep(3)                      # the epilog's detached ingest moves its report to the store
    client = Forgetful(conf=str(devcluster.slurm_conf), timeout=30)
    deadline = time.monotonic() + 30
    # slurmdbd may record the start of a job this short (name, work dir, script) after its end
    while (job := client.get_job(job_id)).output_from is None and time.monotonic() < deadline:
        time.sleep(1)
    assert CONTROLLER not in job.sources
    assert (job.stdout, job.output_from) == ("/tmp/sdiag-forgotten-%j.log", submission.SCRIPT), job
    assert set(job.request_read) == {submission.SUBMIT_LINE, submission.SCRIPT, submission.ENVIRONMENT}
    assert job.gpus_per_task_known and job.gpus_per_task is None
    store = Store(config.load(devcluster.base / "etc" / "sdiag.toml").store_url)
    more, missing = collect.around_job(job, client, lambda: store)
    d = engine.diagnose_job(job, more=more, not_checked=missing)
    assert not any("stdout" in item for item in d.not_checked), d.not_checked
    ecc = next(f for f in d.findings if f["id"].endswith(":gpu-ecc-uncorrectable"))
    held = next(f for f in d.findings if f["id"] == "health:node4:job-gpus")["raw"]["gpus"]
    assert (ecc["node"], ecc["gpu"], ecc["raw"]["job_gpu"]) == ("node4", held[1], 1), ecc


def test_a_user_is_told_the_gpu_failed_under_their_job_not_their_code(
        user, devcluster, cluster_env, slurm, healthy_again):
    """The same failure, explained to the job's owner, an ordinary unix user: the store's password is
    root's, so the Xid the epilog recorded reaches them through the nodes' account (store.nodes_url)."""
    from tests.core import unix_user
    from tests.core.test_real_users import _env, _sdiag

    out = f"/tmp/sdiag-explain-user-{time.time_ns()}.out"
    sent = unix_user.run_as(user, ["sbatch", "--parsable", "--chdir=/tmp", "-o", out, "-w", "node3",
                                   "--gres=gpu:8"], env=_env(user, devcluster), input=XID_JOB.encode())
    assert sent.returncode == 0, sent.stderr
    job_id = sent.stdout.strip().split(";")[0]
    script_started(slurm, job_id, out)
    cluster.set_profile(devcluster, "node3", "h100-8-xid79")
    slurm.wait(job_id, timeout=120, poll=0.5)
    time.sleep(3)
    told = _sdiag(user, devcluster, "explain", job_id, "--json")
    assert told.returncode == 0 and "Traceback" not in told.stderr, told.stderr
    a = json.loads(told.stdout)["attribution"]
    assert (a["label"], a["scope"], a["suspect_nodes"]) == ("gpu_hardware", "infra", ["node3"]), a
    assert {"node": "node3", "gpu": 2} in a["suspect_gpus"]
    # the epilog's own record of the Xid, not only the drain Slurm's accounting shows every user
    assert "health:node3:xid:2" in a["supporting"], a["supporting"]


def test_a_node_that_died_under_its_job(devcluster, cluster_env, slurm):
    job_id = submit(devcluster, "#!/bin/sh\necho started\nsleep 300\n", "-w", "node4", "--no-requeue")
    script_started(slurm, job_id, f"/tmp/sdiag-explain-{job_id}.out")
    daemons.kill(cluster.daemon(devcluster, "slurmd-node4"))
    try:
        job = slurm.wait(job_id, timeout=180, poll=1)
        # the adapter's view of a node lost under a job (one wait serves tests/slurm/test_cluster.py too)
        assert (job.state, job.nodes) == ("NODE_FAIL", ("node4",)) and not slurm.get_node("node4").responding
        a = explain(cluster_env, job_id)["attribution"]
        assert (a["label"], a["scope"], a["suspect_nodes"]) == ("node_failure", "infra", ["node4"]), a
    finally:
        cluster.up(devcluster, say=lambda m: None)
        if slurm.get_node("node4").drained or "DOWN" in slurm.get_node("node4").state.upper():
            slurm.resume_node("node4")
    assert slurm.get_node("node4").responding


def test_a_job_slower_than_its_earlier_runs_on_a_slowed_node(idle_cluster, devcluster, cluster_env, slurm,
                                                             healthy_again):
    """The same CPU-bound job, twice on node1, then on node2 whose slurmd sits in a cgroup with
    a fifth of a CPU: explain says how much slower than its earlier runs, names the node, and says
    which of the job's steps got slower (the loop, not the quick step before it)."""
    name = f"loop-{int(time.time())}"
    script = "#!/bin/sh\nsrun -J prep true\nsrun -J work python3 -c 'sum(i * i for i in range(20_000_000))'\n"
    for _ in range(2):
        slurm.wait(submit(devcluster, script, "-J", name, "-w", "node1"), timeout=120, poll=0.5)
    cluster.slow(devcluster, "node2", 0.2)
    try:
        job_id = submit(devcluster, script, "-J", name, "-w", "node2")
        slurm.wait(job_id, timeout=180, poll=0.5)
    finally:
        cluster.unslow(devcluster, "node2")
    doc = explain(cluster_env, job_id)
    found = next(f for f in doc["findings"] if f["id"] == "sacct:earlier-runs")
    assert found["severity"] == "WARN" and "slower than its 2 earlier runs" in found["summary"], found
    assert "node2" in found["summary"]
    steps = {s["name"]: s for s in found["raw"]["steps"]}
    assert set(steps) == {"prep", "work"} and steps["work"]["ratio"] >= 1.5, found["raw"]
    assert f"; by step: 0 (prep) {steps['prep']['ratio']:.1f}x, 1 (work) " in found["summary"]
    # slowness alone does not make the node guilty: without a probe or health record against node2
    # the answer stays open, with the slow node as the first alternative and the probe named
    a = doc["attribution"]
    if a["label"] == "unknown":
        assert doc["alternatives"][0]["label"] == "slow_node"
        assert "probe submit gemm --nodes node2" in a["next_steps"][0]
    else:       # node2 had a health or probe finding in the window (an earlier test's fault): it decides
        assert a["suspect_nodes"] == ["node2"] and a["scope"] == "infra"
        by_id = {f["id"]: f for f in doc["findings"]}
        assert all(by_id[i]["source"] in ("health", "probe", "sacct") for i in a["supporting"]), a


def test_a_job_kept_off_a_throttled_gpu_node_and_requeued(devcluster, cluster_env, slurm, healthy_again):
    cluster.set_profile(devcluster, "node2", "h100-8-throttled-gpu3")
    others = [n for n in devcluster.node_names if n != "node2"]
    try:
        for name in others:               # node2 first in line, without pinning the job to it
            slurm.set_node_weight(name, 100)
        job_id = submit(devcluster, "#!/bin/sh\nhostname\n", "--gres=gpu:1")
        job = slurm.wait(job_id, timeout=120, poll=1)
    finally:
        for name in others:
            slurm.set_node_weight(name, 1)
    assert job.state == "COMPLETED" and "node2" not in job.nodes
    deadline = time.monotonic() + 30           # until the final run's epilog has ingested the prolog's action
    while True:
        a = explain(cluster_env, job_id)["attribution"]
        if a["label"] != "unknown" or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert (a["label"], a["scope"]) == ("scheduler", "infra"), a
    assert "prolog on node2" in a["explanation"] and "requeued" in a["explanation"]
