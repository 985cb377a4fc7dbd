"""What a batch job asked sbatch for, read back from accounting once slurmctld has forgotten the job.

slurmctld shows a job's output paths and its GPUs per task only until MinJobAge after the job ends,
and 22.05's accounting keeps neither as a field. It keeps the command line (``SubmitLine``) always,
and the batch script and the submitting environment where slurm.conf has
``AccountingStoreFlags=job_script,job_env`` (``sacct -B``, ``sacct --env-vars``). sbatch takes an
option from its command line first, then from its ``SBATCH_*`` environment variables, then from the
script's ``#BSUB`` or ``#PBS`` lines (unless ``--ignore-pbs``, slurm.xlate), then from its ``#SBATCH``
lines; so does ``request`` (the order 22.05's sbatch takes them in, tried on the local cluster).

Pure: the client runs sacct; everything here is text in, record out. The text is the job owner's and
is read as data: nothing in it is run, and a line that cannot be read is passed over.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass

from slurm_diag.slurm import xlate

SUBMIT_LINE, SCRIPT, ENVIRONMENT = "submit line", "batch script", "environment"
PBS, BSUB = xlate.PBS, xlate.BSUB       # output_from only: the script's #PBS or #BSUB lines named the path
DEFAULT = "default"                     # Slurm's own name: nothing the job kept named another

# sbatch's options that take a value (22.05's man page); the rest are flags, or take one only as
# --name=value (--exclusive, --nice, --no-kill, --propagate, --get-user-env)
_LONG_WITH_VALUE = frozenset("""
    account acctg-freq array batch bb bbf begin chdir cluster-constraint clusters comment constraint
    container core-spec cores-per-socket cpu-freq cpus-per-gpu cpus-per-task deadline delay-boot
    dependency distribution error exclude export export-file extra-node-info gid gpu-bind gpu-freq gpus
    gpus-per-node gpus-per-socket gpus-per-task gres gres-flags hint input job-name kill-on-invalid-dep
    licenses mail-type mail-user mcs-label mem mem-bind mem-per-cpu mem-per-gpu mincpus network
    nodefile nodelist nodes ntasks ntasks-per-core ntasks-per-gpu ntasks-per-node ntasks-per-socket
    open-mode output partition power prefer priority profile qos reservation signal sockets-per-node
    switches thread-spec threads-per-core time time-min tmp uid wait-all-nodes wckey wrap
    tasks-per-node cluster ntasks-per-tres""".split())
_LONG_FLAGS = frozenset("""
    contiguous exclusive get-user-env help hold ignore-pbs nice no-kill no-requeue overcommit
    oversubscribe parsable propagate quiet reboot requeue spread-job test-only usage use-min-nodes
    verbose version wait""".split())
_SHORT_WITH_VALUE = frozenset("AabBcCdDeFGiJLmMnNopqStwx")
_SHORT_OPTIONAL = frozenset("k")          # -k[off]: its value only in the same word
_SHORT = {"o": "output", "e": "error", "D": "chdir"}
WANTED = ("output", "error", "gpus-per-task", "chdir", "export", "ignore-pbs")
UNSURE = xlate.UNSURE                     # key options() sets when what it read may not be all there was
_PATH_OPTION = re.compile(r"^(-[oe]|--(output|error)(=|$))")   # after the script: its argument, or lost quoting


@dataclass(frozen=True)
class Request:
    """The job's output paths (patterns as given: relative to its work dir, ``%j`` unexpanded) and
    GPUs per task, with what they were read from."""

    output: str | None = None
    error: str | None = None
    gpus_per_task: int | None = None
    read: tuple[str, ...] = ()            # SUBMIT_LINE, SCRIPT, ENVIRONMENT: what accounting had
    output_from: str | None = None        # which of them named the output path
    script_file: str | None = None        # the script's file as the command line named it, where
                                          # accounting did not keep the script (relative: to the work dir)

    gpus_per_task_asked: bool = False     # some source asked for GPUs per task (in a form read or not)
    complete: bool = False                # all three sources read, and the command line read whole

    @property
    def gpus_per_task_known(self) -> bool:
        """Whether the job asked for GPUs per task can be told: it did, in a form read here, or
        sbatch's own environment for the job was kept (``SLURM_GPUS_PER_TASK`` is set there
        whenever it asked) and nothing asked."""
        return self.gpus_per_task is not None or (ENVIRONMENT in self.read and not self.gpus_per_task_asked)

    @property
    def output_known(self) -> bool:
        """Whether the output path is the one the job wrote to: named somewhere, or Slurm's default
        because nothing sbatch reads named one (every source kept and read whole)."""
        return self.output is not None or self.complete

    @property
    def error_known(self) -> bool:
        """The same for stderr: named, or in stdout's file because nothing named its own."""
        return self.error is not None or self.complete


def _long_name(name: str) -> str | None:
    """``--out`` -> ``output``: getopt takes any unambiguous prefix of a long option."""
    known = _LONG_WITH_VALUE | _LONG_FLAGS
    if name in known:
        return name
    matches = [k for k in known if k.startswith(name)]
    return matches[0] if len(matches) == 1 else None


