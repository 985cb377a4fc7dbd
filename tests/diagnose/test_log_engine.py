"""The engine on a log alone: bounded reading, extraction, root cause over symptoms, Slurm's
facts. Inputs here are written by the team to pin single decisions; the accuracy on real logs is
measured on tests/data/cases by benchmarks/diagnosis_bench.py, not here."""

from __future__ import annotations

import json
import os
import pwd
import tempfile
import tracemalloc
from pathlib import Path

import pytest

from slurm_diag import schemas
from slurm_diag.diagnose import engine, extract, logfile

XID79 = "Dec  1 12:00:00 gpu-node-07 kernel: NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, GPU has fallen off the bus."
WATCHDOG = ("[rank3]:[E ProcessGroupNCCL.cpp:563] [Rank 3] Watchdog caught collective operation timeout: "
            "WorkNCCL(SeqNum=4412, OpType=ALLREDUCE, Timeout(ms)=600000) ran for 600320 milliseconds before timing out")


def diagnose(text, **kw):
    d = engine.diagnose_log(logfile.from_text(text), **kw)
    schemas.validate("attribution", d.attribution)
    for f in d.findings:
        schemas.validate("finding", f)
    return d


def test_ten_gigabyte_log_is_read_in_bounded_memory(tmp_path):
    path = tmp_path / "huge.out"
    with open(path, "wb") as fh:
        fh.seek(10 * 1024**3)                # sparse: 10 GB of NULs that cost no disk, then text
        fh.write(b"\n" + b"step ok\n" * 20_000 + (XID79 + "\n").encode())
    tracemalloc.start()
    log = logfile.read_tail(str(path), max_bytes=64 * 1024)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2 * 1024 * 1024, f"reading the tail took {peak} bytes"
    assert log.size > 10 * 1024**3 and log.truncated
    assert log.usable and log.lines[-1] == XID79
    assert engine.diagnose_log(log).attribution["label"] == "gpu_hardware"


def test_tail_of_a_long_text_log_keeps_the_end(tmp_path):
    path = tmp_path / "long.out"
    path.write_text("step ok\n" * 200_000 + XID79 + "\n")
    log = logfile.read_tail(str(path), max_bytes=4096)
    assert log.usable and log.truncated and log.lines[-1] == XID79
    assert not log.lines[0].startswith("ep ok")          # the partial first line is dropped


def test_missing_and_binary_logs_are_findings_not_silence(tmp_path):
    d = engine.diagnose_log(logfile.read_tail(str(tmp_path / "gone.out")))
    assert d.attribution["label"] == "unknown"
    assert d.findings[0]["severity"] == "UNKNOWN" and "does not exist" in d.findings[0]["summary"]
    assert "the job's output" in d.not_checked
    d = diagnose(bytes(range(256)) * 40)
    assert d.findings[0]["severity"] == "UNKNOWN" and "binary" in d.findings[0]["summary"]


def test_a_fifo_or_directory_named_as_the_output_is_not_read(tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)                     # opened for reading without a writer, a FIFO would block for ever
    log = logfile.read_tail(str(fifo))
    assert not log.usable and "not a regular file" in log.problem
    assert "is a directory" in logfile.read_tail(str(tmp_path)).problem
    assert logfile.read_tail("/dev/null").problem == "the job sent this output to /dev/null: there is none to read"
    assert "not a regular file" in logfile.read_tail("/dev/zero").problem


@pytest.fixture()
def open_dir():
    """A directory every user may enter (pytest's own is its owner's alone)."""
    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        os.chmod(d, 0o755)
        yield Path(d)


@pytest.mark.skipif(os.geteuid() != 0, reason="reading for another user is what root and the agent do")
def test_a_jobs_output_is_read_for_someone_else_only_where_its_owner_could_read_it(open_dir):
    ok = open_dir / "slurm-1.out"
    ok.write_text("Traceback (most recent call last):\nKeyError: 'lr'\n")
    assert logfile.read_tail(str(ok), for_user="nobody").usable               # 0644 in a 0755 directory
    secret = open_dir / "secret"
    secret.write_text("root's own\n")
    secret.chmod(0o600)
    assert logfile.read_tail(str(secret)).usable                              # for root itself
    refused = logfile.read_tail(str(secret), for_user="nobody")
    assert not refused.usable and not refused.lines and "nobody may not read it" in refused.problem
    link = open_dir / "slurm-2.out"                 # the job's own name, pointing at what its owner may not read
    link.symlink_to(secret)
    assert "may not read it" in logfile.read_tail(str(link), for_user="nobody").problem
    hidden = open_dir / "private"
    hidden.mkdir(mode=0o700)
    (hidden / "slurm-3.out").write_text("readable, behind a closed directory\n")
    assert "may not read it" in logfile.read_tail(str(hidden / "slurm-3.out"), for_user="nobody").problem
    unknown = logfile.read_tail(str(ok), for_user="no-such-user-here")
    assert not unknown.usable and "has no account on this host" in unknown.problem
    nobody_said = logfile.read_tail(str(ok), for_user="")         # sacct printed no user for the job
    assert not nobody_said.usable and "does not say whose job it was" in nobody_said.problem


