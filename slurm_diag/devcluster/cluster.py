"""A real Slurm cluster on one machine: munge, MariaDB + slurmdbd, slurmctld and N slurmd.

Everything lives under ``<home>/devcluster``; daemons are started by hand (no systemd) and
stopped by pid file. ``up`` is idempotent: it starts what is missing and waits until every node
answers and accounting works.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

from slurm_diag import config as config_mod, process
from slurm_diag.devcluster import daemons, templates
from slurm_diag.devcluster.daemons import Daemon
from slurm_diag.devcluster.templates import Layout
from slurm_diag.errors import EnvironmentProblem, UsageError
from slurm_diag.slurm import gateway
from slurm_diag.slurm.errors import SlurmCommandError

REPO = Path(__file__).resolve().parents[2]
PROFILES = Path(__file__).resolve().parents[1] / "gpu" / "profiles"
HEALTHY_PROFILE = "h100-8-healthy"
REQUIRED = {
    "munged": "munge", "mungekey": "munge", "mariadbd": "mariadb-server",
    "mariadb-install-db": "mariadb-server", "mariadb": "mariadb-client", "slurmdbd": "slurmdbd",
    "slurmctld": "slurmctld", "slurmd": "slurmd", "sinfo": "slurm-client", "sacctmgr": "slurm-client",
}


def layout(nodes: int | None = None, cfg: config_mod.Config | None = None) -> Layout:
    """The cluster's layout: from the running cluster's record, else config (and ``nodes``)."""
    cfg = cfg or config_mod.load()
    base = cfg.home / "devcluster"
    record = base / "etc" / "layout.json"
    if nodes is None and record.exists():
        try:
            saved = json.loads(record.read_text())
            return Layout(base=base, **{k: v for k, v in saved.items() if k != "base"})
        except (ValueError, TypeError):
            pass  # unreadable record: fall back to config and rewrite it on `up`
    dc = cfg.get("devcluster")
    return Layout(base=base, nodes=nodes or dc["nodes"], gpus_per_node=dc["gpus_per_node"],
                  cpus_per_node=dc["cpus_per_node"], memory_mb=dc["memory_mb"],
                  base_port=dc["base_port"], spank_allow_off=dc["spank_allow_off"])


def slurm_env(lay: Layout) -> dict[str, str]:
    return {"SLURM_CONF": str(lay.slurm_conf)}


def all_daemons(lay: Layout) -> list[Daemon]:
    b = lay.base
    munge = Daemon("munged", (
        "munged", f"--key-file={b}/munge/etc/munge.key", f"--socket={lay.munge_socket}",
        f"--pid-file={b}/run/munged.pid", f"--log-file={b}/log/munged.log",
        f"--seed-file={b}/munge/lib/munged.seed", "--force"),
        b / "run" / "munged.pid", b / "log" / "munged.out", forks=True)
    mysql = Daemon("mariadbd", (
        "mariadbd", "--no-defaults", f"--datadir={b}/mysql/data", f"--socket={lay.mysql_socket}",
        f"--port={lay.mysql_port}", "--bind-address=127.0.0.1", "--user=root",
        "--skip-log-bin", f"--pid-file={b}/run/mariadbd.real.pid", "--innodb-buffer-pool-size=64M"),
        b / "run" / "mariadbd.pid", b / "log" / "mariadbd.log", forks=False)
    dbd = Daemon("slurmdbd", ("slurmdbd",), b / "run" / "slurmdbd.pid",
                 b / "log" / "slurmdbd.out", forks=True)
    ctld = Daemon("slurmctld", ("slurmctld", "-i"), b / "run" / "slurmctld.pid",
                  b / "log" / "slurmctld.out", forks=True)
    slurmds = [Daemon(f"slurmd-{n}", ("slurmd", "-N", n), b / "run" / f"slurmd-{n}.pid",
                      b / "log" / f"slurmd-{n}.out", forks=True) for n in lay.node_names]
    return [munge, mysql, dbd, ctld, *slurmds]


def daemon(lay: Layout, name: str) -> Daemon:
    for d in all_daemons(lay):
        if d.name == name:
            return d
    raise UsageError(f"no daemon {name!r} in the local cluster",
                     hint="names: " + ", ".join(d.name for d in all_daemons(lay)))


def preflight() -> None:
    if os.geteuid() != 0:
        raise EnvironmentProblem("the local cluster must be started as root (it runs slurmd and MariaDB)",
                                 hint="run as root, e.g. `sudo sdiag-agent devcluster up`")
    missing = sorted({pkg for prog, pkg in REQUIRED.items() if not shutil.which(prog)})
    if missing:
        raise EnvironmentProblem(f"missing Debian packages: {' '.join(missing)}",
                                 hint="run `make setup` (or apt-get install --no-install-recommends "
                                      + " ".join(missing) + ")")


def _write(path: Path, text: str, mode: int = 0o644) -> bool:
    """Write when changed; True when the content changed. The file has ``mode`` from its first
    byte (a secret is never readable by others, not even for a moment)."""
    changed = not path.exists() or path.read_text() != text
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.unlink(missing_ok=True)
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "w") as fh:
            os.fchmod(fh.fileno(), mode)      # the umask may have taken bits away
            fh.write(text)
        tmp.replace(path)
    path.chmod(mode)
    return changed


def _reachable(path: Path) -> None:
    """Ordinary users submit jobs: they must reach slurm.conf and munge's socket below ``path``.
    Every directory above it gets o+x (enter, not list) when it lacks it, e.g. /root (0700)."""
    for parent in reversed(path.parents):
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod((mode & 0o7777) | 0o001)


def prepare(lay: Layout) -> bool:
    """Lay out directories and config files. True when slurm.conf changed."""
    b = lay.base
    for sub in ("etc", "run", "log", "state/ctld", "munge/etc", "munge/run", "munge/lib",
                "mysql/data", "mysql/run", "fakedev", "profiles", "bin", "spool"):
        (b / sub).mkdir(parents=True, exist_ok=True)
    (b / "munge" / "etc").chmod(0o700)
    (b / "mysql" / "data").chmod(0o700)       # MariaDB's files hold the accounts' password hashes
    for sub in ("", "etc", "munge", "munge/run"):
        (b / sub).chmod(0o755)
    _reachable(b)
    for name in lay.node_names:
        (b / "state" / "d" / name).mkdir(parents=True, exist_ok=True)
        (b / "state" / "tmp" / name).mkdir(parents=True, exist_ok=True)
    for i in range(max(lay.gpus_per_node, 1)):
        dev = b / "fakedev" / f"nvidia{i}"
        if not dev.is_symlink():
            dev.unlink(missing_ok=True)
            dev.symlink_to("/dev/null")
    for name in lay.node_names:
        profile = b / "profiles" / f"{name}.json"
        healthy = PROFILES / f"{HEALTHY_PROFILE}.json"
        if not profile.exists() and healthy.exists():
            shutil.copyfile(healthy, profile)
    for hook in ("prolog", "epilog", "healthcheck"):
        _write(b / "bin" / hook, templates.hook_wrapper(
            lay, script=REPO / "prolog" / f"{hook}.sh", python=sys.executable, repo=REPO), 0o755)
    _write(b / "etc" / "plugstack.conf", plugstack(lay, lay.spank_allow_off))
    _write(b / "etc" / "gres.conf", templates.gres_conf(lay))
    _write(b / "etc" / "cgroup.conf", templates.cgroup_conf(lay))
    _write(b / "etc" / "slurmdbd.conf", templates.slurmdbd_conf(lay), 0o600)
    _write(b / "etc" / "store.url", lay.store_url() + "\n", 0o600)   # the password: root only
    _write(b / "etc" / "sdiag.toml", templates.sdiag_toml(lay))        # world-readable, no secret
    _write(b / "etc" / "layout.json", json.dumps({k: v for k, v in asdict(lay).items() if k != "base"}))
    return _write(lay.slurm_conf, templates.slurm_conf(lay))


def plugstack(lay: Layout, allow_off: bool = True) -> str:
    """Load the SPANK plugin when it has been built (``make -C spank``)."""
    plugin = REPO / "spank" / "sdiag_health.so"
    if plugin.exists():
        return f"required {plugin} default=quick allow_off={'yes' if allow_off else 'no'}\n"
    return "# SPANK plugin not built yet: make -C spank\n"


def _mysql(lay: Layout, sql: str, timeout: float = 10) -> process.Completed:
    return process.run(["mariadb", "--no-defaults", "-S", str(lay.mysql_socket), "-u", "root",
                        "-N", "-e", sql], timeout=timeout)


def _checked(argv: list[str], timeout: float) -> None:
    done = process.run(argv, timeout=timeout)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no message"]
        raise EnvironmentProblem(f"`{argv[0]}` exited {done.returncode}: {detail[0]}",
                                 hint="`sdiag-agent devcluster wipe` for a clean start, then `up`")


def _wait(what: str, probe, timeout: float, log: Path | None = None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = probe()
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"; last one is reported
            last, result = exc, None
        if result:
            return result
        time.sleep(0.2)
    where = f"; see {log}" if log else ""
    raise EnvironmentProblem(f"{what} not ready after {timeout:g} s ({last or 'no answer'}){where}",
                             hint="`sdiag-agent devcluster down` then `up`, or `devcluster wipe` for a clean start")


def start_database(lay: Layout, say) -> None:
    data = lay.p("mysql", "data")
    if not (data / "mysql").exists():
        say("initialising MariaDB")
        _checked(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
                  "--auth-root-authentication-method=socket", "--skip-test-db"], timeout=120)
    d = daemon(lay, "mariadbd")
    daemons.start(d, {})
    _wait("MariaDB", lambda: _mysql(lay, "select 1").returncode == 0, 60, d.log_file)
    pw = templates.DB_PASSWORD
    sql = "".join(
        f"CREATE USER IF NOT EXISTS 'slurm'@'{host}' IDENTIFIED BY '{pw}';"
        f"GRANT ALL ON slurm_acct_db.* TO 'slurm'@'{host}';"
        f"GRANT ALL ON sdiag.* TO 'slurm'@'{host}';"
        f"GRANT ALL ON `sdiag_test%`.* TO 'slurm'@'{host}';"
        for host in ("localhost", "127.0.0.1"))
    done = _mysql(lay, sql + "CREATE DATABASE IF NOT EXISTS sdiag; FLUSH PRIVILEGES;")
    if done.returncode != 0:
        raise EnvironmentProblem(f"could not create the accounting user in MariaDB: {done.stderr.strip()}",
                                 hint=f"see {d.log_file}")
    grant_node_records(lay)


def grant_node_records(lay: Layout, database: str = "sdiag", user: str = templates.NODES_DB_USER,
                       password: str = templates.NODES_DB_PASSWORD) -> None:
    """The account users' explain reads the nodes' records with (store.nodes_url): SELECT on those
    and nothing else. A table must exist before it is granted, so the store is created first."""
    from slurm_diag.store import Store
    from slurm_diag.store import tables

    Store(lay.db_url(database)).engine.dispose()
    sql = "".join(
        f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY '{password}';"
        + "".join(f"GRANT SELECT ON `{database}`.`{name}` TO '{user}'@'{host}';" for name in tables.NODE_RECORDS)
        for host in ("localhost", "127.0.0.1"))
    done = _mysql(lay, sql + "FLUSH PRIVILEGES;")
    if done.returncode != 0:
        raise EnvironmentProblem(f"could not grant the nodes' records to {user} in MariaDB: {done.stderr.strip()}",
                                 hint=f"see {lay.p('log', 'mariadbd.log')}")


def _slurm(lay: Layout, argv: list[str], timeout: float = 10) -> str:
    return gateway.run(argv, timeout=timeout, env=slurm_env(lay), conf_hint=str(lay.slurm_conf)).stdout


def start_accounting(lay: Layout, say) -> None:
    d = daemon(lay, "slurmdbd")
    daemons.start(d, slurm_env(lay))
    # the first answer of slurmdbd (a tuple, so that an empty cluster list still counts as an answer)
    (answer,) = _wait("slurmdbd", lambda: (_slurm(lay, ["sacctmgr", "-n", "-P", "show", "cluster", "format=cluster"]),),
                      60, lay.p("log", "slurmdbd.log"))
    clusters = answer.split()
    if templates.CLUSTER_NAME not in clusters:
        say(f"registering cluster {templates.CLUSTER_NAME} in accounting")
        _slurm(lay, ["sacctmgr", "-i", "add", "cluster", templates.CLUSTER_NAME])


def node_states(lay: Layout) -> dict[str, str]:
    out = _slurm(lay, ["sinfo", "-h", "-N", "-o", "%N %T"])
    return dict(line.split(None, 1) for line in out.splitlines() if line.strip())


def _nodes_ready(lay: Layout) -> bool:
    states = node_states(lay)
    if set(states) != set(lay.node_names):
        return False
    # '*' = not responding; '~'/'#'/'%' = power states; drained nodes count as up (an admin's choice)
    return all(s.rstrip("$@^-!") in {"idle", "mixed", "allocated", "drained", "draining", "completing"}
               for s in states.values())


def up(lay: Layout, say=print, timeout: float = 90) -> None:
    preflight()
    conf_changed = prepare(lay)
    env = slurm_env(lay)
    key = lay.p("munge", "etc", "munge.key")
    if not key.exists():
        _checked(["mungekey", "-c", "-k", str(key)], timeout=30)
        key.chmod(0o600)
    daemons.start(daemon(lay, "munged"), {})
    start_database(lay, say)
    start_accounting(lay, say)
    slurm = [d for d in all_daemons(lay) if d.name == "slurmctld" or d.name.startswith("slurmd-")]
    if conf_changed and any(d.pid() for d in slurm):
        say("slurm.conf changed: restarting slurmctld and slurmd")
        for d in slurm:
            daemons.stop(d)
    # slurmd of nodes no longer in the layout (fewer --nodes than before)
    for stale in lay.p("run").glob("slurmd-*.pid"):
        name = stale.stem.removeprefix("slurmd-")
        if name not in lay.node_names:
            daemons.stop(Daemon(f"slurmd-{name}", (), stale, stale, True))
    for d in slurm:
        if not d.pid():
            say(f"starting {d.name}")
            daemons.start(d, env)
    _wait(f"{lay.nodes} idle nodes", lambda: _nodes_ready(lay), timeout, lay.p("log", "slurmctld.log"))


def down(lay: Layout, say=print) -> None:
    for d in reversed(all_daemons(lay)):
        if daemons.stop(d):
            say(f"stopped {d.name}")


def wipe(lay: Layout, say=print) -> None:
    down(lay, say)
    if lay.base.exists():
        shutil.rmtree(lay.base)
        say(f"removed {lay.base}")


def status(lay: Layout) -> dict:
    procs = [{"name": d.name, "pid": pid, "running": pid is not None, "log": str(d.log_file)}
             for d in all_daemons(lay) for pid in [d.pid()]]
    nodes: list[dict] = []
    error = None
    if any(p["running"] and p["name"] == "slurmctld" for p in procs):
        from slurm_diag.slurm.client import CommandClient
        try:
            client = CommandClient(conf=str(lay.slurm_conf), timeout=10)
            nodes = [n.to_dict() for n in client.list_nodes()]
        except SlurmCommandError as exc:
            error = str(exc)
    return {"base": str(lay.base), "slurm_conf": str(lay.slurm_conf), "nodes_configured": lay.nodes,
            "daemons": procs, "nodes": nodes, "error": error}


def set_profile(lay: Layout, node: str, profile: str) -> Path:
    """Give ``node`` a GPU profile (shipped name or a path); takes effect on the next check."""
    if node not in lay.node_names:
        raise UsageError(f"no node {node!r} in the local cluster", hint="nodes: " + ", ".join(lay.node_names))
    source = Path(profile)
    if not source.exists():
        source = PROFILES / f"{profile.removesuffix('.json')}.json"
    if not source.exists():
        shipped = sorted(p.stem for p in PROFILES.glob("*.json"))
        raise UsageError(f"no GPU profile {profile!r}", hint="shipped profiles: " + (", ".join(shipped) or "none"))
    from slurm_diag.gpu import profile as profile_mod

    profile_mod.load(source)       # a malformed profile raises ProfileError naming the field; nothing installed
    target = lay.p("profiles", f"{node}.json")
    tmp = target.with_suffix(".tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(target)
    return target


CPU_CGROUP = Path("/sys/fs/cgroup/cpu")


def _cgroup(lay: Layout, node: str) -> Path:
    return CPU_CGROUP / f"sdiag-{lay.base_port}-{node}"


def tasks_on(node: str, proc: Path = Path("/proc")) -> list[int]:
    """Processes of the jobs running on ``node`` now: Slurm sets SLURMD_NODENAME in every task's
    environment (the nodes of the local cluster share one kernel, so the environment tells them apart).
    A prolog or epilog carries it too, with SLURM_SCRIPT_CONTEXT: those are not the job's tasks."""
    mark = f"SLURMD_NODENAME={node}".encode()
    pids = []
    for entry in proc.glob("[0-9]*"):
        try:
            env = (entry / "environ").read_bytes().split(b"\0")
            if mark in env and not any(v.startswith(b"SLURM_SCRIPT_CONTEXT=") for v in env):
                pids.append(int(entry.name))
        except OSError:
            continue  # ended meanwhile, or not ours to read
    return pids