def options(tokens: list[str]) -> dict[str, str]:
    """sbatch's options in ``tokens`` -> the WANTED ones, and under ``"script"`` the script's word.
    Stops at the script (the first word that is not an option or an option's value), at ``--`` and at
    ``--wrap`` (accounting joins the command line with spaces, so what follows a wrapped command
    cannot be told apart from it)."""
    found: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if tok == "--" or not tok.startswith("-") or tok == "-":
            if tok == "--" and i < len(tokens):
                found["script"] = tokens[i]
                i += 1
            elif tok not in ("--", "-"):
                found["script"] = tok
            if any(_PATH_OPTION.match(t) for t in tokens[i:]):
                found[UNSURE] = "an option-like word after the script"     # its argument, or lost quoting
            break
        if tok.startswith("--"):
            name, eq, value = tok[2:].partition("=")
            name = _long_name(name) or name
            if name == "wrap":
                found[UNSURE] = "--wrap"
                break
            if name not in _LONG_WITH_VALUE and name not in _LONG_FLAGS:
                found[UNSURE] = f"--{name}"          # its value, if it takes one, may be taken for the script
            if not eq and name in _LONG_WITH_VALUE:
                if i >= len(tokens):
                    break
                value, i = tokens[i], i + 1
            if name in WANTED:
                found[name] = value if name in _LONG_WITH_VALUE else "yes"
            continue
        for k, letter in enumerate(tok[1:], 1):
            if letter in _SHORT_OPTIONAL:
                break
            if letter in _SHORT_WITH_VALUE:
                value = tok[k + 1:]
                if not value:
                    if i >= len(tokens):
                        return found
                    value, i = tokens[i], i + 1
                if letter in _SHORT:
                    found[_SHORT[letter]] = value
                break
    return found


def command_line(line: str) -> dict[str, str] | None:
    """Accounting's SubmitLine -> the WANTED options; None when sbatch did not submit the job
    (srun, salloc). Only its first line is read: sacct prints a newline inside the line as is."""
    words = (line.splitlines() or [""])[0].split()
    if not words or os.path.basename(words[0]) != "sbatch":
        return None
    return options(words[1:])


def script(text: str) -> dict[str, str]:
    """The batch script's ``#SBATCH`` (and ``#SLURM``) lines -> the WANTED options; sbatch reads them up to the first
    line that is neither blank nor a comment."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        prefix = next((p for p in ("#SBATCH", "#SLURM") if line.startswith(p)), None)    # at the start only
        if prefix and line[len(prefix):len(prefix) + 1] in (" ", "\t", "-"):
            try:
                words = shlex.split(line[len(prefix):], comments=True)
            except ValueError:              # an unclosed quote: sbatch would refuse it too
                continue
            if words[:1] and words[0].lower() in ("hetjob", "packjob"):    # a later component's options
                break
            found.update({k: v for k, v in options(words).items() if k not in ("script", UNSURE)})
        elif stripped and not stripped.startswith("#"):
            break
    return found


def _none(path: str | None) -> str | None:
    """sbatch's own word for no file, in any of its sources: ``none`` is /dev/null."""
    return "/dev/null" if path is not None and path.lower() == "none" else path


def script_file(text: str) -> dict[str, str]:
    """A script read from its file (accounting kept no copy): its ``#SBATCH`` options, with what its
    ``#BSUB`` or ``#PBS`` lines set over them unless the script says ``--ignore-pbs``."""
    found = script(text)
    found = found if "ignore-pbs" in found else {**found, **xlate.directives(text)[1]}
    return {k: _none(v) if k in ("output", "error") else v for k, v in found.items()}


_ENV = re.compile(r"^(SBATCH_OUTPUT|SBATCH_ERROR|SBATCH_GPUS_PER_TASK|SBATCH_EXPORT|SLURM_EXPORT_ENV|SBATCH_IGNORE_PBS|"
                  r"SLURM_GPUS_PER_TASK)(?:_HET_GROUP_0)?=(.*)$", re.M)      # a het job's first component


def environment(text: str) -> dict[str, str]:
    """The environment sbatch gave the job -> the WANTED options it set: ``SBATCH_OUTPUT`` and
    ``SBATCH_ERROR`` as the user set them; ``SLURM_GPUS_PER_TASK``, sbatch's own record of the request."""
    names = {"SBATCH_OUTPUT": "output", "SBATCH_ERROR": "error", "SBATCH_GPUS_PER_TASK": "gpus-per-task",
             "SLURM_GPUS_PER_TASK": "gpus-per-task", "SBATCH_EXPORT": "export", "SLURM_EXPORT_ENV": "export",
             "SBATCH_IGNORE_PBS": "ignore-pbs"}
    found: dict[str, str] = {}
    for name, value in _ENV.findall(text):
        if value.strip() or name == "SBATCH_IGNORE_PBS":        # sbatch asks only whether it is set
            found.setdefault(names[name], value.strip())
    return found


