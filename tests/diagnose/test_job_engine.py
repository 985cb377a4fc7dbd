"""The engine on a job record (the Slurm adapter's Job): steps, the first failed step, the job's
own output files, and what could not be read."""

from __future__ import annotations

import dataclasses
import os
import pwd

import pytest

from slurm_diag import schemas
from slurm_diag.diagnose import engine, job_facts, logfile
from slurm_diag.slurm.records import EarlierRun, HetComponent, Job, JobStep

ME = pwd.getpwuid(os.getuid()).pw_name


def job(tmp_path, state="FAILED", exit_code=1, signal=0, steps=(), out_text=None, **kw) -> Job:
    out = tmp_path / "slurm-77.out"
    if out_text is not None:
        out.write_text(out_text)
    base = dict(job_id="77", job_id_raw="77", name="train", user=ME, partition="gpu", state=state,
                state_detail=state, exit_code=exit_code, signal=signal, elapsed_s=100, time_limit_s=3600,
                nodes=("node2",), node_list="node2", stdout=str(tmp_path / "slurm-%j.out"),
                stderr=str(tmp_path / "slurm-%j.out"), work_dir=str(tmp_path), steps=tuple(steps))
    return Job(**{**base, **kw})


def check(d):
    schemas.validate("explain", d.to_dict())
    return d.attribution


def test_oom_in_a_step_is_the_cause_even_when_the_job_says_failed(tmp_path):
    steps = [JobStep("batch", "batch", "FAILED", 1, 0, 100, ("node2",)),
             JobStep("0", "python", "OUT_OF_MEMORY", 0, 0, 90, ("node2",))]
    a = check(engine.diagnose_job(job(tmp_path, steps=steps, out_text="step 1\n")))
    assert a["label"] == "host_oom" and "sacct-step-0:state" in a["supporting"]


def test_the_output_file_is_found_through_slurms_filename_pattern(tmp_path):
    j = job(tmp_path, out_text="Traceback (most recent call last):\n  File \"t.py\", line 3, in main\n"
                               "KeyError: 'lr'\n")
    assert job_facts.log_paths(j) == [("stdout", str(tmp_path / "slurm-77.out"))]
    a = check(engine.diagnose_job(j))
    assert (a["label"], a["scope"]) == ("user_code", "user") and "KeyError" in a["explanation"]


def test_a_purged_log_is_a_finding_and_listed_as_not_checked(tmp_path):
    d = engine.diagnose_job(job(tmp_path, out_text=None))
    check(d)
    assert any(f["severity"] == "UNKNOWN" and "does not exist" in f["summary"] for f in d.findings)
    assert any("stdout" in item for item in d.not_checked)
    assert d.attribution["label"] == "unknown"         # exit code 1 and nothing else: undecided


def test_infra_suspects_stay_within_the_jobs_nodes(tmp_path):
    text = "Dec  1 12:00:00 othernode kernel: NVRM: Xid (PCI:0000:3b:00): 79, pid=1, GPU has fallen off the bus.\n"
    a = check(engine.diagnose_job(job(tmp_path, out_text=text)))
    assert a["label"] == "gpu_hardware" and a["suspect_nodes"] == ["node2"]


def test_cancelled_by_its_owner_is_the_users_doing(tmp_path):
    me = str(os.getuid())
    a = check(engine.diagnose_job(job(tmp_path, state="CANCELLED", state_detail=f"CANCELLED by {me}",
                                      exit_code=0, out_text="running\n")))
    assert (a["label"], a["scope"]) == ("scheduler", "user")
    assert a["next_steps"] == ["nothing to fix in the job: its owner (or a script running as its owner) "
                               "cancelled it; resubmit it if that was not meant"]
    # cancelled while it waited: no node, no output to look for, and nothing said to be missing from it
    d = engine.diagnose_job(job(tmp_path, state="CANCELLED", state_detail=f"CANCELLED by {me}", exit_code=0,
                                elapsed_s=0, nodes=(), node_list=""))
    assert d.attribution["next_steps"][0].endswith("cancelled it before it started; resubmit it if that was not meant")
    assert "the job's output (the job never started, so it wrote none)" in d.not_checked
    assert not any(f["severity"] == "UNKNOWN" and f["source"] == "log" for f in d.findings), d.findings
    # a job Slurm requeued and holds between runs ran before: its output counts
    held = dataclasses.replace(job(tmp_path, state="REQUEUE_HOLD", exit_code=0, elapsed_s=0, nodes=(), node_list="",
                                   out_text="Traceback (most recent call last):\nKeyError: 'lr'\n"),
                               earlier_runs=(EarlierRun("NODE_FAIL", "NODE_FAIL", "2026-12-01T06:00:00", "2026-12-01T06:05:00",
                                                        ("node2",), 0, 0),))
    d = engine.diagnose_job(held)
    assert "the job's output (the job never started, so it wrote none)" not in d.not_checked
    assert any(f["id"].startswith("stdout:") for f in d.findings), d.findings
    # an administrator's cancel: where to look for why
    a = check(engine.diagnose_job(job(tmp_path, state="CANCELLED", state_detail="CANCELLED by 0", user="nobody",
                                      exit_code=0, out_text="running\n")))
    assert any("`sacct -j 77 -o State,Reason`" in s for s in a["next_steps"])      # this job, not a placeholder


def test_first_failed_step_skips_extern():
    steps = (JobStep("extern", "extern", "CANCELLED", 0, 9, 5, ("n1",)),
             JobStep("0", "a", "COMPLETED", 0, 0, 5, ("n1",)),
             JobStep("1", "b", "FAILED", 3, 0, 5, ("n1",)))
    j = Job("5", "5", "x", ME, "p", "FAILED", "FAILED", 3, 0, 10, 60, ("n1",), "n1", steps=steps)
    assert job_facts.first_failed_step(j).step_id == "1"


