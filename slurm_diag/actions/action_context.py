"""What every action step needs: the store, the Slurm adapter, the config, and who is calling
(by uid). The store opens on first use, so a caller refused by identity never touches it."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from slurm_diag.actions.breaker import Limits
from slurm_diag.errors import PermissionRefused
from slurm_diag.identity import Access, Caller


@dataclass
class Context:
    cfg: object
    caller: Caller
    access: Access
    client: object = None
    _store: object = field(default=None, repr=False)

    @classmethod
    def from_config(cls, cfg=None, *, client=None, store=None, caller: Caller | None = None) -> "Context":
        from slurm_diag import config as config_mod

        cfg = cfg or config_mod.load()
        if client is None:
            from slurm_diag.slurm import default_client
            client = default_client(cfg)
        return cls(cfg, caller or Caller.current(), Access.from_config(cfg), client, store)

    @cached_property
    def store(self):
        if self._store is None:
            from slurm_diag.store import Store
            self._store = Store(self.cfg.store_url)
        return self._store

    @property
    def actor(self) -> str:
        return self.caller.name

    @property
    def limits(self) -> Limits:
        return Limits.from_config(self.cfg)

    @property
    def policy(self) -> dict:
        return self.cfg.get("health.policy")

    @property
    def may_approve(self) -> bool:
        return self.access.may_approve(self.caller)

    def require_approver(self, what: str) -> None:
        """Refuse (exit 4) unless the calling uid may approve: root, SlurmUser or access.approvers,
        never the agent's account."""
        if self.may_approve:
            return
        agent = self.access.agent_user and self.caller.name == self.access.agent_user
        why = ("it is the agent's account (access.agent_user): the agent proposes, a person decides" if agent
               else "it is not root, not SlurmUser and not in access.approvers (users or groups)")
        raise PermissionRefused(f"you ({self.caller.name}, uid {self.caller.uid}) may not {what}: {why}",
                                hint="ask an approver; an admin adds approvers under [access.approvers] in the config")

    def require_person(self, what: str) -> None:
        """A person's proposal skips the evidence rules (its reason is its evidence), so the agent's
        account may not make one: it proposes through `agent run`, with findings behind each drain."""
        if self.access.agent_user and self.caller.name == self.access.agent_user:
            raise PermissionRefused(f"you ({self.caller.name}, uid {self.caller.uid}) may not {what}: it is the "
                                    "agent's account (access.agent_user), whose proposals must carry their evidence",
                                    hint="the agent proposes through `sdiag-agent agent run`; a person runs "
                                         "`actions propose` as themself")

    def require_proposer(self, what: str = "propose node or job actions") -> None:
        """Proposals come from, and are seen by, the agent's account or a person who may see every
        job (they quote findings about other users' jobs)."""
        if self.access.privileged(self.caller) or (self.access.agent_user and self.caller.name == self.access.agent_user):
            return
        raise PermissionRefused(f"you ({self.caller.name}, uid {self.caller.uid}) may not {what}: only approvers, "
                                "root, SlurmUser and the agent's account may",
                                hint="tell an administrator what you saw; `sdiag-agent explain JOBID` shows your own jobs")
