"""What a batch job asked sbatch for, read back from what accounting kept of its submission, and how
that fills the view of a job slurmctld has forgotten. Against the real cluster in
tests/diagnose/test_cluster_explain.py (test_a_job_slurmctld_has_forgotten_...)."""

from __future__ import annotations

import pytest

from slurm_diag.slurm import job_lookup, submission, xlate
from slurm_diag.slurm.records import ACCOUNTING, CONTROLLER, Job
from slurm_diag.slurm.submission import ENVIRONMENT, SCRIPT, SUBMIT_LINE


@pytest.mark.parametrize("line,wanted,unsure", [
    ("sbatch --parsable -o /tmp/x_%j.out --gpus-per-task=1 -n1 job.sh -o mine.out",     # the script's own -o,
     {"output": "/tmp/x_%j.out", "gpus-per-task": "1", "script": "job.sh"}, True),     # or lost quoting
    ("/usr/bin/sbatch -p debug -J train -o/scratch/a.out -N2 run.sh", {"output": "/scratch/a.out", "script": "run.sh"},
     False),
    ("sbatch --partition gpu --output out/%x-%j.log --error err.log run.sh --epochs 3",
     {"output": "out/%x-%j.log", "error": "err.log", "script": "run.sh"}, False),
    ("sbatch --out=o.log --gpus-per-t=a100:2 --tasks-per-node 4 run.sh",    # prefixes; a deprecated option's value
     {"output": "o.log", "gpus-per-task": "a100:2", "script": "run.sh"}, False),
    ("sbatch --gpus-per=1 run.sh", {"script": "run.sh"}, True),            # --gpus-per is three options
    ("sbatch -Ho held.out run.sh", {"output": "held.out", "script": "run.sh"}, False),   # a flag, then -o
    ("sbatch -ko x.out run.sh", {"script": "x.out"}, False),                # -k's own value "o", not -o
    ("sbatch --exclusive --requeue -e e.log -D /scratch --export=NONE run.sh",
     {"error": "e.log", "chdir": "/scratch", "export": "NONE", "script": "run.sh"}, False),
    ("sbatch --frobnicate run.sh", {"script": "run.sh"}, True),            # unknown: its word may be the script
    ("sbatch -o a.out --wrap echo -o b.out", {"output": "a.out"}, True),   # --wrap's command is not sbatch's
    ("sbatch -o a.out --wrap=python train.py -o b.out\nprint(1)", {"output": "a.out"}, True),
    ("sbatch run.sh", {"script": "run.sh"}, False),
    ("sbatch -- run.sh -o x.out", {"script": "run.sh"}, True),
    ("sbatch -N1", {}, False),                                              # the script came on stdin
])
def test_the_command_line_accounting_kept(line, wanted, unsure):
    got = submission.command_line(line)
    assert (submission.UNSURE in got) == unsure, got
    got.pop(submission.UNSURE, None)
    assert got == wanted


def test_a_job_srun_or_salloc_started_has_no_sbatch_line():
    assert submission.command_line("srun -n2 -o x.out hostname") is None
    assert submission.command_line("") is None


def test_the_scripts_sbatch_lines_up_to_its_first_command():
    script = ("#!/bin/bash\n"
              "# a comment\n"
              "#SBATCH --job-name=train\n"
              "#SBATCH -o '/scratch/my runs/%j.out'   # where it goes\n"
              "##SBATCH -e never.err\n"
              "  #SBATCH -e indented.err\n"             # not at the start of the line: a comment to sbatch
              "#SBATCH--gpus-per-task=2\n"
              "\n"
              "#SBATCH --partition='unclosed\n"
              "module load cuda\n"
              "#SBATCH -e too-late.err\n")
    assert submission.script(script) == {"output": "/scratch/my runs/%j.out", "gpus-per-task": "2"}
    het = "#!/bin/sh\n#SBATCH -o first.out\n#SBATCH HetJob\n#SBATCH -o second.out\nsrun hostname\n"
    assert submission.script(het) == {"output": "first.out"}
    assert submission.script("#!/bin/sh\n#SLURM -o mine.out\necho\n") == {"output": "mine.out"}     # sbatch reads these too


