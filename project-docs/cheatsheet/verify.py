"""Verify an Auth Module access token in another service, with PyJWT."""
import os
import sys

import jwt  # pip install "pyjwt[crypto]"

AUTH_URL = os.environ.get("AUTH_URL", "http://127.0.0.1:8080")

# Fetches the JWKS on first use and keeps the keys for 5 minutes, as the
# server's Cache-Control allows; a token with an unknown kid fetches again.
jwks = jwt.PyJWKClient(f"{AUTH_URL}/.well-known/jwks.json", lifespan=300)


def verify(token: str) -> dict:
    """The token's claims, or jwt.InvalidTokenError."""
    key = jwks.get_signing_key_from_jwt(token)  # by the header's kid
    return jwt.decode(
        token,
        key.key,
        algorithms=["EdDSA"],  # only the configured one: never from the token
        audience="auth-module",  # AUTH__JWT__AUDIENCE
        issuer="auth-module",  # AUTH__JWT__ISSUER
        options={"require": ["exp", "nbf", "iat", "iss", "aud", "sub", "sid"]},
    )


if __name__ == "__main__":
    try:
        claims = verify(os.environ["ACCESS_TOKEN"])
    except jwt.InvalidTokenError as error:
        sys.exit(f"refused: {error}")
    print(f"user {claims['sub']}, role {claims['role']}, session {claims['sid']}")
