"""Signs: what a line of a job's log says about the cause, as data.

Each sign names the attribution label it points to, whose fault it is, the component, and a
tier: how close to the root cause such a line usually is. Tier 0 is a root cause that explains
everything after it (a GPU fallen off the bus, a kernel panic); tier 4 is a symptom that other
causes produce too (an NCCL watchdog timeout, a peer that went away). The attribution takes the
lowest tier present, so a cascade is named for its root: an Xid 79 on one rank beats the watchdog
timeouts it caused on every rank, and a Python exception on one rank beats the "remote process
exited" it caused on the others.

A sign may name the signs it ``explains`` on the same line (a bus error's "core dumped" is not a
separate crash) and the other labels ``also`` known to print that line (a bus error is also what
exhausted host memory looks like): those are ranked as alternatives, after the evidence's own.

Tiers and scopes are a judgement; the team's evaluation set (tests/data/cases) measures them.
Every sign states a general fact about a message, never a string lifted from one case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from slurm_diag.diagnose import anchors as anchors_mod
from slurm_diag.diagnose import cuda_codes

# Xid codes: the hardware ones (DESIGN.md's gpu_hardware), and those an application's own kernel
# causes (an illegal address, an exception in a user kernel): a job's fault, not the node's.
# 144-150: the NVLink5 link errors of Blackwell (SAW, RLW, TLW, TREX, NVLPW, NETIR, MSE)
# 110: a security fault in the GPU's firmware; 136: NVLink link training failed; 143: the GPU's FSP did not boot
HARDWARE_XIDS = frozenset({48, 61, 62, 63, 64, 74, 79, 92, 94, 95, 110, 119, 120, 121, 136, 140, 143, 144, 145, 146,
                           147, 148, 149, 150, 154})
APPLICATION_XIDS = frozenset({13, 31, 43, 45})


@dataclass(frozen=True)
class Sign:
    id: str
    label: str
    scope: str          # "infra" or "user"
    component: str
    tier: int
    source: str         # the regular expression, compiled on first use (most never meet a line of theirs)
    flags: int
    summary: str
    explains: tuple[str, ...] = ()   # signs that, on the same line, are this one's symptom
    also: tuple[str, ...] = ()       # other causes known to print the same line: ranked as alternatives
    anchors: frozenset[str] | None = None   # text every match contains (anchors.py); None: try every line

    @property
    def pattern(self) -> re.Pattern:
        return _compiled(self.source, self.flags)

    def search(self, line: str, lowered: str):
        """The pattern's match on the line, tried only when the lowercased line holds an anchor."""
        return self.pattern.search(line) if anchors_mod.may_match(self.anchors, lowered) else None


_REGISTRY: list[Sign] = []
# compiling every sign at import would cost about a tenth of a second on each `explain`; a pattern is
# compiled when a line first holds one of its anchors
_compiled = lru_cache(maxsize=None)(re.compile)


def sign(id: str, label: str, scope: str, component: str, tier: int, pattern: str, summary: str,
         flags: int = re.IGNORECASE, explains: tuple[str, ...] = (), also: tuple[str, ...] = ()) -> None:
    _REGISTRY.append(Sign(id, label, scope, component, tier, pattern, flags, summary, explains, also,
                          anchors_mod.cached(pattern, flags)))


def all_signs() -> tuple[Sign, ...]:
    return tuple(_REGISTRY)


def by_id(sign_id: str) -> Sign:
    return next(s for s in _REGISTRY if s.id == sign_id)


def candidates(lowered: str) -> list[Sign]:
    """The signs that may match a line (lowercased), in registry order: those holding one of their
    anchors, found through the anchors' first three characters, plus those without anchors. A long
    log's lines mostly hold no anchor at all, and then cost one set intersection, not a substring
    test per anchor of every sign."""
    always, by_gram = _index(len(_REGISTRY))
    grams = {lowered[i:i + 3] for i in range(len(lowered) - 2)}
    found = set(always)
    for gram in grams & by_gram.keys():
        for anchor, at in by_gram[gram]:
            if at not in found and anchor in lowered:
                found.add(at)
    return [_REGISTRY[at] for at in sorted(found)]


@lru_cache(maxsize=2)
def _index(size: int):
    """(the registry positions of signs without anchors, first three characters -> (anchor, position))."""
    always, by_gram = [], {}
    for at, sign in enumerate(_REGISTRY[:size]):
        if sign.anchors is None or any(len(a) < 3 for a in sign.anchors):
            always.append(at)
            continue
        for anchor in sign.anchors:
            by_gram.setdefault(anchor[:3], []).append((anchor, at))
    return tuple(always), by_gram


# ---- GPU hardware (tier 0: explains everything after it)
sign("gpu-off-bus", "gpu_hardware", "infra", "gpu", 0,
     r"fallen off the bus|GPU is lost|Unable to determine the device handle for GPU.*Unknown Error|"
     r"RmInitAdapter failed|rm_init_adapter failed|GPU requires reset|gpu has been lost|GPU lost from the bus|"
     r"NV_ERR_GPU_IS_LOST|gres/gpu count reported lower than configured|XidCriticalError|gres/gpu: Count changed on node|"
     r"gres/gpu count (?:too low|changed and jobs are using them|mismatch on node)|"
     r"device marked unhealthy|device will go unhealthy",
     "a GPU fell off the bus or was lost")
sign("gpu-ecc-uncorrectable", "gpu_hardware", "infra", "gpu", 0,
     r"uncorrectable ECC error|cudaErrorECCUncorrectable|double[- ]bit ECC(?![\w ]*[:|]\s*0\b)|DBE \(double bit error\)|"
     r"ECC page retirement or row remapp(?:er|ing) (?:failure|is pending)|row remap(?:ping)? failure|"
     r"uncorrectable memory errors|Reason: DRAM ECC failure|HW Exception by GPU .*reason ?:ECC|row remapping failed|row remappings? (?:are|is) pending|CUDA_ERROR_CONTAINED|cudaErrorContained",
     "uncorrectable GPU memory (ECC) error or failed row remapping")
sign("gpu-gsp", "gpu_hardware", "infra", "gpu", 0,
     r"Timeout waiting for RPC from GSP|GSP (?:RPC )?timeout|GSP firmware.*(?:error|failed)|"
     r"_issueRpcAndWait: .*timed ?out|rpcRecvPoll timed ?out",
     "the GPU's system processor (GSP) stopped answering")
sign("gpu-nvlink", "gpu_hardware", "infra", "nvlink", 1,
     r"NVLink (?:error|fatal|fault|training failed)|NVL(?:ink)? (?:uncorrectable|fatal)|nvswitch.*(?:fatal|error)|"
     r"NvLink link \d+ is (?:currently )?down|cudaErrorNvlinkUncorrectable|fatal errors on NvSwitch|"
     r"NvSwitch .*NvLink (?:port \d+ )?is (?:currently )?down|NVSwitch \d+'s NvLink \d+ is down|fatal NvSwitch SXID|"
     r"NVRM: knvlink\w+: .*\bfailed|P2P is disabled between NVLINK connected GPUs",
     "an NVLink / NVSwitch error", explains=("net-fabric",))
# what DCGM's diagnostics, nvidia-smi -q and node health checks report about a GPU's memory and state
sign("gpu-health-report", "gpu_hardware", "infra", "gpu", 1,
     r"pending retired page|retired pages (?:have been detected|due to DBEs)|Pending page retirements|"
     r"corrupt InfoROM|InfoROM is corrupted|single-bit ECC error\(s\) detected|faulty memory elements|"
     r"memory mismatch was detected on GPU|miscompare failure|nvidia-healthmon returned failure|"
     r"Pending Page Blacklist\s*: Yes|Remapping Failure Occurred\s*: Yes|(?:DRAM|SRAM) Uncorrectable\s*: [1-9]|"
     r"Reset Required\s*: Yes|Drain and Reset Recommended\s*: Yes|PCI I/O region assigned to your NVIDIA device is invalid|"
     r"no healthy devices present; cannot allocate unhealthy devices|nvidia-smi: +(?:Interrupt issue with a GPU|"
     r"Power cables not attached)|GPU does not have the necessary power cables connected",
     "a GPU health check found failing memory or a GPU that needs a reset (retired or remapped pages, ECC, "
     "InfoROM, DCGM's memory tests)")
sign("gpu-pcie-fatal", "gpu_hardware", "infra", "pcie", 0,
     r"^(?=.*\bnvidia\b)(?!.*Non-Fatal).*(?:\bAER\b.*(?:Uncorrected \(Fatal\)|can't recover|recovery failed)|"
     r"PCIe Bus Error: severity=Uncorrected \(Fatal\)|\bCmpltTO\b)",
     "the kernel saw an unrecoverable PCIe error on a GPU (AER): the GPU or its slot failed")
sign("gpu-init-failed", "gpu_hardware", "infra", "gpu", 1,
     r"cudaErrorDevicesUnavailable|all CUDA-capable devices are busy or unavailable|"
     r"CUDA-capable device\(s\) is/are busy or unavailable",
     "the GPU could not be initialised", also=("software_env",))

# ---- the node itself
sign("node-panic", "node_failure", "infra", "node", 0,
     r"Kernel panic|\*\*\* (?:JOB|STEP) \S+ ON \S+ UNCORRECTABLE MEMORY ERROR AT|kernel BUG at|(?<!Correctable )Machine Check Exception|\bmce: \[Hardware Error\]|"
     r"EDAC .*(?:UE|uncorrected)|soft lockup - CPU#|hard LOCKUP|unable to handle (?:kernel )?(?:NULL pointer|paging)|"
     r"general protection fault(?::\s*[0-9a-f]{4} \[#\d+\]|, probably for non-canonical)|\bOops: [0-9a-f]{4} \[#\d+\]|"
     r"GHES: Fatal hardware error|mce: Memory error not recovered|softdog: Initiating system reboot|"
     r"critical temperature reached \(\d+ C\), shutting down",
     "the node's kernel crashed or reported a hardware error")
# a Lustre client assertion (LBUG): the filesystem client's bug, which then panics the node
sign("fs-lustre-lbug", "filesystem", "infra", "lustre", 0,
     r"LustreError: .*\bLBUG\b|Kernel panic - not syncing: LBUG",
     "the node's Lustre client hit an internal assertion (LBUG) and panicked the node: the filesystem client's fault",
     explains=("node-panic",), also=("node_failure",))
sign("pcie-fatal", "node_failure", "infra", "pcie", 1,
     r"PCIe Bus Error: severity=Uncorrected \(Fatal\)|AER: (?:Multiple )?Uncorrected \(Fatal\) error|"
     r"AER: device recovery failed|Uncorrectable \(Fatal\) error message received|DPC: containment event|"
     r"nvme\d+: controller is down|nvme\d+: Removing after probe failure",
     "the kernel saw an unrecoverable PCIe error (AER): a device or its slot failed",
     also=("gpu_hardware", "network"))
# the kernel panicked because memory ran out (panic_on_oom, or deadlocked on memory): the memory is the cause
sign("host-oom-panic", "host_oom", "user", "memory", 0,
     r"Kernel panic - not syncing: (?:Out of memory|System is deadlocked on memory)",
     "the node's kernel panicked on running out of memory", explains=("node-panic",), also=("node_failure",))
sign("node-stall", "node_failure", "infra", "node", 1,
     r"rcu_\w+ (?:self-)?detected (?:expedited )?stalls?|rcu_\w+ kthread starved for|BUG: workqueue lockup|"
     r"NMI received for unknown reason|NMI: (?:PCI system error|IOCK error)",
     "the node's kernel stalled or took an unexplained NMI")
sign("node-memory", "node_failure", "infra", "memory", 0,
     r"^(?!.*\b0 (?:Uncorrect|UE\b))(?=.*(?:DIMM|Memory #|Memory Device|\bcsrow|\bEDAC\b)).*(?:Uncorrectable|uncorrected|\bUE\b)|"
     r"Memory failure: .*hardware memory corruption|Uncorrected hardware memory error|Memory failure: 0x[0-9a-f]+: recovery action|"
     r"MCE: Killing \S+ due to hardware memory corruption|"
     r"\| Memory #?\S* \| (?:Memory Device Disabled|Parity|Memory Scrub Failed|Uncorrectable ECC\S*) \| Asserted",
     "the node's memory (a DIMM) had an uncorrectable error", explains=("gpu-ecc-uncorrectable", "env-shm"))
# "Limit Removed" is the firmware clearing the event it raised when the limit was reached: the
# DIMM still passed it
sign("node-dimm-failing", "node_failure", "infra", "memory", 1,
     r"Memory Logging Limit (?:Reached|Removed) for (?:memory device|DIMM)|"
     r"(?:DIMM|memory device) \S+ (?:has been|was|is) disabled\b(?! (?:by|in) (?:the )?(?:BIOS|setup|user))|"
     r"Correctable (?:ECC|memory error) logging (?:limit reached|disabled)",
     "the node's firmware gave up logging a DIMM's errors or disabled it: the DIMM is failing")
# the BMC's event log and the node health check (NHC) saying the node itself is failing
sign("node-bmc", "node_failure", "infra", "node", 1,
     r"Processor \S+ Status \| (?:IERR|Thermal Trip)|Watchdog2? \S* ?\| Hard reset|"
     r"Critical Interrupt \S+ \| (?:PCI SERR|PCI PERR|Bus Uncorrectable error|Bus Fatal Error)|watchdog timer reset the system|"
     r"\| (?:Critical Overtemperature|Undetermined system hardware failure|Run-time critical stop) \| Asserted|"
     r"pciehp: Slot\(\d+\): Link Down|"
     r"check_hw_(?:physmem|cpuinfo|mcelog): |Node bootstrap error|is associated with instance \S+ .*failing health check|"
     r"Node failing scheduled_events_check|unhealthy node is being replaced|\bInstanceUnhealthy\b|\bInstanceTerminating\b|"
     r"degradation of the underlying hardware|running on degraded hardware|failed to appear in time|"
     r"Some nodes in node group .* failed",
     "the node's BMC or health check reports a failing processor, memory size, watchdog reset or bus error",
     explains=("net-fabric",))
sign("node-power", "node_failure", "infra", "power", 1,
     r"Power Supply.*(?:Failure|AC lost|lost)|PSU\S* .*(?:fail|lost)",
     "the node's power supply failed or lost input power")
sign("node-hw-errors", "node_failure", "infra", "memory", 3,
     r"^(?=.*(?:DIMM|Memory #|Memory Device|\bcsrow|\bEDAC\b)).*(?:\b[1-9]\d* CE\b|Correctable ECC)|"
     r"\[Hardware Error\]|Hardware error from APEI|CMCI storm detected|Correctable Machine Check Exception|"
     r"Correctable memory error rate exceeded",
     "the node reported corrected hardware errors (a DIMM failing, the firmware's error log): weak on its own")
