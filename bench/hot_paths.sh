#!/usr/bin/env bash
# Throughput of the hot paths against a running authd (release build), with wrk:
#   target/release/authd &   # SQLite; or AUTH__DATABASE__URL=postgres://… for PostgreSQL
#   bench/hot_paths.sh [base URL] [duration]
# Signs up one user, then loads GET /health and GET /users/me (token check,
# session and user lookup: one database round trip per request).
set -euo pipefail
base=${1:-http://127.0.0.1:8080}
duration=${2:-10s}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
email="bench-$(date +%s%N)@example.com"
token=$(curl -sf "$base/auth/signup" -H 'Content-Type: application/json' \
  -d "{\"email\": \"$email\", \"password\": \"correct horse battery staple\"}" \
  | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
echo "== GET /health"
wrk -t2 -c64 -d"$duration" "$base/health" | grep -E 'Latency|Requests/sec|Non-2xx'
echo "== GET /users/me"
wrk -t2 -c64 -d"$duration" -H "Authorization: Bearer $token" "$base/users/me" \
  | grep -E 'Latency|Requests/sec|Non-2xx'