def test_as_root_the_kernel_decides_what_the_jobs_user_may_read(open_dir):
    """Root reads a job's file as its user (their uid and groups, in the child that reads it), so an
    ACL that lets them read a file its permission bits would not is honoured, and one that keeps
    them out of a file the bits would let them read too."""
    import struct

    nobody = pwd.getpwnam("nobody").pw_uid

    def acl(path, user_perm, other_perm):       # user::rw-, user:nobody:<perm>, group::---, mask::r--, other
        entries = [(1, 6, 0xFFFFFFFF), (2, user_perm, nobody), (4, 0, 0xFFFFFFFF), (0x10, 4, 0xFFFFFFFF),
                   (0x20, other_perm, 0xFFFFFFFF)]
        os.setxattr(path, "system.posix_acl_access",
                    struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries))

    granted = open_dir / "slurm-5.out"
    granted.write_text("Traceback (most recent call last):\nKeyError: 'lr'\n")
    acl(granted, 4, 0)                           # others may not; nobody, named, may
    assert logfile.read_tail(str(granted), for_user="nobody").usable
    denied = open_dir / "slurm-6.out"
    denied.write_text("secret\n")
    acl(denied, 0, 4)                            # others may; nobody, named, may not
    assert "nobody may not read it" in logfile.read_tail(str(denied), for_user="nobody").problem


def test_ansi_and_control_characters_are_stripped():
    log = logfile.from_text("\x1b[31mRuntimeError\x1b[0m: boom\x07\r\nnext")
    assert log.lines == ("RuntimeError: boom", "next")


def test_extraction_from_several_log_grammars():
    lines = [
        XID79,
        "gpu-node-07:1234:1240 [3] NCCL INFO cudaDev 3 busId 3b000 - Init COMPLETE",
        "slurmstepd: error: *** JOB 4242 ON node17 CANCELLED AT 2024-01-01T00:00:00 DUE TO TIME LIMIT ***",
        "srun: error: node18: task 3: Exited with exit code 1",
        "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 79.15 GiB total)",
        "NCCL WARN NET/IB : Got completion from peer 10.1.2.3<45678> with error 12",
        "an A100 GPU 80GB card; NodeList=node[1-2,7]; see slurm-4243_2.out; tensor on cuda:1",
    ]
    got = extract.extract(lines, {"0000:3b:00.0": 3})
    assert got.nodes == ["gpu-node-07", "node17", "node18", "node1", "node2", "node7"]
    assert got.gpus == [3, 0, 1]                          # "GPU 80GB" is not GPU 80
    assert got.xids == [79]
    assert got.job_ids == ["4242", "4243_2"]
    assert got.ips == ["10.1.2.3"] and got.ports == [45678]
    assert got.pci_bus_ids == ["0000:3b:00.0"]


def test_a_fabric_error_names_the_host_that_reported_it_without_implicating_it():
    # UCX prefixes each line with the host that printed it; a timed-out endpoint may be either end
    d = diagnose("[gn31:15382:0:15382]    ud_ep.c:280  Fatal: UD endpoint 0x2037b60 to <no debug data>: "
                 "unhandled timeout error")
    assert d.extracted["nodes"] == ["gn31"]
    assert d.attribution["label"] == "network" and d.attribution["suspect_nodes"] == []
    # a GPU fault is the printing host's own
    assert diagnose("[gn32:1:0:1] NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus.").attribution[
        "suspect_nodes"] == ["gn32"]