sign("node-fail", "node_failure", "infra", "node", 0,
     r"DUE TO NODE FAILURE|\bNODE_FAIL\b|Node failure on|nodes? .* not responding|\bNOT_RESPONDING\b|"
     r"\bNot responding \[slurm@|Killing JobId=\d+ on failed node|due to failure of node|\bBOOT_FAIL\b|"
     r"received SISTER_EOF|missing from batch node .*Requeuing job|lost communication with \S+, killing job|"
     r"could not JOIN_JOB successfully|node down: communication closed|execution node \S+ down|"
     r"lost connection to (?:the )?(?:node|slurmd)|Communication connection failure|"
     r"node\.kubernetes\.io/unreachable|NodeNotReady|Kubelet stopped posting node status|lost contact with job shell|"
     r"Something is wrong with the boot of the nodes|Nodes \S+ are still not ready|not resumed by ResumeTimeout|"
     r"Reason=ResumeTimeout reached|terminated in response to imminent node shutdown|Host EC2 \(instance \S+\) terminated|"
     r"preempted \(node failure\)|VMRecreatedDuringExecution|ping RPC timeout from \S+ after \d+s|"
     r"evicted as there was no replacement for unhealthy node|"
     r"Scheduler health check failed|The actor is dead because its node has died",
     "Slurm lost the node under the job")
# a node whose cloud instance, VM or Ray/Kubernetes node went away under the job
sign("node-cloud-gone", "node_failure", "infra", "cloud", 1,
     r"no corresponding instance in EC2 for node|Node is incorrectly attached to scheduler|Reason=Unbacked instance|"
     r"Reason=Instance (?:terminated|stopped/deleted)|not found in CycleCloud, but slurm thinks it does exist|"
     r"is in a failed state\. Ignoring|LocalRayletDiedError|node was terminated unexpectedly: health check failed|"
     r"TaintManagerEviction|NodeAffinitySchedulingStrategy doesn't exist any more",
     "the node under the job went away (its cloud instance or VM ended, or the cluster manager lost it)")
sign("node-rebooted", "node_failure", "infra", "node", 0,
     r"Node unexpectedly rebooted|rebooted unexpectedly|\bunexpectedly rebooted\b|\bNodeLost\b|node \S+ (?:is )?NotReady|"
     r"power (?:outage|failure|loss)\b|State=DOWN\*|\bdown\*\s|"
     r"\b(?:node|host) \S+ (?:was |has been )rebooted",
     "the node rebooted or was lost under the job")
sign("node-back", "node_failure", "infra", "node", 3,
     r"Node \S+ now responding",
     "slurmctld heard from a node that had stopped answering")
sign("node-unreachable", "node_failure", "infra", "node", 2,
     r"connect to host \S+ port \d+: (?:No route to host|Connection timed out)|\bHost is down\b",
     "a node of the job could not be reached")
sign("controller-down", "node_failure", "infra", "slurmctld", 1,
     r"Unable to contact slurm controller|slurmctld (?:is )?(?:down|not responding)",
     "a Slurm command could not reach the controller: slurmctld or its host is down", also=("scheduler",))

# ---- host memory
sign("host-oom-kill", "host_oom", "user", "memory", 1,
     r"oom[-_]kill(?:ed)? event|Out of memory: Kill(?:ed)? process|Memory cgroup out of memory|oom_reaper: reaped|"
     r"killed as a result of limit of|killed by the OOM killer|: task \d+: Out Of Memory|"
     r"exceeded a memory resource limit|\bTERM_SWAP\b|OOM killer terminated this process|Container killed due to memory usage|Exceeded step memory limit|Exit_status = -27\b|"
     r"gone over memory limit|memory usage exceeded request_memory|due to memory pressure for|killed due to memory pressure \(OOM\)|"
     r"exceeds job hard limit \"h_vmem\"|exceeded \d+% memory budget|ray\.exceptions\.OutOfMemoryError|"
     r"^\s*(?:\[[\d. ]+\] )?memory: usage \d+kB, limit \d+kB, failcnt \d+|"
     r"\bOUT_OF_MEMORY\b|\bOUT_OF_ME\+|oom-kill:constraint|invoked oom-killer|Some of your processes may have been killed by the cgroup out-of-memory handler|"
     r"exceeded (?:job |virtual )?memory limit|\bTERM_MEMLIMIT\b|\bOOMKilled\b|job killed: v?mem .*exceeded limit|"
     r"node was low on resource: memory|Workers? \(tasks / actors\) killed due to memory pressure|"
     r"The node had condition: \[MemoryPressure\]|container init was OOM-killed|oom_reaper: unable to reap pid|"
     r"Out of memory and no killable processes|^\s*(?:\[[^\]]*\] )?Memory cgroup stats for /|Failed with result 'oom-kill'|"
     r"killed due to the node running low on memory|ray-oom-prevention\.html",
     "the job ran out of host memory (OOM killer)", explains=("env-driver",))
sign("host-oom-hint", "host_oom", "user", "memory", 3,
     r"hit memory\+swap limit at least once|page allocation failure: order:\d+",
     "a step reached its memory limit at least once (it may have survived it)")
# a process of the job killed by SIGKILL: the kernel's OOM killer is the usual sender, but the line
# alone does not decide (a time limit, a cancel or an administrator send it too), so it is a symptom:
# the answer stays unknown and ranks host memory first among what to check. srun's "task N: Killed"
# is left out: it is also how a cancelled or timed-out step's tasks end (evidence.py reads it when it
# comes before the step's cancel).
sign("host-oom-sigkill", "host_oom", "user", "memory", 4,
     r"exited on signal 9 \(Killed\)|terminated with signal SIGKILL|exits with return code = -9\b|"
     r"\(exitcode: -9\)|exitcode\s*:\s*-9\b|Signal 9 \(SIGKILL\) received by PID|"
     r"^\S*(?:\.sh|slurm_script): line \d+:\s+\d+ Killed\s",
     "a process was killed by SIGKILL (most often the OOM killer: compare MaxRSS with the memory asked for)",
     also=("time_limit", "scheduler"))
# Ray's word for a worker that vanished: its own list of "potential root causes" names the OOM killer
# first and SIGSEGV last, so the line is a symptom that ranks host memory first, never a crash
sign("host-oom-ray-worker", "host_oom", "user", "memory", 4,
     r"(?:actor|worker) is dead because its worker process has died|Worker exit type: SYSTEM_ERROR|"
     r"The process is killed by SIGKILL by OOM killer due to high memory usage",
     "a Ray worker died without a word (most often the OOM killer: compare the node's memory with what the "
     "workers hold)", also=("user_code",), explains=("user-segfault",))
sign("host-oom-python", "host_oom", "user", "memory", 2,
     r"^\s*MemoryError\b|std::bad_alloc|Cannot allocate memory(?! in static TLS block)|\bENOMEM\b|_ArrayMemoryError|"
     r"cannot allocate vector of size|LoadError: OutOfMemoryError|local object store is full of objects that are still in scope|"
     r"ArrowMemoryError: malloc of size|ObjectStoreFullError|put on hold by SYSTEM_PERIODIC_HOLD due to memory usage|"
     r"not enough memory for BAM sorting|couldn't allocate memory for bam_mem|<jemalloc>: Error in malloc\(\): out of memory|"
     r"Failed attempt to allocate \d+\s?bytes|Failed to allocate \d+ bytes of memory(?! on (?:the )?(?:device|GPU))|"
     r"Container killed by YARN for exceeding (?:physical |virtual )?memory|Could not reserve enough space for \S+ object heap|"
     r"forrtl: severe \(41\): insufficient virtual memory|AddressSanitizer: out of memory|"
     r"internal compiler error: Killed \(program|^fatal error: runtime: out of memory|"
     r"DefaultCPUAllocator: (?:not enough memory|can't allocate memory)|"
     r"java\.lang\.OutOfMemoryError(?!: (?:unable to create new native thread|Requested array size exceeds VM limit))|"
     r"insufficient memory for the Java Runtime Environment|Native memory allocation \(\w+\) failed|"
     r"DataLoader worker \(pid[^)]*\) is killed by signal: Killed|Failed to allocate memory for an unexpected message|"
     r"Unable to allocate \d+ bytes of memory for \w+ \(probably out of memory\)|Not enough memory\. Failed to malloc|"
     r"CondaMemoryError|"
     r"Failed to allocate \d+ bytes for array|PETSC ERROR: Out of memory",
     "the process could not allocate host memory")

# ---- time limit and the scheduler
sign("time-limit", "time_limit", "user", "slurm", 1,
     r"DUE TO TIME LIMIT|\bTIMEOUT\b.*time ?limit|exceeded (?:its |the )?(?:job )?time limit|"
     r"exceeded (?:its |the )?wall ?(?:clock|time) limit|"
     r"Job .* exceeded .*time limit|walltime .* exceeded|PBS: job killed: (?:walltime|cput)|"
     r"\bTERM_(?:RUNLIMIT|CPULIMIT|DEADLINE)\b|\bDeadlineExceeded\b|Exit_status = -29\b|"
     r"job\.exception type=timeout|exceeded allowed execute duration|Time limit exhausted for JobId|"
     r"exceeded hard wallclock time|timeout: sending signal TERM to command|Handling auto-requeue signal|"
     r"Reached time limit, Run time|user-provided time limit for job execution has been reached|CPU time limit exceeded|"
     r"exceeded its active deadline|Process exceeded running time limit|qmaster enforced h_rt|due to wall clock limit|"
     r"Job attempt duration exceeded timeout",
     "the job reached its time limit", also=("user_code",), explains=("user-segfault",))
sign("timeout-state", "time_limit", "user", "slurm", 2, r"(?<![\w-])(?<![Pp]rogress )(?:TIMEOUT|DEADLINE)(?![\w-])",
     "Slurm's state TIMEOUT: the job reached its time limit", flags=0, also=("user_code",))
sign("preempted", "scheduler", "infra", "slurm", 1,
     r"DUE TO PREEMPTION|(?<!, got )\bPREEMPTED\b|job (?:was )?preempted|preempted by",
     "the scheduler preempted the job")
sign("prolog-failed", "scheduler", "infra", "slurm", 1,
     r"launch[ _]failed[ _]requeued[ _]held|\bProlog(?:/Epilog)? (?:error|failure|failed|hung)|JobHeldAdmin|"
     r"pre-exec command exited with non-zero status|Job credential expired|Invalid job credential|"
     r"Prolog or job env setup failure on node|epilog error on \S+, draining the node|epilog failed status=|"
     r"prolog poll timeout|REQUEST_LAUNCH_PROLOG notification failed|Reason=(?:Epilog error|Job env setup error)|"
     r"pro/epilogue failed|execjob_\w+ hook '\S+' encountered an exception|alarm call while running execjob_\w+ hook|"
     r"job requeued .* prolog",
     "the node's prolog failed: the job was requeued")
sign("launch-failed", "scheduler", "infra", "slurm", 1, r"\bJobLaunchFailure\b",
     "Slurm could not launch the job on its node (JobLaunchFailure: the node's slurmd, prolog or setup)")
sign("node-config", "scheduler", "infra", "slurm", 1,
     r"Node configuration differs from hardware|Low RealMemory|Low socket\*core\*thread count|Low TmpDisk|"
     r"has low (?:cpu count|real_memory size|tmp_disk size)|_slurm_rpc_node_registration node=\S+: Invalid argument|"
     r"Kill task failed",
     "Slurm set the node aside (configuration mismatch, unkillable task)")
# slurmstepd gave up killing the step: its processes hung in the kernel (stuck I/O, a stuck driver);
# what hung them is the cause, so this is a hint, not a verdict
sign("unkillable-step", "node_failure", "infra", "node", 4,
     r"DUE TO JOB NOT ENDING WITH SIGNALS",
     "Slurm could not kill the step's processes (hung in the kernel: stuck I/O or a stuck driver)",
     also=("filesystem",))
# munged runs, but this process may not open its socket (file modes, SELinux): the node's setup
sign("env-munge-access", "software_env", "infra", "munge", 0,
     r"Failed to access \"\S*munge\.socket\S*\": Permission denied",
     "the process may not open munge's socket (its permissions or an SELinux policy): the node's setup, "
     "not munged itself", explains=("sched-auth",))
sign("sched-auth", "scheduler", "infra", "munge", 1,
     r"Munge (?:decode|encode) failed|Check for out of sync clocks|auth_g_(?:verify|create): .*authentication error|"
     r"If munged is up, restart",
     "Slurm's authentication failed between daemons (munge down, keys differ or clocks out of sync)")
sign("sched-platform", "scheduler", "infra", "slurmctld", 2,
     r"appears to have a different slurm\.conf than the slurmctld|A node ping cycle took more than|"
     r"Script for JobId=\d+ lost|memory is underallocated|agent queue is full|"
     r"failed to open persistent connection to host|Sending PersistInit msg: Connection refused|"
     r"Problem talking to the database|mysql_real_connect failed|Reason=(?:batch job complete failure|Duplicate jobid)|"
     r"\bJobHoldMaxRequeue\b|Unable to determine this slurmd's NodeName|\bTERM_(?:ZOMBIE|RC_RECLAIM)\b|LSF is down|"
     r"Request from non-LSF host rejected|unable to report job \d+ status to master|"
     r"has mismatching Cores or Links from the device found|Discarding the following config-only GPU|"
     r"Invalid user id: \d+|Cannot connect to LSF|Bad UID for job execution|trqauthd unable to authenticate|"
     r"can't get password entry for user|can't find address for host \S+, check slurm\.conf|"
     r"Unable to communicate with cluster|request rejected as filter hook .* encountered an exception|"
     r"qsub: submit error \(This stream has already been closed",
     "the scheduler's own machinery failed (its database, its controller's load, a node's configuration)")
# a cloud's capacity and interruptions, and the cluster managers that provision nodes from it
sign("sched-cloud-capacity", "scheduler", "infra", "cloud", 2,
     r"InsufficientInstanceCapacity|INSUFFICIENT_INSTANCE_CAPACITY|ZONE_RESOURCE_POOL_EXHAUSTED|GCP Error: Quota \w+ exceeded|"
     r"is currently unavailable in the \S+ zone|GCE out of resources|There is no more capacity in the zone|"
     r"VM_MIN_COUNT_NOT_REACHED|AllocationFailed|SkuNotAvailable|failed launching nodeclaim|"
     r"ResourcesUnavailableError: Failed to (?:provision|acquire)|Spot interruption warning|SpotInterrupted|"
     r"Capacity Reservation interruption|accommodate the terminationTime|clustermgtd is down|"
     r"protected mode due to failures detected in node provisioning|CE\(s\) associated with the job queue are invalid|"
     r"Exceeded the PodsReady timeout|deactivated due to exceeding the maximum number of re-queuing|"
     r"ClusterQueue \S+ is inactive|PodGroupPending|tasks in gang unschedulable|Encountered exception when launching instances|"
     r"PAPI error code (?:10|14)\b|Execution failed: worker was terminated|MaxSpotInstanceCountExceeded|"
     r"InsufficientFreeAddressesInSubnet|QUOTA_EXCEEDED|Reservation is not active, nodes cannot be resumed|"
     r"Reason=Waiting for reservation|Failed to allocate node \S+ in bucket|is off in slurm, but cyclecloud does have a node",
     "the cloud had no capacity for the job's nodes, took them back, or the cluster's provisioning failed",
     explains=("request-invalid",))
