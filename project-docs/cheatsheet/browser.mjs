// An Auth Module client for the browser, with fetch. The access token lives
// in memory only; the refresh token in localStorage, so that a reload and
// every tab share one session (see "Where to keep the tokens" above).
const AUTH_URL = "http://127.0.0.1:8080"; // your deployment's address

let accessToken = null; // never persisted
const REFRESH_KEY = "auth.refresh_token";

export class ApiError extends Error {
  constructor(problem) {
    super(`${problem.status} ${problem.code}: ${problem.detail}`);
    this.status = problem.status;
    this.code = problem.code; // switch on this, not on the message
    this.errors = problem.errors ?? [];
  }
}

async function post(path, body) {
  const response = await fetch(AUTH_URL + path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new ApiError(await response.json());
  return response.json();
}

function keep(pair) {
  accessToken = pair.access_token;
  localStorage.setItem(REFRESH_KEY, pair.refresh_token);
  return pair;
}

export async function signup(email, password, displayName) {
  return keep(await post("/auth/signup", { email, password, display_name: displayName })).user;
}

export async function login(email, password) {
  return keep(await post("/auth/login", { email, password })).user;
}

// One refresh at a time: concurrent 401s wait for the same new pair instead
// of each spending the refresh token (a reuse would end the session).
let refreshing = null;
function refresh() {
  refreshing ??= (async () => {
    try {
      const token = localStorage.getItem(REFRESH_KEY);
      if (!token) throw new ApiError({ status: 401, code: "invalid_refresh_token", detail: "no session" });
      keep(await post("/auth/refresh", { refresh_token: token }));
    } catch (error) {
      if (error.code === "invalid_refresh_token") forget(); // log in again
      throw error;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

function forget() {
  accessToken = null;
  localStorage.removeItem(REFRESH_KEY);
}

// An authenticated call: on 401, refresh once and retry.
export async function api(path, { method = "GET", body } = {}) {
  const send = () =>
    fetch(AUTH_URL + path, {
      method,
      headers: {
        ...(accessToken && { Authorization: `Bearer ${accessToken}` }),
        ...(body !== undefined && { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  let response = await send();
  if (response.status === 401) {
    await refresh();
    response = await send();
  }
  if (!response.ok) throw new ApiError(await response.json());
  return response.status === 204 ? null : response.json();
}

export async function logout() {
  try {
    await api("/auth/logout", { method: "POST" });
  } finally {
    forget();
  }
}

// For the demonstration below: pretend the access token has expired.
export function dropAccessToken() {
  accessToken = "expired";
}
