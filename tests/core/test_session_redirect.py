"""The post-login landing path: every open-redirect class we know is refused
(oauth2-proxy GHSA-qqxw-m5fj-f7gv, GHSA-j7px-6hwj-hpjg, GHSA-5m6c-jp6f-2vcv)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from authgate.core.session.redirect import is_safe_return_path, safe_return_path

ACCEPTED = [
    "/",
    "/dashboard",
    "/a/b/c?x=1&y=two#frag",
    "/search?q=%2F%2Fnot-a-host",  # encoded slashes in the query are data, not a path
    "/files/caf%C3%A9",
    "/a/b/",
    "/apps/notebook?tab=files&q=a%20b",  # encoded space, backslash, %2F in the query are data
    "/search?q=%5C%2F%2F%09",
]

REFUSED = [
    # network-path references and schemes
    "//evil.example",
    "///evil.example",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,x",
    "evil.example",
    "",
    # backslashes (GHSA-qqxw-m5fj-f7gv)
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "/a\\b",
    # whitespace / control characters between the slashes (GHSA-j7px-6hwj-hpjg)
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "/ /evil.example",
    "/\x00/evil.example",
    "/\x0b/evil.example",
    "/\x7f/evil.example",
    " /dashboard",
    "/dash board",
    "/a%20b",  # a decoded space in the path is refused (conservative)
    "/ok?q=\\x",  # a raw backslash anywhere
    # encoded variants (GHSA-5m6c-jp6f-2vcv)
    "/%2F%2Fevil.example",
    "/%2f%2fevil.example",
    "/%2Fevil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "/%5cevil.example",
    "/%09/evil.example",
    "/%0A/evil.example",
    "/%0D/evil.example",
    "/%20/evil.example",
    "/%00/evil.example",
    "/%E2%80%8B/evil.example",  # zero-width space (Cf)
    "/%C2%A0/evil.example",  # no-break space (Zs)
    "/%E3%80%80/evil.example",  # ideographic space
    "/%252F%252Fevil.example",  # double-encoded
    "/%25252F%25252Fevil.example",  # triple-encoded
    "/%255Cevil.example",
    "%2Fevil.example",
    "/%2e%2e//evil.example",
    "/a/..//evil.example",
    "/a/%2e%2e/%2F/evil.example",
    "/./",
    "/%FF%FE",  # not UTF-8
    # non-ASCII raw characters (fullwidth solidus, unicode whitespace)
    "/\uff0f\uff0fevil.example",
    "/\u3000/evil.example",
    "/caf\u00e9",
    # nesting beyond the decode budget
    "/%" + "25" * 6 + "2F%" + "25" * 6 + "2Fevil",
    # overly long
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("value", ACCEPTED)
def test_accepted(value: str) -> None:
    assert is_safe_return_path(value)
    assert safe_return_path(value) == value


@pytest.mark.parametrize("value", REFUSED)
def test_refused(value: str) -> None:
    assert not is_safe_return_path(value)
    assert safe_return_path(value) == "/"


@pytest.mark.parametrize("value", ["//evil.example", "/\\evil.example", "/\t/evil"])
def test_every_refused_value_percent_encoded_again_is_refused(value: str) -> None:
    once = "/" + quote(value[1:], safe="")
    twice = "/" + quote(once[1:], safe="")
    assert not is_safe_return_path(once)
    assert not is_safe_return_path(twice)


def test_non_strings_fall_back() -> None:
    for value in (None, 42, b"/x", ["/x"]):
        assert safe_return_path(value, "/home") == "/home"