# the client retries and usually gets through: alone in a failed job's log it is the best
# explanation there is, beside any other cause it is only a hint
sign("controller-retry", "scheduler", "infra", "slurmctld", 3,
     r"Slurm temporarily unable to accept job, sleeping and retrying|Slurm job queue full, sleeping and retrying",
     "the Slurm controller was too busy to take the request at first (its client retried)")
sign("controller-busy", "scheduler", "infra", "slurmctld", 2,
     r"Socket timed out on send/recv operation|Slurm temporarily unable to accept job(?!, sleeping and retrying)|"
     r"Slurm job queue full(?!, sleeping and retrying)|"
     r"Zero Bytes were transmitted or received|slurm_receive_msgs?: .*Transport endpoint is not connected",
     "the Slurm controller did not answer in time (overloaded or unreachable)", explains=("fs-stale-io",))
sign("held-by-cluster", "scheduler", "infra", "slurm", 2,
     r"\bReqNodeNotAvail\b|\bPartition(?:Down|Inactive)\b|Reason=NodeDown|Requeuing JobId=|"
     r"JobId=\d+ requeued|job (?:was |has been )?requeued|deleted at request of root|"
     r"deleted by (?:the )?(?:administrator|admin|operator|root)|"
     r"Reason=.*\breboot (?:issued|requested)\b|\bReboot ASAP\b|System submissions disabled|"
     r"Required partition not available \(inactive or drain\)|\(NodeDown\)|job held, too many failed attempts|"
     r"queue is inactivated by the administrator|requested number of devices unavailable for|failed\s+25\s*: rescheduling|"
     r"resource in cluster is overused",
     "the job waited on or was requeued or deleted by the cluster (nodes down or reserved, an administrator)")
sign("requeued-state", "scheduler", "infra", "slurm", 2, r"(?<![\w-])REQUEUED(?![\w-])",
     "Slurm requeued the job (a node failure, a preemption or an administrator)", flags=0)
sign("cancelled-by-admin", "scheduler", "infra", "slurm", 1,
     r"CANCELLED AT \S+ DUE TO (?:JOB )?(?:REQUEUE|RECONFIG)|\bCANCELLED BY 0\b|(?:allocation|[Jj]ob) \S* ?has been revoked|"
     r"STEPD TERMINATED ON \S+ AT \S+ DUE TO JOB NOT RUNNING|"
     r"\bTERM_(?:ADMIN|FORCE_ADMIN|REQUEUE_ADMIN|PREEMPT|LOAD|WINDOW)\b",
     "the job was cancelled or requeued by an administrator or the system")
sign("cancelled", "scheduler", "user", "slurm", 2,
     r"\*\*\* (?:JOB|STEP) \S+ ON \S+ CANCELLED AT \S+ BY \d+|scancel|Job cancelled|"
     r"\bCANCELLED by [1-9]\d*|\bTERM_(?:OWNER|FORCE_OWNER|REQUEUE_OWNER|ORPHAN_SYSTEM)\b|\(JobHeldUser\)|"
     r"CANCELLED AT \S+ DUE to SIGNAL",
     "the job was cancelled")
# slurmstepd's bare line names neither who cancelled nor why: the end of the job, not its cause
sign("cancelled-unsaid", "scheduler", "user", "slurm", 4,
     r"\*\*\* (?:JOB|STEP) \S+ ON \S+ CANCELLED AT \S+ \*\*\*",
     "the job or step was cancelled (slurmstepd does not say by whom)")
# the site's QOS or association limits said no (a group's GPUs, a user's jobs or wall time): the labelling
# guide's "refused by policy"; the user asks within the limits or waits, so the scope stays the user's.
# A request naming what does not exist (an account, a partition, a feature) stays the job's own below.
sign("policy-limit", "scheduler", "user", "slurm", 1,
     r"\bQOS(?:Max|Grp)\w+|\bAssoc(?:Max|Grp)\w+|violates accounting/QOS policy",
     "the cluster's QOS or association limits refused or held the job (a group's or a user's share of GPUs, "
     "jobs or time): ask within them, wait for the group's jobs, or ask the administrators",
     also=("user_code",), explains=("request-invalid",))
sign("request-invalid", "user_code", "user", "slurm", 1,
     r"Requested node configuration is not available|Invalid (?:account|partition|qos)|"
     r"Process requirement exceeds available (?:CPUs|memory)|CPU count per node can not be satisfied|"
     r"Unable to allocate resources(?!: Required partition not available \(inactive or drain\)|: Job/step already completing)|"
     r"Job submit/allocate failed: (?:Time limit specification invalid|Node count specification invalid)|"
     r"QOSMax\w+|AssocMax\w+|Invalid generic resource \(gres\) specification|"
     r"More processors requested than permitted|\((?:PartitionTimeLimit|PartitionNodeLimit|BadConstraints|"
     r"DependencyNeverSatisfied|InvalidAccount|QOSNotAllowed|(?:Assoc|QOS)Grp\w+)\)|QOSMaxSubmitJob\w*|"
     r"qsub: (?:Job violates queue|would exceed|Job exceeds queue resource limits|Unauthorized Request|Unknown queue)|"
     r"Can Never Run: (?:Insufficient amount of resource|Not enough total nodes)|No such queue\. Job not submitted|"
     r"Pending job threshold reached|Dependency condition invalid or never satisfied|Error in rusage section|"
     r"Insufficient GRES available in allocation|are mutually exclusive|alloc denied due to type=\"unsatisfiable\"|"
     r"FailedScheduling .*(?:Insufficient (?:nvidia\.com/gpu|cpu|memory)|didn't match Pod's node affinity)|"
     r"CPU binding outside of job step allocation|resource request cannot be scheduled right now|"
     r"VcpuLimitExceeded|ResourceLimitExceeded|Quota '\w+' exceeded|exceed quota limits|GCE quota exceeded|Invalid TPU topology|"
     r"Insufficient (?:regional )?quota|Quota \w+ exceeded\. Limit|QuotaExceeded|exceeding approved Total Regional Cores quota|"
     r"ReservationCapacityExceeded|incompatible with nodepool|exceed limits for nodepool|insufficient (?:unused )?quota for|"
     r"LocalQueue \S+ doesn't exist|queue resource quota insufficient|Catalog does not contain any instances satisfying|"
     r"do not support live migration|didn't trigger scale-up|job rejected: the requested parallel environment|"
     r"option must have range as 2nd argument|Job dependency problem|Step requested GRES \(\S+\) not found in the job|"
     r"doesn't support the use of \"-l select\"|Nodes statement is not supported|node\(s\) specification error|"
     r"Error in select section|when CSM Easy Mode job submission is enabled|the -R option was used more than once|"
     r"All jobs must specify a node count|job memory limit for shared nodes exceeded|"
     r"(?:sbatch|srun|salloc): error: --[\w-]+ is incompat[ai]ble with --[\w-]+|"
     r"violates (?:idle |active )?HARD MAX\w+ limit|"
     r"(?:Batch job submission failed|Unable to allocate resources|Unable to create step for job \d+): "
     r"(?!.*(?:inactive or drain|submissions disabled|Unable to contact))"
     r".*(?:invalid|not available|violates|exceed|"
     r"not permitted|permission denied|too many|too large)",
     "Slurm refused the job's request (its own arguments)", also=("scheduler",), explains=("fs-quota",))

# ---- filesystems
sign("fs-enospc", "filesystem", "infra", "storage", 1,
     r"No space left on device|\bENOSPC\b|\[Errno 28\]|disk (?:is )?full|not enough (?:free )?disk space|"
     r"Delayed block allocation failed .* with error 28|local disk's utilization is over capacity|"
     r"file_system_monitor\.cc:\d+: \S+ is over \d+% full|"
     r"(?:file ?system|volume|partition) (?:is )?full|out of (?:inodes|disk space)|Fatal error in PMPI_File_\w+: Not enough space for file",
     "a filesystem is full (ENOSPC)")
sign("fs-container-unpack", "filesystem", "user", "container", 1,
     r"(?:root ?filesystem extraction failed|unsquashfs|while extracting \S+\.(?:sif|simg)\b|while creating SIF|"
     r"while creating squashfs).*no space left on device|pyxis: .*Failed to write to output filesystem",
     "the container runtime ran out of space unpacking the job's image into its temporary directory "
     "(point APPTAINER_TMPDIR / SINGULARITY_TMPDIR at a larger filesystem, or use a sandbox)",
     explains=("fs-enospc", "env-container"))
sign("fs-ctld-state", "filesystem", "infra", "slurmctld", 0,
     r"I/O error writing script/environment",
     "slurmctld could not write the job's script to its state directory (full or failing): no job can be "
     "submitted")
sign("fs-df-full", "filesystem", "infra", "storage", 2,     # not images, which are always full
     r"^(?!/dev/loop|/dev/sr\d|overlay\b|squashfs|/dev/nbd|shm\b|tmpfs\b)\S+\s+\d+(?:\.\d+)?[KMGTP]?\s+\d+(?:\.\d+)?[KMGTP]?\s+\d+(?:\.\d+)?[KMGTP]?\s+100%\s+/(?!snap/)",
     "`df` shows a filesystem at 100%")
# torch.save's zip writer failing mid-file: most often the job's own checkpoints filled its disk or
# quota (the scope of a checkpoint that cannot be written, as in the team's dev cases)
sign("fs-write-failed", "filesystem", "user", "storage", 2,
     r"PytorchStreamWriter failed writing file|inline_container\.cc:\d+\] \. unexpected pos|"
     r"Exception writing ReadEnds to file|SortingCollection\.spillToDisk|"
     r"forrtl: severe \(38\): error during write|amrex::Error::\d+::Write of .{1,80} failed",
     "writing a checkpoint or an output file failed part-way (the disk or quota filled, or its filesystem "
     "failed)", also=("user_code",))
# the filesystem a job's path is on cannot do what the job asked of that path (a symlink on a cloud-drive
# or FAT mount): Python's EOPNOTSUPP naming the path, the job's choice of place to write; the bare
# errno name is not this (a fabric's memory registration says it too)
sign("fs-unsupported", "filesystem", "user", "storage", 2,
     r"\[Errno 95\] Operation not supported: ['\"]",
     "the filesystem the job wrote to does not support the operation (a symlink, a lock, a special file)",
     also=("user_code",))
# a workflow manager waited for a task's output on a shared filesystem and did not see it: the
# filesystem's latency (its own words), or a task that never wrote the file
sign("fs-latency", "filesystem", "infra", "storage", 3,
     r"Missing files after \d+ seconds|might be due to filesystem latency",
     "the workflow manager did not see a finished task's output on the shared filesystem in time (its "
     "latency, or the task did not write it)", also=("user_code",))
# local disks failing by their own health reports; a node short of scratch; a filesystem not mounted
sign("fs-local-disk", "filesystem", "infra", "storage", 1,
     r"SMART overall-health self-assessment test result: FAILED|Drive failure expected in less than|"
     r"NVM subsystem reliability has been degraded|media has been placed in read only mode|"
     r"available spare has fallen below threshold|\bFAILING_NOW\b|critical_warning\s*: 0x0*[1-9a-f]|"
     r"Unable to create job tmp directory|check_fs_mount: +\S+ not mounted|check_fs_free: |"
     r"Read-only filesystem/device failure|nvme\d+: (?:I/O tag \d+ .*timeout, aborting|Device not ready; aborting reset|"
     r"Disabling device after reset failure|frozen state error detected|Identify Controller failed)|"
     r"critical (?:target|space allocation) error, dev|recoverable transport error, dev|Medium access timeout failure|"
     r"Device offlined - not ready after error recovery|timing out command, waited \d+s|Sense Key : Hardware Error|"
     r"Add\. Sense: Internal target failure|ata\d+\.\d+: error: \{ UNC \}|multipath: \S+: Failing path|"
     r"protection error, dev \S+, sector|\| Drive Fault \| Asserted",
     "the node's disk or filesystem is failing, full or not mounted (its own health reports)")
# object stores and data services: the job's credentials, keys and files vs. the service's own faults
sign("user-data-access", "user_code", "user", "data", 2,
     r"NoCredentialsError|\((?:AccessDenied|ExpiredToken|NoSuchKey|NoSuchBucket|InvalidAccessKeyId|EntityTooLarge)\) when calling|"
     r"AWS Error ACCESS_DENIED|does not have storage\.objects\.\w+ access|The specified blob does not exist|"
     r"ClientAuthenticationError|Failed to copy: AccessDenied|didn't find section in config file|ContainsArrayError|"
     r"GroupNotFoundError|ArrowInvalid|ArrowCapacityError|tarfile\.ReadError|DataLossError: corrupted record|"
     r"Unable to open file \(file is (?:already open for write|not already open for SWMR)|"
     r"object header message is too large|Can't read data \(inflate\(\) failed\)|"
     r"NetCDF: (?:String match to name in use|Write to read only)|unable to open shared memory object .* Too many open files|"
     r"Host key verification failed|Permission denied \(publickey|s3fs_check_service.*invalid credentials|"
     r"s3fs: Failed to access bucket|GlobusError: .*PATH_NOT_FOUND|globus_l_gfs_file_open failed|"
     r"rsync: mkstemp .* Permission denied|ADIO_OPEN\(\d+\): File \S+ does not exist",
     "the job's data access failed on its own terms (credentials, a key, bucket or path that is not there, a file "
     "in another format or already open)")
sign("fs-rate-limit", "filesystem", "user", "storage", 2,
     r"\(SlowDown\) when calling|TooManyRequests: 429|Operations per second is over the account limit|"
     r"429 Client Error: Too Many Requests",
     "the storage service throttled the job's requests (too many at once: spread or batch them)")
sign("fs-object-store", "filesystem", "infra", "storage", 2,
     r"\(InternalError\) when calling|XMinioStorageFull|AWS Error UNKNOWN \(HTTP status 50\d\)|NetCDF: I/O failure|"
     r"Some errors happened when getting quota info|lockd: cannot monitor|rsync error: error in file IO|"
     r"All \d+ retry attempts failed: \w+ \[HTTP code 5\d\d\]",
     "the storage service or its servers failed (an internal error, a full backend, a lock or quota service)")
sign("fs-quota", "filesystem", "user", "storage", 1,
     r"Disk quota exceeded|\bEDQUOT\b|\[Errno 122\]|quota exceeded|MPI_ERR_QUOTA",
     "the user's disk quota is exhausted")
