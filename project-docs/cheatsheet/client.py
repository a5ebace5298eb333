"""A small Auth Module client with httpx: log-in, refresh on 401, log-out."""
import os

import httpx

AUTH_URL = os.environ.get("AUTH_URL", "http://127.0.0.1:8080")


class ApiError(Exception):
    """A problem document from the API; switch on `code`, not on the text."""

    def __init__(self, response: httpx.Response):
        problem = response.json()
        super().__init__(f"{problem['status']} {problem['code']}: {problem['detail']}")
        self.status, self.code = problem["status"], problem["code"]
        self.errors = problem.get("errors", [])


class AuthClient:
    def __init__(self, base_url: str = AUTH_URL):
        self.http = httpx.Client(base_url=base_url, timeout=10)
        self.access_token: str | None = None
        self.refresh_token: str | None = None

    def _send(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        return self.http.request(method, path, headers=headers, **kwargs)

    def _keep_tokens(self, response: httpx.Response) -> dict:
        if response.is_error:
            raise ApiError(response)
        body = response.json()
        self.access_token = body["access_token"]
        self.refresh_token = body["refresh_token"]
        return body

    def signup(self, email: str, password: str, display_name: str | None = None) -> dict:
        body = {"email": email, "password": password, "display_name": display_name}
        return self._keep_tokens(self.http.post("/auth/signup", json=body))["user"]

    def login(self, email: str, password: str) -> dict:
        body = {"email": email, "password": password}
        return self._keep_tokens(self.http.post("/auth/login", json=body))["user"]

    def refresh(self) -> None:
        body = {"refresh_token": self.refresh_token}
        self._keep_tokens(self.http.post("/auth/refresh", json=body))

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        """An authenticated call; an expired access token is refreshed once."""
        response = self._send(method, path, **kwargs)
        if response.status_code == 401 and self.refresh_token:
            self.refresh()  # raises ApiError(invalid_refresh_token): log in again
            response = self._send(method, path, **kwargs)
        if response.is_error:
            raise ApiError(response)
        return response

    def logout(self) -> None:
        self.request("POST", "/auth/logout")
        self.access_token = self.refresh_token = None


if __name__ == "__main__":
    client = AuthClient()
    client.signup("grace@example.com", "correct horse battery staple", "Grace")
    print("me:", client.request("GET", "/users/me").json()["email"])

    client.access_token = "expired"  # pretend 15 minutes have passed
    print("after refresh:", client.request("GET", "/users/me").json()["email"])

    client.logout()
    try:
        client.login("grace@example.com", "not her password")
    except ApiError as error:
        print("wrong password:", error.status, error.code)