def test_xid79_on_one_rank_beats_watchdog_timeouts_on_every_rank():
    d = diagnose("\n".join([WATCHDOG, XID79, WATCHDOG.replace("Rank 3", "Rank 0")]))
    a = d.attribution
    assert (a["label"], a["scope"]) == ("gpu_hardware", "infra")
    assert a["suspect_nodes"] == ["gpu-node-07"]
    assert "log:xid-79" in a["supporting"]
    assert "log:net-symptom" not in a["contradicting"]     # a symptom does not argue against the root


def test_watchdog_timeouts_alone_are_unknown_not_network():
    d = diagnose(WATCHDOG)
    assert d.attribution["label"] == "unknown" and d.attribution["scope"] == "user"
    assert d.alternatives[0]["label"] == "network"


def test_an_exception_on_one_rank_beats_the_peers_it_took_down():
    text = "\n".join([
        "[rank1]: Traceback (most recent call last):",
        '[rank1]:   File "train.py", line 7, in main',
        '[rank1]:     raise ValueError("bad config")',
        "[rank1]: ValueError: bad config",
        "[rank0]: torch.distributed.DistBackendError: NCCL error: remote process exited or there was a network error",
    ])
    a = diagnose(text).attribution
    assert (a["label"], a["scope"]) == ("user_code", "user")
    assert "ValueError: bad config" in a["explanation"] and "main at train.py:7" in a["explanation"]


def test_illegal_address_is_the_jobs_unless_the_gpu_shows_hardware_errors():
    illegal = "RuntimeError: CUDA error: an illegal memory access was encountered"
    assert diagnose(illegal).attribution["label"] == "user_code"
    assert diagnose(illegal + "\n" + XID79).attribution["label"] == "gpu_hardware"
    app_xid = "NVRM: Xid (PCI:0000:3b:00): 31, pid=77, Ch 00000008, intr 10000000. MMU Fault"
    a = diagnose(illegal + "\n" + app_xid).attribution
    assert (a["label"], a["scope"]) == ("user_code", "user")


@pytest.mark.parametrize("text,label,scope", [
    ("OSError: [Errno 28] No space left on device: '/scratch/ckpt/step_1000.pt'", "filesystem", "infra"),
    ("OSError: [Errno 122] Disk quota exceeded", "filesystem", "user"),
    ("ModuleNotFoundError: No module named 'flash_attn'", "software_env", "user"),
    ("python: symbol lookup error: libtorch.so: undefined symbol: _ZN3c10", "software_env", "user"),
    ("Failed to initialize NVML: Driver/library version mismatch", "software_env", "infra"),
    ("torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", "gpu_oom", "user"),
    ("slurmstepd: error: Detected 1 oom-kill event(s) in StepId=12.batch. Some of your processes may have "
     "been killed by the cgroup out-of-memory handler.", "host_oom", "user"),
    ("slurmstepd: error: *** JOB 12 ON node1 CANCELLED AT 2024-01-01T00:00:00 DUE TO TIME LIMIT ***",
     "time_limit", "user"),
    ("slurmstepd: error: *** JOB 12 ON node1 CANCELLED AT 2024-01-01T00:00:00 DUE TO PREEMPTION ***",
     "scheduler", "infra"),
    ("NCCL WARN NET/IB : Got completion from peer 10.1.2.3<45678> with error 12, opcode 0, len 0, "
     "vendor err 129 (Recv)", "network", "infra"),
    ("kernel: Kernel panic - not syncing: Fatal exception", "node_failure", "infra"),
    ("nvidia-smi: GPU 0000:3b:00.0: HW Slowdown: Active", "gpu_throttle", "infra"),
])
def test_one_line_families(text, label, scope):
    a = diagnose(text).attribution
    assert (a["label"], a["scope"]) == (label, scope), a["explanation"]


@pytest.mark.parametrize("state,code,label", [
    ("OUT_OF_MEMORY", 0, "host_oom"), ("TIMEOUT", 0, "time_limit"), ("NODE_FAIL", 0, "node_failure"),
    ("PREEMPTED", 0, "scheduler"), ("FAILED", 139, "user_code"), ("FAILED", 127, "software_env"),
])
def test_slurm_states_and_exit_codes(state, code, label):
    assert diagnose("nothing useful here", state=state, exit_code=code).attribution["label"] == label


def test_a_dead_gpu_that_hung_the_job_until_its_limit_is_the_root_cause():
    d = diagnose(XID79, state="TIMEOUT")
    assert d.attribution["label"] == "gpu_hardware"
    assert d.alternatives[0]["label"] == "time_limit"


