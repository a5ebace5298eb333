# The API's address; the other snippets read the same variable.
AUTH_URL=${AUTH_URL:-http://127.0.0.1:8080}

# Sign up: 201 with a token pair and the user
curl -sS --fail-with-body "$AUTH_URL/auth/signup" \
  -H 'Content-Type: application/json' \
  -d '{"email": "ada@example.com", "password": "correct horse battery staple", "display_name": "Ada"}' | jq .

# Log in: 200 with a fresh pair; keep both tokens
PAIR=$(curl -sS --fail-with-body "$AUTH_URL/auth/login" \
  -H 'Content-Type: application/json' \
  -d '{"email": "ada@example.com", "password": "correct horse battery staple"}')
ACCESS=$(jq -r .access_token <<<"$PAIR")
REFRESH=$(jq -r .refresh_token <<<"$PAIR")

# Who am I: 200 with the user
curl -sS --fail-with-body "$AUTH_URL/users/me" -H "Authorization: Bearer $ACCESS" | jq .

# Refresh: 200 with a new pair; the refresh token just sent is spent
PAIR=$(curl -sS --fail-with-body "$AUTH_URL/auth/refresh" \
  -H 'Content-Type: application/json' \
  -d "$(jq -n --arg t "$REFRESH" '{refresh_token: $t}')")
ACCESS=$(jq -r .access_token <<<"$PAIR")
REFRESH=$(jq -r .refresh_token <<<"$PAIR")

# Log out: 204; the session's access and refresh tokens stop working at once
curl -sS --fail-with-body -X POST "$AUTH_URL/auth/logout" \
  -H "Authorization: Bearer $ACCESS" -o /dev/null -w 'logout: %{http_code}\n'

# The same access token is now refused: 401, code "unauthorized"
curl -sS "$AUTH_URL/users/me" -H "Authorization: Bearer $ACCESS" | jq .
