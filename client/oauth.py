"""Requests to the IdP's token endpoint and its error answers (RFC 6749 §5).

All grants (device code, password, refresh) end in the same POST to the token
endpoint, with the public client's ``client_id`` in the form (RFC 6749 §2.3.1
for public clients). The error answer's ``error`` code decides the message;
``error_description`` from the IdP is shown too, since IdPs put useful text
there ("Invalid user credentials") and never a token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from authgate.client.errors import LoginRejected, Unreachable
from authgate.client.transport import origin, unreachable


class OAuthError(Exception):
    """An RFC 6749 §5.2 error answer, before it is mapped to a user-facing error."""

    def __init__(self, error: str, description: str | None, status: int) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status

    def detail(self) -> str:
        return f"{self.error}: {self.description}" if self.description else self.error


def _json_body(response: httpx.Response) -> dict[str, Any] | None:
    try:
        value = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def post_form(
    http: httpx.Client,
    url: str,
    form: Mapping[str, str],
    *,
    what: str = "the identity provider",
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """POST a form; return the JSON object of a 2xx, raise OAuthError for an OAuth error."""
    try:
        response = http.post(
            url, data=dict(form), headers={"Accept": "application/json", **(headers or {})}
        )
    except httpx.HTTPError as exc:
        raise unreachable(what, url, exc) from None
    body = _json_body(response)
    if response.is_success:
        if body is None:
            raise Unreachable(
                f"{what} at {origin(url)} answered HTTP {response.status_code} "
                "with something that is not a JSON object"
            )
        return body
    if body is not None and isinstance(body.get("error"), str):
        description = body.get("error_description")
        raise OAuthError(
            body["error"],
            description if isinstance(description, str) else None,
            response.status_code,
        )
    if response.status_code >= 500:
        raise Unreachable(
            f"{what} at {origin(url)} failed with HTTP {response.status_code}",
            hint="it may be starting or overloaded; retry shortly",
        )
    raise OAuthError("http_" + str(response.status_code), None, response.status_code)


def token_request(
    http: httpx.Client,
    token_endpoint: str,
    form: Mapping[str, str],
    *,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A token request whose 2xx answer must carry an ``access_token``."""
    body = post_form(http, token_endpoint, form, headers=headers)
    if not isinstance(body.get("access_token"), str) or not body["access_token"]:
        raise LoginRejected(
            f"the identity provider at {origin(token_endpoint)} answered without an access_token"
        )
    return body


def rejected(exc: OAuthError, *, hint: str | None = None) -> LoginRejected:
    """Map a token-endpoint error to a user-facing LoginRejected."""
    messages = {
        "invalid_grant": "the identity provider rejected the credentials",
        "invalid_client": "the identity provider does not know this client",
        "unauthorized_client": "this client is not allowed to use this login method",
        "unsupported_grant_type": "the identity provider does not support this login method",
        "invalid_scope": "the identity provider rejected the requested scopes",
    }
    message = messages.get(exc.error, "the identity provider refused the login")
    return LoginRejected(f"{message} ({exc.detail()})", hint=hint, error=exc.error)