def test_slurm_oom_state_is_not_overruled_by_a_python_error():
    d = diagnose("ValueError: x", state="OUT_OF_MEMORY")
    assert d.attribution["label"] == "host_oom"
    assert d.attribution["contradicting"] == ["log:user-exception"]


def test_a_bare_exit_code_is_unknown():
    assert diagnose("epoch 1 done", state="FAILED", exit_code=1).attribution["label"] == "unknown"


def test_hosts_from_prompts_and_slurm_node_failures():
    assert extract.nodes_in("idf2@koelsch:~$ nvidia-smi") == ["koelsch"]
    assert extract.nodes_in("salloc: error: Node failure on worker-1") == ["worker-1"]
    assert extract.nodes_in("the node is fine and the host is up") == []


def test_a_host_named_like_a_gpu_is_a_host():
    line = "srun: error: Task launch for StepId=1234.0 failed on node gpu12: Invalid node name specified"
    assert extract.nodes_in(line) == ["gpu12"] and extract.gpus_in(line) == []
    assert extract.gpus_in("slurmstepd: error: *** JOB 5 ON gpu3 CANCELLED AT 2024-01-01T00:00:00 ***") == []
    assert extract.gpus_in("gpu3 SM clock 200 MHz under load") == [3]       # a GPU where no host is named


def test_nccl_packed_bus_id_maps_to_a_gpu():
    line = "n1:1:1 [5] NCCL INFO Rank 5 cudaDev 5 busId ca000 nvmlDev 5"
    assert extract.pcis_in(line) == ["0000:ca:00.0"]
    assert extract.gpus_in(line, {"0000:ca:00.0": 5}) == [5]


def test_traceback_names_the_raising_frame_and_the_jobs_own_caller():
    text = "\n".join([
        "Traceback (most recent call last):",
        '  File "/home/u/train.py", line 40, in load_config',
        "    cfg = json.loads(raw)",
        '  File "/usr/lib/python3.11/json/__init__.py", line 346, in loads',
        "    return _default_decoder.decode(s)",
        "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)",
    ])
    a = diagnose(text).attribution
    assert "raised in loads at /usr/lib/python3.11/json/__init__.py:346" in a["explanation"]
    assert "called from load_config at /home/u/train.py:40" in a["explanation"]


def test_a_job_that_slows_down_with_rising_temperatures_points_at_gpu_clocks():
    lines = [f"step {i}: {v} tokens/s, gpu temp {t} C" for i, (v, t) in
             enumerate([(1000, 60), (1010, 70), (990, 80), (930, 85), (880, 88), (860, 90), (850, 91), (845, 91)])]
    a = diagnose("\n".join(lines)).attribution
    assert a["label"] == "gpu_throttle" and "fell 16%" in a["explanation"]


def test_a_steady_or_recovering_throughput_is_no_finding():
    steady = "\n".join(f"epoch {i}: {v} it/s" for i, v in enumerate([10.0, 10.2, 9.9, 10.1, 10.0, 10.1]))
    assert diagnose(steady).attribution["label"] == "unknown"
    dip = "\n".join(f"epoch {i}: {v} it/s" for i, v in enumerate([10.0, 10.2, 8.0, 8.1, 10.3, 10.1]))
    assert diagnose(dip).attribution["label"] == "unknown"


def test_the_knowledge_base_is_asked_only_when_the_question_is_open():
    from slurm_diag.kb.entries import content_dir, load_dir

    asked = []

    def entries():
        asked.append(1)
        return load_dir(content_dir())

    d = engine.diagnose_log(logfile.from_text(WATCHDOG), kb_entries=entries)
    assert asked and d.attribution["label"] == "unknown"
    assert any(f["source"] == "kb" for f in d.findings)
    assert d.attribution["next_steps"][0].startswith("the knowledge base (")
    asked.clear()
    engine.diagnose_log(logfile.from_text(XID79), kb_entries=entries)
    assert not asked                                   # the signs decided: no entries loaded


TASKPROLOG = "31: slurmstepd: error: TaskProlog failed status=1\n 3: slurmstepd: error: TaskProlog failed status=1"