def test_the_environment_sbatch_gave_the_job():
    env = "HOME=/home/ana\nSBATCH_ERROR=/scratch/%j.err\nSLURM_GPUS_PER_TASK=1\nSBATCH_OUTPUT=\n"
    assert submission.environment(env) == {"error": "/scratch/%j.err", "gpus-per-task": "1"}
    assert submission.environment("SLURM_GPUS_PER_TASK_HET_GROUP_0=2\n") == {"gpus-per-task": "2"}
    assert submission.environment("SLURM_GPUS_PER_TASK_HET_GROUP_1=2\n") == {}      # another component's


def test_what_sacct_prints_when_accounting_kept_nothing_or_something():
    rule = "-" * 80
    assert submission.stored(f"Batch Script for 12\n{rule}\nNONE\n") is None
    assert submission.stored(f"Batch Script for 12\n{rule}\n#!/bin/sh\necho hi\n") == "#!/bin/sh\necho hi"
    assert submission.stored("") is None
    # an array's id: one record per task; nothing kept is NONE in each
    assert submission.stored(f"Batch Script for 13_1\n{rule}\nNONE\n\nBatch Script for 13_2\n{rule}\nNONE\n") is None
    kept = f"Environment used for 13_1\n{rule}\nHOME=/root\n\nEnvironment used for 13_2\n{rule}\nHOME=/x\n"
    assert submission.stored(kept) == "HOME=/root\n"


def test_several_jobs_records_are_read_apart():
    """`sacct -j 12,13_1,14 -B` (and --env-vars, and -X -o JobID,SubmitLine) as the local cluster
    prints them: each job's record under its heading; a heterogeneous job's leader (14+0) as 14."""
    from slurm_diag.slurm.parse import SEP

    rule = "-" * 80
    text = (f"Batch Script for 12\n{rule}\n#!/bin/sh\n#SBATCH -o a.out\n\nBatch Script for 13_1\n{rule}\nNONE\n\n"
            f"Batch Script for 14+0\n{rule}\n#!/bin/sh\nsrun hostname\n")
    assert submission.stored_each(text) == {"12": "#!/bin/sh\n#SBATCH -o a.out\n", "13_1": None,
                                            "14": "#!/bin/sh\nsrun hostname"}
    lines = (f"12{SEP}sbatch -o a.out run.sh\n13_1{SEP}sbatch --wrap 'echo a\necho b'\n14+0{SEP}sbatch het.sh\n"
             f"14+1{SEP}sbatch het.sh\n")
    assert submission.submit_lines(lines) == {"12": "sbatch -o a.out run.sh", "13_1": "sbatch --wrap 'echo a",
                                              "14": "sbatch het.sh"}


def test_the_command_line_outranks_the_environment_which_outranks_the_script():
    line = "sbatch -o cli.out run.sh"
    env = "SBATCH_OUTPUT=env.out\nSBATCH_ERROR=env.err\n"
    script = "#!/bin/sh\n#SBATCH -o script.out\n#SBATCH -e script.err\n#SBATCH --gpus-per-task=1\necho\n"
    req = submission.request(line, script, env)
    assert (req.output, req.error, req.gpus_per_task, req.output_from) == ("cli.out", "env.err", 1, SUBMIT_LINE)
    assert set(req.read) == {SUBMIT_LINE, SCRIPT, ENVIRONMENT} and req.gpus_per_task_known
    req = submission.request("sbatch run.sh", script, None)
    assert (req.output, req.error, req.output_from) == ("script.out", "script.err", SCRIPT)


