# Shared helpers for scripts/*. Source it; it does not change shell options.

# The workspace root (this file lives in scripts/).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ENGAGEMENT_VENV:-$ROOT/.venv}"
# The local DynamoDB: moto's server, with a Query reading only its partition (see scripts/moto_server.py).
MOTO_SERVER=("$VENV/bin/python" "$ROOT/scripts/moto_server.py")
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

# DEVELOPMENT ONLY: the public half of the fixed key that signs events/ (seed in
# crates/testkit/src/signing.rs). Anyone can sign with its private half: never deploy with it.
DEV_PUBLIC_KEY="45e30d482cec739edb71f029e2b235fe11f5e98d6241e5b87c7ffd8b72a68c6e"

# cargo-machete, the unused-dependency check (pinned). Installed from crates.io into .tools/ (gitignored)
# the first time, ~1 minute; prints the binary's path.
CARGO_MACHETE_VERSION="0.9.2"
cargo_machete() {
    local bin="$ROOT/.tools/bin/cargo-machete"
    if [[ "$("$bin" --version 2>/dev/null)" != "$CARGO_MACHETE_VERSION" ]]; then
        echo "installing cargo-machete $CARGO_MACHETE_VERSION into $ROOT/.tools ..." >&2
        cargo install --locked --quiet cargo-machete --version "$CARGO_MACHETE_VERSION" \
            --root "$ROOT/.tools" >&2 || return 1
        if [[ "$("$bin" --version 2>/dev/null)" != "$CARGO_MACHETE_VERSION" ]]; then
            echo "cargo-machete $CARGO_MACHETE_VERSION did not install into $ROOT/.tools" >&2
            return 1
        fi
    fi
    echo "$bin"
}

# Seconds since the epoch with fractions, and a duration since such a time ("12.3 s").
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f s", e - s }'; }

# A step banner.
banner() { printf '\n==> %s\n' "$*"; }

# The Python to create venvs with: $PYTHON, else python3.11, else python3.
pick_python() {
    if [[ -n "${PYTHON:-}" ]]; then
        echo "$PYTHON"
    elif command -v python3.11 >/dev/null 2>&1; then
        echo python3.11
    else
        echo python3
    fi
}

# A TCP port on 127.0.0.1 that is free right now.
free_port() {
    "$(pick_python)" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_port PORT SECONDS [PID]: waits until 127.0.0.1:PORT accepts connections. Fails after SECONDS,
# or as soon as process PID (when given) has exited.
wait_for_port() {
    local port="$1" seconds="$2" pid="${3:-}" deadline
    deadline=$(( $(date +%s) + seconds ))
    while ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
            echo "process $pid exited before listening on port $port" >&2
            return 1
        fi
        if (( $(date +%s) > deadline )); then
            echo "nothing listens on port $port after ${seconds}s" >&2
            return 1
        fi
        sleep 0.1
    done
}

# stop_process_group PID: SIGTERM to the process group led by PID (started with setsid), SIGKILL after 3 s.
stop_process_group() {
    local pid="$1" i
    kill -TERM -- "-$pid" 2>/dev/null || return 0
    for i in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
