"""What a batch job asked sbatch for, read back from what accounting kept of its submission, and how
that fills the view of a job slurmctld has forgotten. Against the real cluster in
tests/diagnose/test_cluster_explain.py (test_a_job_slurmctld_has_forgotten_...)."""

from __future__ import annotations

import pytest

from slurm_diag.slurm import job_lookup, submission
from slurm_diag.slurm.records import ACCOUNTING, CONTROLLER, Job
from slurm_diag.slurm.submission import ENVIRONMENT, SCRIPT, SUBMIT_LINE


@pytest.mark.parametrize("line,wanted", [
    ("sbatch --parsable -o /tmp/x_%j.out --gpus-per-task=1 -n1 job.sh -o mine.out",
     {"output": "/tmp/x_%j.out", "gpus-per-task": "1", "script": "job.sh"}),               # after the script: the script's arguments
    ("/usr/bin/sbatch -p debug -J train -o/scratch/a.out -N2 run.sh", {"output": "/scratch/a.out", "script": "run.sh"}),
    ("sbatch --partition gpu --output out/%x-%j.log --error err.log run.sh",
     {"output": "out/%x-%j.log", "error": "err.log", "script": "run.sh"}),
    ("sbatch --out=o.log --gpus-per-t=a100:2 --gpus-per=1 run.sh",     # prefixes; --gpus-per is three options
     {"output": "o.log", "gpus-per-task": "a100:2", "script": "run.sh"}),
    ("sbatch -Ho held.out run.sh", {"output": "held.out", "script": "run.sh"}),     # a flag, then -o in one word
    ("sbatch --exclusive --requeue -e e.log -D /scratch run.sh", {"error": "e.log", "chdir": "/scratch", "script": "run.sh"}),
    ("sbatch --frobnicate run.sh -o x.out", {"script": "run.sh"}),         # unknown: its word may be the script
    ("sbatch -o a.out --wrap echo -o b.out", {"output": "a.out"}),         # --wrap's command is not sbatch's
    ("sbatch -o a.out --wrap=python train.py -o b.out\nprint(1)", {"output": "a.out"}),
    ("sbatch run.sh", {"script": "run.sh"}),
    ("sbatch -- run.sh -o x.out", {"script": "run.sh"}),
    ("sbatch -N1", {}),                                                    # the script came on stdin
])
def test_the_command_line_accounting_kept(line, wanted):
    assert submission.command_line(line) == wanted


def test_a_job_srun_or_salloc_started_has_no_sbatch_line():
    assert submission.command_line("srun -n2 -o x.out hostname") is None
    assert submission.command_line("") is None


def test_the_scripts_sbatch_lines_up_to_its_first_command():
    script = ("#!/bin/bash\n"
              "# a comment\n"
              "#SBATCH --job-name=train\n"
              "#SBATCH -o '/scratch/my runs/%j.out'   # where it goes\n"
              "##SBATCH -e never.err\n"
              "#SBATCH --gpus-per-task=2\n"
              "\n"
              "#SBATCH --partition='unclosed\n"
              "module load cuda\n"
              "#SBATCH -e too-late.err\n")
    assert submission.script(script) == {"output": "/scratch/my runs/%j.out", "gpus-per-task": "2"}


def test_the_environment_sbatch_gave_the_job():
    env = "HOME=/home/ana\nSBATCH_ERROR=/scratch/%j.err\nSLURM_GPUS_PER_TASK=1\nSBATCH_OUTPUT=\n"
    assert submission.environment(env) == {"error": "/scratch/%j.err", "gpus-per-task": "1"}


def test_what_sacct_prints_when_accounting_kept_nothing_or_something():
    assert submission.stored("Batch Script for 12\n" + "-" * 80 + "\nNONE\n") is None
    assert submission.stored("Batch Script for 12\n" + "-" * 80 + "\n#!/bin/sh\necho hi\n") == "#!/bin/sh\necho hi"
    assert submission.stored("") is None