def test_the_step_that_failed_first_is_the_one_that_ended_first_not_the_batch_script_sacct_lists_first():
    """A script ran 300 steps; the last one failed and the script exited with its code. sacct lists
    the batch step first, but step 299 ended before it: that is the step that failed first (on the
    local cluster explain said "Failed step: batch")."""
    steps = (JobStep("batch", "batch", "FAILED", 1, 0, 17, ("n1",), end="2026-12-02T14:25:17"),
             JobStep("extern", "extern", "COMPLETED", 0, 0, 17, ("n1",), end="2026-12-02T14:25:17"),
             JobStep("0", "true", "COMPLETED", 0, 0, 0, ("n1",), end="2026-12-02T14:25:01"),
             JobStep("299", "false", "FAILED", 1, 0, 0, ("n1",), end="2026-12-02T14:25:16"))
    j = Job("6", "6", "x", ME, "p", "FAILED", "FAILED", 1, 0, 17, 60, ("n1",), "n1", steps=steps)
    assert job_facts.first_failed_step(j).step_id == "299"
    same_second = steps[:3] + (dataclasses.replace(steps[3], end="2026-12-02T14:25:17"),)
    assert job_facts.first_failed_step(dataclasses.replace(j, steps=same_second)).step_id == "299"
    earlier = (dataclasses.replace(steps[0], end="2026-12-02T14:25:10"),) + steps[1:]   # the script failed first
    assert job_facts.first_failed_step(dataclasses.replace(j, steps=earlier)).step_id == "batch"


def test_user_causes_get_the_exact_line_to_change(tmp_path):
    oom = job(tmp_path, state="OUT_OF_MEMORY", exit_code=0, out_text="x\n", alloc_tres=(("mem", "600M"),))
    steps = check(engine.diagnose_job(oom))["next_steps"]
    assert steps[0].startswith("#SBATCH --mem=2G (it had 600 MiB)")
    # killed at its limit with accounting's samples far under it: the peak came between two polls
    sampled = dataclasses.replace(oom, mem_used_kb=11 * 1024)
    assert check(engine.diagnose_job(sampled))["next_steps"][0].startswith(
        "#SBATCH --mem=2G (it had 600 MiB; accounting's samples saw at most 11 MiB: the peak came between them")
    late = job(tmp_path, state="TIMEOUT", exit_code=0, out_text="x\n", time_limit_s=3600)
    assert check(engine.diagnose_job(late))["next_steps"][0].startswith("#SBATCH --time=02:00:00 (it had 01:00:00)")


def test_an_undecided_job_points_at_its_output_lines_no_rule_knows(tmp_path):
    d = engine.diagnose_job(job(tmp_path, out_text="step 1\nFATAL: frobnicator lost sync with widget 7\nstep 2\n"))
    a = check(d)
    assert a["label"] == "unknown"
    lines = [f for f in d.findings if f["id"].startswith("stdout:unrecognised-")]
    assert [(f["raw"]["where"], f["raw"]["line"]) for f in lines] == [("stdout", 2)]
    assert a["next_steps"][0].startswith("read the error lines no rule recognises, the last at stdout line 2:")


def test_a_job_that_completed_has_no_lines_pointed_at(tmp_path):
    d = engine.diagnose_job(job(tmp_path, state="COMPLETED", exit_code=0,
                                out_text="WARNING: the frobnicator failed to warm up, retrying\ndone\n"))
    assert check(d)["label"] == "unknown" and not [f for f in d.findings if "unrecognised" in f["id"]]


NO_DRIVER = ("Traceback (most recent call last):\n  File \"train.py\", line 4, in <module>\n"
             "    torch.zeros(1).cuda()\n"
             "RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and "
             "installed a driver from http://www.nvidia.com/Download/index.aspx\n")


def test_a_job_that_asked_for_no_gpu_is_told_to_ask_for_one(tmp_path):
    """The same line on a log alone reads as the node's driver (infra); the job's record says it
    asked for no GPU, so the cause is its request and the line is only context."""
    cpu_only = job(tmp_path, out_text=NO_DRIVER, alloc_tres=(("cpu", "4"), ("mem", "8G"), ("node", "1")))
    d = engine.diagnose_job(cpu_only)
    a = check(d)
    assert (a["label"], a["scope"]) == ("user_code", "user") and a["supporting"][0] == "sacct:no-gpu-asked"
    assert "asked Slurm for no GPU (AllocTRES cpu=4,mem=8G,node=1)" in a["explanation"]
    assert "stdout line 4" in a["explanation"] and a["suspect_nodes"] == []
    assert a["next_steps"][0].startswith("ask Slurm for the GPUs the code uses: #SBATCH --gres=gpu:N")
    assert not any("code at the place named" in s for s in a["next_steps"])     # no error in its code to fix
    driver = [f for f in d.findings if f["id"] == "stdout:env-driver"]
    assert driver and driver[0]["summary"].endswith("(the job asked Slurm for no GPU)")


def test_a_job_that_had_gpus_and_saw_none_is_not_blamed_for_its_request(tmp_path):
    with_gpu = job(tmp_path, out_text=NO_DRIVER, alloc_tres=(("cpu", "4"), ("gres/gpu", "2"), ("node", "1")))
    a = check(engine.diagnose_job(with_gpu))
    assert (a["label"], a["scope"]) == ("software_env", "infra")
    assert "sacct:no-gpu-asked" not in a["supporting"] + a["contradicting"]


