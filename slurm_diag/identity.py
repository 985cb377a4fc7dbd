"""Who is calling, and what they may see or approve: the one place that answers it.

Identity is the calling process's real uid, never a flag or an environment variable. root,
Slurm's SlurmUser and the configured approvers (``access.approvers``: unix users and groups) see
every job; anyone else sees their own. The agent's account (``access.agent_user``) may propose
but never approve, even when it is listed as an approver.

Who is privileged is believed only from files root owns and only root may write: a user can point
SDIAG_CONFIG or SLURM_CONF at a file of their own, and what such a file says about approvers or
SlurmUser is ignored (it may still name the cluster and the store, which grant nothing).
"""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass

from slurm_diag.errors import PermissionRefused


@dataclass(frozen=True)
class Caller:
    uid: int
    name: str
    groups: frozenset[str]

    @classmethod
    def current(cls) -> "Caller":
        uid = os.getuid()
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            name = str(uid)
        groups = set()
        for gid in {os.getgid(), *os.getgroups()}:
            try:
                groups.add(grp.getgrgid(gid).gr_name)
            except KeyError:
                groups.add(str(gid))
        return cls(uid, name, frozenset(groups))


def trusted_file(path) -> bool:
    """Root owns it and no one else may write it, so what it says about privileges can be believed."""
    try:
        st = os.stat(path)
    except (OSError, TypeError, ValueError):
        return False
    return st.st_uid == 0 and not st.st_mode & 0o022


def _trusted(cfg, key: str):
    """A privilege setting's value, or its empty default when it came from somewhere a user controls
    (a file not root's, or the environment)."""
    source = cfg.sources.get(key, "default")
    if source == "default" or (source.startswith("file:") and trusted_file(source.removeprefix("file:"))):
        return cfg.get(key)
    return type(cfg.get(key))()


def slurm_user(conf_path: str | None) -> str:
    """SlurmUser from slurm.conf (Slurm's default is root); read from the file, no daemon asked."""
    if not conf_path:
        return "root"
    try:
        with open(conf_path, encoding="utf-8", errors="replace") as fh:
            for raw in fh:
                line = raw.split("#", 1)[0].strip()
                key, _, value = line.partition("=")
                if key.strip().lower() == "slurmuser" and value.strip():
                    return value.strip().split()[0]
    except OSError:
        pass
    return "root"


@dataclass(frozen=True)
class Access:
    approver_users: frozenset[str]
    approver_groups: frozenset[str]
    agent_user: str
    slurm_user: str

    @classmethod
    def from_config(cls, cfg) -> "Access":
        """Approvers and SlurmUser from trusted files only (see the module's note); the agent's
        account, which only takes rights away, from wherever the config says."""
        conf = cfg.get("slurm.conf") or os.environ.get("SLURM_CONF")
        return cls(frozenset(_trusted(cfg, "access.approvers.users")),
                   frozenset(_trusted(cfg, "access.approvers.groups")),
                   cfg.get("access.agent_user"), slurm_user(conf if trusted_file(conf) else None))

    def privileged(self, caller: Caller) -> bool:
        """root, SlurmUser or a configured approver: sees every job."""
        return (caller.uid == 0 or caller.name == self.slurm_user or caller.name in self.approver_users
                or bool(caller.groups & self.approver_groups))

    def may_approve(self, caller: Caller) -> bool:
        if self.agent_user and caller.name == self.agent_user:
            return False
        return self.privileged(caller)

    def check_job(self, caller: Caller, owner: str | None, job_id: str) -> None:
        """Raise PermissionRefused unless the caller owns the job or is privileged."""
        if self.privileged(caller) or (owner and owner == caller.name):
            return
        raise PermissionRefused(f"job {job_id} belongs to {owner or 'another user'}, not to you ({caller.name})",
                      hint="you can explain your own jobs; an administrator (root, SlurmUser or an approver "
                           "in access.approvers) can explain any job")