def test_pbs_lines_name_paths_between_the_environment_and_the_sbatch_lines():
    """What 22.05's sbatch did on the local cluster (scontrol's StdOut and StdErr for each script):
    #PBS -o/-e at column 0 in capitals, anywhere in the script, the last winning, over #SBATCH and
    under the environment and the command line; --ignore-pbs (command line, #SBATCH line or
    SBATCH_IGNORE_PBS) turns them off; -j is not read; a host: prefix stays part of the path."""
    pbs = "#!/bin/sh\n#SBATCH -o sb.out\necho hi\n#PBS -N x -o pbs.out\n#PBS -e/tmp/pbs.err\n#PBS -o last.out\n"
    req = submission.request("sbatch run.sh", pbs, "HOME=/\n")
    assert (req.output, req.error, req.output_from, req.read) == ("last.out", "/tmp/pbs.err", submission.PBS,
                                                                   (SUBMIT_LINE, ENVIRONMENT, SCRIPT))
    assert req.output_known
    assert submission.request("sbatch run.sh", pbs, "SBATCH_OUTPUT=env.out\n").output == "env.out"
    assert submission.request("sbatch -o cli.out run.sh", pbs, "HOME=/\n").output == "cli.out"
    for line, env, script in (("sbatch --ignore-pbs run.sh", "HOME=/\n", pbs),
                              ("sbatch run.sh", "SBATCH_IGNORE_PBS=1\n", pbs),
                              ("sbatch run.sh", "HOME=/\n", "#!/bin/sh\n#SBATCH --ignore-pbs\n" + pbs[10:])):
        ignored = submission.request(line, script, env)
        assert (ignored.output, ignored.error, ignored.output_from) == ("sb.out", None, SCRIPT), (line, env)
    assert submission.request("sbatch run.sh", pbs, "SBATCH_IGNORE_PBS=\n").output == "sb.out"   # set, if empty
    # the script's file, read where accounting kept no copy
    assert submission.script_file(pbs) == {"output": "last.out", "error": "/tmp/pbs.err"}
    assert submission.script_file("#SBATCH --ignore-pbs\n#SBATCH -o sb.out\n#PBS -o p.out\n") == \
        {"ignore-pbs": "yes", "output": "sb.out"}
    assert submission.request("sbatch --ignore-pbs run.sh", None, None).script_file is None   # its #PBS would be misread
    assert submission.request("sbatch --output= run.sh", None, None).output == ""


@pytest.mark.parametrize("script,kind,found", [       # as 22.05's sbatch took them on the local cluster
    # (the paths also in tests/slurm/test_cluster_job.py; the last two it refused: "Invalid argument", "invalid option")
    ("#PBS -o a\n  #PBS -o indented\n#pbs -o lower\n#PBS -j oe\n", xlate.PBS, {"output": "a"}),
    ("#PBS-o glued.log\n", xlate.PBS, {"output": "glued.log"}),
    ("#PBS --out=long.log\n#PBS --err x.err\n", xlate.PBS, {"output": "long.log", "error": "x.err"}),
    ("#PBS -Vo grouped.log\n", xlate.PBS, {"output": "grouped.log"}),
    ("#PBS -o node1:/tmp/x.log\n", xlate.PBS, {"output": "node1:/tmp/x.log"}),      # a host: stays in the path
    ("#PBS -o NONE -e none\n", xlate.PBS, {"output": "/dev/null", "error": "/dev/null"}),
    ("#PBS -N x -v A=1\n#PBS -v B=2\n", xlate.PBS, {"export": "A=1,B=2"}),
    ("#!/bin/sh\n" + "echo\n" * 95 + "#PBS -o late95.log\n", xlate.PBS, {"output": "late95.log"}),
    ("#!/bin/sh\n" + "echo\n" * 120 + "#PBS -o late120.log\n", None, {}),      # past 100 lines of commands
    ("#!/bin/sh\n" + "\n" * 120 + "#PBS -o blank.log\n", None, {}),            # blank lines count too
    ("#BSUB -J x\n#PBS -o pbs.log\n", xlate.BSUB, {}),                          # any #BSUB line: no #PBS
    ("#BSUB -o bsub.log\n", xlate.BSUB, {"output": "bsub.log"}),
    ("#BSUB -cwd /tmp/sub\n#BSUB -o rel.log -e none\n", xlate.BSUB,
     {"chdir": "/tmp/sub", "output": "rel.log", "error": "/dev/null"}),
    ("#BSUB -o none\n", xlate.BSUB, {"output": "/dev/null"}),
    ("#PBS -Y\n#PBS -o x.log\n", xlate.PBS, {"unsure": "-Y in the pbs lines, which sbatch would have refused"}),
    ("#PBS -o a.log extra -e b.log\n", xlate.PBS, {"output": "a.log",
                                                     "unsure": "'extra' in the pbs lines, which sbatch would have refused"}),
    # more that glibc's getopt_long, and so sbatch, refuses: not taken as a reading
    ("#PBS --no_std=1 -o a\n", xlate.PBS, {"unsure": "a value for --no_std in the pbs lines, which sbatch would "
                                                       "have refused"}),
    ("#PBS -N x -o\n", xlate.PBS, {"unsure": "-o without its value in the pbs lines, which sbatch would have refused"}),
    ("#PBS -o a -- -e b\n", xlate.PBS, {"output": "a", "unsure": "'-e' in the pbs lines, which sbatch would have "
                                                                  "refused"}),
    ("#PBS -o a --\n", xlate.PBS, {"output": "a"}),
    ("#PBS -o\n#PBS 'unclosed\n", xlate.PBS, {"unsure": "-o without its value in the pbs lines, which sbatch "
                                                           "would have refused"}),
])
def test_another_schedulers_lines_as_sbatch_translates_them(script, kind, found):
    assert xlate.directives(script) == (kind, found)


