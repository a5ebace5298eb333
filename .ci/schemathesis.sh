#!/usr/bin/env bash
# Fuzzes the HTTP API against its own OpenAPI document with schemathesis.
#
# Starts `authd` on a throw-away SQLite database and a free port, makes an
# administrator (so /admin is fuzzed past 403 as well), and runs every
# schemathesis check except `positive_data_acceptance`: that one expects
# every schema-valid request to succeed, which no schema can promise for a
# wrong password, a random reset token or cursor, or a common password. Any
# 5xx, or any status, content type, header or body the document does not
# describe, fails the run.
#
# Operations that end the caller's session (log-out, revoking sessions) are
# fuzzed in a second run, where every request logs in afresh, so that they
# do not sign the first run out.
#
# Environment (all optional):
#   SCHEMATHESIS_MAX_EXAMPLES  test cases per operation and phase (default 50)
#   SCHEMATHESIS_SEED          seed, to reproduce a failure
#   AUTHD_PROFILE              `debug` or `release` (default: release when
#                              target/release/authd exists, else debug)
set -euo pipefail
cd "$(dirname "$0")/.."

readonly SCHEMATHESIS_VERSION=4.32.5
readonly MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-50}"
# Hard cap on each schemathesis run, so that a hang fails instead of eating
# the whole CI budget.
readonly RUN_TIMEOUT_SECS=300

say() { printf '[schemathesis] %s\n' "$*"; }