def _site_entry(signature, label="user_code", scope="user", source=True):
    from slurm_diag.kb.entries import Entry

    return Entry(id=f"added-{label}-1", problemkey=(label,), rawtext=signature, function="agent.attribution",
                 result="this site's TaskProlog refuses a request for cores; ask for whole nodes", label=label,
                 scope=scope, component=label, severity="warning", signatures=(signature,), action="notify_user",
                 source={"kind": "attribution", "job_id": "4242"} if source else None,
                 origin="/var/lib/sdiag/kb/added.jsonl:1")


def test_a_failure_the_site_confirmed_before_decides_the_next_job_that_fails_the_same_way():
    assert diagnose(TASKPROLOG).attribution["label"] == "unknown"
    site = _site_entry(r"slurmstepd:\s+error:\s+TaskProlog\s+failed\s+status=\d+")
    d = diagnose(TASKPROLOG, kb_entries=lambda: [site])
    a = d.attribution
    assert (a["label"], a["scope"]) == ("user_code", "user")
    assert a["supporting"] == ["kb:added-user_code-1"]
    assert "confirmed before" in a["explanation"] and "4242" not in a["explanation"]   # maybe another user's job
    assert a["next_steps"][0].startswith("the knowledge base (added-user_code-1): this site's TaskProlog")
    raw = next(f for f in d.findings if f["source"] == "kb")["raw"]
    assert raw["site_confirmed"] and raw["text"].endswith("TaskProlog failed status=1")


@pytest.mark.parametrize("signature,source,origin", [
    ("Killed", True, None),                                                       # too generic to decide
    ("long enough literal text here|.", True, None),                              # matches any line
    ("(?:long enough literal text here)?", True, None),
    (r"slurmstepd:\s+error:\s+TaskProlog\s+failed\s+status=\d+", False, None),      # shipped, not the site's
    (r"slurmstepd:\s+error:\s+TaskProlog\s+failed\s+status=\d+", True, "/opt/kb/content/x.jsonl:3"),  # not added
])
def test_a_short_loose_or_shipped_signature_only_suggests(signature, source, origin):
    from dataclasses import replace

    entry = _site_entry(signature, source=source)
    entry = replace(entry, origin=origin) if origin else entry
    d = diagnose(TASKPROLOG + "\nKilled", kb_entries=lambda: [entry])
    assert d.attribution["label"] == "unknown"
    assert d.alternatives[0]["label"] == "user_code"


NCCL_ABORT = ("[E ProcessGroupNCCL.cpp:455] Some NCCL operations have failed or timed out. Due to the asynchronous "
              "nature of CUDA kernels, subsequent GPU operations might run on corrupted/incomplete data.")


def test_a_web_address_a_compute_node_cannot_resolve_is_the_jobs_with_the_users_next_step():
    a = diagnose("Error: HTTPSConnectionPool(host='api.example.com', port=443): Max retries exceeded with url: /x "
                 "(Caused by NameResolutionError(\"<urllib3.connection.HTTPSConnection object at 0x1>: Failed to "
                 "resolve 'api.example.com' ([Errno -2] Name or service not known)\"))").attribution
    assert (a["label"], a["scope"]) == ("network", "user")
    assert a["next_steps"][0].startswith("compute nodes often cannot reach the internet")
    assert not any("fabric links" in step for step in a["next_steps"])
    # a peer's name that MPI cannot resolve is not a download: not this rule's
    assert diagnose("mpirun: Could not resolve host: gpu-node-12.cluster.example.org").attribution["label"] == "unknown"


def test_a_site_entry_for_a_line_many_causes_print_only_suggests():
    # the site found this job's cause (the fabric); the next job printing the same symptom may have
    # failed another way, so the entry cannot decide it
    site = _site_entry(r"Some\s+NCCL\s+operations\s+have\s+failed\s+or\s+timed\s+out", label="network",
                       scope="infra")
    d = diagnose(NCCL_ABORT, kb_entries=lambda: [site])
    assert d.attribution["label"] == "unknown" and d.alternatives[0]["label"] == "network"
    raw = next(f for f in d.findings if f["source"] == "kb")["raw"]
    assert not raw["site_confirmed"]


def test_a_site_entry_for_a_line_a_shipped_entry_knows_only_suggests():
    from dataclasses import replace

    shipped = replace(_site_entry(r"TaskProlog\s+failed", label="scheduler", source=False), id="slurm-taskprolog")
    site = _site_entry(r"slurmstepd:\s+error:\s+TaskProlog\s+failed\s+status=\d+")
    assert diagnose(TASKPROLOG, kb_entries=lambda: [shipped, site]).attribution["label"] == "unknown"


