"""Scope selection and prefixing (pure)."""

from __future__ import annotations

import pytest

from authgate.client.scopes import (
    apply_prefix,
    is_custom,
    requested_scopes,
    split_scopes,
)


@pytest.mark.parametrize(
    ("scope", "custom"),
    [
        ("platform:read", True),
        ("files:write", True),
        ("https://graph.microsoft.com/.default", True),
        ("api.default", True),
        ("openid", False),
        ("offline_access", False),
        ("profile", False),
        ("default", False),
    ],
)
def test_is_custom(scope: str, custom: bool) -> None:
    assert is_custom(scope) is custom


def test_prefix_applies_to_custom_scopes_only() -> None:
    got = requested_scopes(
        "platform:read platform:write openid profile email offline_access", prefix="api://nmp/"
    )
    assert got == (
        "api://nmp/platform:read api://nmp/platform:write openid profile email offline_access"
    )


def test_prefix_not_doubled_and_uris_left_alone() -> None:
    assert apply_prefix("api://nmp/platform:read", "api://nmp/") == "api://nmp/platform:read"
    assert apply_prefix("api://other/x:y", "api://nmp/") == "api://other/x:y"
    assert apply_prefix("x.default", "api://nmp/") == "api://nmp/x.default"


def test_no_prefix_means_unchanged() -> None:
    assert requested_scopes("platform:read openid") == "platform:read openid"


def test_overrides_replace_defaults_and_are_prefixed() -> None:
    got = requested_scopes("platform:read openid", ["files:read", "openid files:read"], prefix="p/")
    assert got == "p/files:read openid"


def test_split_scopes_dedupes_keeps_order() -> None:
    assert split_scopes(" b a  b c ") == ["b", "a", "c"]
    assert split_scopes(None) == []