def test_without_the_jobs_tres_the_request_is_not_judged(tmp_path):
    """A record without AllocTRES (a job slurmctld alone answered for) says nothing about its request."""
    d = engine.diagnose_job(job(tmp_path, out_text="RuntimeError: No CUDA GPUs are available\n"))
    check(d)
    assert not [f for f in d.findings if f["id"] == "sacct:no-gpu-asked"]
    with_tres = job(tmp_path, out_text="RuntimeError: No CUDA GPUs are available\n", alloc_tres=(("cpu", "1"),))
    assert [f for f in engine.diagnose_job(with_tres).findings if f["id"] == "sacct:no-gpu-asked"]


def _no_output(tmp_path, out_dir):
    steps = (JobStep("batch", "batch", "CANCELLED", 0, 53, 0, ("node2",)),)
    return job(tmp_path, exit_code=0, signal=53, steps=steps, elapsed_s=0, stdout=str(out_dir / "run-%j.out"),
               stderr=str(out_dir / "run-%j.out"))


def test_a_job_whose_output_directory_does_not_exist_is_told_to_create_it(tmp_path):
    """Slurm records a batch step that could not create its output file as signal 53, which reads
    like a cancel: the missing directory is the cause, and the cancel only its form."""
    d = engine.diagnose_job(_no_output(tmp_path, tmp_path / "logs"))
    a = check(d)
    assert (a["label"], a["scope"]) == ("user_code", "user") and a["supporting"][0] == "sacct:output-file"
    assert f"its directory {tmp_path / 'logs'} does not exist" in a["explanation"]
    assert a["next_steps"][0].startswith("create the directory of --output/--error before sbatch")
    assert "scheduler" not in [alt["label"] for alt in d.alternatives]
    assert a["confidence"] >= 0.85


def test_signal_53_with_the_directory_present_here_names_the_node_side_too(tmp_path):
    d = engine.diagnose_job(_no_output(tmp_path, tmp_path))
    a = check(d)
    assert a["label"] == "user_code" and "its directory exists here, so on the node it may be missing" in a["explanation"]
    assert "filesystem" in [alt["label"] for alt in d.alternatives]


def test_another_signal_is_not_an_output_file(tmp_path):
    steps = (JobStep("batch", "batch", "CANCELLED", 0, 15, 0, ("node2",)),)
    d = engine.diagnose_job(job(tmp_path, exit_code=0, signal=15, steps=steps, stdout=str(tmp_path / "x" / "o")))
    assert not [f for f in d.findings if f["id"] == "sacct:output-file"]


def _killed(tmp_path, used_mb):
    """A job whose batch step Slurm saw end by SIGKILL, with the memory it asked for and used."""
    steps = (JobStep("batch", "batch", "FAILED", 0, 9, 100, ("node2",), mem_tot_kb=used_mb * 1024),)
    return job(tmp_path, exit_code=0, signal=9, steps=steps, out_text="loading shards\n",
               alloc_tres=(("cpu", "4"), ("mem", "1000M")), mem_used_kb=used_mb * 1024)


def test_a_sigkill_at_the_memory_limit_is_host_memory_with_the_figures(tmp_path):
    a = check(engine.diagnose_job(_killed(tmp_path, 985)))
    assert (a["label"], a["scope"]) == ("host_oom", "user") and a["supporting"][0] == "sacct:memory-full"
    assert "985 MiB of the 1000 MiB it asked for (98%)" in a["explanation"]
    assert a["next_steps"][0].startswith("#SBATCH --mem=2G (it had 1000 MiB, it used at least 985 MiB)")


def test_a_sigkill_far_under_the_memory_limit_is_not_called_host_memory(tmp_path):
    d = engine.diagnose_job(_killed(tmp_path, 60))
    a = check(d)
    assert a["label"] == "unknown" and "host_oom" in [alt["label"] for alt in d.alternatives]
    low = [f for f in d.findings if f["id"] == "sacct:memory-low"]
    assert low and "used at most 60 MiB of the 1000 MiB it asked for (6%)" in low[0]["summary"]
    assert a["next_steps"][0].startswith("find who sent the SIGKILL") and "on node2 around" in a["next_steps"][0]


def test_an_unsampled_sigkill_is_left_as_the_signal_says(tmp_path):
    j = dataclasses.replace(_killed(tmp_path, 60), mem_used_kb=None)
    d = engine.diagnose_job(j)
    assert check(d)["label"] == "host_oom" and not [f for f in d.findings if f["id"].startswith("sacct:memory-")]


def test_a_running_job_with_nothing_wrong_says_so(tmp_path):
    a = check(engine.diagnose_job(job(tmp_path, state="RUNNING", exit_code=0, out_text="epoch 1 loss 2.31\n")))
    assert a["label"] == "unknown" and "nothing has gone wrong" in a["explanation"]
    assert a["next_steps"] == ["explain it again once it ends (sdiag-agent explain 77)"]
    failing = check(engine.diagnose_job(job(tmp_path, state="RUNNING", exit_code=0,
                                            out_text="RuntimeError: CUDA error: an illegal memory access was encountered\n")))
    assert failing["label"] == "user_code"


def test_slurms_own_word_that_the_limit_was_hit_outweighs_a_low_sampled_peak(tmp_path):
    """Slurm samples memory; its cgroup's "hit memory+swap limit" is a fact the samples may miss."""
    j = dataclasses.replace(_killed(tmp_path, 60), stdout=str(tmp_path / "hint.out"), stderr=str(tmp_path / "hint.out"))
    (tmp_path / "hint.out").write_text("slurmstepd: error: Step 77.0 hit memory+swap limit at least once during execution.\n")
    d = engine.diagnose_job(j)
    assert check(d)["label"] == "host_oom" and not [f for f in d.findings if f["id"] == "sacct:memory-low"]


def _timed_out(tmp_path, cpu_s, polled=None, **kw):
    return job(tmp_path, state="TIMEOUT", exit_code=0, elapsed_s=3600, time_limit_s=3600, out_text="step 3 of 9\n",
               total_cpu_s=cpu_s, polled_cpu_s=polled, alloc_cpus=4, **kw)