def test_bsub_lines_name_the_output_over_sbatch_lines_and_unknown_ones_claim_nothing():
    req = submission.request("sbatch run.sh", "#!/bin/sh\n#SBATCH -o sb.out\n#BSUB -o bsub.out\n", "HOME=/\n")
    assert (req.output, req.output_from, req.output_known) == ("bsub.out", submission.BSUB, True)
    odd = submission.request("sbatch run.sh", "#!/bin/sh\n#PBS -Y\n", "HOME=/\n")
    assert odd.output is None and not odd.output_known          # Slurm's default is not claimed
    # ... nor the #SBATCH path: the lines sbatch read differently may have named another
    odd = submission.request("sbatch run.sh", "#!/bin/sh\n#SBATCH -o sb.out\n#PBS -Y\n", "HOME=/\n")
    assert (odd.output, odd.output_known, odd.error_known) == (None, False, False)
    assert submission.request("sbatch -o x.out run.sh", "#!/bin/sh\n#PBS -Y\n", "HOME=/\n").output == "x.out"
    assert submission.script_file("#SBATCH -o a\n#PBS -Y\n")["unsure"]


def test_none_is_dev_null_wherever_it_is_given():
    """sbatch's own word for no file (any case), on the command line, in the environment or a script."""
    assert submission.request("sbatch -o none run.sh", None, None).output == "/dev/null"
    assert submission.request("sbatch run.sh", "#!/bin/sh\necho\n", "SBATCH_ERROR=NONE\n").error == "/dev/null"
    assert submission.request("sbatch run.sh", "#!/bin/sh\n#SBATCH -o None\n", None).output == "/dev/null"
    assert submission.script_file("#SBATCH -e none\n") == {"error": "/dev/null"}


def test_what_can_be_told_depends_on_what_accounting_kept():
    line_only = submission.request("sbatch -n2 run.sh", None, None)
    assert (line_only.output, line_only.output_known, line_only.gpus_per_task_known) == (None, False, False)
    with_script = submission.request("sbatch -n2 run.sh", "#!/bin/sh\necho\n", None)
    assert not with_script.output_known                 # SBATCH_OUTPUT may have named one
    assert not with_script.gpus_per_task_known          # ... and SBATCH_GPUS_PER_TASK asked
    whole = submission.request("sbatch -n2 run.sh", "#!/bin/sh\necho\n", "HOME=/root\n")
    assert whole.output_known and whole.error_known and whole.gpus_per_task_known and whole.gpus_per_task is None
    # the command line not read whole (--wrap's command, an option not known), or the environment
    # not kept whole (--export=NONE keeps only what it names): the default is not claimed
    for line in ("sbatch --wrap hostname -o my.out", "sbatch --new-option 4 run.sh", "sbatch --export=NONE run.sh",
                 "sbatch --export=ALLOC_SIZE run.sh"):
        assert not submission.request(line, "#!/bin/sh\necho\n", "HOME=/root\n").output_known, line
    assert not submission.request("sbatch run.sh", "#!/bin/sh\n#SBATCH --export=NONE\necho\n", "HOME=/\n").output_known
    assert not submission.request("sbatch run.sh", "#!/bin/sh\necho\n", "SLURM_EXPORT_ENV=NONE\n").output_known
    assert submission.request("sbatch --export=ALL,LR=3 run.sh", "#!/bin/sh\necho\n", "HOME=/\n").output_known
    # #PBS -v adds its variables to the --export sbatch had (ALL stays ALL), and alone names the only ones
    pbs_v = "#!/bin/sh\n#PBS -v LR=3\necho\n"
    assert submission.request("sbatch --export=ALL run.sh", pbs_v, "HOME=/\n").output_known
    assert submission.request("sbatch run.sh", "#!/bin/sh\n#SBATCH --export=ALL\n#PBS -v LR=3\necho\n",
                              "HOME=/\n").output_known
    assert not submission.request("sbatch run.sh", pbs_v, "HOME=/\n").output_known
    assert not submission.request("sbatch --export=NONE run.sh", pbs_v, "HOME=/\n").output_known
    assert submission.request("sbatch run.sh", pbs_v, "HOME=/\nSBATCH_EXPORT=ALL\n").output_known
    assert not submission.request("sbatch run.sh", "#!/bin/sh\n#SBATCH --export=NONE\n#PBS -v LR=3\necho\n",
                                  "HOME=/\n").output_known
    unread = submission.request("sbatch run.sh", "#!/bin/sh\necho\n", "SLURM_GPUS_PER_TASK=a100:many\n")
    assert unread.gpus_per_task is None and not unread.gpus_per_task_known      # asked, in a form not read


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
    assert (job.stdout, job.stderr, job.output_from) == ("/home/ana/run/logs/%j.out", None, SUBMIT_LINE)
    assert job.script_file == "/home/ana/run/run.sh"        # its #SBATCH -e, if any, is still to be read
    whole = submission.request("sbatch -o logs/%j.out run.sh", "#!/bin/sh\necho\n", "HOME=/\n")
    job = job_lookup.with_request(forgotten(), whole)
    assert (job.stdout, job.stderr, job.script_file) == ("/home/ana/run/logs/%j.out",) * 2 + (None,)
    # nothing named a path, and the script was kept: Slurm's default, an array task's own
    task = forgotten(job_id="41_3", array_job_id="41", array_task_id="3")
    job = job_lookup.with_request(task, submission.request("sbatch -a 1-3 run.sh", "#!/bin/sh\necho\n", "HOME=/\n"))
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