sign("fs-stale-io", "filesystem", "infra", "storage", 1,
     r"Stale (?:file|NFS file) handle|\bESTALE\b|\[Errno 116\]|Input/output error|\[Errno 5\]|\bEIO\b|"
     r"Read-only file system|\[Errno 30\]|Read-only file or filesystem name|PMIx detected a call to mkdir was unable to create|Transport endpoint is not connected|LustreError|"
     r"nfs: server \S+ not responding|GPFS.*(?:error|unmounted)|lustre.*(?:(?<!\b0 were )evicted|-5\b|-108\b)|"
     r"EXT4-fs error|XFS \(\S+\): .*(?:error|corruption)|Buffer I/O error on dev|blk_update_request: .*error|"
     r"I/O error, dev \S+|disk I/O error|Remote I/O error|\[Errno 121\]|Structure needs cleaning|"
     r"\b(?:beegfs|mmfs\w*|libceph|ceph|weka\w*)\b.*(?:error|unreachable|offline|hung|timed? ?out)|"
     r"Lustre: .*(?:was lost; in progress operations|Request sent has timed out)|"
     r"Cannot send after transport endpoint shutdown|\bESHUTDOWN\b|\b6027-\d+ \[[EX]\]|File system is read-only|"
     r"Remounting filesystem read-only|nvme\d+: I/O \d+ QID \d+ timeout|I/O Error \(sct|critical medium error|"
     r"Sense Key : Medium Error|Unrecovered read error|rejecting I/O to offline device|Aborting journal on device|"
     r"BTRFS(?: error| warning|: error)? .*(?:errs: wr|IO failure|csum failed)|EXT4-fs warning .*I/O error|"
     r"NFS: .*(?:Lock reclaim failed|clientid is in use|fileid changed)|caps stale|session lost, hunting for new mon|"
     r"libceph: .*socket closed|node was low on resource: \[DiskPressure\]|MountVolume\.SetUp failed|"
     r"mount\(nfs\): nfs: mount failure|access denied by server while mounting|AUTH_GSS upcall timed out|"
     r"Lost membership in cluster|evicting unresponsive client",
     "a shared filesystem failed (stale handle, I/O error, read-only, eviction)")
# a filesystem's servers or the node's own disk, in the words of each client and the kernel
sign("fs-client", "filesystem", "infra", "storage", 1,
     r"This client was banned by administrative request|connection denied by \S+: rc = -13|"
     r"service thread pid \d+ was inactive for|Unable to connect to server: \S+ \[storage|"
     r"\[Errno (?:70|110|112)\] [\w ]+: '/|\[Errno 524\]|Too many disks are unavailable|check lease failed on NFSv4 server|"
     r"mount\.nfs: (?:Connection timed out for|mounting \S+ failed, reason given by server|mount system call failed)|"
     r"ceph: mds\d+ (?:reconnect denied|closed our session|rejected session)|mount\(nfs\): no hosts available|"
     r"XFS \(\S+\): (?:Unmount and run xfs_repair|Please unmount the filesystem and rectify)|"
     r"JBD2: Error -?\d+ detected when updating journal|EXT4-fs \(\S+\): (?:This should not happen!! Data will be lost|"
     r"I/O error while writing superblock)",
     "a filesystem's servers refused or lost the node, or the node's own filesystem failed", explains=("node-unreachable",))
# the node's filesystem client does not fit its servers: versions, LNet tuning, mounts, maps, keys
sign("env-fs-client", "software_env", "infra", "storage", 1,
     r"refused connection from this client with an incompatible version|Check client and MGS are on compatible version|"
     r"mount\.lustre: mount \S+ at \S+ failed: (?:No such device|No such file or directory)|has incompatible queue depth|"
     r"RDMA has too many fragments for peer_ni|but they claimed they were|cluster is not authorized, err \d+|"
     r"requested NFS version or transport protocol is not supported|mount_autofs_\w+: failed to read map",
     "the node's filesystem client does not fit its servers (versions, LNet settings, a mount or map that is not set "
     "up, a cluster key)", explains=("fs-stale-io", "net-fabric", "fs-client"), also=("filesystem",))
# the fabric under a filesystem: data that changed in transit, RDMA and TCP links, cluster membership
sign("net-fs-fabric", "network", "infra", "fabric", 1,
     r"BAD (?:READ|WRITE) CHECKSUM: (?:from \S+@|changed in transit)|VERBS RDMA(?: closed connection|: fatal async event)|"
     r"Unable to contact any quorum nodes|Bad TCP state detected|This node is being expelled from the cluster|"
     r"6027-306 \[E\] Could not initialize inter-node communication|xs_tcp_setup_socket: connect returned unhandled error|"
     r"rpcrdma: removing device|is routing being done via an interface supporting RDMA|Unable to bind to the LDAP server",
     "the network under the filesystem or the node's services failed (data changed in transit, RDMA or TCP links, "
     "the cluster's quorum)", explains=("fs-stale-io", "fs-client"), also=("filesystem",))
# Lustre's own words: the client changed a page after checksumming it (an mmap'd write): the job's I/O
sign("user-mmap-checksum", "user_code", "user", "storage", 1,
     r"changed on the client after we checksummed it",
     "the job changed its buffer while Lustre wrote it (mmap'd or reused pages): Lustre's checksum saw it",
     explains=("fs-stale-io", "net-fs-fabric"))
sign("fs-ephemeral", "filesystem", "user", "storage", 1,
     r"node was low on resource: ephemeral-storage|ephemeral local storage usage exceeds the total limit",
     "the job filled the node's local (ephemeral) storage")
sign("fs-workdir", "filesystem", "user", "storage", 2,
     r"couldn't chdir to|could not chdir to|can't chdir to|Unable to determine job's home/working directories|TERM_CWD_NOTEXIST|"
     r"Cannot access initial working directory",
     "the job's working directory does not exist on the node (a path or a filesystem not mounted there)")
sign("fs-locks", "filesystem", "infra", "storage", 1,
     r"No locks available|\bENOLCK\b|\[Errno 37\]|unable to lock file|File locking failed in ADIOI_Set_lock|"
     r"Failed to acquire file lock on .*errno=524|flock disabled, mount with|MIOpen.*(?:Db lock has failed to lock|File is unwritable: \S*miopen)|flock\(.*\bENOSYS\b|Failed to acquire lock on file: .*Function not implemented|Can't open cache DB: |\[Errno 16\] Device or resource busy: \S*\.nfs[0-9a-f]{16,}",
     "the filesystem refused a file lock (NFS without lockd, Lustre mounted without flock)")

# ---- GPU memory
# TensorFlow's allocator warning: the caller often carries on, so only a hint
sign("gpu-oom-warning", "gpu_oom", "user", "gpu-memory", 3,
     r"Allocator \(GPU_\d+_bfc\) ran out of memory trying to allocate|pytorch allocator cache flushes since last step|"
     r"preempted by PreemptionMode\.\w+ mode because there is not enough KV cache space",
     "the framework ran short of GPU memory and carried on slower (the job's own footprint)",
     explains=("preempted",))
sign("gpu-oom", "gpu_oom", "user", "gpu-memory", 2,
     r"CUDA out of memory|OutOfMemoryError: CUDA|cudaErrorMemoryAllocation|CUBLAS_STATUS_ALLOC_FAILED|"
     r"CUDNN_STATUS_(?:ALLOC_FAILED|NOT_ENOUGH_WORKSPACE)|RESOURCE_EXHAUSTED: Out of memory|"
     r"out of memory on device|HIP out of memory|failed to allocate .* on device|"
     r"CUDA error 2 in file .*: out of memory|Memory allocation on (?:the )?device failed|"
     r"NCCL WARN Cuda failure 'out of memory'|Cuda failure 2 'out of memory'|OOM when allocating tensor|"
     r"HIP_ERROR_OutOfMemory|hipErrorOutOfMemory|Out of GPU memory trying to allocate|cupy\.cuda\.memory\.OutOfMemoryError|"
     r"CUDA_ERROR_OUT_OF_MEMORY|cudaMalloc failed: out of memory|Please try to increase --mem-fraction-static|"
     r"KV cache is needed, which is larger than the available KV cache memory|Cuda Runtime \(out of memory\)|(?:CUFFT|CUSOLVER_STATUS|CUSPARSE_STATUS)_ALLOC_FAILED|"
     r"Ran out of memory in memory space hbm|No available memory for the cache blocks|"
     r"CUDA error: out of memory|cuda runtime error \(2\) : out of memory|cudaSuccess \(2 vs\. 0\)\s+out of memory|"
     r"Out of memory error on GPU \d+|BFCArena::AllocateRawInternal Failed to allocate memory|"
     r"Server error: Not enough memory to handle|Insufficient memory on accelerator|"
     r"Can't reduce memory use below \S+ \(\d+ bytes\) by rematerialization|CUDA: out of memory|cudaMalloc\(.*\).* out of memory|"
     r"larger than the maximum number of tokens that can be stored in KV cache|"
     r"Free memory on device \S+ \(.*\) on startup is less than desired GPU memory utilization",
     "the GPU ran out of memory (the job's own footprint)")

# ---- throttling and slow nodes
sign("gpu-throttle", "gpu_throttle", "infra", "gpu", 1,
     r"(?:HW[ _]Slowdown|HW_SLOWDOWN|Thermal Slowdown|HW Power Brake(?: Slowdown)?)(?![\w ]*:\s*Not Active)|"
     r"clocks?[_ ]throttle[_ ]reasons?.*(?:active|thermal|power)|"
     r"GPU (?:is )?(?:being )?throttled|thermal (?:violation|throttl)|clocks?[_ ]event[_ ]reasons?.*(?:thermal|power)|"
     r"power (?:cap|brake|throttl)\w* (?:active|engaged)|Thermal Violation|SW Power Cap\s*:\s*Active|"
     r"clocks? event due to (?:thermal|power)|power violation",
     "GPU clocks held down (thermal, power or hardware slowdown)")
sign("gpu-too-hot", "gpu_throttle", "infra", "gpu", 2,
     r"Temperature \d+ of GPU \d+ exceeded user-specified maximum",
     "the GPU ran hotter than its limit (its clocks are held down)")
sign("node-clock", "slow_node", "infra", "node", 3,
     r"Marking clocksource '\w+' as unstable|TSC found unstable|Switched to clocksource hpet",
     "the node's clock source fell back to a slow one (an unstable TSC): timing and performance suffer")
sign("node-sensors", "slow_node", "infra", "node", 3,
     r"\+\d+(?:\.\d+)?°C .*\bALARM\b|\b\d+ RPM .*\bALARM\b|\| Fan \S+ \| Lower Critical going low|"
     r"\| Temperature .* \| Upper Critical going high",
     "a fan stopped or a temperature passed its limit: the node runs hot and slows down")
sign("gpu-throttle-words", "gpu_throttle", "infra", "gpu", 3,
     r"\bthrottl(?:ing|ed)\b",
     "the log says something was throttled", also=("slow_node",))
sign("cpu-throttle", "slow_node", "infra", "cpu", 1,
     r"temperature (?:is )?above threshold, cpu clock (?:is )?throttled|cpu clock (?:is )?throttled|\bPROCHOT\b|"
     r"Package power limit notification|Processor \S+ Status \| Throttled|load average too high",
     "the kernel clocked a CPU down for heat: the node runs slow")
sign("link-degraded", "slow_node", "infra", "pcie", 2,
     r"available PCIe bandwidth, limited by|\(downgraded\)|link (?:width|speed) (?:is )?(?:degraded|downgraded)|"
     r"PCIe replays? per minute|retraining non-functional downstream link|host-side PCIe replay violation|"
     r"did not exceed minimum required bandwidth|\(Could be \d+X \)|performance may be degraded|"
     r"running at PCI link width \d+X, which is below the minimum",
     "a PCIe link trained below what the device can do (a degraded link slows the node)")
sign("slow-node", "slow_node", "infra", "node", 2,
     r"straggler|slow(?:est)? rank|rank \d+ is (?:much )?slower|CPU (?:is )?throttl|cpufreq|"
     r"performance degradation on (?:node|host)|"
     r"\b(?:node|host|machine) (?=\S*\d)\S+ (?:is|was|runs?|ran) (?:\d+(?:\.\d+)?\s?[x%] |about |much |significantly |"
     r"consistently )*slower|"
     r"\bslower\b.*\b(?:good|healthy|reference) (?:hosts?|nodes?|machines?)\b|"
     r"\b(?:good|healthy|reference) (?:hosts?|nodes?|machines?)\b.*\bslower\b",
     "one node or rank runs slower than the rest", also=("gpu_throttle",))

# ---- software environment
sign("env-driver", "software_env", "infra", "driver", 1,
     r"Driver/library version mismatch|CUDA driver version is insufficient|cudaErrorInsufficientDriver|"
     r"This container was built for NVIDIA Driver Release [\d.]+ or later, but\b|"
     r"Found no NVIDIA driver|NVIDIA driver on your system is too old|Failed to initialize NVML|"
     r"nvidia-container-cli: (?:initialization|mount|device|container) error|OCI runtime (?:create|exec) failed|"
     r"setting up CDI devices|unresolvable CDI devices|Could not find any nv files on this host|"
     r"did you set the docker default runtime to .nvidia.|\"nvidia\.com/gpu\" was requested but not registered|"
     r"forward compatibility was attempted on non supported HW|cudaErrorCompatNotSupportedOnDevice|"
     r"couldn't communicate with the NVIDIA driver|could not select device driver .* capabilities: \[\[gpu\]\]|"
     r"unknown or invalid runtime name: nvidia|provided PTX was compiled with an unsupported toolchain|"
     r"cudaErrorUnsupportedPtxVersion|system not yet initialized|cudaErrorSystemNotReady|"
     r"PTX JIT compiler library not found|cudaErrorJitCompilerNotFound|Error 803\b|"
     r"unsupported display driver / cuda driver combination|cudaErrorSystemDriverMismatch|"
     r"fabric ?manager.*(?:not running|failed|mismatch|don't match with driver version)|"
     r"MPS client failed to connect to the MPS control daemon|from NVSwitch driver failed|"
     r"check_nvsmi_healthmon: +nvidia-smi: +NVIDIA driver not loaded|NVRM: API mismatch: the client has the version|"
     r"modprobe: FATAL: Module nvidia\S* not found|CUDA unknown error - this may be due to an incorrectly set up environment|"
     r"CUDA error cudaGetDeviceCount|hsa api call failure at|HSA_STATUS_ERROR_OUT_OF_RESOURCES: The runtime failed|"
     r"Version mismatch between kernel OFED drivers and userspace OFED|NVRM: nvidia\.ko because it does not include the required GPU|"
     r"NVRM: request_mem_region failed for|NVRM: Can't find an IRQ for your NVIDIA card|"
     r"nv_mem_client_init -- error while registering|HugeTLB: allocating \d+ of page size \S+ \S+ failed|"
     r"numactl: This system does not support NUMA policy|HIP error: driver version is insufficient for runtime version|"
     r"ROCm SMI init failure|ROCm SMI returned \d+ \(the expected value is 0\)|Failed to find ROCm runtime library|"
     r"Could not initialize Tensile host: No devices found|Pcie atomics not enabled, hostcall not supported|check_ps_daemon: +Process munged",
     "the node's driver or container runtime does not match the software", explains=("gpu-nvlink",))
sign("env-nvls", "software_env", "infra", "nvswitch", 2,
     r"transport/nvls\.cc:\d+ NCCL WARN|NVLS (?:\w+ )?(?:failed|error)|Failed to bind NVLink SHARP|"
     r"configuration error in the Fabric Manager or NVSwitches",
     "NCCL's NVLink SHARP (NVLS) setup failed: the node's NVSwitch / Fabric Manager state (after a "
     "Fabric Manager restart the GPUs need a reset)", also=("network", "gpu_hardware"))