def test_a_job_idle_at_its_time_limit_is_not_told_to_ask_for_more_time(tmp_path):
    a = check(engine.diagnose_job(_timed_out(tmp_path, 12.0)))
    assert (a["label"], a["scope"]) == ("time_limit", "user") and a["supporting"][0] == "sacct:idle-at-limit"
    assert "used 12 s of CPU in 3600 s" in a["explanation"]
    assert a["next_steps"][0].startswith("more time will not help") and not any("--time" in s for s in a["next_steps"])


STEP_WAIT = ("srun: Job 5123 step creation temporarily disabled, retrying (Requested nodes are busy)\n"
             "srun: Job 5123 step creation still disabled, retrying (Requested nodes are busy)\n")


def test_a_job_idle_at_its_limit_while_srun_waited_for_a_step_is_told_to_share_the_job_among_its_steps(tmp_path):
    """Its steps waited on each other; the batch step Slurm CANCELLED at the limit is how the limit
    ended it, not a cancel to look into."""
    steps = (JobStep("batch", "batch", "CANCELLED", 0, 15, 3600, ("node2",)),)
    j = dataclasses.replace(_timed_out(tmp_path, 1.0, steps=steps), stdout=str(tmp_path / "wait.out"),
                            stderr=str(tmp_path / "wait.out"))
    (tmp_path / "wait.out").write_text("starting 8 workers\n" + STEP_WAIT)
    d = engine.diagnose_job(j)
    a = check(d)
    assert (a["label"], a["supporting"][0]) == ("time_limit", "sacct:idle-step-wait"), a
    assert "srun waited to start a step the job's other steps left no room for (stdout line 2)" in a["explanation"]
    assert a["next_steps"][0].startswith("give each step its share of the job") and len(a["next_steps"]) == 1
    assert "scheduler" not in [alt["label"] for alt in d.alternatives]
    batch = next(f for f in d.findings if f["id"] == "sacct-step-batch:signal")
    assert batch["summary"].endswith("killed by SIGTERM (exit code 143), as Slurm ended the job TIMEOUT")


def test_a_step_that_waited_and_then_ran_is_not_what_the_job_waited_on_at_its_limit(tmp_path):
    """srun waited, then created the step: at the limit the job was waiting on something else."""
    d = engine.diagnose_log(logfile.from_text(STEP_WAIT + "epoch 1 done\n"))
    assert d.attribution["label"] == "unknown" and any(f["id"] == "log:step-wait" for f in d.findings)
    j = dataclasses.replace(_timed_out(tmp_path, 1.0), stdout=str(tmp_path / "ran.out"), stderr=str(tmp_path / "ran.out"))
    (tmp_path / "ran.out").write_text(STEP_WAIT + "srun: Step created for job 5123\nwaiting for peer 3\n")
    a = check(engine.diagnose_job(j))
    assert a["supporting"][0] == "sacct:idle-at-limit" and a["next_steps"][0].startswith("more time will not help")


@pytest.mark.parametrize("kw", [
    {"cpu_s": 3000.0},                                     # computing: the --time advice stands
    {"cpu_s": 0.0, "polled": 3000.0},                      # a kill lost the processes' count; the poll kept it
    {"cpu_s": 12.0, "alloc_tres": (("cpu", "4"), ("gres/gpu", "1"))},   # a busy GPU can leave the CPU idle
])
def test_a_busy_or_gpu_job_at_its_time_limit_keeps_the_time_advice(tmp_path, kw):
    a = check(engine.diagnose_job(_timed_out(tmp_path, kw.pop("cpu_s"), kw.pop("polled", None), **kw)))
    assert a["label"] == "time_limit" and "sacct:idle-at-limit" not in a["supporting"]
    assert a["next_steps"][0].startswith("#SBATCH --time=")


@pytest.mark.parametrize("state,text", [
    # a CPU job that warned about the GPU and went on, then completed, timed out, or failed another way
    ("COMPLETED", "UserWarning: CUDA initialization: Found no NVIDIA driver on your system.\ndone\n"),
    ("TIMEOUT", "E tensorflow/cuda_driver.cc:282] failed call to cuInit: CUDA_ERROR_NO_DEVICE: no CUDA-capable "
                "device is detected\nstep 4\n"),
    ("FAILED", "UserWarning: CUDA initialization: Found no NVIDIA driver on your system.\n"
               "ModuleNotFoundError: No module named 'apex'\n"),
    ("FAILED", "RuntimeError: No CUDA GPUs are available\nModuleNotFoundError: No module named 'apex'\n"),
])
def test_a_gpu_line_a_cpu_job_printed_on_its_way_is_not_the_cause(tmp_path, state, text):
    """Nor is the node's driver blamed for it: the job asked Slurm for no GPU."""
    d = engine.diagnose_job(job(tmp_path, state=state, exit_code=0 if state == "COMPLETED" else 1, out_text=text,
                                alloc_tres=(("cpu", "4"), ("mem", "8G"))))
    a = check(d)
    assert not [f for f in d.findings if f["id"] == "sacct:no-gpu-asked"]
    assert a["scope"] == "user", a             # never the node's driver
    assert not [f for f in d.findings if f["id"].endswith(":env-driver") and "asked Slurm for no GPU" not in f["summary"]]


def test_torchs_warning_then_its_error_in_a_cpu_job_is_the_request_not_the_node(tmp_path):
    """torch warns, then raises, with the same words: both lines are about the job's request."""
    text = ("UserWarning: CUDA initialization: Found no NVIDIA driver on your system. Please check that you have "
            "an NVIDIA GPU and installed a driver from http://www.nvidia.com/Download/index.aspx\n" + NO_DRIVER)
    a = check(engine.diagnose_job(job(tmp_path, out_text=text, alloc_tres=(("cpu", "4"), ("mem", "8G")))))
    assert (a["label"], a["scope"]) == ("user_code", "user") and a["supporting"][0] == "sacct:no-gpu-asked"


