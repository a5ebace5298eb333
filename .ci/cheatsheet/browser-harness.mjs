// Runs project-docs/cheatsheet/browser.mjs under Node (20+ has fetch), as
// a page would: a localStorage stand-in, and fetch pointed from the
// snippet's http://127.0.0.1:8080 at the server under test ($AUTH_URL).
// Exits non-zero when the client does not behave as the cheatsheet says.
import assert from "node:assert/strict";

const store = new Map();
globalThis.localStorage = {
  getItem: (key) => (store.has(key) ? store.get(key) : null),
  setItem: (key, value) => store.set(key, String(value)),
  removeItem: (key) => store.delete(key),
};
const realFetch = globalThis.fetch;
let refreshes = 0;
globalThis.fetch = (url, init) => {
  const target = String(url).replace("http://127.0.0.1:8080", process.env.AUTH_URL);
  if (target.endsWith("/auth/refresh")) refreshes += 1;
  return realFetch(target, init);
};

const client = await import(process.argv[2]);

const user = await client.signup("margaret@example.com", "correct horse battery staple", "Margaret");
console.log("signed up:", user.email);
assert.equal((await client.api("/users/me")).email, "margaret@example.com");

// An expired access token: two calls at once share one refresh.
client.dropAccessToken();
const [a, b] = await Promise.all([client.api("/users/me"), client.api("/users/me")]);
assert.equal(a.id, user.id);
assert.equal(b.id, user.id);
assert.equal(refreshes, 1, "concurrent 401s refresh once");
console.log("refreshed once for two concurrent calls");

// A reload: nothing in memory, the refresh token in storage.
const project = await client.api("/projects", { method: "POST", body: { name: "Apollo" } });
assert.equal(project.name, "Apollo");

await client.logout();
assert.equal(localStorage.getItem("auth.refresh_token"), null, "logout forgets the refresh token");
await assert.rejects(client.api("/users/me"), (error) => error.status === 401);
await assert.rejects(
  client.login("margaret@example.com", "wrong password"),
  (error) => error.code === "invalid_credentials",
);
console.log("logged out; the session is gone");