sign("env-container", "software_env", "user", "container", 2,
     r"container creation failed|could not open image|(?:singularity|apptainer)\S*:? .*FATAL|"
     r"pyxis: .*(?:failed|error)|enroot\S*: .*(?:error|failed)|ImagePullBackOff|ErrImagePull|"
     r"Error response from daemon|Failed to pull image|failed to get checksum for docker://|Error reading manifest|"
     r"unable to retrieve auth token|(?-i:toomanyrequests)|httpReadSeeker: failed open|FAILED to find requested image|"
     r"Pulling Image: .* status: FAILURE|can't find image: |can't bind: destination not found|"
     r"permission denied while trying to connect to the Docker daemon socket|"
     r"does not match the detected host platform",
     "the job's container could not be started (its image or the container runtime)",
     explains=("fs-stale-io",))
# pyxis telling the job what it asked wrongly
sign("user-container-request", "user_code", "user", "container", 2,
     r"pyxis: container exited too soon|pyxis: a container with name .* does not exist|"
     r"pyxis: --container-[\w-]+: invalid|try using --no-container-entrypoint|"
     r"while loading overlay images: failed to open overlay image",
     "the job's container request is wrong (an entrypoint that exits, a named container that does not exist, a "
     "malformed option, an overlay image another job holds)")
# the other runtimes (Apptainer, enroot, Charliecloud, Shifter, Sarus, Podman, Docker) and Kubernetes
# telling the job what it asked wrongly: an image path or tag that does not exist, a bind source
# missing on the host, a name already taken, a command not in the image, a pod no node can meet
sign("user-container-args", "user_code", "user", "container", 2,
     r"could not open image .*(?:failed to retrieve path for|image format not recognized|is not readable by the current user)|"
     r"could not use \S+ for writing, you don't have write permissions|enroot-mount: failed to mount: .*No such file or directory|"
     r"\[ERROR\] No such file or directory: \S+\.sqsh|\[ERROR\] Invalid image reference|--container-name: flag must be|"
     r"can't bind: source not found|ch-run\[\d+\]: error: unknown image type|FAILED to lookup docker image|"
     r"Invalid mount request, permission denied|FAILED to find real path for volume|not on an approved device for volume mounts|"
     r"^shifter: \S+: No such file or directory|Image \S+ is not available|The image may be private or not present in the remote registry|"
     r"short-name \S+ did not resolve to an alias|executable file `[^`]+` not found in \$PATH|OCI permission denied|"
     r"name \S+ is already in use by|bind source path does not exist|Error: statfs \S+: no such file or directory|"
     r"driver failed programming external connectivity|manifest for \S+ not found|"
     r"didn't have free ports for the requested pod ports|didn't match pod (?:topology spread constraints|anti-affinity rules)|"
     r"couldn't find key \S+ in Secret|ErrImageNeverPull|matching FailJob rule|"
     r"No available node types can fulfill resource request|TaskPlacementGroupRemoved",
     "the job's container or pod request is wrong (an image or tag that does not exist, a bind source missing "
     "on the node, a name already in use, a command not in the image, constraints no node can meet)",
     explains=("env-container",))
sign("env-container-build", "software_env", "user", "container", 2,
     r"Only SIF and squashfs images can be extracted in unprivileged mode|"
     r"Failed to activate MPI support\. (?:No MPI libraries found in the container|Host's MPI library .* is not ABI compatible)|"
     r"RuntimeEnvSetupError",
     "the job's image or environment does not fit the runtime (its format, its MPI, its runtime environment)",
     explains=("env-container",))
sign("fs-pod-storage", "filesystem", "user", "storage", 1,
     r"exceeded its local ephemeral storage limit|Usage of EmptyDir volume \S+ exceeds the limit",
     "the job's pod wrote more to its local storage than its limit allows")
sign("sched-k8s-unschedulable", "scheduler", "infra", "kubernetes", 2,
     r"\d+ node\(s\) were unschedulable",
     "every node the pod could use is cordoned (unschedulable): the cluster's doing")
sign("net-pod-sandbox", "network", "infra", "kubernetes", 2,
     r"failed to setup network for sandbox",
     "the node's pod network (CNI) could not attach the job's pod")
sign("env-slurm-platform", "software_env", "infra", "slurm", 1,
     r"Couldn't (?:find|load) the specified plugin|cannot create \w+ context for|Plugin initialization failed|"
     r"spank: .*(?:Failed to load|cannot (?:load|open)|not found)|cgroup (?:namespace )?'?\w+'? not mounted|"
     r"unable to mount cgroup|Failed to (?:create|mount|initialize) cgroup|cgroup plugin .*failed|"
     r"pyxis: .*Permission denied|enroot\S*: .*Permission denied|"
     r"appears to have been direct launched using \"srun\"|ORTE was unable to reliably start one or more daemons|"
     r"Missing \"iommu=pt\" from kernel command line|/etc/enroot/hooks\.d/\S+ exited with return code|"
     r"squashfs filesystem seems not enabled|requires either a suid installation or unprivileged user namespaces|"
     r"set to 'no' by administrator|Couldn't determine user account information: user: unknown userid|"
     r"Command not found: nvidia-container-cli|couldn't get list of existing container filesystems|"
     r"does not support internal SquashFS mounts|too many FUSE errors; giving up|ch-run\[\d+\]: error: can't overlay: |"
     r"no apparent support for loop devices|Could not find the host's libc|should have setuid or have filecaps setuid|"
     r"in \S*/etc/subuid\S* includes the user UID|No fuse-overlayfs-wrap binary found|"
     r"Cannot connect to the Docker daemon at|Node didn't have enough resource: nvidia\.com/gpu|"
     r"^\[ERROR\] Failed to mount: \S+\.sqsh|Accelerator sharing is not currently supported on system|"
     r"all devices are in prohibited mode|"
     r"kernel does not support overlay fs|could not use fakeroot|newuidmap was not found|user namespace disabled|"
     r"Failed to create user namespace|can't init user\+mount namespaces|No subuid ranges found|"
     r"no mapping entry found in /etc/subuid|failed to find loop device|could not attach image file to loop device|"
     r"cannot connect to dbus system daemon|unable to mount memory cgroup namespace|task/cgroup: unable to add task|"
     r"xcgroup_instantiate: unable to create cgroup|common_file_write_uints: .*cgroup\.procs' failed|"
     r"container_p_join: (?:setns|open) failed|appears to have a different version of Slurm|"
     r"failed to resolve session directory|as session directory: / already exists in layout|"
     r"__lmod_vx: unbound variable|/init/bash: Not a directory|GTL DEBUG: \d+\) cuIpcOpenMemHandle: invalid argument|"
     r"License Manager Error -\d+|tm_poll\(obit_event\) failed with TM error|"
     r"PMI_Init returned -1|/cvmfs/\S+: Operation not permitted|BFSMountError: Unable to mount|RequestTimeTooSkewed|"
     r"pod has unbound immediate PersistentVolumeClaims|x509: certificate signed by unknown authority|"
     r"ADIO_RESOLVEFILETYPE\(\d+\): Specified filesystem is not available|MPII_init_gpu\(\d+\)\.*:\s+gpu_init failed|"
     r"amdgpu not found in modules|"
     r"cannot find mpi plugin for mpi/|Failed to set topology '|can not load PMIx library|Couldn't load specified plugin name for mpi/|"
     r"Cannot create context for mpi/|unable to resolve MPI plugin offset|Failed to invoke task plugins|"
     r"pmixp_libpmix_init\(\) failed|mpi_p_slurmstepd_prefork failure|can't stat gres\.conf file|Waiting for gres\.conf file|gres\.conf duplicate records|"
     r"Credential signature check: "
     r"Credential data mismatch|(?:Task launch for \S+ failed on node \S+|Application launch failed): Invalid node name specified",
     "the node's Slurm or container platform is broken (a missing plugin, cgroups or user namespaces not set "
     "up, no loop devices, a failing enroot hook)", explains=("fs-stale-io", "fs-enospc"))
sign("env-mpi-request", "software_env", "user", "slurm", 0,
     r"invalid MPI type, --mpi=list for acceptable types|GPU_SUPPORT_ENABLED is requested, but GTL library is not linked",
     "the job asked srun for an MPI plugin this cluster does not have (`srun --mpi=list` shows the ones it has)",
     also=("scheduler",))
sign("env-shm", "software_env", "user", "memory", 2,
     r"(?<!PCIe )Bus error|SIGBUS|bus error encountered in worker|insufficient shared memory|"
     r"unable to write to file </torch_|failed to extend /dev/shm|not enough space for /dev/shm/|Error while creating shared memory segment /dev/shm/",
     "SIGBUS or a failed shared-memory write: the memory behind a mapping (/dev/shm, tmpfs) ran out; "
     "enlarge /dev/shm (containers: --shm-size) or use fewer loader workers",
     explains=("user-segfault", "fs-enospc"), also=("host_oom", "user_code"))
sign("env-cpu-arch", "software_env", "user", "cpu", 2,
     r"(?<!an )Illegal instruction(?! was encountered| Parameter| Encoding)|\bSIGILL\b|trap invalid opcode",
     "SIGILL: the program was built for CPU features this node lacks (e.g. -march=native on another machine)",
     explains=("user-segfault",))
sign("env-arch", "software_env", "user", "cuda", 2,
     r"no kernel image is available for execution|cudaErrorNoKernelImageForDevice|"
     r"not compatible with the current PyTorch installation|Unsupported gpu architecture|"
     r"CUDA capability sm_\d+ is not compatible|invalid device function|"
     r"only supports? .*(?:GPUs?|architectures?|devices?) or newer|(?:minimum|maximum) cuda capability supported|"
     r"mismatches the version that was used to compile|compiled with different CUDA|hipErrorNoBinaryForGpu|"
     r"Unable to find code object for all current devices|too old to be supported by the triton GPU compiler|"
     r"Cannot read \S*TensileLibrary\S*\.dat|Could not load \S*TensileLibrary\S*\.dat|Cannot find CO in the bundle|"
     r"CUBLAS_STATUS_ARCH_MISMATCH|HIPRTC_ERROR_COMPILATION|does not match the version torch was compiled with|"
     r"Found cuDNN version \d+, but \w+ was built against|Loaded runtime CuDNN library: .* but source was compiled with|"
     r"Mismatched PJRT plugin PJRT API version|engine plan file is generated on an incompatible device|"
     r"engine plan file is not compatible with this version of TensorRT",
     "the software was not built for this GPU")
# a setting the software needs from its environment (a module's variable) is missing; a warning that
# goes on with a default is not this
sign("env-var-unset", "software_env", "user", "environment", 3,
     r"(?i:error|fatal|failed|abort)\b.*\b[A-Z][A-Z0-9]*_[A-Z0-9_]+ (?:environment variable )?is not set|"
     r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+ (?:environment variable )?is not set\.? +(?i:ensure|please set|set it)",
     "an environment variable the software needs is not set (a module not loaded, an environment not "
     "sourced)", flags=0)
# JAX/XLA, TensorFlow and the graph libraries (DGL, PyG's extensions) saying their build or the CUDA
# pieces beside them do not fit: a CPU-only build, a ptxas or cuDNN too old, a library for another torch
sign("env-ml-stack", "software_env", "user", "python", 2,
     r"Outdated \w+ installation found|had a binary backward-compatibility issue|cuDNN < [\d.]+ \(\d+ found\) had an issue|"
     r"Unknown backend gpu\. Available backends are \['cpu'\]|ptxas too old|Couldn't get ptxas version|"
     r"You are using ptxas [\d.]+, which is older than|ptxas exited with non-zero error code|"
     r"Can't find libdevice directory|XLA compiled without NCCL support|Results mismatch between different convolution algorithms|"
     r"Ignoring visible gpu device .*compute capability|device kernel image is invalid|"
     r"was not built with CUDA kernel binaries compatible with compute capability|DNN library is not found|"
     r"Device API cuda is not enabled|Cannot find DGL C\+\+ sparse library|Unable to locate the DGL C\+\+ GraphBolt library|"
     r"DGL requires PyTorch >=|Not compiled with (?:CUDA|METIS) support|"
     r"Could not parse coordinator IP address from|Kubernetes API Error: 403",
     "the job's ML framework build does not fit its CUDA pieces or its launcher (a CPU-only build, a ptxas, cuDNN "
     "or library made for another version)")
# building or installing the job's software: pip's wheel builds, conda's environments, CMake, Meson and
# configure not finding a working compiler or dependency, linkers refusing objects, a binary built for
# a newer CPU than the node's
sign("env-build-stack", "software_env", "user", "build", 2,
     r"requires a different Python: |Failed to build installable wheels|Command '\['ninja', '-v'\]' returned non-zero exit status|"
     r"PyTorch was compiled without NCCL support|Distributed package doesn't have NCCL built in|"
     r"has no attribute 'cadam32bit_grad_fp32'|fatal error: [\w./+-]{1,80}\.h(?:pp)?: No such file or directory|Could not build wheels for|"
     r"Getting requirements to build wheel did not run successfully|Encountered error while generating package metadata|"
     r"CorruptedEnvironmentError|__cuda, which is missing on the system|No compilers for operating system \S+ satisfy spec|"
     r"Compiler \S+ requested for \S+ cannot be found|is not compatible with this machine|No CMAKE_\w+_COMPILER could be found|"
     r"is not able to compile a simple test program|requires the CUDA toolkit\.\s+Please set the CUDAToolkit_ROOT|"
     r"By not providing \"Find\w+\.cmake\" in CMAKE_MODULE_PATH|Compatibility with CMake < [\d.]+ has been removed|"
     r"Could NOT find \w+: Found unsuitable version|Failed to detect a default CUDA architecture|ERROR: Dependency \"[^\"]+\" not found|"
     r"ERROR: Compiler \S+ cannot compile programs|Executables created by \S+ compiler \S+ are not runnable|"
     r"ERROR: Meson version is [\d.]+ but project requires|Build directory has been generated with Meson version|"
     r"ERROR: Unknown compiler\(s\)|no acceptable C compiler found in \$PATH|C compiler cannot create executables|"
     r"cannot run C compiled programs|cannot guess build type; you must specify one|'aclocal-[\d.]+' is missing on your system|"
     r"libtool: Version mismatch error|cannot enable executable stack as shared object requires|invalid ELF header|"
     r"CPU does not support x86-64-v\d|CPU ISA level is lower than required|unable to find library -l\w+|"
     r"recompile with -fPIC|is incompatible with elf_\w+|Sanity check failed: no file found at|"
     r"Module cannot be loaded due to missing prereq|ERROR: Requirement \S+ is not loaded",
     "the job's software could not be built or installed here (a compiler, a dependency, a wheel, a CPU level)")
sign("env-build-site", "software_env", "infra", "build", 1,
     r"A load storm \(possibly an infinite loop\) detected for module|MODULEPATH is not set or not set with valid paths|"
     r"Error found in sourcing script|Magic cookie '#%Module' missing|Modulefile requires at least Modules version|"
     r"One or more OS dependencies were not found|does not satisfy the minimal virtual package requirements|"
     r"libtool: +error: cannot find the library '\S+\.la'",
     "the site's software stack is broken (a modulefile, the module system, a missing OS package)")