def test_a_sigkill_on_several_nodes_or_from_a_cancel_is_not_judged_by_the_jobs_total_memory(tmp_path):
    wide = dataclasses.replace(_killed(tmp_path, 300), nodes=("node2", "node3", "node4", "node5"))
    assert not [f for f in engine.diagnose_job(wide).findings if f["id"].startswith("sacct:memory-")]
    me = str(os.getuid())
    cancelled = dataclasses.replace(_killed(tmp_path, 980), state="CANCELLED", state_detail=f"CANCELLED by {me}")
    a = check(engine.diagnose_job(cancelled))
    assert a["label"] == "scheduler" and "sacct:memory-full" not in a["supporting"]


def test_a_step_named_by_the_job_keeps_its_placeholder_free_words(tmp_path):
    """Only the word JOBID is the placeholder: SLURM_JOBID in a knowledge-base step stays as written."""
    from slurm_diag.diagnose import attribute

    step = "set MASTER_PORT=$((10000 + SLURM_JOBID % 50000)); see `sacct -j JOBID`"
    attribute.USER_STEPS["gpu_oom"] = [step]
    try:
        a = check(engine.diagnose_job(job(tmp_path, out_text="torch.OutOfMemoryError: CUDA out of memory.\n")))
    finally:
        del attribute.USER_STEPS["gpu_oom"]
    assert "set MASTER_PORT=$((10000 + SLURM_JOBID % 50000)); see `sacct -j 77`" in a["next_steps"]


def test_a_step_srun_ended_after_a_task_was_killed_is_not_a_cancel_from_outside(tmp_path):
    """The job FAILED 15, its step CANCELLED by SIGTERM, nobody cancelled it: srun ended the step
    because task 1 was killed first (the log says so). Not "terminated from outside"."""
    from tests.diagnose.test_log_rules import SRUN_ENDED_STEP

    steps = (JobStep("batch", "batch", "FAILED", 15, 0, 20, ("node2",)),
             JobStep("0", "python", "CANCELLED", 0, 15, 20, ("node2",)))
    d = engine.diagnose_job(job(tmp_path, exit_code=15, steps=steps, out_text=SRUN_ENDED_STEP + "\n"))
    a = check(d)
    assert a["label"] != "scheduler" and "scheduler" not in [alt["label"] for alt in d.alternatives[:1]], d.alternatives
    step = next(f for f in d.findings if f["id"] == "sacct-step-0:signal")
    assert step["summary"] == ("step 0: the job's process was killed by SIGTERM (exit code 143): srun ended the "
                               "step's other tasks after a task failed (stdout line 2)")
    cancelled = job(tmp_path, state="CANCELLED", exit_code=0, steps=steps, out_text=SRUN_ENDED_STEP + "\n")
    assert check(engine.diagnose_job(cancelled))["label"] == "scheduler"       # a cancel stays a cancel
    # the other task outlived KillWait, and srun's SIGKILL is what sacct kept (seen on a loaded node)
    killed = (steps[0], JobStep("0", "python", "CANCELLED", 0, 9, 20, ("node2",)))
    d = engine.diagnose_job(job(tmp_path, exit_code=15, steps=killed, out_text=SRUN_ENDED_STEP + "\n"))
    assert check(d)["label"] != "scheduler", d.attribution
    assert "srun ended the step's other tasks after a task failed" in \
        next(f for f in d.findings if f["id"] == "sacct-step-0:signal")["summary"]


def test_an_administrators_cancel_names_no_node_as_a_suspect(tmp_path):
    """slurmstepd's cancel line names the node the job ran on: a cancel is nobody's node's fault."""
    j = job(tmp_path, state="CANCELLED", exit_code=0, signal=15, user="nobody", state_detail="CANCELLED by 0",
            out_text="step 4\nslurmstepd: error: *** JOB 77 ON node2 CANCELLED AT 2026-12-01T06:00:00 ***\n")
    a = check(engine.diagnose_job(j))
    assert (a["label"], a["scope"], a["suspect_nodes"]) == ("scheduler", "infra", []), a


HET = (HetComponent("77+0", "77", "FAILED", ("node1",), 4 << 20), HetComponent("77+1", "78", "FAILED", ("node2",), 60 << 10))


def test_an_interactive_job_is_not_looked_for_in_a_file_it_never_wrote(tmp_path):
    steps = (JobStep("0", "python", "FAILED", 1, 0, 3, ("node2",)),)
    d = engine.diagnose_job(job(tmp_path, steps=steps, stdout=None, stderr=None))
    a = check(d)
    assert [f["id"] for f in d.findings if f["source"] == "log"] == ["log:interactive"]
    assert a["next_steps"][0].startswith("its output went to your terminal")
    batch = (JobStep("batch", "batch", "FAILED", 1, 0, 3, ("node2",)),)
    assert not job_facts.interactive(job(tmp_path, steps=batch, stdout=None, stderr=None))
    # a batch job that failed before its script started has only the extern step: not interactive
    extern = (JobStep("extern", "extern", "COMPLETED", 0, 0, 3, ("node2",)),)
    assert not job_facts.interactive(job(tmp_path, state="NODE_FAIL", steps=extern, stdout=None, stderr=None))
    # a heterogeneous batch job whose failing step ran in its second component (+1.0): the script wrote a file
    het = (JobStep("batch", "batch", "FAILED", 1, 0, 3, ("node1",)), JobStep("+1.0", "python", "FAILED", 1, 0, 3, ("node2",)))
    assert not job_facts.interactive(job(tmp_path, steps=het, stdout=None, stderr=None, het_components=HET))
    # one run by salloc, with steps in both components and no batch step: interactive
    salloc = (JobStep("0", "python", "COMPLETED", 0, 0, 3, ("node1",)), *het[1:])
    assert job_facts.interactive(job(tmp_path, steps=salloc, stdout=None, stderr=None, het_components=HET))


