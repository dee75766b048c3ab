"""Drive Keycloak's own login pages over HTTP, the way a person in a browser would.

No Selenium and no Keycloak internals: a cookie-keeping HTTP client fetches
each page, `html.parser` finds the form the page presents (username and
password, device user code, consent), fills it and submits it to the form's
own `action`, until Keycloak stops asking. Page text is never logged in
full: it is reduced to its visible error message, if any.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlparse

import httpx

from .errors import TestEnvError

_MAX_STEPS = 10


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    submits: list[tuple[str, str]] = field(default_factory=list)  # named buttons/inputs


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._current: Form | None = None
        self._in_error = 0
        self.messages: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._current = Form(a.get("action", ""), a.get("method", "get").lower())
            self.forms.append(self._current)
        elif tag in {"input", "button"} and self._current is not None:
            name = a.get("name")
            kind = a.get("type", "submit" if tag == "button" else "text").lower()
            if not name:
                return
            if kind == "submit":
                self._current.submits.append((name, a.get("value", "")))
            elif kind in {"checkbox", "radio"}:
                if "checked" in a:
                    self._current.fields[name] = a.get("value", "on")
            else:
                self._current.fields[name] = a.get("value", "")
        classes = a.get("class", "")
        if re.search(r"(alert-error|kc-feedback-text|input-error|pf-m-danger)", classes):
            self._in_error += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._in_error and data.strip():
            self.messages.append(data.strip())
            self._in_error = 0


def parse_forms(html: str) -> tuple[list[Form], list[str]]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms, parser.messages


def _title(html: str) -> str:
    match = re.search(r"<title>(.*?)</title>", html, re.S | re.I)
    return match.group(1).strip() if match else ""


class LoginDriver:
    """Fills Keycloak's login, device-code and consent forms for one user."""

    def __init__(self, ca_file: Path, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self.client = httpx.Client(
            verify=ssl.create_default_context(cafile=str(ca_file)),
            follow_redirects=False,
            timeout=30,
        )

    def close(self) -> None:
        self.client.close()

    def run(self, start_url: str, done: Callable[[httpx.Response], bool]) -> httpx.Response:
        """Follow redirects and fill forms from `start_url` until `done(response)`."""
        response = self.client.get(start_url)
        user_code = parse_qs(urlparse(start_url).query).get("user_code", [""])[0]
        for _ in range(_MAX_STEPS * 3):
            if done(response):
                return response
            if response.is_redirect:
                response = self.client.get(urljoin(str(response.url), response.headers["location"]))
                continue
            forms, messages = parse_forms(response.text)
            form = self._choose(forms, user_code)
            if form is None:
                raise TestEnvError(
                    f"login stopped at {_title(response.text)!r} (HTTP {response.status_code}): "
                    f"{'; '.join(messages) or 'no form to fill'}"
                )
            target = urljoin(str(response.url), form.action or str(response.url))
            response = self.client.post(target, data=form.fields)
        raise TestEnvError(f"login did not finish within {_MAX_STEPS * 3} steps")

    def _choose(self, forms: list[Form], user_code: str) -> Form | None:
        for form in forms:
            if "password" in form.fields and "username" in form.fields:
                form.fields.update(username=self.username, password=self.password)
                form.fields.pop("rememberMe", None)
                return form
            if "password" in form.fields and "username" not in form.fields:
                form.fields["password"] = self.password  # username-first login flows
                return form
            if "username" in form.fields:
                form.fields["username"] = self.username
                return form
            if "device_user_code" in form.fields:
                if not form.fields["device_user_code"]:
                    form.fields["device_user_code"] = user_code
                if not form.fields["device_user_code"]:
                    raise TestEnvError("device verification page asks for a user code")
                return form
            accept = [s for s in form.submits if s[0] == "accept"]
            if accept:  # the consent (or device grant) confirmation page
                form.fields[accept[0][0]] = accept[0][1] or "Yes"
                return form
        return None


def device_login_finished(response: httpx.Response) -> bool:
    """Keycloak's device flow ends on an info page with no form left to fill."""
    if response.is_redirect or response.status_code != 200:
        return False
    forms, messages = parse_forms(response.text)
    if messages or any(f.fields or f.submits for f in forms):
        return False
    text = response.text.lower()
    return "success" in text or "you may close" in text or "device login" in text


def redirected_to(prefix: str) -> Callable[[httpx.Response], bool]:
    """Done when Keycloak redirects to the client's redirect URI (authorization code flow)."""

    def check(response: httpx.Response) -> bool:
        return response.is_redirect and response.headers.get("location", "").startswith(prefix)

    return check
