# Shared by prolog.sh, epilog.sh and healthcheck.sh (sourced, not run).
# slurmd gives hooks no PATH and no HOME; the wrappers usually export these, defaults otherwise.
PATH=${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}
case ":$PATH:" in *:/usr/bin:*) ;; *) PATH=$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin ;; esac
export PATH
[ -n "${HOME:-}" ] || { HOME=/root; export HOME; }
SDIAG_PYTHON=${SDIAG_PYTHON:-python3}
# make slurm_diag importable from this checkout even when the python is not the project's venv
SDIAG_REPO=${SDIAG_REPO:-$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)}
PYTHONPATH=$SDIAG_REPO${PYTHONPATH:+:$PYTHONPATH}
export SDIAG_REPO PYTHONPATH
# a hard ceiling so no hook can hang slurmd, whatever happens inside
SDIAG_HOOK_TIMEOUT=${SDIAG_HOOK_TIMEOUT:-30}
sdiag_log() { printf 'sdiag %s: %s\n' "$SDIAG_HOOK" "$*" >&2; }
sdiag_run() {
    if command -v timeout >/dev/null 2>&1; then
        timeout -k 2 "$SDIAG_HOOK_TIMEOUT" "$SDIAG_PYTHON" -m "$@"
    else
        "$SDIAG_PYTHON" -m "$@"
    fi
}