def slow(lay: Layout, node: str, cpu_quota: float, running_jobs: bool = False) -> Path:
    """Slow ``node`` for real: its slurmd (and so every job it starts) gets ``cpu_quota`` CPUs; with
    ``running_jobs`` the tasks of the jobs running there now too (a node that slows down mid-job)."""
    if node not in lay.node_names:
        raise UsageError(f"no node {node!r} in the local cluster", hint="nodes: " + ", ".join(lay.node_names))
    if not 0.01 <= cpu_quota <= 64:
        raise UsageError(f"--cpu-quota {cpu_quota}: expected a number of CPUs between 0.01 and 64")
    if not (CPU_CGROUP / "cgroup.procs").exists():
        raise EnvironmentProblem(f"no cgroup v1 cpu controller at {CPU_CGROUP}",
                                 hint="this machine cannot throttle one node; run the probes without `slow`")
    pid = daemon(lay, f"slurmd-{node}").pid()
    if not pid:
        raise EnvironmentProblem(f"slurmd of {node} is not running", hint="`sdiag-agent devcluster up`")
    group = _cgroup(lay, node)
    group.mkdir(exist_ok=True)
    period = 100_000
    (group / "cpu.cfs_period_us").write_text(f"{period}\n")
    (group / "cpu.cfs_quota_us").write_text(f"{int(cpu_quota * period)}\n")
    (group / "cgroup.procs").write_text(f"{pid}\n")
    for task in tasks_on(node) if running_jobs else ():
        try:
            (group / "cgroup.procs").write_text(f"{task}\n")
        except OSError:
            pass  # ended meanwhile
    return group


def unslow(lay: Layout, node: str) -> bool:
    """Undo ``slow``: slurmd back in the root cpu cgroup, the quota lifted. True when it was slowed."""
    group = _cgroup(lay, node)
    if not group.exists():
        return False
    for pid in (group / "cgroup.procs").read_text().split():
        try:
            (CPU_CGROUP / "cgroup.procs").write_text(f"{pid}\n")
        except OSError:
            pass  # the process ended meanwhile
    (group / "cpu.cfs_quota_us").write_text("-1\n")
    try:
        group.rmdir()
    except OSError:
        pass  # a job's process still inside: it leaves when the job ends
    return True
