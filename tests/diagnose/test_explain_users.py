"""Users see only their own jobs: an ordinary user (created with useradd) explains their own failed
job on the local cluster, is refused another user's job (exit 4, a clear message), and root sees
both. Identity is the caller's uid: nothing in the environment changes it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slurm_diag.errors import EXIT_REFUSED
from tests.conftest import sdiag
from tests.core import unix_user
from tests.core.test_real_users import _env, _sdiag, _wait_accounted, user  # noqa: F401 (fixture)

pytestmark = pytest.mark.cluster


def test_a_user_explains_their_own_job_and_not_roots(user, devcluster, cluster_env, slurm):  # noqa: F811
    mine = unix_user.run_as(user, [shutil.which("sbatch"), "--parsable", "--job-name", "sdiag-explain-mine",
                                   "--wrap", "python3 -c 'import definitely_missing_module'"],
                            env=_env(user, devcluster))
    assert mine.returncode == 0, mine.stderr
    mine_id = mine.stdout.strip().split(";")[0]
    _wait_accounted(user, devcluster, mine_id)
    roots = subprocess.run(["sbatch", "--parsable", "--chdir=/tmp", "-o", "/dev/null", "--wrap", "exit 5"],
                           capture_output=True, text=True, timeout=30,
                           env={"PATH": "/usr/bin:/bin", "SLURM_CONF": str(devcluster.slurm_conf)})
    root_id = roots.stdout.strip()
    slurm.wait(root_id, timeout=60)

    node = _health_record_stored(devcluster, mine_id)

    own = _sdiag(user, devcluster, "explain", mine_id, "--json")
    assert own.returncode == 0 and "Traceback" not in own.stderr, own.stderr
    doc = json.loads(own.stdout)
    a = doc["attribution"]
    assert (a["label"], a["scope"]) == ("software_env", "user"), a
    # the store's password is root's, yet the user's explain read the node's health record, through
    # the account that may read only the nodes' records (store.nodes_url)
    assert not any("the store" in item or node in item for item in doc["not_checked"]), doc["not_checked"]
    assert f"health:{node}:none" not in {f["id"] for f in doc["findings"]}
    # without that account it says what it could not read, not a traceback
    closed = devcluster.base / "etc" / "sdiag-no-nodes-url.toml"
    closed.write_text("\n".join(line for line in (devcluster.base / "etc" / "sdiag.toml").read_text().splitlines()
                                if not line.startswith("nodes_url")) + "\n")
    closed.chmod(0o644)
    blind = unix_user.run_as(user, [str(Path(sys.executable).parent / "sdiag-agent"), "explain", mine_id, "--json"],
                             env=_env(user, devcluster) | {"SDIAG_CONFIG": str(closed)}, timeout=60)
    closed.unlink()
    assert blind.returncode == 0 and "Traceback" not in blind.stderr, blind.stderr
    assert "node health and probe records (the store)" in json.loads(blind.stdout)["not_checked"]

    refused = _sdiag(user, devcluster, "explain", root_id)
    assert refused.returncode == EXIT_REFUSED, (refused.returncode, refused.stderr)
    assert f"job {root_id} belongs to root" in refused.stderr and "Traceback" not in refused.stderr
    forged = unix_user.run_as(user, [shutil.which("sdiag-agent") or "sdiag-agent", "explain", root_id],
                              env=_env(user, devcluster) | {"USER": "root", "LOGNAME": "root", "SUDO_UID": "0"})
    assert forged.returncode == EXIT_REFUSED, "identity must come from the uid, not the environment"

    assert sdiag("explain", mine_id, env=cluster_env).returncode == 0       # root sees every job


def _health_record_stored(devcluster, job_id: str) -> str:
    """The node the job ran on, once a health report its prolog or epilog wrote for it is in the
    store (the epilog moves the spool into the store, off the job's path)."""
    from slurm_diag.store import Store

    store = Store(devcluster.store_url())
    deadline = time.monotonic() + 60
    try:
        while True:
            for report in store.health_reports(limit=200):
                if report.get("job_id") == job_id:
                    return report["node"]
            assert time.monotonic() < deadline, f"no health report for job {job_id} reached the store"
            time.sleep(0.5)
    finally:
        store.engine.dispose()


def _submitted_as(user, devcluster, *args: str, script: str | None = None, wait: bool = True) -> str:
    """The user's `sbatch --parsable --chdir=/tmp ARGS` (the script on standard input, or --wrap in
    ARGS): its id, once accounting holds the ended job under its owner (unless not ``wait``)."""
    out = unix_user.run_as(user, [shutil.which("sbatch"), "--parsable", "--chdir=/tmp", *args],
                           env=_env(user, devcluster), input=script.encode() if script is not None else None)
    assert out.returncode == 0, out.stderr
    job_id = out.stdout.strip().split(";")[0]
    if wait:
        _wait_accounted(user, devcluster, job_id)
    return job_id


def _explained_as(user, devcluster, job_id: str) -> dict:
    """The user's own `explain JOB_ID --json`."""
    own = _sdiag(user, devcluster, "explain", job_id, "--json")
    assert own.returncode == 0, own.stderr
    return json.loads(own.stdout)


def _explained_output_failure(user, devcluster, output: str) -> tuple[str, dict]:
    """The user submits a job whose -o Slurm cannot open for them (it ends at once, FAILED 0:53, no
    log) and explains it: (job id, attribution), which names the output file as the cause."""
    job_id = _submitted_as(user, devcluster, "-o", output, "--wrap", "echo never printed")
    a = _explained_as(user, devcluster, job_id)["attribution"]
    assert (a["label"], a["scope"]) == ("user_code", "user") and a["supporting"][0] == "sacct:output-file"
    return job_id, a


def test_a_user_whose_output_directory_they_may_not_write_is_told_so(user, devcluster, cluster_env, slurm):  # noqa: F811
    """sbatch -o into a directory root owns: the job ends at once (FAILED 0:53, no log). The user's
    own explain can tell they may not write there; root's, which may write anywhere, names the
    possibilities instead."""
    closed = Path(f"/tmp/sdiag-explain-rootonly-{time.time_ns()}")
    closed.mkdir(mode=0o755)
    try:
        job_id, a = _explained_output_failure(user, devcluster, f"{closed}/%j.out")
        assert f"{user.pw_name} may not write in {closed}" in a["explanation"], a["explanation"]
        by_root = json.loads(sdiag("explain", job_id, "--json", env=cluster_env).stdout)["attribution"]
        assert "its directory exists here" in by_root["explanation"]
    finally:
        closed.rmdir()


def test_a_user_whose_output_file_exists_and_is_roots_is_told_so(user, devcluster, cluster_env, slurm):  # noqa: F811
    """The same, with -o naming a file root already owns in /tmp (which anyone may write in)."""
    taken = Path(f"/tmp/sdiag-explain-rootfile-{time.time_ns()}.out")
    taken.write_text("root's\n")
    taken.chmod(0o644)
    try:
        _, a = _explained_output_failure(user, devcluster, str(taken))
        said = f"{user.pw_name} may not write {taken} (the file exists and its permissions do not let them)"
        assert said in a["explanation"], a["explanation"]
        assert taken.read_text() == "root's\n"
    finally:
        taken.unlink()


def test_a_user_whose_job_writes_where_they_may_not_is_told_it_is_their_path(user, devcluster, slurm):  # noqa: F811
    """The job itself (not its -o) creates a directory and writes a file in a directory root owns:
    bash and mkdir say "Permission denied", and the user's explain calls it the job's own path."""
    closed = Path(f"/tmp/sdiag-explain-rootdir-{time.time_ns()}")
    closed.mkdir(mode=0o755)
    try:
        script = f"#!/bin/sh\necho start\nmkdir {closed}/run1\necho done > {closed}/result.txt\n"
        job_id = _submitted_as(user, devcluster, "-o", "/tmp/sdiag-explain-%j.out", script=script)
        a = _explained_as(user, devcluster, job_id)["attribution"]
        assert (a["label"], a["scope"]) == ("user_code", "user"), a
        assert a["supporting"][0].endswith(":user-path-denied") and "Permission denied" in a["explanation"], a
        assert not any(closed.iterdir())
    finally:
        shutil.rmtree(closed)


def test_a_user_lists_their_jobs_that_ended_badly_and_only_theirs(user, devcluster, cluster_env, slurm):  # noqa: F811
    """`explain --since`: two of the user's jobs fail (a missing module, a misspelt option) and one of
    root's; the user's list holds their two, each with its cause, and the JSON validates. Another
    user's jobs, or every user's, are an administrator's to list: the user is refused (exit 4) and
    root sees all three."""
    from slurm_diag import schemas

    ids = [_submitted_as(user, devcluster, "-o", "/tmp/sdiag-explain-%j.out", "--job-name", "recent",
                         "--wrap", wrap, wait=False)
           for wrap in ("python3 -c 'import sdiag_missing_module_here'", "ls --long-listing /tmp")]
    roots = subprocess.run(["sbatch", "--parsable", "--chdir=/tmp", "-o", "/dev/null", "--wrap", "exit 5"],
                           capture_output=True, text=True, timeout=30,
                           env={"PATH": "/usr/bin:/bin", "SLURM_CONF": str(devcluster.slurm_conf)})
    root_id = roots.stdout.strip()
    for job_id in ids:
        _wait_accounted(user, devcluster, job_id)
    slurm.wait(root_id, timeout=60)

    listed = _sdiag(user, devcluster, "explain", "--since", "10m", "--json")
    assert listed.returncode == 0, listed.stderr
    doc = json.loads(listed.stdout)
    assert not schemas.output_errors("explain_recent", doc)
    causes = {row["job"]["job_id"]: row["attribution"]["label"] for row in doc["jobs"]}
    assert doc["user"] == user.pw_name and {row["job"]["user"] for row in doc["jobs"]} == {user.pw_name}
    assert (causes.get(ids[0]), causes.get(ids[1])) == ("software_env", "user_code"), causes
    assert root_id not in causes
    text = _sdiag(user, devcluster, "explain", "--since", "10m").stdout
    assert f"{ids[1]}" in text and "user_code (your job)" in text and "By cause:" in text

    for args in (("--all",), ("--user", "root")):
        refused = _sdiag(user, devcluster, "explain", "--since", "10m", *args)
        assert refused.returncode == EXIT_REFUSED and "Traceback" not in refused.stderr, refused.stderr
    everyone = json.loads(sdiag("explain", "--since", "10m", "--all", "--json", env=cluster_env).stdout)
    assert {*ids, root_id} <= {row["job"]["job_id"] for row in everyone["jobs"]} and everyone["user"] is None


def test_a_user_is_told_why_their_jobs_wait_and_not_about_roots(user, devcluster, cluster_env):  # noqa: F811
    """`explain --pending`: the user holds two jobs, asks for more nodes than the cluster has, and
    holds an array with a throttle; root holds one. The user's list tells each reason once with its
    jobs (the array's waiting tasks as one), the JSON validates, and root's job is not in it; --all
    is refused them and shows root all."""
    from slurm_diag import schemas

    env = {"PATH": "/usr/bin:/bin", "SLURM_CONF": str(devcluster.slurm_conf)}
    wait = ("--job-name", "waiting", "-o", "/dev/null", "--wrap", "true")
    ids: list[str] = []
    try:
        held = [_submitted_as(user, devcluster, "--hold", *wait, wait=False) for _ in range(2)]
        ids += held
        too_big = _submitted_as(user, devcluster, "-N", "9", *wait, wait=False)
        array = _submitted_as(user, devcluster, "--hold", "--array=0-3%1", *wait, wait=False)
        ids += [too_big, array]
        submitted = subprocess.run(["sbatch", "--parsable", "--hold", "--chdir=/tmp", *wait], capture_output=True,
                                   text=True, timeout=30, env=env)
        assert submitted.returncode == 0, submitted.stderr
        roots = submitted.stdout.strip()
        ids.append(roots)
        deadline = time.monotonic() + 60            # until the scheduler has looked at the big one
        while True:
            listed = _sdiag(user, devcluster, "explain", "--pending", "--json")
            assert listed.returncode == 0, listed.stderr
            doc = json.loads(listed.stdout)
            groups = {g["reason"]: g for g in doc["groups"]}
            if any(r.startswith("Partition") for r in groups) or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert not schemas.output_errors("explain_waiting", doc)
        assert doc["user"] == user.pw_name and {u for g in doc["groups"] for u in g["users"]} == {user.pw_name}
        assert set(groups["JobHeldUser"]["jobs"]) == {*held, f"{array}_[0-3]"}, groups
        assert groups["JobHeldUser"]["next_step"].startswith("scontrol release ")
        big = [g for r, g in groups.items() if r.startswith("Partition")]
        assert len(big) == 1 and big[0]["jobs"] == [too_big], groups
        assert "than the partition" in big[0]["explanation"]
        assert roots not in [j for g in doc["groups"] for j in g["jobs"]]
        text = _sdiag(user, devcluster, "explain", "--pending").stdout
        assert "jobs wait (pending, held or suspended):" in text and f"{array}_[0-3]" in text, text
        refused = _sdiag(user, devcluster, "explain", "--pending", "--all")
        assert refused.returncode == EXIT_REFUSED and "Traceback" not in refused.stderr, refused.stderr
        everyone = json.loads(sdiag("explain", "--pending", "--all", "--json", env=cluster_env).stdout)
        assert {*held, too_big, roots} <= {j for g in everyone["groups"] for j in g["jobs"]}
    finally:
        subprocess.run(["scancel", *ids], timeout=30, env=env)


# a job as `explain` sees it once slurmctld has forgotten it: scontrol's answer is then "Invalid job id"
FORGOTTEN = """
import json, sys
from slurm_diag.diagnose import engine
from slurm_diag.slurm import CommandClient, job_lookup

class Forgetful(CommandClient):
    def _controller_answer(self, base):
        return job_lookup.Answer()

job = Forgetful(conf=sys.argv[1], timeout=30).get_job(sys.argv[2])
d = engine.diagnose_job(job)
print(json.dumps({"read": list(job.request_read), "script_file": job.script_file, "stdout": job.stdout,
                  "label": d.attribution["label"], "not_checked": d.not_checked}))
"""


def _forgotten_as(user, devcluster, job_id: str, ready) -> dict:
    """The user's view of their job once slurmctld has forgotten it (FORGOTTEN), asked again until
    ``ready(view)`` or 30 s: slurmdbd may record a short job's start after its end."""
    deadline = time.monotonic() + 30
    while True:
        done = unix_user.run_as(user, [sys.executable, "-c", FORGOTTEN, str(devcluster.slurm_conf), job_id],
                                env=_env(user, devcluster))
        assert done.returncode == 0, done.stderr
        seen = json.loads(done.stdout)
        if ready(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(1)


def test_a_users_forgotten_job_is_read_from_where_its_script_said(user, devcluster, cluster_env):  # noqa: F811
    """slurmctld has forgotten the job (MinJobAge), and with it the -o its #SBATCH line gave. slurmdbd
    gives the kept script to root but not to this user (no association: `sacct -B` prints nothing for
    them; with one it does, the test below), so the user's explain reads the script's file, named by
    the command line accounting keeps, and finds the log there; root's reads the kept copy. sacct and
    the files are the real ones."""
    script = Path(f"/tmp/sdiag-forgotten-{user.pw_name}.sh")
    script.write_text("#!/bin/sh\n#SBATCH -o /tmp/sdiag-forgotten-user-%j.log\n"
                      "python3 -c 'import json; json.loads(\"{bad\")'\n")
    shutil.chown(script, user.pw_uid, user.pw_gid)
    job_id = _submitted_as(user, devcluster, str(script))
    seen = _forgotten_as(user, devcluster, job_id, lambda view: view["read"])
    assert seen["read"] == ["submit line"] and seen["script_file"] == str(script), seen
    assert seen["label"] == "user_code", seen
    assert not any("stdout" in item for item in seen["not_checked"]), seen["not_checked"]
    as_root = subprocess.run([sys.executable, "-c", FORGOTTEN, str(devcluster.slurm_conf), job_id],
                             capture_output=True, text=True, timeout=60, env=cluster_env)
    root_view = json.loads(as_root.stdout)
    assert "batch script" in root_view["read"] and root_view["stdout"] == "/tmp/sdiag-forgotten-user-%j.log"
    assert root_view["label"] == "user_code", root_view
    script.unlink()


def test_a_user_with_an_association_reads_the_kept_script_of_their_forgotten_job(user, devcluster):  # noqa: F811
    """Where the user has an association (as on a site that enforces them), slurmdbd gives them the
    script and environment accounting kept of their own job: a script sent on standard input, which
    no file on disk holds, still tells where its output went."""
    add = ["sacctmgr", "-i", "add", "user", user.pw_name, "account=root"]
    env = {"PATH": "/usr/bin:/bin", "SLURM_CONF": str(devcluster.slurm_conf)}
    assert subprocess.run(add, capture_output=True, text=True, timeout=60, env=env).returncode == 0
    try:
        script = ("#!/bin/sh\n#SBATCH -o /tmp/sdiag-forgotten-assoc-%j.log\n"
                  "python3 -c 'import json; json.loads(\"{bad\")'\n")
        job_id = _submitted_as(user, devcluster, script=script)
        seen = _forgotten_as(user, devcluster, job_id, lambda view: "batch script" in view["read"])
        assert set(seen["read"]) == {"submit line", "batch script", "environment"}, seen
        assert (seen["stdout"], seen["script_file"]) == ("/tmp/sdiag-forgotten-assoc-%j.log", None), seen
        assert seen["label"] == "user_code", seen
        assert not any("stdout" in item for item in seen["not_checked"]), seen["not_checked"]
    finally:
        subprocess.run(["sacctmgr", "-i", "delete", "user", f"name={user.pw_name}", "account=root"],
                       capture_output=True, timeout=60, env=env)
