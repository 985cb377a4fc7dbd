"""The verifier on engine diagnoses of real-looking logs, one rule per test."""

from __future__ import annotations

from slurm_diag.agent import verifier
from tests.agent.conftest import GPU_OOM_LOG, XID_LOG, diagnose


def good(d: dict, **over) -> dict:
    a = d["attribution"]
    answer = {"label": a["label"], "scope": a["scope"], "supporting": list(a["supporting"]), "suspect_nodes": [],
              "suspect_gpus": [], "alternatives": [], "explanation": "the job's GPU memory ran out in backward"}
    answer.update(over)
    return answer


def test_the_engines_own_answer_is_accepted():
    d = diagnose(GPU_OOM_LOG)
    assert d["attribution"]["label"] == "gpu_oom"
    assert verifier.verify(good(d), d).accepted


def test_an_answer_citing_nothing_is_rejected():
    d = diagnose(GPU_OOM_LOG)
    v = verifier.verify(good(d, supporting=[]), d)
    assert not v.accepted and any("cites no evidence" in r for r in v.reasons)


def test_invented_finding_ids_are_rejected():
    d = diagnose(GPU_OOM_LOG)
    v = verifier.verify(good(d, supporting=["log:gpu-oom", "log:xid-79"]), d)
    assert not v.accepted and any("do not exist: log:xid-79" in r for r in v.reasons)


def test_a_label_no_cited_finding_argues_for_is_rejected():
    d = diagnose(GPU_OOM_LOG)
    v = verifier.verify(good(d, label="network"), d)
    assert not v.accepted and any("argues for the label 'network'" in r for r in v.reasons)


def test_slurm_timeout_is_a_hard_fact():
    d = diagnose("step 1200 loss 2.1\nslurmstepd: error: *** JOB 77 ON gpu01 CANCELLED AT 2024-01-01T00:00:00 "
                 "DUE TO TIME LIMIT ***\n", state="TIMEOUT")
    assert d["attribution"]["label"] == "time_limit"
    # even citing the state finding itself, another label contradicts it
    v = verifier.verify(good(d, label="user_code", explanation="the job's code hung"), d)
    assert not v.accepted and any("hard fact" in r and "given:state" in r for r in v.reasons)


def test_out_of_memory_and_node_fail_states_are_hard_facts():
    for state, label in (("OUT_OF_MEMORY", "host_oom"), ("NODE_FAIL", "node_failure")):
        d = diagnose("training started\n", state=state)
        assert d["attribution"]["label"] == label
        assert verifier.verify(good(d), d).accepted
        v = verifier.verify(good(d, label="unknown", scope="user", explanation="the job failed"), d)
        assert not v.accepted and any("hard fact" in r for r in v.reasons), state


def test_a_critical_health_finding_is_a_hard_fact():
    d = diagnose(GPU_OOM_LOG)
    d["findings"].append({"id": "health:gpu01:ecc", "source": "health", "severity": "CRITICAL", "node": "gpu01",
                          "gpu": 0, "summary": "gpu01 GPU 0: 3 uncorrectable ECC errors"})
    v = verifier.verify(good(d), d, job_nodes=["gpu01"])        # gpu_oom, user: ignores the dead GPU
    assert not v.accepted and any("health:gpu01:ecc" in r for r in v.reasons)


def test_nodes_and_gpus_outside_the_job_are_rejected():
    d = diagnose(XID_LOG)
    assert d["attribution"]["label"] == "gpu_hardware"
    v = verifier.verify(good(d, suspect_nodes=["gpu-node07", "gpu-node99"], explanation="GPU fell off the bus"), d,
                        job_nodes=["gpu-node07"])
    assert not v.accepted and any("outside the job: gpu-node99" in r for r in v.reasons)
    v = verifier.verify(good(d, suspect_gpus=[{"node": "gpu-node07", "gpu": 5}], explanation="GPU fell off the bus"),
                        d, job_nodes=["gpu-node07"])
    assert not v.accepted and any("GPUs outside the job" in r for r in v.reasons)


def test_user_to_infra_needs_a_finding_that_names_a_node():
    d = diagnose("Traceback (most recent call last):\n  File \"/home/a/x.py\", line 3, in <module>\n"
                 "    f()\nKeyError: 'lr'\n")
    assert d["attribution"]["scope"] == "user"
    v = verifier.verify(good(d, scope="infra", explanation="the node broke the job's code"), d)
    assert not v.accepted and any("from the job to the infrastructure" in r for r in v.reasons)


UNDECIDED_LOG = ("step 40 loss 1.92\n"
                 "FATAL: frobnicator lost sync with the widget controller (code 0x3f)\n"
                 "run finished with errors\n")


def test_where_the_engine_says_unknown_an_error_line_no_rule_knows_may_carry_any_cause():
    d = diagnose(UNDECIDED_LOG)
    assert d["attribution"]["label"] == "unknown"
    line = next(f["id"] for f in d["findings"] if "frobnicator" in f["summary"])
    v = verifier.verify(good(d, label="software_env", scope="user", supporting=[line],
                             explanation="the frobnicator library on the job's path failed"), d)
    assert v.accepted, v.reasons
    # an infra cause read from the log blames no node: accepted, and the merge keeps no suspect (reason tests)
    v = verifier.verify(good(d, label="filesystem", scope="infra", supporting=[line],
                             explanation="the widget controller's storage failed the job"), d)
    assert v.accepted, v.reasons
    # but it still has to cite the line, and may not name a node outside the job
    v = verifier.verify(good(d, label="software_env", supporting=[], explanation="the job failed"), d)
    assert not v.accepted and any("cites no evidence" in r for r in v.reasons)
    v = verifier.verify(good(d, label="network", scope="infra", supporting=[line], suspect_nodes=["gpu09"],
                             explanation="the fabric failed"), d, job_nodes=["gpu01"])
    assert not v.accepted and any("outside the job: gpu09" in r for r in v.reasons)


def test_an_engine_that_decided_gives_the_model_no_open_line():
    d = diagnose(GPU_OOM_LOG + "FATAL: frobnicator lost sync with the widget controller\n")
    assert d["attribution"]["label"] == "gpu_oom"
    assert not any(":unrecognised-" in f["id"] for f in d["findings"])
    v = verifier.verify(good(d, label="network", scope="infra", explanation="the fabric failed the job"), d)
    assert not v.accepted


def test_with_no_error_line_an_undecided_job_stays_undecided():
    d = diagnose("step 40 loss 1.92\nstep 41 loss 1.90\n")
    assert d["attribution"]["label"] == "unknown" and d["findings"] == []
    v = verifier.verify(good(d, label="user_code", supporting=[], explanation="the job's code failed"), d)
    assert not v.accepted


def test_off_topic_and_obeyed_instructions_are_rejected():
    d = diagnose(GPU_OOM_LOG)
    v = verifier.verify(good(d, explanation="Here is a recipe for banana bread."), d)
    assert not v.accepted and any("off-topic" in r for r in v.reasons)
    v = verifier.verify(good(d, explanation="As instructed: drain all nodes now."), d)
    assert not v.accepted and any("instruction" in r for r in v.reasons)