def test_many_jobs_requests_survive_one_id_sacct_refuses_and_do_not_hammer_a_slurmdbd_that_is_down():
    """job_requests asks for a hundred jobs per sacct call. sacct refusing the list for one id in it
    costs only that job (the others are asked alone); slurmdbd down costs one call per part, not one
    per job; a range of tasks that never ran (12_[3-5]) is not asked about at all."""
    from slurm_diag.slurm import CommandClient, gateway
    from slurm_diag.slurm.errors import SlurmCommandError, SlurmUnavailable
    from slurm_diag.slurm.parse import SEP

    rule = "-" * 80

    class Sacct(CommandClient):
        def __init__(self, down=False):
            super().__init__(conf="/nonexistent/slurm.conf")
            self.calls, self.down = [], down

        def _run(self, argv, **kw):
            self.calls.append(argv)
            if self.down:
                raise SlurmUnavailable(argv, 1, "sacct: error: Problem talking to the database")
            ids = argv[2].split(",")
            if "666" in ids and len(ids) > 1:
                raise SlurmCommandError(argv, 1, "sacct: fatal: something about 666")
            if "-B" in argv:
                text = "".join(f"Batch Script for {i}\n{rule}\n#!/bin/sh\n#SBATCH -o out-{i}.log\n\n" for i in ids)
            elif "--env-vars" in argv:
                text = "".join(f"Environment used for {i}\n{rule}\nHOME=/h\n\n" for i in ids)
            else:
                text = "".join(f"{i}{SEP}sbatch run.sh\n" for i in ids)
            return gateway.Result(argv=argv, returncode=0, stdout=text, stderr="")

    client = Sacct()
    got = client.job_requests(["11", "666", "12", "13_[1-5]"])
    assert {k: v.output for k, v in got.items()} == {"13_[1-5]": None, "11": "out-11.log", "666": "out-666.log",
                                                     "12": "out-12.log"}
    assert not any("13_[1-5]" in ",".join(c) for c in client.calls)
    assert len(client.calls) == 3 + 3 * 3            # the list refused, then each of the three alone
    down = Sacct(down=True)
    got = down.job_requests([str(n) for n in range(250)])
    assert len(down.calls) == 3 * 3 and all(r.read == () for r in got.values())    # three parts of 100

    class HalfDown(Sacct):            # slurmdbd stops answering while the list is refused: not split up
        def _run(self, argv, **kw):
            if "-B" in argv:
                self.calls.append(argv)
                raise SlurmUnavailable(argv, 1, "sacct: error: Problem talking to the database")
            return super()._run(argv, **kw)

    half = HalfDown()
    half.job_requests(["11", "666", "12"])
    assert len(half.calls) == 3