def test_a_heterogeneous_job_is_told_which_components_memory_to_raise(tmp_path):
    """Component 1 (60 MiB on node2) ran out of memory; the components had 4 GiB and 60 MiB: the fix
    is component 1's --mem, not the job's summed allocation."""
    steps = (JobStep("batch", "batch", "FAILED", 1, 0, 3, ("node1",)),
             JobStep("+1.1", "python3", "OUT_OF_MEMORY", 0, 125, 3, ("node2",), end="2026-12-01T06:00:00"))
    d = engine.diagnose_job(job(tmp_path, steps=steps, het_components=HET, nodes=("node1", "node2"),
                                alloc_tres=(("mem", "4156M"),), out_text="srun: error: node2: task 0: Out Of Memory\n"))
    a = check(d)
    assert a["label"] == "host_oom"
    assert a["next_steps"][0] == ("#SBATCH --mem=128M in component 1's #SBATCH lines (after its `#SBATCH hetjob`): "
                                  "77+1 had 60 MiB on node2; or --mem-per-cpu with the same total")
    lead = (JobStep("batch", "batch", "OUT_OF_MEMORY", 0, 9, 3, ("node1",)),)
    a = check(engine.diagnose_job(job(tmp_path, state="OUT_OF_MEMORY", steps=lead, het_components=HET)))
    assert a["next_steps"][0].startswith("#SBATCH --mem=8G in the first component's #SBATCH lines (before")
    # no step says which component ran out: each one's memory, and no figure made up
    a = check(engine.diagnose_job(job(tmp_path, state="OUT_OF_MEMORY", steps=(), het_components=HET)))
    assert a["next_steps"][0] == ("a larger --mem in the #SBATCH lines of the component that ran out (77+0 had 4096 "
                                  "MiB on node1; 77+1 had 60 MiB on node2); or --mem-per-cpu with the same total")


def test_a_step_ended_by_sigterm_in_a_failed_job_whose_log_is_gone_is_not_called_a_cancel(tmp_path):
    """No log (slurmctld forgot the job, and its -o name with it): a FAILED job whose step 0 Slurm
    shows CANCELLED by SIGTERM. Nobody cancelled the job, so the SIGTERM is a symptom, most often
    srun ending the step once a task failed; the missing log is named as Slurm's default guess."""
    steps = (JobStep("batch", "batch", "FAILED", 15, 0, 20, ("node2",)),
             JobStep("0", "python", "CANCELLED", 0, 15, 20, ("node2",)))
    d = engine.diagnose_job(job(tmp_path, exit_code=15, steps=steps, stdout=None, stderr=None))
    a = check(d)
    assert a["label"] == "unknown", a
    step = next(f for f in d.findings if f["id"] == "sacct-step-0:signal")
    assert step["summary"].endswith("srun ends a step's other tasks this way once one of them fails "
                                    "(or someone cancelled the step)")
    assert any("Slurm's default name" in item and "explain --log FILE" in item for item in d.not_checked)


def test_a_forgotten_jobs_missing_log_says_where_its_path_came_from(tmp_path):
    """Once slurmctld has forgotten a job, its output path is what accounting kept of the submission
    (slurm.job_lookup.with_request); a missing file says which part named it, and a guess says what
    accounting did not keep and what would keep it."""
    from slurm_diag.slurm import submission
    from slurm_diag.slurm.records import ACCOUNTING

    gone = str(tmp_path / "logs" / "run-%j.out")
    named = job(tmp_path, stdout=gone, stderr=gone, sources=(ACCOUNTING,), output_from=submission.SCRIPT,
                request_read=(submission.SUBMIT_LINE, submission.SCRIPT))
    d = engine.diagnose_job(named)
    assert f"the job's stdout ({tmp_path}/logs/run-77.out: the path the job's #SBATCH lines named, as " \
           "accounting kept the script), which does not exist (deleted, purged, or on another node)" in d.not_checked
    # accounting kept only the command line (22.05 shows the kept script to operators alone): the
    # script's file, as it is now, names the output
    (tmp_path / "run.sh").write_text("#!/bin/sh\n#SBATCH --output=logs/%j.log\npython train.py\n")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "77.log").write_text("Traceback (most recent call last):\nKeyError: 'lr'\n")
    from_file = job(tmp_path, stdout=None, stderr=None, sources=(ACCOUNTING,), request_read=(submission.SUBMIT_LINE,),
                    script_file=str(tmp_path / "run.sh"))
    assert job_facts.log_paths(from_file) == [("stdout", f"{tmp_path}/logs/77.log")]
    assert check(engine.diagnose_job(from_file))["label"] == "user_code"
    (tmp_path / "logs" / "77.log").unlink()
    d = engine.diagnose_job(from_file)
    assert f"the job's stdout ({tmp_path}/logs/77.log: the path the #SBATCH, #BSUB or #PBS lines of {tmp_path}/run.sh name now; " \
           "accounting kept no copy of the script, and the file may have changed since the job was submitted), " \
           "which does not exist (deleted, purged, or on another node)" in d.not_checked, d.not_checked
    nothing = job(tmp_path, stdout="/dev/null", stderr="/dev/null", sources=(ACCOUNTING,),
                  output_from=submission.SUBMIT_LINE, request_read=(submission.SUBMIT_LINE,))
    assert "the job's stdout (it went to /dev/null)" in engine.diagnose_job(nothing).not_checked
    no_env = job(tmp_path, stdout=None, stderr=None, sources=(ACCOUNTING,),
                 request_read=(submission.SUBMIT_LINE, submission.SCRIPT))
    assert "accounting kept its batch script but not the environment it was submitted from" in \
        job_facts.path_origin(no_env)
    guessed = job(tmp_path, stdout=None, stderr=None, sources=(ACCOUNTING,), request_read=(submission.SUBMIT_LINE,))
    d = engine.diagnose_job(guessed)
    assert any(f"({tmp_path}/slurm-77.out: Slurm's default name" in item and "kept its command line (it names "
               "no -o) but not its batch script (AccountingStoreFlags=job_script" in item for item in d.not_checked), \
        d.not_checked