sign("user-build-request", "user_code", "user", "build", 2,
     r"Module is already loaded \(EBROOT\w+ is set\)|externally-managed-environment|"
     r"because these package versions have conflicting dependencies|Dependency resolution exceeded maximum depth|"
     r"\bNotWritableError: The current user does not have write permissions|NoWritableEnvsDirError|"
     r"EnvironmentLocationNotFound: Not a conda environment|libmamba Shell not initialized|Cannot activate, prefix does not exist|"
     r"does not exist \(perhaps a typo or a missing channel\)|lock file not up-to-date with the workspace|"
     r"The workspace does not support '[^']+'|`spack load` requires Spack's shell support|==> Error: No such environment: |"
     r"==> Error: \S+ matches multiple packages|==> Error: Package '[^']+' not found|"
     r"because no matching specs are in the current environment|The current CMakeCache\.txt directory .* is different than the directory|"
     r"CUDA_ARCHITECTURES is empty for target|cannot find input file: 'Makefile\.in'|cannot find required auxiliary files",
     "the job's own build or environment request is wrong (a pin set that conflicts, an environment that does not "
     "exist, a shell not initialised, a stale build tree)", explains=("env-import",))
sign("net-download", "network", "infra", "network", 2,
     r"HTTP error \d+ while getting|^\s*(?:[\w.]+\.)?ReadTimeoutError: HTTPSConnectionPool\(.*\): Read timed out|CondaHTTPError: HTTP 000 CONNECTION FAILED|"
     r"CondaSSLError|Downloaded bytes did not match Content-Length|ProxyError: Conda cannot proceed|"
     r"ChecksumMismatchError: Conda detected a mismatch|Download error \(\d+\) Timeout was reached|All fetchers failed for|"
     r"and downloading it didn't work either",
     "a download the job needed failed (the package index or mirror could not be reached, timed out or sent "
     "something else)")
sign("fs-truncated-file", "filesystem", "user", "storage", 2,
     r"\.so\S*: file too short",
     "a library file is cut short (an install or copy that did not finish, often a full disk or quota)")
sign("env-ml-stack-hint", "software_env", "user", "python", 3,
     r"Cannot dlopen some GPU libraries",
     "the framework could not load its GPU libraries and runs without the GPU")
sign("env-ml-driver", "software_env", "infra", "driver", 2,
     r"The NVIDIA driver's CUDA version is [\d.]+ which is older than the PTX compiler version|"
     r"kernel version [\d.]+ does not match DSO version|could not open driver version path|"
     r"peer access pairs were reported by the driver, but no peering could be enabled",
     "the node's NVIDIA driver does not fit the CUDA software the job runs (versions, the loaded module, peer access)")
sign("user-ml-config", "user_code", "user", "python", 2,
     r"To enable automatic bootstrap in a K8s cluster, jobs must be indexed|cluster automatic bootstrap only supports Job/JobSet|"
     r"jax_platforms config should be updated before backends are initialized|Unexpected task registered with task_name|"
     r"Unexpected heartbeat request from task|StepAlreadyExistsError|There are 0-in-degree nodes in the graph|"
     r"No CUDA version supported",
     "the job's own configuration of its framework is wrong (its process ids, its job spec, a checkpoint step "
     "already saved, a graph the layer refuses)")
sign("env-gpu-unsupported", "software_env", "infra", "driver", 2,
     r"is not supported by the NVIDIA [\d.]+ driver release",
     "the node's NVIDIA driver does not support this GPU (a driver older than the GPU, or the wrong driver branch)")
# not on INFO lines: NCCL looking for an optional plugin, JAX probing for a TPU, Apptainer's notices;
# nor the dynamic loader skipping a preload it cannot open (it says "ignored" and runs the program)
sign("env-import", "software_env", "user", "python", 2,
     r"^(?!.*\bNCCL INFO\b)(?!\s*INFO:)(?!.*\bcannot be preloaded\b.*: ignored\.?$)"
     r"(?!\s*libibverbs: Warning: couldn't load driver).*?(?:"
     r"\b(?:ImportError|ModuleNotFoundError)\b|No module named|undefined symbol|"
     r"cannot open shared object file|version `GLIBC\w*_[\d.]+' not found|"
     r"GLIBCXX_[\d.]+' not found|command not found|: not found$|symbol lookup error|"
     r"DLL load failed|libcudart\.so\S* not found|Could not load library|execve\(\): .*No such file or directory|"
     r"CXXABI_[\d.]+' not found|Exec format error|Relink `[^']+' with `[^']+' for IFUNC symbol|wrong ELF class|CommandNotFoundError|"
     r"not been properly configured to use 'conda|Lmod has detected the following error|module\(s\) are unknown|"
     r"Unable to locate a modulefile for|"
     r"compiled using NumPy \d\.x cannot be run|numpy\.core\.multiarray failed to import|"
     r"module compiled against API version \w+ but this version of numpy|cuDNN version incompatibility|"
     r"ValueError: .*size changed, may indicate binary incompatibility|^\s*No OpenCL device found\s*$|"
     r"DNN library initialization failed|C\+\+\d\d or later compatible compiler is required|"
     r"unrecognized command line option '-std=c\+\+\d\d'|"
     r"module '(?:numpy|scipy|pandas|torch|tensorflow|jax|transformers)' has no attribute|"
     r"Torch not compiled with CUDA enabled|CUDA_HOME environment variable is not set|No CUDA runtime is found|"
     r"CUDA_HOME does not exist|CUDA driver is a stub library|cudaErrorStubLibrary|Unable to load cuDNN|"
     r"libdevice not found|/ld: cannot find -l\w+|Transformers does not recognize this architecture|"
     r"NetCDF: (?:Filter error|Attempt to use feature that was not turned on)|FATAL:\s+kernel too old|"
     r"can't execve\(2\): .*No such file or directory|Fatal Python error: init_fs_encoding|"
     r"cannot allocate memory in static TLS block|OMP: Error #15|Intel MKL FATAL ERROR: Cannot load|"
     r"is not a supported wheel on this platform|Run 'conda init' before 'conda activate'|argument COMMAND: invalid choice: 'activate'|EnvironmentNotWritableError|"
     r"EnvironmentNameNotFound|Could not solve for environment specs|Module cannot be loaded due to a conflict|"
     r"Load of requirement \S+ failed|==> Error: Spec '.*' matches no installed packages|==> Error: failed to concretize|"
     r"Missing modules for dependencies|is not available for this version of R|package or namespace load failed|"
     r"installation of package .* had non-zero exit status|ArgumentError: Package \S+ not found in current path|"
     r"libmpi\S* could not be loaded|Cannot run program \"[^\"]+\": error=2|ASan runtime does not come first|"
     r"Could NOT find \w+ \(missing:|CMake was unable to find a build program|CMake [\d.]+ or higher is required|"
     r"Version mismatch: The cluster was started with|a CUDA-enabled jaxlib is not installed|"
     r"Error building extension '\w+'|launcher '\w+' not installed|Model architectures \[.*\] are not supported|"
     r"Loading a dataset cached in a LocalFileSystem is not supported|can't open directory: \S*hdf5\S*/plugin|"
     r"File system scheme '\w+' not implemented|"
     r"Failed building wheel for|PackagesNotFoundError|UnsatisfiableError|ResolutionImpossible|"
     r"No matching distribution found|Could not find a version that satisfies|there is no package called|"
     r"Can't locate \S+\.pm in @INC|UnsupportedClassVersionError|/usr/bin/env: .*No such file or directory|"
     r"execvp error on file .*No such file or directory)",
     "a library, module or command is missing or mismatched", also=("user_code",))
sign("env-nccl-version", "software_env", "user", "nccl", 2,
     r"NCCL version mismatch|NCCL WARN (?!Mismatched collective|NET/Socket : peer .* message truncated)"
     r".*(?:version|mismatch)|"
     r"PMIx? .*(?:version|mismatch)|OMPI was not built with SLURM|pmi2? .*not (?:supported|available)|"
     r"PMIX ERROR|PMI2?_Init failed|OPAL ERROR: Not initialized|UCP API version is incompatible|"
     r"FI_CXI_RX_MATCH_MODE=\S+ is required|completion queue exhaustion|has not been built with MPI support|It looks like (?:orte_init|opal_init|MPI_INIT) failed|ompi_mpi_init: .*failed|"
     r"An error occurred in MPI_Init\w* on a NULL communicator|"
     r"No components were able to be opened in the \w+ framework|mca_base_component_repository_open: unable to open",
     "a mismatched or misused communication library")

# ---- network (fabric errors are causes; peers going away are symptoms)
sign("net-fabric", "network", "infra", "fabric", 2,
     r"IBV_WC_RETRY_EXC_ERR|transport retry count(?:er)? exceeded|Got completion from peer .* with (?:error|status)|"
     r"error polling [LH]P CQ with status|RETRY EXCEEDED ERROR|retry count between two MPI processes has been exceeded|"
     r"no hfi units are active|socketStartConnect: Connect to .* failed|Attempted to connect incompatible devices|"
     r"unable to complete a TCP connection|unable to reach each other for|"
     r"OpenFabrics stack has reported a network error event|PSM2 was unable to open an endpoint|"
     r"Failed status 1[23]: wr_id|NET/IB : \S+ GID table changed|NET/IB : Unable to open device|"
     r"received unexpected process identifier|inbound MPI TCP connection request from a peer|"
     r"accepted a TCP connection from what appears to be|packet len \d+ \(> \d+\) too long to send|"
     r"Slurmd could not connect IO|"
     r"completion with error|ibv_poll_cq|local (?:length|protection|QP operation) error|"
     r"\bport \d+ .*(?:state )?DOWN\b|link (?:is )?down|LinkDown|NET/IB : .*(?:error|failed)|"
     r"(?<!_mlx5/)mlx5_\d+.*(?:error|down)|UCX\s+ERROR|ud_ep\.c:?\d*.*(?:timed out|timeout|Fatal)|Endpoint timeout|"
     r"rdma.*(?:error|failed)|NET/Socket : .*(?:error|failed)|IB(?:V)? (?:error|failed)|"
     r"Call to ibv_\w+ failed|ibv_\w+ failed with error|NET/IB: The error is fatal|No functional devices left|"
     r"communicator encountered a fatal error \(detected in ncclIb|Detected mixed local Net device counts across ranks|"
     r"Net : error encountered when getting address info|OFI has a different number of nics available on different n|"
     r"\[handle_cqe\] Send desc error in msg to|Control EQ drops detected|An PRTE daemon has unexpectedly failed after launch|"
     r"No usable network interfaces were found on this host|MPI_INIT has failed because at least one MPI process is unreachable|NETDEV WATCHDOG: .*transmit queue \d+ timed out",
     "the network fabric reported errors", explains=("env-nccl-version",))
# registering memory with the HCA is the node's software (nvidia-peermem, dmabuf support, the memlock
# limit), not the wire
sign("env-ib-memreg", "software_env", "infra", "fabric", 2,
     r"ibv_reg_(?:dmabuf_)?mr\w*(?:\([^)]*\))? failed|OFI call mr_reg failed|Cannot register vbuf region|"
     r"Couldn't enable GPUDirect RDMA|Call to ibv_reg_\w+ failed|ibv_create_(?:cq|qp)\S* failed: Cannot allocate memory|"
     r"set max locked memory|OpenFabrics subsystem is configured to only|Couldn't allocate MR|Couldn't register GPU MR|"
     r"openib\) BTL failed to initialize",
     "registering memory with the InfiniBand adapter failed: the node's memlock limit, nvidia-peermem or dmabuf "
     "support", explains=("net-fabric", "host-oom-python"), also=("network",))
# UCX's shared-memory and transport selection: the node's setup (a container's /proc, no usable HCA)
sign("env-ucx", "software_env", "infra", "fabric", 2,
     r"failed to connect to remote FIFO|mm_posix\.c:\d+ .*failed|Shared memory error|"
     r"no usable transports/devices|ucx function returned with failed status|"
     r"shmget\(size=\d+ flags=\w+\) for \w+ failed|cuIpcOpenMemHandle\(\) failed: peer mapping resources exhausted",
     "UCX could not set up its transports (shared memory between processes, or no usable network device): "
     "the node's or container's setup", explains=("net-fabric", "fs-stale-io", "host-oom-python"), also=("network",))
# libfabric providers that cannot start at all: a missing or misconfigured provider, not a fabric fault
sign("env-ofi", "software_env", "infra", "fabric", 2,
     r"fi_getinfo\(\) (?:call )?fail|OFI addrinfo\(\) failed|OFI endpoint open failed|"
     r"ofi fabric is not available|NCCL WARN Could not find NET with id \d+|"
     r"OFI Provider name does not match configure-time provider name|No valid libfabric provider|"
     r"efa_rdm_txe_handle_error\(\):\d+<warn> err: \d+, message: Remote feature mismatch|"
     r"Failed to register CUDA buffer with the EFA device|Invalid VNI \d+ for cxi\d+|cxil_get_svc with \S+ and rgroup_id \d+ failed|"
     r"process_vm_readv failed \(errno 1\)|The PMIx server's listener thread failed to start|"
     r"A PMIx server found a stale rendezvous file|The user ID of the client process does not match the ID registered|"
     r"PRTE detected a mismatch in versions between two processes|The SLURM process starter for OpenMPI was unable to locate",
     "the fabric's provider, NCCL's network plugin or the MPI launcher's runtime could not start (missing, "
     "mismatched, or not configured for this node)", also=("network",), explains=("net-ofi",))
# MPICH told by the environment to do what this node cannot (a NIC policy, a variable it rejects)
sign("env-mpi-env", "software_env", "user", "mpi", 2,
     r"OFI invalid value for environment variable|Unable to use a NIC_POLICY of|"
     r"No PMIx server was reachable, but a PMI1/2 was detected|PMIx_Init failed for the following reason|"
     r"Open MPI only supports one accelerator framework per node|Unable to open collective tuning file|"
     r"FI_HMEM capability requires peer to peer support, which is disabled|The TLs list is empty\. Please specify the transports",
     "MPI could not work with what the job's environment set or chose (a variable's value, a launcher or PMI "
     "it does not match, a tuning file, GPU support it was not given)",
     also=("user_code",), explains=("net-fabric", "env-ucx"))
# slurmstepd could not set the task up and does not say why: a plugin (PMIx, a SPANK plugin such as
# pyxis), cgroups or the node's slurmd; its own log names the cause
sign("env-launch-failed", "software_env", "infra", "slurm", 2,
     r"Task launch for \S+ failed on node \S+: Unspecified error|task \d+ launch failed: Unspecified error|"
     r"Application launch failed: Unspecified error",
     "Slurm could not start the job's tasks (an unspecified launch error: a plugin such as PMIx or pyxis, "
     "cgroups, or the node's slurmd; slurmd's log on the node names it)", also=("scheduler",))
# Open MPI found an adapter whose ports are all down; the job may still run over TCP
# Open MPI carries on over TCP: a hint (a slower job), not a failure
sign("net-ports-down", "network", "infra", "fabric", 4,
     r"no active ports detected",
     "the node's InfiniBand adapter has no active port (cable, switch or subnet manager); MPI fell back to TCP")
sign("net-lnet", "network", "infra", "fabric", 1,
     r"\bLNetError\b|Request sent has failed due to network error|client_bulk_callback\(\)\) event type \d+, status -5",
     "Lustre's network layer (LNet) lost messages: the fabric, its routers or the servers' links",
     explains=("fs-stale-io",), also=("filesystem",))
