"""The ``#BSUB`` and ``#PBS`` lines of a batch script, as 22.05's sbatch translates them.

sbatch reads another scheduler's directives unless ``--ignore-pbs`` (or ``SBATCH_IGNORE_PBS``, set to
anything): the ``#BSUB`` lines if the script has any, else the ``#PBS`` lines. A directive is a line
that starts with the word (``#PBS-o x`` too), anywhere until more than 100 lines that are not
comments (blank lines count); all of them are parsed as one command line, up to the first word that
is not an option. What they set falls between the environment and the ``#SBATCH`` lines. Checked on
the local cluster against slurmctld's own paths (tests/slurm/test_cluster_job.py).

Only what slurm-diag needs is kept: the output paths, the work dir and ``#PBS -v`` (sbatch's
``--export``). An option sbatch does not know would have made it refuse the script: it is reported
under UNSURE rather than guessed past.
"""

from __future__ import annotations

import shlex

UNSURE = "unsure"
PBS, BSUB = "pbs lines", "bsub lines"          # which kind was read
MAX_NON_COMMENTS = 100

# (options that take a value, options that take none, long name -> (letter, takes a value))
_PBS = ("aAcCejJklmMNopqrStuvW", "hIVz", {
    "start_time": ("a", True), "account": ("A", True), "checkpoint": ("c", True), "working_dir": ("C", True),
    "error": ("e", True), "hold": ("h", False), "interactive": ("I", False), "join": ("j", None),
    "job_array": ("J", True), "keep": ("k", True), "resource_list": ("l", True), "mail_options": ("m", True),
    "mail_user_list": ("M", True), "job_name": ("N", True), "out": ("o", True), "priority": ("p", True),
    "destination": ("q", True), "rerunable": ("r", True), "script_path": ("S", True), "array": ("t", True),
    "running_user": ("u", True), "variable_list": ("v", True), "all_env": ("V", False),
    "attributes": ("W", True), "no_std": ("z", False)})
_BSUB = ("ceJmMnoqW", "x", {
    "cwd": ("c", True), "error_file": ("e", True), "job_name": ("J", True), "hostname": ("m", True),
    "memory_limit": ("M", True), "output_file": ("o", True), "queue_name": ("q", True), "time": ("W", True),
    "exclusive": ("x", False)})


def directives(text: str) -> tuple[str | None, dict[str, str]]:
    """(BSUB or PBS, what its lines set: output, error, chdir, export and UNSURE), or (None, {})
    when the script has neither."""
    for kind, magic, table in ((BSUB, "#BSUB", _BSUB), (PBS, "#PBS", _PBS)):
        words = _words(text, magic)
        if words is not None:
            return kind, _options(words, table, kind)
    return None, {}


def _words(text: str, magic: str) -> list[str] | None:
    """The words of every ``magic`` line, in order; None when there is none."""
    words: list[str] | None = None
    non_comments = 0
    for line in text.split("\n"):
        if not line.startswith(magic):
            if not line.startswith("#"):
                non_comments += 1
                if non_comments > MAX_NON_COMMENTS:
                    break
            continue
        words = words if words is not None else []
        try:
            found = shlex.split(line[len(magic):], comments=True)
        except ValueError:                     # an unclosed quote: read as sbatch would not be
            return words + [UNREADABLE]
        if magic == "#BSUB":                   # sbatch turns -cwd into -c where an option is expected
            found = ["-c" if w == "-cwd" and (len(words) + i) % 2 == 0 else w for i, w in enumerate(found)]
        words += found
    return words


UNREADABLE = "\0"                        # a line shlex could not split


def _options(words: list[str], table, kind: str) -> dict[str, str]:
    """getopt_long with a leading "+" over ``words``: options up to the first other word. Whatever
    sbatch would have refused (a word left over, an option it does not know, a value missing or
    given to an option that takes none) is UNSURE: sbatch took the job, so this parse is not its."""
    with_value, flags, long_names = table
    found: dict[str, str] = {}

    def unsure(what: str) -> dict[str, str]:
        found[UNSURE] = f"{what} in the {kind}, which sbatch would have refused"
        return found

    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word == UNREADABLE:
            return unsure("a line with an unclosed quote")
        if word == "--" or not word.startswith("-") or word == "-":
            rest = words[i:] if word == "--" else words[i - 1:]
            return unsure(f"{rest[0]!r}") if rest else found
        if word.startswith("--"):
            name, eq, value = word[2:].partition("=")
            match = [n for n in long_names if n == name] or [n for n in long_names if n.startswith(name)]
            if len(match) != 1:
                return unsure(f"--{name}")
            letter, takes = long_names[match[0]]
            if takes is False and eq:
                return unsure(f"a value for --{match[0]}")
            if takes and not eq:
                if i >= len(words) or words[i] == UNREADABLE:
                    return unsure(f"--{match[0]} without its value")
                value, i = words[i], i + 1
            _set(found, kind, letter, value)
            continue
        for k, letter in enumerate(word[1:], 1):
            if letter in flags:
                continue
            if letter not in with_value:
                return unsure(f"-{letter}")
            value = word[k + 1:]
            if not value:
                if i >= len(words) or words[i] == UNREADABLE:
                    return unsure(f"-{letter} without its value")
                value, i = words[i], i + 1
            _set(found, kind, letter, value)
            break
    return found


def _set(found: dict[str, str], kind: str, letter: str, value: str) -> None:
    if letter in "oe":
        found["output" if letter == "o" else "error"] = "/dev/null" if value.lower() == "none" else value
    elif letter == "c" and kind == BSUB:
        found["chdir"] = value
    elif letter == "v" and kind == PBS:
        found["export"] = f"{found['export']},{value}" if "export" in found else value
