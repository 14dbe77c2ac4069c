# shellcheck shell=bash
# Logging, timing and exit-time cleanup for tests/run and its helpers.
# Sourced, not executed.

if [[ -t 2 ]]; then
    say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
else
    say() { printf '==> %s\n' "$*" >&2; }
fi
warn() { printf 'tests/run: WARNING: %s\n' "$*" >&2; }
die() {
    printf '\ntests/run: ERROR: %s\n' "$*" >&2
    exit 1
}

# Cleanup actions, run in reverse order of registration when the script
# exits for any reason (success, failure, Ctrl-C).
_at_exit_cmds=()
at_exit() { _at_exit_cmds+=("$*"); }
_run_at_exit() {
    local status=$? i
    for ((i = ${#_at_exit_cmds[@]} - 1; i >= 0; i--)); do
        eval "${_at_exit_cmds[i]}" || true
    done
    exit "$status"
}
trap _run_at_exit EXIT
# Make signals go through the EXIT trap too, with the usual exit codes.
trap 'exit 130' INT
trap 'exit 143' TERM

# Step timing, for the final summary.
_step_names=()
_step_secs=()
_step_name=""
_step_start=0
step() {
    step_done
    _step_name=$1
    _step_start=$SECONDS
    say "$1"
}
step_done() {
    if [[ -n $_step_name ]]; then
        _step_names+=("$_step_name")
        _step_secs+=($((SECONDS - _step_start)))
        _step_name=""
    fi
}
print_timings() {
    local i
    step_done
    for i in "${!_step_names[@]}"; do
        printf '    %4ss  %s\n' "${_step_secs[i]}" "${_step_names[i]}" >&2
    done
}

# A TCP port on 127.0.0.1 that is free right now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