sign("net-hca", "network", "infra", "fabric", 1,
     r"Port module event.*(?:Cable unplugged|Cable error|\[error\])|device's health compromised|"
     r"health recovery flow aborted|ENABLE_HCA\(0x\w+\) timeout|\bib\d+: (?:transmit timeout|multicast join failed)|"
     r"^(?=.*\bmlx5_core\b).*PCIe Bus Error: severity=Uncorrected|Got FATAL event (?:port error|local catastrophic error)|"
     r"No active HCAs found on the system|mlx5_function_setup:\d+:.*Firmware over \d+ MS in pre-initializing state|"
     r"poll_health:\d+:.*Fatal error \d+ detected|mlx5_fw_fatal_reporter_err_work:\d+:.*Driver is in error state|"
     r"mlx5_core \S+ \S+: TX timeout on queue",
     "the node's network adapter failed (its cable, its firmware's health checks, its PCIe link)",
     explains=("pcie-fatal",))
# InfiniBand diagnostics: a port that is down, error counters that are not zero, the subnet manager's errors
sign("net-ib-diag", "network", "infra", "fabric", 2,
     r"^\s*State: (?:Down|Initializing)\s*$|^\s*Physical state: Polling\s*$|^\s*state:\s+1: DOWN|"
     r"^\s*phys state:\s+2: Polling|Down/ Polling\)|"
     r"\[(?:PortRcvErrors|PortRcvRemotePhysicalErrors|ExcessiveBufferOverrunErrors|LocalLinkIntegrityErrors|"
     r"PortXmitDiscards|SymbolErrors?|LinkDownedCounter|LinkErrorRecoveryCounter) == [1-9]\d*\]|"
     r"^(?:SymbolErrorCounter|PortRcvErrors|ExcessiveBufferOverrunErrors|LinkDownedCounter|"
     r"LinkErrorRecoveryCounter|LocalLinkIntegrityErrors):\.+[1-9]\d*\s*$|"
     r"ERR \w+: (?:SymbolErrorCounter|ExcessiveBufferOverrunErrors|LinkDownedCounter|PortRcvErrors) :|"
     r"MAD completed in error \(IB_TIMEOUT\)|Timeout while getting attribute .*\(PortInfo\)|"
     r"Bad signal integrity|check_hw_ib: +No IB port",
     "the InfiniBand port or link reports errors or is down (diagnostics, counters or the subnet manager)")
sign("net-ofi", "network", "infra", "fabric", 2,
     r"MPIDI_OFI_handle_cq_error|OFI poll failed|NET/OFI (?:Unable|Failed|Couldn't)|"
     r"\bfi_(?:cq|av|ep|send|recv|read|write|inject|tsend|trecv)\w* (?:failed|returned error)|"
     r"\bcxi\w*:.{0,200}UNDELIVERABLE|NET/OFI Request \S+ \(\w+\) completed with error|"
     r"security group on either this instance or the peer|Unresponsive receiver \(reachable by EFA device|"
     r"efa_rdm_txe_handle_error|Flow control triggered due to failure to append",
     "the fabric's libfabric (OFI) provider reported errors (EFA, Slingshot/CXI, verbs): the network or its "
     "configuration", explains=("fs-stale-io",))
# a rank's TCP connection to a peer failed where the address itself is the problem (a wrong interface,
# a name that does not resolve, a hostname that resolves to the loopback, a firewall, routing)
sign("net-mpi-tcp", "network", "infra", "fabric", 2,
     r"Open MPI failed to TCP connect to a peer MPI process|gethostbyname failed|"
     r"Socket creation failed : Address family not supported by protocol|"
     r"connect \[127\.\d+\.\d+\.\d+\]:\d+: Connection refused|"
     r"\[Errno 113\] No route to host|Couldn't detect a suitable IP address for reaching .* defaulting to '127\.0\.0\.1'|pmixp_p2p_send: .*send failed|failed to send temp kvs to compute nodes",
     "a rank could not reach another over TCP: a container bridge or wrong interface, a name that does not "
     "resolve or resolves to 127.0.x.x (/etc/hosts), a firewall, or routing between the nodes")
# ibstatus's own failure; libibverbs' "No IB devices found" is what any Ethernet-only node prints
sign("net-no-device", "network", "infra", "fabric", 1,
     r"sys files not found \(/sys/class/infiniband",
     "the node has no usable InfiniBand device (its HCA's driver or firmware did not come up)")
# a hint, not a cause: a single-node job runs fine over docker0
sign("net-iface", "network", "infra", "nccl", 4,
     r"(?:NET/Socket : Using|Bootstrap : Using|^)\s*(?:\[\d+\])?(?:docker\d+|br-[0-9a-f]{12}|veth[0-9a-f]{5,}|"
     r"virbr\d+|lxcbr\d+|cni\d+):[0-9a-f.:]+(?:%\w+)?<\d+>",
     "NCCL's socket transport picked a container bridge or veth interface that other nodes cannot reach "
     "(set NCCL_SOCKET_IFNAME to the cluster's interface)")
sign("net-no-iface", "network", "infra", "nccl", 2,
     r"Bootstrap : no socket interface found|NET/Socket : no interface found",
     "NCCL found no socket interface it may use (NCCL_SOCKET_IFNAME names none that exists or is routable "
     "on this node)", explains=("user-nccl-usage",))
# a rendezvous that could not reach its store: weakly the network (the host, its port or a firewall)
sign("net-rendezvous", "network", "infra", "fabric", 3,
     r"RendezvousConnectionError|client socket has timed out after \d+ms while trying to connect|"
     r"connect\(\) timed out\. Original timeout|Timed out connecting Nanny",
     "the job's ranks could not reach their rendezvous (the store's host or port: the network, a firewall, "
     "or a wrong MASTER_ADDR)", also=("user_code",))
sign("net-symptom", "network", "infra", "nccl", 4,
     r"Watchdog caught collective operation timeout|ncclRemoteError|remote process exited|"
     r"NCCL (?:communicator was aborted|error: unhandled system error)|ncclSystemError|ncclInternalError|"
     r"Connection reset by peer|Connection refused|Broken pipe|socketProgress|"
     r"ORTE has lost communication|An MPI communication peer process has unexpectedly disconnected|"
     r"Socket Timeout|Timed out waiting for|DistNetworkError|DistBackendError|heartbeat|"
     r"Some NCCL operations have failed or timed out",
     "a collective timed out or a peer went away (a symptom: look for what happened first)",
     also=("gpu_hardware", "user_code"))

# ---- CUDA's error codes, whichever wrapper prints them (cuda_codes.py)
sign("cuda-code-misuse", "user_code", "user", "cuda", 3, cuda_codes.pattern(cuda_codes.USER),
     "a CUDA call or kernel of the job failed on its own terms (an invalid argument, handle or launch "
     "configuration, a kernel fault, a stream-capture rule)")
sign("cuda-code-build", "software_env", "user", "cuda", 2, cuda_codes.pattern(cuda_codes.BUILD),
     "the job's CUDA build does not fit this GPU or runtime (its kernels, PTX or symbols)", also=("user_code",))
sign("cuda-code-node", "software_env", "infra", "driver", 2, cuda_codes.pattern(cuda_codes.NODE),
     "CUDA failed in the node's platform (a driver too old for the call, the MPS daemon, the OS, the GPUs' "
     "topology, a licence)", also=("gpu_hardware",))

# ---- the job's own code
sign("user-illegal-address", "user_code", "user", "cuda", 3,
     r"illegal memory access|cudaErrorIllegalAddress|misaligned address|device-side assert(?:ion)? triggered|"
     r"CUDA error: an illegal instruction|unspecified launch failure|cudaErrorLaunchFailure|"
     r"block: \[\d+,\d+,\d+\], thread: \[\d+,\d+,\d+\] Assertion|Memory access fault by GPU node-\d+|"
     r"Invalid __(?:global|shared|local)__ (?:write|read) of size|HSA_STATUS_ERROR_MEMORY_APERTURE_VIOLATION|"
     r"========= (?:Barrier error detected|Error: Race reported between|Uninitialized __\w+__ memory read)|"
     r"HSA_STATUS_ERROR_(?:ILLEGAL_INSTRUCTION|OUT_OF_REGISTERS)|Memory critical error by agent",
     "the job's GPU code faulted (illegal address or device assert)", also=("gpu_hardware",))
sign("user-nccl-usage", "user_code", "user", "nccl", 2,
     r"ncclInvalidUsage|ncclInvalidArgument|NCCL error in: .*invalid usage|Duplicate GPU detected|"
     r"Mismatched collective detected|Detected mismatch between collectives on ranks|"
     r"Multiple Ranks are using the same GPU|NET/Socket : peer .* message truncated : receiving \d+ bytes instead|"
     r"Mismatched ALLREDUCE tensor shapes|Horovod has not been initialized|Unable to find address for: \S+|"
     r"Expected to have finished reduction in the prior iteration|Default process group has not been initialized|"
     r"ProcessGroupNCCL is only supported with GPUs, no GPUs found|called (?:before MPI_INIT|after MPI_FINALIZE) was invoked|"
     r"mpirun has detected an attempt to run as root|not enough slots available in the system|"
     r"(?:Fatal error in )?PMPI_\w+(?:\(\d+\))?: (?:Invalid (?:rank|count|tag|communicator|datatype|root|op)\b|"
     r"Message truncated|Negative count|Null communicator|MPI_Op \S+ operation not defined for this datatype|"
     r"Datatype has not been committed|Wrong synchronization of RMA calls|Target memory is not contained within the window)|"
     r"Too many communicators \(\d+/\d+ free|Cannot allocate context ID because of fragmentation|"
     r"Message size \d+ bigger than supported by selected transport|The function MPI_FINALIZE was invoked multiple times|"
     r"Open MPI has detected that this process has attempted to initialize|Your job failed to map\. Either no mapper|"
     r"A request was made to bind that would require binding|The system has exhausted its available ranks|"
     r"ibv_fork_init\(\) was disabled or failed, yet a fork\(\) has been issued|"
     r"A process has executed an operation involving a call to the fork\(\) system call|"
     r"Message from rank \d+ and tag \d+ truncated|failed to pass monitoredBarrier|Bootstrap : no socket interface found|"
     r"network device '\S+' is not available, please use one or more of|transport '\S+' is not available, please use|"
     r"NCCL WARN \w+ : (?:invalid root \d+|\w+ 0x[0-9a-f]+ is not a valid pointer|\w+ allocated on device \d+ mismatchs? with NCCL device)|"
     r"Trying to send to self without a matching recv|Attempt to use communicator before the previous operation returned|"
     r"corrupted comm object detected|NCCL WARN Invalid rank requested|Bootstrap Root : (?:rank \d+ of \d+ ranks has already checked in|mismatch in info from procs)|"
     r"No algorithm/protocol available for function|FP8 reduction support begins with|"
     r"no device found matching \S+, verify NCCL_\w+_IFNAME|"
     r"CUDNN_STATUS_NOT_SUPPORTED\. This error may appear if you passed in a non-contiguous input|miopenStatusNotImplemented|"
     r"CUBLAS_STATUS_INVALID_VALUE|CUFFT_INVALID_(?:SIZE|VALUE|TYPE|PLAN)",
     "the job used its communication library wrongly (two ranks on one GPU, collectives or message sizes that "
     "differ between ranks, a call before init or after finalize, more ranks than slots)",
     also=("software_env",), explains=("env-nccl-version",))
sign("user-cuda-launch", "user_code", "user", "cuda", 2,
     r"too many resources requested for launch|cudaErrorLaunchOutOfResources|OutOfResources: out of resource|"
     r"Attempting to deserialize object on (?:a )?CUDA device|Cannot attach texture object to alloc_ptr|CUDA error: invalid device ordinal",
     "the job asked the GPU for more than it gives (a kernel's launch resources) or ran GPU code where no GPU "
     "was visible (no --gres=gpu)")
sign("user-diverged", "user_code", "user", "process", 2,
     r"loss scale already at minimum|found NaN in (?:local )?grad norm|FloatingPointError: invalid value \(nan\)",
     "the training diverged (NaN or inf values, the loss scale exhausted)", also=("gpu_hardware",))
sign("user-port-in-use", "user_code", "user", "network", 2,
     r"Address already in use|errno: 98\b|\bEADDRINUSE\b|could not bind to port \d+, it was already in use",
     "the job's rendezvous port is taken (another job on the node uses the same MASTER_PORT)")
# a web download (an HTTP client, curl, git over https) whose host name does not resolve from the
# job: compute nodes often have no internet access by design (the job should fetch on a login node
# first); a peer's name that does not resolve for MPI or ssh is the fabric's (net-mpi-tcp)
sign("net-no-internet", "network", "user", "internet", 2,
     r"NameResolutionError\(.*Failed to resolve '[^']+'|^curl: \(6\) Could not resolve host: \S+|"
     r"unable to access 'https?://[^']+': Could not resolve host|"
     r"HTTPS?ConnectionPool\(host='[^']+', port=\d+\): Max retries exceeded.*(?:Name or service not known|"
     r"Temporary failure in name resolution|nodename nor servname)",
     "a web address did not resolve from the job's node: compute nodes often have no internet access "
     "(fetch what the job needs on a login node first, or ask whether the site has a proxy)",
     also=("user_code",))
sign("user-offline-hub", "user_code", "user", "network", 2,
     r"couldn't connect to 'https?://huggingface\.co'|We couldn't connect to .huggingface\.co",
     "the job tried to download a model on a compute node without internet access (download it first and set "
     "HF_HUB_OFFLINE=1)")
sign("user-script-format", "user_code", "user", "process", 1,
     r"DOS line breaks|/bin/(?:ba)?sh\^M: bad interpreter|invalid interpreter \(/bin/\w+\) specified|"
     r"This does not look like a batch script|execve\(\): \S+: Permission denied|"
     r"mpirun was unable to find the specified executable|srun: fatal: No command given to execute|mpirun was unable to launch the specified application"
     r"|[‘'`]\S*\\r[’']: No such file or directory|\$'\\r': command not found",
     "the job's script is not a runnable script (Windows line endings, no #! line)", explains=("env-import",))
# the job named a file it cannot run or that is not there: its own path (a typo, a relative path read
# from another working directory, a missing execute bit); a missing program of a module stays env-import
sign("user-not-executable", "user_code", "user", "process", 1,
     r"(?:slurm_script|\.sh|\.bash): (?:line )?\d+: (?:\./[^\s.:]+|\S+\.(?:sh|bash|py|pl|R|run|exe|x)|\S*/bin/\S+): "
     r"Permission denied$",
     "the job ran a file it may not execute (no execute bit, or a filesystem mounted noexec)")