def test_the_sites_entry_never_overrules_the_engines_own_answer():
    site = _site_entry("GPU has fallen off the bus", label="user_code")
    assert diagnose(XID79, kb_entries=lambda: [site]).attribution["label"] == "gpu_hardware"


def test_an_unreadable_knowledge_base_is_listed_as_not_checked():
    from slurm_diag.kb.entries import EntryError

    def broken():
        raise EntryError("/x/kb/added.jsonl:4: not valid JSON", hint="fix or remove that line")
    d = diagnose(TASKPROLOG, kb_entries=broken)
    assert d.attribution["label"] == "unknown"
    assert any(n.startswith("the knowledge base, which could not be read: /x/kb/added.jsonl:4")
               and "fix or remove that line" in n for n in d.not_checked)


def test_literal_letters_ignore_classes_and_operators():
    from slurm_diag.diagnose.kb_hits import literal_letters

    assert literal_letters(r"Killed") == 6
    assert literal_letters(r"\d+\s+[0-9a-fA-F]+0x[0-9a-fA-F]+") == 0
    assert literal_letters(r"TaskProlog\s+failed\s+status=\d+") == len("TaskPrologfailedstatus")


def test_the_watchdogs_own_abort_is_a_symptom_but_a_segfault_after_it_stays_a_crash():
    aborted = WATCHDOG + "\nterminate called after throwing an instance of 'c10::DistBackendError'\n" \
                         "srun: error: gpu-a11: tasks 0-7: Aborted (core dumped)"
    assert diagnose(aborted).attribution["label"] == "unknown"
    segfault = WATCHDOG + "\nsrun: error: gpu-a11: task 3: Segmentation fault (core dumped)"
    assert diagnose(segfault).attribution["label"] == "user_code"
    before = "srun: error: gpu-a11: tasks 0-7: Aborted (core dumped)\n" + WATCHDOG
    assert diagnose(before).attribution["label"] == "user_code"      # an abort before any timeout is the job's


def test_an_exception_quoted_without_its_traceback_header_is_the_jobs():
    frames = ('[rank3]:   File "/work/sft/data/collator.py", line 57, in __call__\n'
              '[rank3]:     batch["labels"] = [f["labels"] for f in features]\n'
              "[rank3]: KeyError: 'labels'\n" + WATCHDOG)
    d = diagnose(frames)
    assert d.attribution["label"] == "user_code"
    assert "KeyError" in d.attribution["explanation"] and "collator.py" in d.attribution["explanation"]


def test_a_ranks_bare_exception_line_is_the_jobs_unless_it_is_a_peers_symptom():
    first = "[rank1]: RuntimeError: mat1 and mat2 shapes cannot be multiplied (64x2048 and 1024x4096)\n" + WATCHDOG
    assert diagnose(first).attribution["label"] == "user_code"
    symptom = "[rank0]: torch.distributed.DistBackendError: NCCL communicator was aborted on rank 0\n" + WATCHDOG
    assert diagnose(symptom).attribution["label"] == "unknown"


def test_a_cloud_that_refused_the_node_is_the_cause_of_the_node_failure_after_it():
    log = ("update_node: node cl-nodeset-1 reason set to: GCP Error: Quota CPUS_PER_VM_FAMILY exceeded. Limit: 12.0\n"
           "requeue job JobId=2 due to failure of node cl-nodeset-1")
    a = diagnose(log).attribution
    assert (a["label"], a["scope"]) == ("scheduler", "infra")
    assert diagnose("requeue job JobId=2 due to failure of node cl-nodeset-1").attribution["label"] == "node_failure"


def test_a_straggler_the_job_reported_before_its_time_limit_is_the_cause():
    report = ("INFO:megatron.core.utils:| MnRtt/Rnk: 1446.49ms/13 | MnEtpt/Rnk: 88.82TF/30 | MxEtpt/Rnk: 608.83TF/13\n")
    limit = "slurmstepd: error: *** JOB 5512093 ON nvl-05 CANCELLED AT 2024-10-24T01:30:00 DUE TO TIME LIMIT ***"
    d = diagnose(report + limit)
    assert d.attribution["label"] == "slow_node" and "rank 30" in d.attribution["explanation"]
    assert "time_limit" in [a["label"] for a in d.alternatives]
    even = report.replace("88.82TF", "590.10TF")
    assert diagnose(even + limit).attribution["label"] == "time_limit"   # no rank far behind: the limit