def submit_lines(text: str) -> dict[str, str]:
    """``sacct -X -n -P --delimiter=SEP -o JobID,SubmitLine`` for several jobs -> each job's line (a
    heterogeneous job's leader, 12+0, as 12). Only a line's first line is read (command_line): the
    rest of one sacct printed with a newline inside does not start with a job id and is skipped."""
    from slurm_diag.slurm.parse import SEP, het_base

    out: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"(\d+(?:_\d+)?(?:\+\d+)?)" + re.escape(SEP) + "(.*)$", line)
        if m:
            out.setdefault(het_base(m.group(1)), m.group(2))
    return out


def stored(text: str) -> str | None:
    """``sacct -B`` or ``sacct --env-vars`` for one job -> what accounting kept: the lines under the
    heading and its rule of dashes; None when it kept nothing (``NONE``: the flag is not set). An
    array's id prints one record per task: the first is the job's."""
    return next(iter(stored_each(text).values()), None)


def stored_each(text: str) -> dict[str, str | None]:
    """``sacct -B`` or ``sacct --env-vars`` for several jobs (``-j 12,13_1``) -> what accounting kept
    of each, by the job id its heading names (a heterogeneous job's leader, 12+0, as 12), in order."""
    from slurm_diag.slurm.parse import het_base

    lines = text.splitlines()
    starts = [(n, m.group(2)) for n, line in enumerate(lines[:-1])
              if (m := _HEADING.match(line)) and set(lines[n + 1].strip()) == {"-"}]
    out: dict[str, str | None] = {}
    for k, (n, job_id) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(lines)
        body = "\n".join(lines[n + 2:end])
        out.setdefault(het_base(job_id), None if body.strip() in ("", "NONE") else body)
    return out


_HEADING = re.compile(r"^(Batch Script for|Environment used for) (\S+)")


def _per_task(value: str | None) -> int | None:
    """``--gpus-per-task=[type:]N`` -> N."""
    m = re.fullmatch(r"(?:[^:]+:)?(\d+)", (value or "").strip())
    return int(m.group(1)) if m else None


def request(submit_line: str | None, script_text: str | None, env_text: str | None) -> Request:
    """What sbatch took for the job, from what accounting kept of it (None: not kept, or not asked)."""
    sources = [(SUBMIT_LINE, command_line(submit_line) if submit_line is not None else None),
               (ENVIRONMENT, environment(env_text) if env_text is not None else None),
               (PBS, {}), (SCRIPT, script(script_text) if script_text is not None else None)]
    if script_text is not None and not any(found is not None and "ignore-pbs" in found for _, found in sources):
        sources[2] = xlate.directives(script_text)
    unsure_lines = UNSURE in sources[2][1]
    if unsure_lines:                 # sbatch took lines this parse would refuse: they may have named any path
        sources[2] = (sources[2][0], {})
        sources[3] = (SCRIPT, {k: v for k, v in sources[3][1].items() if k not in ("output", "error")})
    read = tuple(name for name, found in sources if found is not None and name in (SUBMIT_LINE, ENVIRONMENT, SCRIPT))

    def first(option: str) -> tuple[str | None, str | None]:
        for name, found in sources:
            if found and option in found:
                return found[option], name
        return None, None

    cli = sources[0][1] or {}
    # --export as sbatch ends with it: it reads the #SBATCH lines, then #PBS -v (added to what they
    # set), then SBATCH_EXPORT, then the command line, each later one replacing the value
    said = [(found or {}).get("export") for _, found in sources]         # cli, env, #PBS, #SBATCH
    script_export = ",".join(e for e in (said[3], said[2]) if e is not None) or None
    export = said[0] if said[0] is not None else said[1] if said[1] is not None else script_export
    if export is not None and "ALL" not in (item.strip().upper() for item in export.split(",")):
        # sbatch read SBATCH_* from the shell but kept only the variables exported: not the whole environment
        sources[1] = (ENVIRONMENT, None)         # (and whether SBATCH_IGNORE_PBS was set)
        read = tuple(name for name in read if name != ENVIRONMENT)
    output, output_from = first("output")
    error, _ = first("error")
    output, error = _none(output), _none(error)
    gpus, _ = first("gpus-per-task")
    # a relative script word is relative to where sbatch ran: the work dir, unless --chdir moved that;
    # not named where the command line or environment said --ignore-pbs (the file's #PBS lines are read with it)
    word = cli.get("script")
    script_file = word if script_text is None and word and UNSURE not in cli and \
        not any(found and "ignore-pbs" in found for _, found in sources[:2]) and \
        (word.startswith("/") or "chdir" not in cli) else None
    complete = len(read) == 3 and UNSURE not in cli and not unsure_lines
    return Request(output=output, error=error, gpus_per_task=_per_task(gpus), read=read,
                   output_from=output_from, script_file=script_file, gpus_per_task_asked=gpus is not None,
                   complete=complete)
