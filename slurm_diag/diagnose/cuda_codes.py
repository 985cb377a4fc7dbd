"""The CUDA runtime's and driver's error codes, by whose fault each one is.

A job meets a CUDA error through many wrappers: PyTorch prints "CUDA error: <description>", CuPy
"cudaErrorXxx: <description>", Numba, TensorFlow and JAX "CUDA_ERROR_XXX", hand-written macros
"GPUassert: <description>" or the name in brackets. The codes are a closed list
(driver_types.h's cudaError, cuda.h's CUresult), so they are classified once, here, rather than
one wrapper's wording at a time. signs.py turns the table into signs.

Codes other signs already read are left out (out of memory, an illegal or misaligned address, a
device-side assert, an unspecified launch failure, the driver and toolkit mismatches, ECC, NVLink,
an unavailable device). So are those that do not say whose fault they are (an initialization
error, no device, not supported, not permitted, a launch that timed out, unknown).
"""

from __future__ import annotations

import re

# (runtime name, driver name or None, the runtime's description or None)
# the job's own misuse of the API or its kernels: its code
USER = (
    ("cudaErrorInvalidValue", "CUDA_ERROR_INVALID_VALUE", "invalid argument"),
    ("cudaErrorInvalidConfiguration", None, "invalid configuration argument"),
    ("cudaErrorInvalidPitchValue", None, "invalid pitch argument"),
    ("cudaErrorInvalidSymbol", None, "invalid device symbol"),
    ("cudaErrorInvalidHostPointer", None, "invalid host pointer"),
    ("cudaErrorInvalidDevicePointer", None, "invalid device pointer"),
    ("cudaErrorInvalidTexture", None, "invalid texture reference"),
    ("cudaErrorInvalidChannelDescriptor", None, "invalid channel descriptor"),
    ("cudaErrorInvalidMemcpyDirection", None, "invalid copy direction for memcpy"),
    ("cudaErrorMissingConfiguration", None, "__global__ function call is not configured"),
    ("cudaErrorLaunchMaxDepthExceeded", None, None),
    ("cudaErrorSyncDepthExceeded", None, None),
    ("cudaErrorLaunchPendingCountExceeded", None, None),
    ("cudaErrorUnsupportedLimit", "CUDA_ERROR_UNSUPPORTED_LIMIT", "limit is not supported on this architecture"),
    ("cudaErrorIncompatibleDriverContext", None, "incompatible driver context"),
    ("cudaErrorInvalidResourceHandle", "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"),
    ("cudaErrorIllegalState", "CUDA_ERROR_ILLEGAL_STATE", "the operation cannot be performed in the present state"),
    ("cudaErrorContextIsDestroyed", "CUDA_ERROR_CONTEXT_IS_DESTROYED", "context is destroyed"),
    ("cudaErrorSetOnActiveProcess", "CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE",
     "cannot set while device is active in this process"),
    ("cudaErrorLaunchOutOfResources", "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", None),
    ("cudaErrorPeerAccessAlreadyEnabled", "CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED",
     "peer access is already enabled"),
    ("cudaErrorPeerAccessNotEnabled", "CUDA_ERROR_PEER_ACCESS_NOT_ENABLED", "peer access has not been enabled"),
    ("cudaErrorTooManyPeers", "CUDA_ERROR_TOO_MANY_PEERS", "peer mapping resources exhausted"),
    ("cudaErrorHostMemoryAlreadyRegistered", "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED",
     "part or all of the requested memory range is already mapped"),
    ("cudaErrorHostMemoryNotRegistered", "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED",
     "pointer does not correspond to a registered memory region"),
    ("cudaErrorHardwareStackError", "CUDA_ERROR_HARDWARE_STACK_ERROR", "hardware stack error"),
    ("cudaErrorIllegalInstruction", "CUDA_ERROR_ILLEGAL_INSTRUCTION", "an illegal instruction was encountered"),
    ("cudaErrorInvalidAddressSpace", "CUDA_ERROR_INVALID_ADDRESS_SPACE",
     "operation not supported on global/shared address space"),
    ("cudaErrorInvalidPc", "CUDA_ERROR_INVALID_PC", "invalid program counter"),
    ("cudaErrorCooperativeLaunchTooLarge", "CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE",
     "too many blocks in cooperative launch"),
    ("cudaErrorStreamCaptureUnsupported", "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED",
     "operation not permitted when stream is capturing"),
    ("cudaErrorStreamCaptureInvalidated", "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED",
     "operation failed due to a previous error during capture"),
    ("cudaErrorStreamCaptureMerge", "CUDA_ERROR_STREAM_CAPTURE_MERGE", None),
    ("cudaErrorStreamCaptureUnmatched", "CUDA_ERROR_STREAM_CAPTURE_UNMATCHED", None),
    ("cudaErrorStreamCaptureUnjoined", "CUDA_ERROR_STREAM_CAPTURE_UNJOINED", None),
    ("cudaErrorStreamCaptureIsolation", "CUDA_ERROR_STREAM_CAPTURE_ISOLATION", None),
    ("cudaErrorStreamCaptureImplicit", "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT", None),
    ("cudaErrorCapturedEvent", "CUDA_ERROR_CAPTURED_EVENT", None),
    ("cudaErrorStreamCaptureWrongThread", "CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD", None),
    ("cudaErrorGraphExecUpdateFailure", "CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE", None),
    ("cudaErrorInvalidClusterSize", "CUDA_ERROR_INVALID_CLUSTER_SIZE", None),
)

