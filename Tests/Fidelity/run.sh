#!/usr/bin/env bash
# Fidelity check of the built-in Graph simulator (docs/simulator.md): builds `allot`, starts
# `allot simulate --tls` on a free loopback port, runs the official Microsoft Graph SDK for
# Python against it (fidelity_check.py), stops the simulator. Exits non-zero on any failure.
#
# The SDK is installed from PyPI into a virtual environment (default .build/fidelity-venv,
# override with FIDELITY_VENV); ALLOT_BIN skips the build and uses that binary.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${FIDELITY_VENV:-$root/.build/fidelity-venv}"
users=2500
token_lifetime=315  # MSAL keeps a token until five minutes before expiry: 15 s of cache life
client_id="3f1e0c52-6a7b-4c1d-9e2f-8a5b4c3d2e1f"
work="$(mktemp -d)"
simulator_pid=""

cleanup() {
    if [[ -n "$simulator_pid" ]] && kill -0 "$simulator_pid" 2>/dev/null; then
        kill "$simulator_pid"
        wait "$simulator_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "== Python environment ($venv)"
if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"

if [[ -n "${ALLOT_BIN:-}" ]]; then
    allot="$ALLOT_BIN"
else
    echo "== swift build --product allot"
    (cd "$root" && swift build --product allot)
    allot="$(cd "$root" && swift build --show-bin-path)/allot"
fi

# A fresh random secret for the registered application, never printed.
head -c 24 /dev/urandom | base64 | tr -d '\n/+=' > "$work/client-secret"

echo "== allot simulate --tls"
"$allot" simulate --tls --tls-cert-out "$work/simulator.pem" --listen 127.0.0.1:0 \
    --users "$users" --seed 11 --token-lifetime "${token_lifetime}s" \
    --client-id "$client_id" --client-secret-file "$work/client-secret" > "$work/simulator.log" 2>&1 &
simulator_pid=$!

for _ in $(seq 1 600); do
    if grep -qs "^  graph:" "$work/simulator.log"; then break; fi
    if ! kill -0 "$simulator_pid" 2>/dev/null; then
        echo "the simulator exited before it started listening:" >&2
        cat "$work/simulator.log" >&2
        exit 1
    fi
    sleep 0.1
done
base_url="$(sed -n 's|^  graph: *\(https://[^ ]*\)/v1.0$|\1|p' "$work/simulator.log")"
if [[ -z "$base_url" ]]; then
    echo "the simulator did not report its address:" >&2
    cat "$work/simulator.log" >&2
    exit 1
fi
echo "   listening at $base_url"

echo "== fidelity_check.py (msgraph-sdk, azure-identity)"
SIM_BASE_URL="$base_url" \
SIM_TENANT_ID="8f3c2a10-5b7e-4d2c-9a61-3e0f4b8d7c21" \
SIM_CLIENT_ID="$client_id" \
SIM_CLIENT_SECRET="$(cat "$work/client-secret")" \
SIM_USERS="$users" \
SIM_TOKEN_LIFETIME="$token_lifetime" \
REQUESTS_CA_BUNDLE="$work/simulator.pem" \
SSL_CERT_FILE="$work/simulator.pem" \
    "$venv/bin/python" "$here/fidelity_check.py"