UNDECIDED = """\
step 10 loss 2.10
validation: 0 errors, 0 failures
FATAL: frobnicator lost sync with the widget controller (code 0x3f)
retrying widget 7: handshake failed
retrying widget 9: handshake failed
  File "/home/alice/widget.py", line 12, in sync
step 11 loss 2.09
widget pool: cannot recover, giving up
"""


def test_when_nothing_decides_the_last_unrecognised_error_lines_are_pointed_at():
    d = diagnose(UNDECIDED)
    assert d.attribution["label"] == "unknown"
    lines = [f for f in d.findings if f["id"].startswith("log:unrecognised-")]
    # the last three distinct error lines, in log order: 'no errors' lines, frames and repeats are not errors
    assert [f["raw"]["line"] for f in lines] == [3, 5, 8]
    assert all(f["severity"] == "UNKNOWN" for f in lines)
    assert d.attribution["supporting"] == []                    # they argue for nothing
    assert d.attribution["next_steps"][0] == ("read the error lines no rule recognises, the last at log line 8: "
                                              "widget pool: cannot recover, giving up")


def test_pythons_words_between_chained_tracebacks_are_not_an_error_line():
    d = diagnose("widget pool: cannot recover, giving up\n\n"
                 "During handling of the above exception, another exception occurred:\n\n"
                 "The above exception was the direct cause of the following exception:\n")
    texts = [f["raw"]["text"] for f in d.findings if "unrecognised" in f["id"]]
    assert texts == ["widget pool: cannot recover, giving up"]


def test_a_decided_log_gets_no_unrecognised_lines_and_sign_lines_are_never_among_them():
    decided = diagnose(UNDECIDED + XID79 + "\n")
    assert decided.attribution["label"] == "gpu_hardware"
    assert not [f for f in decided.findings if "unrecognised" in f["id"]]
    symptom_only = diagnose(WATCHDOG + "\nwidget pool: cannot recover, giving up\n")
    assert symptom_only.attribution["label"] == "unknown"
    texts = [f["raw"]["text"] for f in symptom_only.findings if "unrecognised" in f["id"]]
    assert texts == ["widget pool: cannot recover, giving up"]     # the watchdog line is a sign's, not unknown


def test_explain_log_shows_the_unrecognised_lines(tmp_path, capsys):
    from tests.conftest import run_main

    path = tmp_path / "job.out"
    path.write_text(UNDECIDED)
    code, out, err = run_main(capsys, "explain", "--log", str(path))
    assert code == 0, err
    assert "Error lines no rule recognises:" in out
    assert "widget pool: cannot recover, giving up  (log line 8)" in out


def test_explain_cuts_a_long_alternative_at_a_word_and_says_so(tmp_path, capsys):
    from tests.conftest import run_main

    path = tmp_path / "job.out"
    path.write_text("mpirun noticed that process rank 12 with PID 48213 on node gpu-node-017.cluster.example.org "
                    "exited on signal 9 (Killed).\n")
    code, out, err = run_main(capsys, "explain", "--log", str(path))
    assert code == 0, err
    shown = out.split("Also considered:\n", 1)[1].splitlines()[0].split(": ", 1)[1]
    code, out, err = run_main(capsys, "explain", "--log", str(path), "--json")
    full = json.loads(out)["alternatives"][0]["summary"]
    assert len(full) > 160 and shown.endswith("...") and len(shown) <= 160
    kept = shown[:-3]
    assert full.startswith(kept) and full[len(kept)] == " "           # cut between words, not inside one


def test_one_container_bridge_is_a_hint_several_decide():
    one = "n1:1:1 [0] NCCL INFO NET/Socket : Using [0]docker0:172.17.0.1<0>\nRuntimeError: NCCL communicator was aborted\n"
    assert diagnose(one).attribution["label"] == "unknown"
    many = ("NCCL INFO NET/Socket : Using\n[0]bond0:192.168.1.161<0>\n[1]br-05ab815fa14e:172.19.0.1<0>\n"
            "[2]br-d5d80d7dbbad:172.21.0.1<0>\n[3]veth6163fba:fe80::b878:6cff:fe52:abe2%veth6163fba<0>\n")
    d = diagnose(many)
    assert (d.attribution["label"], d.attribution["scope"]) == ("network", "infra")