# the job's build does not fit this GPU or runtime: its software environment (its own build)
BUILD = (
    ("cudaErrorInvalidKernelImage", "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"),
    ("cudaErrorInvalidPtx", "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"),
    ("cudaErrorJitCompilationDisabled", "CUDA_ERROR_JIT_COMPILATION_DISABLED", "PTX JIT compilation was disabled"),
    ("cudaErrorInvalidSource", "CUDA_ERROR_INVALID_SOURCE", None),
    ("cudaErrorSharedObjectSymbolNotFound", "CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND",
     "shared object symbol not found"),
    ("cudaErrorSharedObjectInitFailed", "CUDA_ERROR_SHARED_OBJECT_INIT_FAILED", "shared object initialization failed"),
    ("cudaErrorSymbolNotFound", "CUDA_ERROR_NOT_FOUND", "named symbol not found"),
    (None, "CUDA_ERROR_NO_BINARY_FOR_GPU", None),
    ("cudaErrorCdpVersionMismatch", "CUDA_ERROR_CDP_VERSION_MISMATCH", None),
)

# the node's driver, MPS daemon, licence, OS or topology: its platform
NODE = (
    ("cudaErrorCallRequiresNewerDriver", None, "API call is not supported in the installed CUDA driver"),
    ("cudaErrorMpsRpcFailure", "CUDA_ERROR_MPS_RPC_FAILURE", None),
    ("cudaErrorMpsServerNotReady", "CUDA_ERROR_MPS_SERVER_NOT_READY", None),
    ("cudaErrorMpsMaxClientsReached", "CUDA_ERROR_MPS_MAX_CLIENTS_REACHED", None),
    ("cudaErrorMpsMaxConnectionsReached", "CUDA_ERROR_MPS_MAX_CONNECTIONS_REACHED", None),
    ("cudaErrorMpsClientTerminated", "CUDA_ERROR_MPS_CLIENT_TERMINATED", "the MPS client has been terminated by the server"),
    ("cudaErrorOperatingSystem", "CUDA_ERROR_OPERATING_SYSTEM", "OS call failed or operation not supported on this OS"),
    ("cudaErrorPeerAccessUnsupported", "CUDA_ERROR_PEER_ACCESS_UNSUPPORTED",
     "peer access is not supported between these two devices"),
    ("cudaErrorDeviceNotLicensed", "CUDA_ERROR_DEVICE_NOT_LICENSED", "device doesn't have valid Grid license"),
)


def pattern(table) -> str:
    """One regular expression for a table: its names as words, and its descriptions where a CUDA
    wrapper prints them ("CUDA error: ...", "GPUassert: ...", "cuda runtime error (N) : ...")."""
    names = [n for row in table for n in row[:2] if n]
    texts = [row[2] for row in table if row[2]]
    words = r"\b(?:" + "|".join(names) + r")\b"
    if not texts:
        return words
    described = (r"(?:CUDA (?:error|runtime error|driver error)|GPUassert|cuda runtime error \(\d+\)|"
                 r"failed to peer with device \S+: \d+)\s*:?\s*(?:"
                 + "|".join(_escape(t) for t in texts) + ")")
    return words + "|" + described


def _escape(text: str) -> str:
    return re.escape(text).replace(r"\ ", " ")
