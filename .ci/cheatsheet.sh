#!/usr/bin/env bash
# Runs every snippet of project-docs/cheatsheet.md against a fresh server,
# so that the cheatsheet cannot rot.
#
# The snippets are files (project-docs/cheatsheet/*, examples/cheatsheet/);
# .ci/cheatsheet/included.py first checks that the markdown shows each of
# them verbatim. Then: authd on a throw-away SQLite database and a free
# port, signing with a fresh EdDSA key; the curl snippet with bash; the
# browser snippet under Node with a localStorage stand-in
# (.ci/cheatsheet/browser-harness.mjs); the httpx and PyJWT snippets in a
# virtualenv; the jose snippet with jose from npm; the Rust snippets as the
# `cheatsheet` workspace member. Each verifier must accept a real token and
# refuse a forged one.
#
# Environment (optional):
#   AUTHD_PROFILE  `debug` or `release` (default: release when
#                  target/release/authd exists, else debug)
set -euo pipefail
cd "$(dirname "$0")/.."

readonly HTTPX_VERSION=0.28.1
readonly PYJWT_VERSION=2.15.1
readonly JOSE_VERSION=6.2.17

say() { printf '[cheatsheet] %s\n' "$*"; }
fail() { say "FAILED: $*" >&2; exit 1; }

repo=$(pwd)
target_dir="${CARGO_TARGET_DIR:-target}"
[[ $target_dir == /* ]] || target_dir="$repo/$target_dir"
work=$(mktemp -d "${TMPDIR:-/tmp}/authd-cheatsheet.XXXXXX")
server_pid=""

finish() {
  local status=$?
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if ((status != 0)) && [[ -s $work/authd.log ]]; then
    say "server log (last 20 lines):"
    tail -n 20 "$work/authd.log" | sed 's/^/    /'
  fi
  rm -rf "$work"
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- (a) the markdown shows every snippet file verbatim ----------------------
python3 .ci/cheatsheet/included.py
say "cheatsheet.md shows every snippet verbatim"

# --- (b) tools -----------------------------------------------------------------
missing=()
for tool in curl jq node npm; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]/node/nodejs}" >/dev/null
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || fail "Node $node_major has no stable fetch; need Node 20 or later"

if ! python3 -m venv "$work/venv" >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  rm -rf "$work/venv"
  python3 -m venv "$work/venv"
fi
py="$work/venv/bin/python"
"$py" -m pip install --quiet --disable-pip-version-check \
  "httpx==$HTTPX_VERSION" "pyjwt[crypto]==$PYJWT_VERSION"
mkdir -p "$work/node"
(cd "$work/node" && npm install --silent --no-audit --no-fund --no-package-lock "jose@$JOSE_VERSION" >/dev/null)
say "httpx $HTTPX_VERSION, PyJWT $PYJWT_VERSION, jose $JOSE_VERSION, node $(node --version)"

# --- (c) binaries --------------------------------------------------------------
profile="${AUTHD_PROFILE:-}"
if [[ -z $profile ]]; then
  if [[ -x $target_dir/release/authd ]]; then profile=release; else profile=debug; fi
fi
case "$profile" in
  release) cargo build --release -p auth-api --bin authd ;;
  debug) cargo build -p auth-api --bin authd ;;
  *) fail "AUTHD_PROFILE must be debug or release, not $profile" ;;
esac
authd="$target_dir/$profile/authd"
cargo build -p cheatsheet --bins
rust_client="$target_dir/debug/client"
rust_verify="$target_dir/debug/verify"

# --- (d) a fresh EdDSA server ----------------------------------------------------
port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export AUTH_URL="http://127.0.0.1:$port"
while read -r name; do unset "$name"; done < <(compgen -e | grep '^AUTH__' || true)
unset DATABASE_URL
(cd "$work" && "$authd" keys generate --alg EdDSA --out "$work/ed25519.pem") >/dev/null
export AUTH__ENV=development
export AUTH__SERVER__HOST=127.0.0.1
export AUTH__SERVER__PORT="$port"
export AUTH__DATABASE__URL="sqlite://$work/auth.db?mode=rwc"
export AUTH__JWT__ALGORITHM=EdDSA
export AUTH__JWT__PRIVATE_KEY_FILE="$work/ed25519.pem"
export RUST_LOG="${RUST_LOG:-info}"
(cd "$work" && exec "$authd" serve) >"$work/authd.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 120); do
  kill -0 "$server_pid" 2>/dev/null || fail "authd exited during start-up"
  curl -sf "$AUTH_URL/health" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -sf "$AUTH_URL/health" >/dev/null || fail "authd did not answer /health within 60 s"
say "authd ($profile, EdDSA) on $AUTH_URL"

expect() { # expect NAME OUTPUT PATTERN…
  local name=$1 output=$2
  shift 2
  for pattern in "$@"; do
    grep -qF -- "$pattern" <<<"$output" || {
      printf '%s\n' "$output" | sed 's/^/    /' >&2
      fail "$name: expected \"$pattern\" in its output"
    }
  done
  say "$name: ok"
}

# --- (e) the clients ---------------------------------------------------------------
out=$(bash -euo pipefail project-docs/cheatsheet/curl.sh 2>&1) || fail "curl.sh: $out"
expect "curl" "$out" '"email": "ada@example.com"' 'logout: 204' '"code": "unauthorized"'

out=$(cd "$work/node" && node "$repo/.ci/cheatsheet/browser-harness.mjs" "$repo/project-docs/cheatsheet/browser.mjs" 2>&1) \
  || fail "browser.mjs: $out"
expect "browser fetch" "$out" "refreshed once for two concurrent calls" "the session is gone"

out=$("$py" project-docs/cheatsheet/client.py 2>&1) || fail "client.py: $out"
expect "python httpx" "$out" "me: grace@example.com" "after refresh: grace@example.com" \
  "wrong password: 401 invalid_credentials"

out=$("$rust_client" 2>&1) || fail "rust client: $out"
expect "rust reqwest" "$out" 'me: "linus@example.com"' "after logout: 401"

# --- (f) the verifiers: a real token passes, a forged one does not ----------------
login() {
  curl -sf "$AUTH_URL/auth/login" -H 'Content-Type: application/json' \
    -d '{"email": "ada@example.com", "password": "correct horse battery staple"}' | jq -r .access_token
}
token=$(login)
other=$(login)
sub=$(curl -sf "$AUTH_URL/users/me" -H "Authorization: Bearer $token" | jq -r .id)
# The first token's header and claims under the second token's signature.
forged="${token%.*}.${other##*.}"
[[ $forged != "$token" ]] || fail "could not forge a token"

verifiers=(
  "rust jsonwebtoken|$rust_verify"
  "python PyJWT|$py $repo/project-docs/cheatsheet/verify.py"
  "node jose|node $work/node/verify.mjs"
)
cp project-docs/cheatsheet/verify.mjs "$work/node/verify.mjs" # resolves jose from there
for entry in "${verifiers[@]}"; do
  name=${entry%%|*}
  read -r -a command <<<"${entry#*|}"
  out=$(ACCESS_TOKEN=$token "${command[@]}" 2>&1) || fail "$name refused a valid token: $out"
  expect "$name accepts our token" "$out" "user $sub, role user, session"
  if out=$(ACCESS_TOKEN=$forged RUST_BACKTRACE=0 "${command[@]}" 2>&1); then
    fail "$name accepted a forged token: $out"
  fi
  say "$name refuses a forged token"
done

say "every snippet ran"