def test_the_command_line_outranks_the_environment_which_outranks_the_script():
    line = "sbatch -o cli.out run.sh"
    env = "SBATCH_OUTPUT=env.out\nSBATCH_ERROR=env.err\n"
    script = "#!/bin/sh\n#SBATCH -o script.out\n#SBATCH -e script.err\n#SBATCH --gpus-per-task=1\necho\n"
    req = submission.request(line, script, env)
    assert (req.output, req.error, req.gpus_per_task, req.output_from) == ("cli.out", "env.err", 1, SUBMIT_LINE)
    assert set(req.read) == {SUBMIT_LINE, SCRIPT, ENVIRONMENT} and req.gpus_per_task_known
    req = submission.request("sbatch run.sh", script, None)
    assert (req.output, req.error, req.output_from) == ("script.out", "script.err", SCRIPT)


def test_what_can_be_told_depends_on_what_accounting_kept():
    line_only = submission.request("sbatch -n2 run.sh", None, None)
    assert (line_only.output, line_only.output_known, line_only.gpus_per_task_known) == (None, False, False)
    with_script = submission.request("sbatch -n2 run.sh", "#!/bin/sh\necho\n", None)
    assert with_script.output_known and not with_script.gpus_per_task_known    # SBATCH_GPUS_PER_TASK may have
    with_env = submission.request("sbatch -n2 run.sh", "#!/bin/sh\necho\n", "HOME=/root\n")
    assert with_env.gpus_per_task_known and with_env.gpus_per_task is None


def test_the_script_file_is_named_only_where_accounting_kept_no_copy_and_the_dir_is_the_work_dir():
    assert submission.request("sbatch -N1 run.sh", None, None).script_file == "run.sh"
    assert submission.request("sbatch -N1 run.sh", "#!/bin/sh\necho\n", None).script_file is None
    assert submission.request("sbatch --chdir=/scratch ../run.sh", None, None).script_file is None
    assert submission.request("sbatch --chdir=/scratch /home/ana/run.sh", None, None).script_file == "/home/ana/run.sh"


def forgotten(**kw) -> Job:
    base = dict(job_id="40", job_id_raw="40", name="train", user="ana", partition="gpu", state="FAILED",
                state_detail="FAILED", exit_code=1, signal=0, elapsed_s=60, time_limit_s=600, nodes=("node1",),
                node_list="node1", start="2026-12-02T10:00:00", end="2026-12-02T10:01:00",
                work_dir="/home/ana/run", sources=(ACCOUNTING,))
    return Job(**{**base, **kw})


def test_a_forgotten_job_gets_the_paths_sbatch_took():
    job = job_lookup.with_request(forgotten(), submission.request("sbatch -o logs/%j.out run.sh", None, None))
    assert (job.stdout, job.stderr, job.output_from) == ("/home/ana/run/logs/%j.out",) * 2 + (SUBMIT_LINE,)
    assert job.script_file == "/home/ana/run/run.sh"
    # nothing named a path, and the script was kept: Slurm's default, an array task's own
    task = forgotten(job_id="41_3", array_job_id="41", array_task_id="3")
    job = job_lookup.with_request(task, submission.request("sbatch -a 1-3 run.sh", "#!/bin/sh\necho\n", None))
    assert (job.stdout, job.output_from) == ("/home/ana/run/slurm-%A_%a.out", submission.DEFAULT)
    # only -e was named, and the script was not kept: stdout cannot be told, stderr can
    job = job_lookup.with_request(forgotten(), submission.request("sbatch -e /tmp/e.err run.sh", None, None))
    assert (job.stdout, job.stderr) == (None, "/tmp/e.err")


def test_a_job_slurmctld_still_shows_or_one_that_never_ran_is_left_alone():
    req = submission.request("sbatch -o elsewhere.out run.sh", None, None)
    live = forgotten(sources=(ACCOUNTING, CONTROLLER), stdout="/home/ana/run/slurm-40.out")
    assert job_lookup.with_request(live, req) == live
    never = forgotten(start=None)
    assert job_lookup.with_request(never, req) == never
