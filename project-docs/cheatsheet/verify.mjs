// Verify an Auth Module access token in another service, with jose
// (npm install jose). Node 20+, Deno, Bun, Cloudflare Workers.
import { createRemoteJWKSet, jwtVerify } from "jose";

const AUTH_URL = process.env.AUTH_URL ?? "http://127.0.0.1:8080";

// Fetches the JWKS when needed and caches it; a token with an unknown kid
// fetches again (at most once every 30 s).
const jwks = createRemoteJWKSet(new URL("/.well-known/jwks.json", AUTH_URL));

export async function verify(token) {
  const { payload } = await jwtVerify(token, jwks, {
    algorithms: ["EdDSA"], // only the configured one: never from the token
    issuer: "auth-module", // AUTH__JWT__ISSUER
    audience: "auth-module", // AUTH__JWT__AUDIENCE
    requiredClaims: ["exp", "nbf", "iat", "sub", "sid"],
  });
  return payload;
}

try {
  const claims = await verify(process.env.ACCESS_TOKEN);
  console.log(`user ${claims.sub}, role ${claims.role}, session ${claims.sid}`);
} catch (error) {
  console.error(`refused: ${error.code ?? error.message}`);
  process.exit(1);
}