repo=$(pwd)
target_dir="${CARGO_TARGET_DIR:-target}"
[[ $target_dir == /* ]] || target_dir="$repo/$target_dir"
work=$(mktemp -d "${TMPDIR:-/tmp}/authd-schemathesis.XXXXXX")
server_pid=""

stop_server() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}

finish() {
  local status=$?
  stop_server
  if ((status != 0)) && [[ -s $work/authd.log ]]; then
    # 5xx answers are logged at WARN, their causes at ERROR.
    if grep -qE ' (WARN|ERROR) ' "$work/authd.log"; then
      say "server warnings and errors (first 40):"
      grep -E ' (WARN|ERROR) ' "$work/authd.log" | head -n 40 | sed 's/^/    /'
    else
      say "server log (last 20 lines):"
      tail -n 20 "$work/authd.log" | sed 's/^/    /'
    fi
  fi
  rm -rf "$work"
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- (a) schemathesis in a throw-away virtualenv -----------------------------
say "installing schemathesis $SCHEMATHESIS_VERSION into $work/venv"
if ! python3 -m venv "$work/venv" >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    say "python3 -m venv failed; installing python3-venv"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$work/venv"
    python3 -m venv "$work/venv"
  else
    say "python3 -m venv is not available" >&2
    exit 1
  fi
fi
py="$work/venv/bin/python"
"$py" -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
st="$work/venv/bin/schemathesis"
say "$("$st" --version)"

# --- (b) build and start authd ----------------------------------------------
profile="${AUTHD_PROFILE:-}"
if [[ -z $profile ]]; then
  if [[ -x $target_dir/release/authd ]]; then profile=release; else profile=debug; fi
fi
case "$profile" in
  release) cargo build --release -p auth-api --bin authd ;;
  debug) cargo build -p auth-api --bin authd ;;
  *) say "AUTHD_PROFILE must be debug or release, not $profile" >&2; exit 2 ;;
esac
authd="$target_dir/$profile/authd"

port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"

# Only the settings below: nothing from the calling environment.
while read -r name; do unset "$name"; done < <(compgen -e | grep '^AUTH__' || true)
unset DATABASE_URL
export AUTH__ENV=development
export AUTH__SERVER__HOST=127.0.0.1
export AUTH__SERVER__PORT="$port"
export AUTH__DATABASE__URL="sqlite://$work/auth.db?mode=rwc"
AUTH__JWT__SECRET=$("$py" -c 'import secrets; print(secrets.token_urlsafe(48))')
export AUTH__JWT__SECRET
# Fuzzing sends thousands of requests from one address with wrong
# passwords: lift every limit so that it tests the API, not the throttle.
export AUTH__RATE_LIMIT__IP_PER_MINUTE=0
export AUTH__RATE_LIMIT__LOGIN_MAX_FAILURES=1000000
export AUTH__RATE_LIMIT__ACCOUNT_MAX_FAILURES=1000000
export AUTH__RATE_LIMIT__MAIL_PER_HOUR=1000000
export RUST_LOG="${RUST_LOG:-info}"

admin_email="fuzz-admin@example.com"
admin_password=$("$py" -c 'import secrets; print(secrets.token_urlsafe(24))')
# The server and the command line run in the temporary folder, so that no
# config/ folder of the checkout is layered over the settings above.
(cd "$work" && printf '%s\n' "$admin_password" | "$authd" user create --email "$admin_email" --admin) \
  >"$work/user-create.log" 2>&1 || {
  cat "$work/user-create.log" >&2
  exit 1
}

say "starting $authd ($profile) on $base, database in $work"
(cd "$work" && exec "$authd" serve) >"$work/authd.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 120); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    say "authd exited during start-up" >&2
    exit 1
  fi
  if "$py" -c "import urllib.request, sys; urllib.request.urlopen('$base/health', timeout=1)" 2>/dev/null; then
    break
  fi
  sleep 0.5
done
"$py" -c "import urllib.request; urllib.request.urlopen('$base/health', timeout=2)" || {
  say "authd did not answer /health within 60 s" >&2
  exit 1
}

# --- (c) an access token -----------------------------------------------------
# The administrator's, so that /admin answers 200 too. A helper module logs
# in; the second run imports it as a schemathesis hook.
cat >"$work/fuzz_auth.py" <<'PY'
"""Log-in helper for the schemathesis runs of .ci/schemathesis.sh."""
import json
import os
import urllib.request

import schemathesis


def login() -> str:
    body = json.dumps(
        {"email": os.environ["FUZZ_EMAIL"], "password": os.environ["FUZZ_PASSWORD"]}
    ).encode()
    request = urllib.request.Request(
        os.environ["FUZZ_BASE_URL"] + "/auth/login",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["access_token"]


if os.environ.get("FUZZ_FRESH_SESSION") == "1":

    @schemathesis.auth(refresh_interval=None)
    class FreshSession:
        """A new session for every request: these operations end it."""

        def get(self, case, context):
            return login()

        def set(self, case, data, context):
            case.headers = case.headers or {}
            case.headers["Authorization"] = f"Bearer {data}"


if __name__ == "__main__":
    print(login())
PY
export FUZZ_BASE_URL="$base" FUZZ_EMAIL="$admin_email" FUZZ_PASSWORD="$admin_password"
token=$(cd "$work" && "$py" fuzz_auth.py)
say "logged in as $admin_email (administrator)"

# --- (d) fuzz ---------------------------------------------------------------
# Operations that revoke the caller's own session.
session_enders=(--include-operation-id logout
  --include-operation-id revoke_all_sessions
  --include-operation-id revoke_session)
common=(
  --checks all
  --exclude-checks positive_data_acceptance
  --max-examples "$MAX_EXAMPLES"
  --generation-database none
  --request-timeout 30
  --no-color
)
if [[ -n ${SCHEMATHESIS_SEED:-} ]]; then common+=(--seed "$SCHEMATHESIS_SEED"); fi

status=0
started=$SECONDS
say "run 1 of 2: every operation but log-out and session revocation"
(cd "$work" && timeout "$RUN_TIMEOUT_SECS" "$st" run "$base/openapi.json" "${common[@]}" \
  --exclude-operation-id logout \
  --exclude-operation-id revoke_all_sessions \
  --exclude-operation-id revoke_session \
  -H "Authorization: Bearer $token") || status=$?
if ((status == 0)); then
  # Run 1 may have disabled or demoted the administrator (it can promote a
  # user it created and then act on the administrator's id), so run 2 signs
  # in as a plain user that run 1 could not know of.
  FUZZ_EMAIL="fuzz-sessions@example.com"
  FUZZ_PASSWORD=$("$py" -c 'import secrets; print(secrets.token_urlsafe(24))')
  export FUZZ_EMAIL FUZZ_PASSWORD
  "$py" - "$base/auth/signup" <<'PY'
import json, os, sys, urllib.request

body = json.dumps({"email": os.environ["FUZZ_EMAIL"], "password": os.environ["FUZZ_PASSWORD"]}).encode()
request = urllib.request.Request(sys.argv[1], data=body, headers={"Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=30) as response:
    assert response.status == 201, response.status
PY
  say "run 2 of 2: log-out and session revocation as $FUZZ_EMAIL, a fresh session per request"
  (cd "$work" && FUZZ_FRESH_SESSION=1 SCHEMATHESIS_HOOKS=fuzz_auth PYTHONPATH="$work" \
    timeout "$RUN_TIMEOUT_SECS" "$st" run "$base/openapi.json" "${common[@]}" \
    "${session_enders[@]}") || status=$?
fi

# What the server answered, by operation and status class, from its own
# metrics: shows at a glance that authenticated operations got past 401.
if ((status != 124)); then
  "$py" - "$base/metrics" <<'PY' || true
import collections, re, sys, urllib.request

text = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
pattern = re.compile(r'^http_requests_total\{method="(\w+)",route="([^"]+)",status="(\d+)"\} (\d+)', re.M)
table = collections.defaultdict(collections.Counter)
for method, route, status, count in pattern.findall(text):
    if status == "405":
        continue  # every route is probed with other methods; not interesting here
    table[(route, method)][status[0] + "xx"] += int(count)
print("[schemathesis] responses by operation (405s left out):")
print(f"    {'operation':<40} {'2xx':>6} {'4xx':>6} {'5xx':>6}")
for (route, method), counts in sorted(table.items()):
    print(f"    {method + ' ' + route:<40} {counts['2xx']:>6} {counts['4xx']:>6} {counts['5xx']:>6}")
PY
fi

# --- (e) stop the server (and, through the trap, on every other exit) --------
if grep -q 'panicked' "$work/authd.log"; then
  say "the server panicked:" >&2
  grep -m 5 -A 3 'panicked' "$work/authd.log" | sed 's/^/    /' >&2
  status=1
fi
stop_server
elapsed=$((SECONDS - started))
if ((status == 124)); then
  say "FAILED: a run took longer than ${RUN_TIMEOUT_SECS}s"
elif ((status != 0)); then
  say "FAILED (exit $status) after ${elapsed}s; rerun with SCHEMATHESIS_SEED to reproduce"
else
  say "passed: no 5xx and no schema, status, content-type or header violation (${elapsed}s)"
fi
exit "$status"