def test_a_script_file_fills_only_the_paths_accounting_left_unknown(tmp_path):
    from slurm_diag.slurm import submission
    from slurm_diag.slurm.records import ACCOUNTING

    def forgotten(script: str, **kw):
        (tmp_path / "run.sh").write_text(script)
        return job(tmp_path, sources=(ACCOUNTING,), request_read=(submission.SUBMIT_LINE,),
                   script_file=str(tmp_path / "run.sh"), **{"stdout": None, "stderr": None, **kw})

    # only -e named: stdout is Slurm's default, stderr the script's
    only_err = forgotten("#!/bin/sh\n#SBATCH -e err-%j.log\necho\n")
    assert job_facts.log_paths(only_err) == [("stdout", f"{tmp_path}/slurm-77.out"), ("stderr", f"{tmp_path}/err-77.log")]
    # the command line named stdout; the script names stderr
    split = forgotten("#!/bin/sh\n#SBATCH -e err-%j.log\necho\n", stdout=str(tmp_path / "out-%j.log"))
    assert job_facts.log_paths(split) == [("stdout", f"{tmp_path}/out-77.log"), ("stderr", f"{tmp_path}/err-77.log")]
    # a relative path and no work dir to resolve it against: not guessed at
    nowhere = forgotten("#!/bin/sh\n#SBATCH -o logs/x.log\necho\n", work_dir=None)
    assert job_facts.log_paths(nowhere) == []
    # a script that moves its own work dir: the file the command line named may be another one
    moved = forgotten("#!/bin/sh\n#SBATCH --chdir=/scratch\n#SBATCH -o x.log\necho\n")
    assert job_facts.script_file_options(moved) is None


def test_a_forgotten_jobs_script_file_is_read_once_per_explanation(tmp_path, monkeypatch):
    """Its paths are asked for by the engine, the seff block and the origin line: one read of the
    file serves them all; a job looked up again reads it again (it is the file as it is now)."""
    from slurm_diag.slurm import submission
    from slurm_diag.slurm.records import ACCOUNTING

    (tmp_path / "run.sh").write_text("#!/bin/sh\n#SBATCH -o logs/%j.log\npython train.py\n")
    reads = []
    real = logfile.read_tail
    monkeypatch.setattr(logfile, "read_tail", lambda path, *a, **kw: reads.append(path) or real(path, *a, **kw))

    def looked_up():
        return job(tmp_path, stdout=None, stderr=None, sources=(ACCOUNTING,), request_read=(submission.SUBMIT_LINE,),
                   script_file=str(tmp_path / "run.sh"))
    first = looked_up()
    engine.diagnose_job(first)
    assert job_facts.log_paths(first) == [("stdout", f"{tmp_path}/logs/77.log")]
    assert "name now" in job_facts.path_origin(first)
    assert reads.count(str(tmp_path / "run.sh")) == 1, reads
    (tmp_path / "run.sh").write_text("#!/bin/sh\n#SBATCH -o other-%j.log\npython train.py\n")
    assert job_facts.log_paths(looked_up()) == [("stdout", f"{tmp_path}/other-77.log")]
    assert reads.count(str(tmp_path / "run.sh")) == 2


def test_only_the_step_the_cancel_line_names_is_the_one_srun_ended(tmp_path):
    """The log's cancel names step 4411.0; step 1, also CANCELLED by SIGTERM, is not explained by it."""
    from tests.diagnose.test_log_rules import SRUN_ENDED_STEP

    steps = (JobStep("batch", "batch", "FAILED", 15, 0, 20, ("node2",)),
             JobStep("0", "python", "CANCELLED", 0, 15, 20, ("node2",)),
             JobStep("1", "python", "CANCELLED", 0, 15, 20, ("node2",)))
    d = engine.diagnose_job(job(tmp_path, exit_code=15, steps=steps, out_text=SRUN_ENDED_STEP + "\n"))
    check(d)
    by_id = {f["id"]: f["summary"] for f in d.findings}
    assert "srun ended the step's other tasks" in by_id["sacct-step-0:signal"]
    assert by_id["sacct-step-1:signal"].endswith("in a job that failed: srun ends a step's other tasks this way "
                                                 "once one of them fails (or someone cancelled the step)")