# (tier 3: a weak cause that any stronger one outranks, and not one that makes a node's fault context;
# not ls, head, tail or wc, which scripts use to probe for a file they can do without, such as a checkpoint)
sign("user-missing-path", "user_code", "user", "path", 3,
     r"can't open file ['‘][^'’]+['’]: \[Errno 2\] No such file or directory|"
     r"Fatal error: cannot open file '[^']+': No such file or directory|"
     r"^(?:cp|mv|cat|ln|tar|sort|cut|rsync|gzip|gunzip|zcat|touch|chmod|mkdir): cannot "
     r"(?:stat|open|access|create regular file|create directory) ['‘][^'’]+['’]: No such file or directory|"
     r"^Unable to find file or directory ['‘][^'’]+['’]",
     "the job named a script or input that is not at that path (a typo, or a relative path read from another "
     "working directory)", also=("filesystem",))
# a program the job ran refused its command line (GNU getopt, Python's argparse, click): a misspelt
# option, one the installed version does not have, a missing argument; most exit 2
sign("user-arguments", "user_code", "user", "arguments", 2,
     r"^(?!(?:info|warn(?:ing)?|debug|note|notice|error)\b)\S+: (?:unrecognized|unrecognised|invalid|unknown|illegal) "
     r"option\b|"
     r"^\S+: option ['‘]?-{1,2}[\w-]+['’]? (?:requires an argument|is ambiguous|doesn't allow an argument)|"
     r"^Try ['‘]\S+ --help['’] (?:or ['‘]\S+ --usage['’] )?for more information|"
     r"^\S+: error: (?:unrecognized arguments:|the following arguments are required:|argument \S+: |"
     r"too few arguments|one of the arguments \S+ is required)|"
     r"^Error: (?:No such option: -|Missing (?:argument|option) ['\"]|Invalid value for ['\"]|"
     r"Got unexpected extra arguments? \()",
     "a program the job ran refused its command line (an unknown or misspelt option, a missing argument)")
# the batch script itself is wrong: bash (or dash, "sh: 1: Syntax error") stops at a syntax error, or at a
# variable `set -u` finds unset; not a script of the site's own (/etc, /usr, /opt: a login profile)
sign("user-script-error", "user_code", "user", "script", 2,
     r"(?:^|\s)(?!/(?:etc|usr|opt)/)\S*(?:slurm_script|\.sh|\.bash|\bbash|\bsh): (?:line )?\d+: "
     r"(?:syntax error\b|(?!__lmod)\S+: unbound variable$|"
     r"\S+: bad substitution$|unexpected EOF while looking for matching)",
     "the job's script has an error of its own (a syntax error, a variable used unset under set -u)")
# a path the job named that its user may not open: a redirect, mkdir, cp or touch into a directory of
# someone else's (tier 3, like a missing path: a stronger cause outranks it; the site's ACLs may be wrong)
sign("user-path-denied", "user_code", "user", "path", 3,
     r"(?:^|\s)(?!/(?:etc|usr|opt)/)\S*(?:slurm_script|\.sh|\.bash): line \d+: \S+: Permission denied$|"
     r"^(?:cp|mv|mkdir|touch|ln|tee|tar|rsync|install): cannot (?:create (?:regular file|directory|symbolic link)|touch|"
     r"open|remove|move) ['‘][^'’]+['’](?: to ['‘][^'’]+['’])?: Permission denied",
     "the job named a path its user may not write or open (a directory of another user or group)",
     also=("filesystem",))
sign("user-resources", "user_code", "user", "process", 2,
     r"fork rejected by pids controller|check_ps_unauth_users: |Could not open stdout file|"
     r"PBS: job killed: ncpus [\d.]+ exceeded limit|\bTERM_(?:PROCESSLIMIT|THREADLIMIT)\b|received 0 items of ancdata|"
     r"Too many open files\. Communication with the workers|fork: retry: Resource temporarily unavailable|"
     r"OMP: Error #34: System unable to allocate|libgomp: Thread creation failed|"
     r"OutOfMemoryError: (?:unable to create new native thread|Requested array size exceeds VM limit)|"
     r"\[Errno (?:36|17|26)\] (?:File name too long|File exists|Text file busy)|"
     r"\[Errno 24\] Too many open files|\bEMFILE\b|"
     r"\[Errno 18\] Invalid cross-device link|lfs setstripe: setstripe error|Transfer input files failure",
     "the job hit a limit of its own making (too many processes or open files, a rename across filesystems, "
     "a stripe set twice, an input file that is not there)")
sign("user-data-file", "user_code", "user", "data", 2,
     r"Unable to (?:open|create) file \((?:file signature not found|truncated file|unable to truncate)|"
     r"NetCDF: (?:Unknown file format|Not a valid ID|Start\+count exceeds|One or more variable sizes violate|"
     r"File likely truncated)|Error while deserializing header|image file is truncated|EOFError: Ran out of input|"
     r"gzip: stdin: unexpected end of file",
     "the job's data file is not what it expects (truncated, another format, an index out of its bounds)",
     also=("filesystem",))
# simulation codes stopping on their own input or physics
sign("user-simulation", "user_code", "user", "input", 2,
     r"There is no domain decomposition for \d+ ranks|A USER ERROR has occurred|ERROR(?: on proc \d+)?: (?:Lost atoms|Out of range atoms)|"
     r"Periodic cell has become too small|HPL ERROR from process|ZBRENT: fatal error in bracketing|"
     r"VERY BAD NEWS! internal error in subroutine|LAPACK: Routine \w+ failed",
     "the simulation stopped on its own input or physics (a decomposition, a cell or a solver that does not fit)")
# the job's own files outgrowing what one directory holds
sign("fs-dir-limits", "filesystem", "user", "storage", 2,
     r"index full, reach max htree level|\[Errno 31\] Too many links",
     "the job put more entries in one directory than the filesystem allows")
# distributed-training frameworks refusing the job's configuration or checkpoint
sign("user-framework-config", "user_code", "user", "framework", 2,
     r"ZeRORuntimeException|Directory cannot be locked\. Please make sure that no other Snakemake process|is not divisible by tensor_model_parallel_size|Specify --no-load-optim or --finetune|"
     r"got mixed torch\.Tensor and DTensor|Missing key in checkpoint state_dict|"
     r"Lightning can't create new processes if CUDA is already initialized|Some tensors share memory, this will lead to|"
     r"jax\.distributed\.initialize\(\) must be called before|distributed\.initialize should only be called once|"
     r"There were no checkpoints found in checkpoint_dir|Expected to mark a variable ready only once|"
     r"The number of context tokens \(\d+\) exceeds the limit|You requested gpus?: .* But your machine only has|"
     r"No backend type associated with device type|LocalEntryNotFoundError",
     "the training or serving framework refused the job's configuration or checkpoint")
# printed by every first run too: a hint
sign("user-framework-warning", "user_code", "user", "framework", 4,
     r"Unable to find latest file at|could not find the metadata file \S*latest_checkpointed_iteration",
     "the framework found no checkpoint where the job said one was (it starts from scratch)")
sign("user-cuda-fork", "user_code", "user", "cuda", 2,
     r"Cannot re-initialize CUDA in forked subprocess",
     "the job's code touched CUDA before forking workers (use the 'spawn' start method)")
sign("user-segfault", "user_code", "user", "process", 3,
     r"Segmentation fault|SIGSEGV|signal 11\b|core dumped|Floating point exception|"
     r"double free|free\(\): invalid|stack smashing|Aborted \(core dumped\)|terminate called after throwing|"
     r"malloc\(\): (?:corrupted|invalid|memory corruption)|corrupted (?:size vs\. prev_size|double-linked list)|"
     r"\bsegfault at [0-9a-f]+ ip\b|traps: \S+ (?:general protection fault|trap divide error)|"
     r"RaisedSignal:11\b|\bFAILED\s+\d+:11\s*$",
     "the job's process crashed (segfault, abort)", also=("software_env",))
sign("user-exception", "user_code", "user", "python", 3,
     r"^\s*(?:\w+\.)*(?:ValueError|KeyError|IndexError|TypeError|AttributeError|NameError|ZeroDivisionError|_?LinAlgError|"
     r"OverflowError|SyntaxError|PicklingError|UnpicklingError|ParserError|"
     r"AssertionError|FileNotFoundError|NotImplementedError|RecursionError|UnboundLocalError|"
     r"json\.decoder\.JSONDecodeError|StopIteration|PermissionError|IsADirectoryError)\b|"
     r"Expected all tensors to be on the same device|size mismatch|shape .* is invalid|"
     r"shapes cannot be multiplied|Error\(s\) in loading state_dict for|does not require grad and does not have a grad_fn|"
     r"needed for gradient computation has been modified by an inplace operation|"
     r"The size of tensor a \(\d+\) must match the size of tensor b|^\s*(?:IndentationError|TabError)\b|"
     r"loss is nan|NaN or Inf found|Assertion `.*' failed",
     "the job's own code raised an error")
# other languages' runtimes reporting the program's own error (Fortran, C++, the sanitizers, R, Julia,
# Java, Spark, the build)
sign("user-runtime-error", "user_code", "user", "process", 3,
     r"Fortran runtime error: |forrtl: (?:severe|error) \((?!41\)|78\)|38\))\d+\)|^\s*what\(\):|"
     r"terminate called without an active exception|==\d+==ERROR: (?:AddressSanitizer|LeakSanitizer): (?!out of memory)|"
     r"runtime error: (?:signed integer overflow|load of misaligned|index -?\d+ out of bounds|.*null pointer)|"
     r"\*\*\* buffer overflow detected \*\*\*|Program received signal SIGFPE|^\s*Error in (?!unserialize)\S+\(|"
     r"Error: C stack usage|ERROR: LoadError: (?:StackOverflowError|BoundsError|DimensionMismatch|MethodError|"
     r"UndefVarError|DomainError|InexactError)|java\.lang\.StackOverflowError|Job aborted due to stage failure|"
     r"relocation truncated to fit|No rule to make target|does not match the source .* used to generate cache|"
     r"OpenBLAS blas_thread_init: pthread_create failed|likely cause is an infinite recursion|"
     r"^panic: runtime error: |^thread '[^']*' panicked at |"
     r"^Exception in thread \"[^\"]+\" (?:java|scala)\.\S*(?:Exception|AssertionError)\b",
     "the job's program failed on its own error (its code, its input or its build)", also=("software_env",))
# an Intel Fortran traceback through a routine of the program's own sources named for aborting: the
# program stopped itself on an error it detected (its input, its configuration); a libc abort has
# no Fortran source and is not this
sign("user-abort-routine", "user_code", "user", "process", 3,
     r"\s[0-9A-F]{16}\s+\w*abort\w*\s+\d+\s+\w+\.f(?:90|95|03|08)?\s*$",
     "the program called its own abort routine on an error it detected (read the lines before it: "
     "its input or its configuration)", also=("software_env",))
# simulation codes stopping on their own numerics (a model that blew up) or their own input (a topology,
# namelist, decomposition or case file that does not fit): GROMACS, LAMMPS, NAMD, OpenFOAM, WRF, MPAS,
# E3SM/CESM, Quantum ESPRESSO, CP2K, PETSc
sign("user-model-unstable", "user_code", "user", "process", 3,
     r"Too many LINCS warnings|molecules? can not be settled|potential energy is nan|Non-numeric atom coords|"
     r"simulation (?:has become )?unstable|System unstable or pairlistdist|Atoms moving too fast|"
     r"Margin is too small for \d+ atoms|Constraint failure in RATTLE|negative layer thickness|NaN found in \w+ instance|"
     r"SCF run NOT converged|S matrix not positive definite|Cholesky decompose failed|problems computing cholesky|"
     r"too many bands are not converged|has not converged due to infinity or NaN|Negative initial temperature|"
     r"Continuity error cannot be removed|Domain too large for neighbor bins|Bond atoms \d+ \d+ missing on proc|"
     r"Neighbor list overflow, boost neigh_modify|particles communicated to PME rank|BalanceCheck: \w+ balance error|"
     r"Zero pivot in LU factorization|force on at least one atom is not finite",
     "the simulation became numerically unstable or did not converge (its input, its time step, its model)",
     also=("gpu_hardware",))
sign("user-model-input", "user_code", "user", "process", 3,
     r"Checkpoint file is for a system of \d+ atoms|number of coordinates in coordinate file|No such moleculetype|"
     r"in bonds out of bounds|Did not assign all atoms correctly|keyword \w+ is undefined in dictionary|"
     r"Unknown patchField type|number of processor directories = \d+ is not equal to the number of processors|"
     r"error opening (?:wrfinput|met_em)\S*|Reduce the MPI rank count, or redistribute the tasks|nproc_x \* nproc_y in namelist|"
     r"ERRORS while reading one or more namelists|time_step must be set to a positive integer|config_block_decomp_file_prefix|"
     r"Decomposition file: \S+ contains more than|Could not open run-time I/O config file|charge is wrong: smearing is needed|"
     r"starting and expected charges differ|^\s*too few bands\s*$|\.UPF not found|The requested basis set <|"
     r"PETSC ERROR: Nonconforming object sizes|Kokkos has been compiled with GPU-enabled backend but no GPUs are requested|"
     r"unable to bind to CUDA device \d+ on \S+ because only \d+ devices are present|"
     r"cannot find file \"[^\"]*/(?:0|constant|system)/[^\"]*\"",
     "the simulation's input does not fit (its topology, case files, namelist or decomposition for this rank count)",
     also=("filesystem",))
sign("env-app-build", "software_env", "user", "build", 2,
     r"GPU library not compiled for this accelerator|package which is not enabled in this LAMMPS binary|"
     r"MPI library at runtime is not compatible with MPI used at compile time|"
     r"PETSC ERROR: Unknown type\. Check for miss-spelling or missing package|PETSC ERROR: Overflow in integer operation",
     "the application was built without what the run needs (a package, the GPU, the MPI it runs with, 64-bit indices)")
sign("user-mpi-abort", "user_code", "user", "process", 3,
     r"MPI_ABORT was invoked on rank|\bMPI_Abort\b|One of MPI processes was aborted",
     "the application called MPI_Abort on its own error (read the lines before it)",
     also=("software_env",))
# MPI's own argument errors: a receive buffer smaller than the message, a bad count, rank or
# communicator are the application's (or its input's) doing; MPI_ERR_OTHER/INTERN are not here
sign("user-mpi-usage", "user_code", "user", "process", 2,
     r"\bMPI_ERR_(?:TRUNCATE|COUNT|TYPE|TAG|RANK|ROOT|COMM|BUFFER|ARG|OP|DIMS|TOPOLOGY|GROUP)\b",
     "the application misused MPI (a message longer than its receive buffer, a bad count, rank or "
     "communicator): its own code or its input", also=("software_env",))
# srun waiting to start a step inside the job: the job's other steps hold the CPUs, memory or GPUs it
# asked for. A step that waits and then runs is normal, so the line alone is a symptom; a job idle
# at its time limit with it waited on its own steps (request_fit.time_limit)
sign("step-wait", "user_code", "user", "slurm", 4,
     r"step creation (?:temporarily|still) disabled, retrying",
     "srun waited to start a step: the job's other steps held the CPUs, memory or GPUs it asked for",
     also=("time_limit",))
sign("user-exit", "user_code", "user", "process", 4,
     r"exited with (?:exit )?code [1-9]\d*|Exited with exit code [1-9]\d*|exit status [1-9]\d*|"
     r"ChildFailedError|returned non-zero exit status",
     "a process of the job exited with an error")
