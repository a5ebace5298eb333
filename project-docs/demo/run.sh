#!/usr/bin/env bash
# A tour of the API: sign up, ask who I am, refresh, log out, and see the
# old token refused. Starts its own authd on a throw-away database and a
# free port, prints each request and its response, and stops the server.
#
#   bash project-docs/demo/run.sh            # builds authd (debug) if needed
#   AUTHD=/path/to/authd bash project-docs/demo/run.sh
#   DEMO_PAUSE=1.5 …                         # seconds between steps (recording)
#
# Needs curl and jq.
set -euo pipefail
cd "$(dirname "$0")/../.."

pause=${DEMO_PAUSE:-0}
target_dir="${CARGO_TARGET_DIR:-target}"
authd=${AUTHD:-}
if [[ -z $authd ]]; then
  cargo build --quiet -p auth-api --bin authd
  authd="$target_dir/debug/authd"
fi
authd=$(realpath "$authd")

work=$(mktemp -d "${TMPDIR:-/tmp}/authd-demo.XXXXXX")
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
while read -r name; do unset "$name"; done < <(compgen -e | grep '^AUTH__' || true)
(cd "$work" && AUTH__SERVER__PORT=$port AUTH__DATABASE__URL="sqlite://$work/auth.db?mode=rwc" \
  RUST_LOG=warn exec "$authd" serve) >"$work/authd.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -sf "$base/health" >/dev/null 2>&1 && break; sleep 0.1; done

bold=$'\e[1m' dim=$'\e[2m' cyan=$'\e[36m' green=$'\e[32m' red=$'\e[31m' reset=$'\e[0m'
colour_json=(-C)
if [[ ! -t 1 && -z ${FORCE_COLOR:-} ]]; then
  bold='' dim='' cyan='' green='' red='' reset='' colour_json=(-M)
fi

# Tokens are shortened on screen only; extra arguments go to jq.
shorten() {
  jq "${colour_json[@]}" "$@" \
    'walk(if type == "object" then with_entries(if (.key | endswith("_token")) then .value |= .[0:20] + "…" else . end) else . end)'
}

# request TITLE METHOD PATH [TOKEN] [JSON BODY]: prints the call and the answer.
request() {
  local title=$1 method=$2 path=$3 token=${4:-} body=${5:-}
  printf '\n%s# %s%s\n' "$bold" "$title" "$reset"
  printf '%s%s %s%s' "$cyan" "$method" "$path" "$reset"
  [[ -n $token ]] && printf '%s  Authorization: Bearer %s…%s' "$dim" "${token:0:16}" "$reset"
  printf '\n'
  [[ -n $body ]] && shorten -c <<<"$body"
  local args=(-s -X "$method" "$base$path" -o "$work/body" -w '%{http_code}')
  [[ -n $token ]] && args+=(-H "Authorization: Bearer $token")
  [[ -n $body ]] && args+=(-H 'Content-Type: application/json' -d "$body")
  status=$(curl "${args[@]}")
  local colour=$green
  ((status >= 400)) && colour=$red
  printf '%s→ %s%s\n' "$colour" "$status" "$reset"
  if [[ -s $work/body ]]; then shorten <"$work/body"; fi
  sleep "$pause"
}

printf '%sauthd %s on %s%s\n' "$dim" "$("$authd" --version | awk '{print $2}')" "$base" "$reset"
sleep "$pause"

request "Sign up" POST /auth/signup "" \
  '{"email": "ada@example.com", "password": "correct horse battery staple", "display_name": "Ada"}'
access=$(jq -r .access_token "$work/body")
refresh=$(jq -r .refresh_token "$work/body")

request "Who am I?" GET /users/me "$access"

request "Refresh: a new pair; the refresh token just sent is spent" POST /auth/refresh "" \
  "$(jq -n --arg t "$refresh" '{refresh_token: $t}')"
access=$(jq -r .access_token "$work/body")

request "Log out: every token of the session stops working at once" POST /auth/logout "$access"

request "The same access token, a moment later" GET /users/me "$access"

printf '\n%s# Refused: a log-out takes effect at once, not when the token expires.%s\n' "$bold" "$reset"
sleep "$pause"
sleep "$pause"
# An empty write ends the recording after the pause, so the player holds the
# last screen instead of looping at once.
printf '%s' "$reset"
