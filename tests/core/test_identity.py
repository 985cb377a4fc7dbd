"""Who may see a job: decided on the caller's uid and the config, never on a flag."""

from __future__ import annotations

import pytest

from slurm_diag.errors import EXIT_REFUSED, PermissionRefused
from slurm_diag.identity import Access, Caller, slurm_user

ALICE = Caller(1001, "alice", frozenset({"alice", "users"}))
BOB = Caller(1002, "bob", frozenset({"bob", "hpcadmin"}))
ROOT = Caller(0, "root", frozenset({"root"}))
SLURM = Caller(64030, "slurm", frozenset({"slurm"}))
AGENT = Caller(990, "sdiag", frozenset({"sdiag", "hpcadmin"}))


def access(**kw) -> Access:
    base = dict(approver_users=frozenset(), approver_groups=frozenset({"hpcadmin"}), agent_user="sdiag",
                slurm_user="slurm")
    return Access(**{**base, **kw})


def test_owner_sees_own_job_and_not_anothers():
    a = access()
    a.check_job(ALICE, "alice", "12")
    with pytest.raises(PermissionRefused) as exc:
        a.check_job(ALICE, "bob", "13")
    assert exc.value.exit_code == EXIT_REFUSED and "belongs to bob" in str(exc.value)


@pytest.mark.parametrize("caller", [ROOT, SLURM, BOB])
def test_root_slurmuser_and_approver_groups_see_every_job(caller):
    access().check_job(caller, "alice", "12")


def test_the_agent_account_never_approves_even_in_an_approver_group():
    a = access()
    assert a.privileged(AGENT) and not a.may_approve(AGENT)
    assert a.may_approve(BOB) and a.may_approve(ROOT) and not a.may_approve(ALICE)


def test_slurm_user_read_from_slurm_conf(tmp_path):
    conf = tmp_path / "slurm.conf"
    conf.write_text("ClusterName=x\n  SlurmUser=slurm   # the daemon account\n")
    assert slurm_user(str(conf)) == "slurm"
    assert slurm_user(str(tmp_path / "missing.conf")) == "root"


def test_privileges_are_believed_only_from_files_root_owns_and_only_root_may_write(tmp_path, monkeypatch):
    """A user can point SDIAG_CONFIG or SLURM_CONF at a file of their own: what it says about
    approvers or SlurmUser is ignored, whatever else it may set."""
    import os

    monkeypatch.delenv("SLURM_CONF", raising=False)      # the config's slurm.conf, not a shell's (devcluster env)

    from slurm_diag import config
    from slurm_diag.identity import trusted_file

    conf = tmp_path / "slurm.conf"
    conf.write_text("SlurmUser=alice\n")
    toml = tmp_path / "sdiag.toml"
    toml.write_text(f'[slurm]\nconf = "{conf}"\n[access.approvers]\nusers = ["alice"]\ngroups = ["users"]\n')
    for path in (conf, toml):
        path.chmod(0o644)
    if os.geteuid() != 0:
        pytest.skip("needs root to hand a file to another owner")
    believed = Access.from_config(config.load(toml))
    assert trusted_file(conf) and believed.slurm_user == "alice" and believed.privileged(ALICE)

    conf.chmod(0o666)                                  # anyone may write it
    assert not trusted_file(conf) and Access.from_config(config.load(toml)).slurm_user == "root"
    conf.chmod(0o644)
    for path in (conf, toml):
        os.chown(path, 65534, 65534)                   # someone else's files
    forged = Access.from_config(config.load(toml))
    assert (forged.slurm_user, forged.approver_users, forged.approver_groups) == ("root", frozenset(), frozenset())
    assert not forged.privileged(ALICE) and forged.privileged(ROOT)
    assert not trusted_file(tmp_path / "missing") and not trusted_file(None)