def test_a_gpu_fault_the_epilog_saw_explains_a_failed_job_whose_step_srun_ended(tmp_path):
    """Deliberate: the step's SIGTERM is a symptom, so it no longer keeps a GPU's fault, recorded by
    the node itself during the job, from explaining the failure (the log is gone)."""
    from datetime import datetime, timedelta, timezone

    from slurm_diag.diagnose import collect
    from slurm_diag.slurm.fake import FakeSlurmClient
    from slurm_diag.store import Store

    start = datetime(2026, 12, 1, 6, 0, 0).astimezone()
    steps = (JobStep("batch", "batch", "FAILED", 15, 0, 20, ("node2",)),
             JobStep("0", "python", "CANCELLED", 0, 15, 20, ("node2",)))
    j = job(tmp_path, exit_code=15, steps=steps, stdout=None, stderr=None,
            start=start.strftime("%Y-%m-%dT%H:%M:%S"), end=(start + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S"))
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    store.add_health_report({"node": "node2", "time": (start + timedelta(minutes=5, seconds=5)).astimezone(
        timezone.utc).isoformat(timespec="seconds"), "level": "quick", "context": "epilog", "job_id": "77",
        "status": "CRITICAL", "checks": [{"name": "xid", "status": "CRITICAL", "gpu": 1,
                                          "message": "gpu1 XID 79 (GPU has fallen off the bus) x1"}]})
    more, missing = collect.around_job(j, FakeSlurmClient(["node2"]), lambda: store)
    a = check(engine.diagnose_job(j, more=more, not_checked=missing))
    assert (a["label"], a["suspect_nodes"]) == ("gpu_hardware", ["node2"]), a


@pytest.mark.parametrize("level,refused", [("0\n", False), ("1\n", True), ("2\n", True)])
def test_another_users_file_in_a_sticky_shared_directory_is_one_the_kernel_refuses(tmp_path, monkeypatch, level,
                                                                                     refused):
    """fs.protected_regular: an O_CREAT open (slurmstepd's) of another user's file in a sticky,
    world-writable directory like /tmp fails even where the file's mode lets anyone write."""
    from slurm_diag.diagnose import request_fit

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    theirs = shared / "out.log"
    theirs.write_text("")
    theirs.chmod(0o666)
    os.chown(theirs, 65534, 65534)                     # nobody's: not this process's, not the directory owner's
    (tmp_path / "level").write_text(level)
    monkeypatch.setattr(request_fit, "PROTECTED_REGULAR", tmp_path / "level")
    why = request_fit._unwritable(str(theirs))
    assert (why is not None) == refused, why
    if refused:
        assert f"fs.protected_regular={level.strip()}" in why
    mine = shared / "mine.log"
    mine.write_text("")
    assert request_fit._unwritable(str(mine)) is None


def test_a_directory_this_process_may_not_look_into_is_not_called_missing(tmp_path, monkeypatch):
    """Signal 53 as root on a 0700 home or a root-squashed export: a refused look is not "does not exist"."""
    from slurm_diag.diagnose import request_fit

    real = os.stat
    monkeypatch.setattr(request_fit.os, "stat", lambda p, *a, **k: (_ for _ in ()).throw(PermissionError(13, "no"))
                        if str(p) == str(tmp_path / "logs") else real(p, *a, **k))
    assert not request_fit._no_dir(str(tmp_path / "logs"))
    assert request_fit._no_dir(str(tmp_path / "absent")) and request_fit._no_dir(str(tmp_path / "f" / "x")) is True
    (tmp_path / "file").write_text("")
    assert request_fit._no_dir(str(tmp_path / "file")) and not request_fit._no_dir(str(tmp_path))


# -o patterns and the files slurmstepd 22.05 wrote for them on the local cluster (job 6072, user
# sdiag-test-user, name p1, batch node vm; not an array)
@pytest.mark.parametrize("pattern,written", [
    ("/o/p.%J.%s.%t.%n.%N.%5j.%z.%%.out", "/o/p.6072.batch.0.0.vm.06072.%z.%.out"),
    ("/o/r.%12j.%3a.%3A.out", "/o/r.0000006072.4294967294.6072.out"),      # widths: at most 10 digits
    ("/o/s2-%s-%3s-.out", "/o/s2-batch-batch-.out"),
    ("/o/s5-%u-%x-%a-%A.out", "/o/s5-sdiag-test-user-p1-4294967294-6072.out"),
    ("/o/s4-%j-%", "/o/s4-6072-%"),
    ("/o/q\\.%j.out", "/o/q.%j.out"),                   # a backslash: nothing expanded, the escapes dropped
    ("/o/s3\\\\x-%j.out", "/o/s3\\x-%j.out"),
    ("/o/%%j-%5u.out", "/o/%j-sdiag-test-user.out"),    # a width pads numbers only
])
def test_output_patterns_expand_as_slurmstepd_expands_them(pattern, written):
    j = Job(job_id="6072", job_id_raw="6072", name="p1", user="sdiag-test-user", partition="debug", state="FAILED",
            state_detail="FAILED", exit_code=0, signal=0, elapsed_s=1, time_limit_s=None, nodes=("vm",), node_list="vm")
    assert job_facts.expand_path(pattern, j) == written


def test_a_path_scontrol_shows_with_a_backslash_is_read_as_it_was_given():
    """scontrol substitutes %j in /o/q\\.%j.out though slurmstepd did not: the pattern accounting kept
    of the submission is the file."""
    from slurm_diag.slurm import job_lookup, submission
    from slurm_diag.slurm.records import CONTROLLER

    shown = Job(job_id="6073", job_id_raw="6073", name="p2", user="u", partition="debug", state="COMPLETED",
                state_detail="COMPLETED", exit_code=0, signal=0, elapsed_s=1, time_limit_s=None, nodes=("n1",),
                node_list="n1", stdout="/o/q\\.6073.out", stderr="/o/q\\.6073.out", work_dir="/o",
                sources=("slurmdbd", CONTROLLER))
    assert job_lookup.escaped(shown)
    req = submission.request("sbatch -o q\\.%j.out --wrap x", None, None)
    fixed = job_lookup.with_raw_paths(shown, req)
    assert (fixed.stdout, fixed.stderr) == ("/o/q\\.%j.out", "/o/q\\.%j.out")
    assert job_facts.log_paths(fixed) == [("stdout", "/o/q.%j.out")]
    plain = dataclasses.replace(shown, stdout="/o/q.6073.out", stderr="/o/q.6073.out")
    assert not job_lookup.escaped(plain) and job_lookup.with_raw_paths(plain, req) is plain
