"""Authorization rules: default read/write, longest prefix, groups, the NeMo
no-scope behaviour, public paths."""

from __future__ import annotations

from dataclasses import replace

import pytest

from authgate.core.config import AuthorizationConfig, PathRule
from authgate.core.errors import Forbidden, InsufficientScope
from authgate.core.principal import Principal
from authgate.core.rules import Authorizer

CONFIG = AuthorizationConfig(
    public_paths=("/apis/auth/discovery", "/healthz", "/docs/"),
    read_scopes=("platform:read",),
    write_scopes=("platform:write",),
    rules=(
        PathRule("/apis/files/", ("files:read",), ("files:write",)),
        PathRule("/apis/files/admin/", groups=("platform-admins",)),
        PathRule("/apis/jobs", write_scopes=("jobs:write", "platform:admin")),
    ),
)
AUTHZ = Authorizer(CONFIG)


def who(*scopes: str, groups: tuple[str, ...] = ()) -> Principal:
    return Principal(subject="u", scopes=scopes, groups=groups)


@pytest.mark.parametrize(
    ("scopes", "method", "path", "outcome"),
    [
        (("platform:read",), "GET", "/apis/models", None),
        (("platform:read",), "HEAD", "/x", None),
        (("platform:read",), "OPTIONS", "/x", None),
        (("platform:read",), "POST", "/apis/models", "platform:write"),
        (("platform:read",), "get", "/x", "platform:write"),  # methods are case-sensitive
        (("platform:write",), "DELETE", "/x", None),
        (("platform:write",), "GET", "/x", "platform:read"),
        (("platform:read",), "GET", "/apis/files/x", "files:read"),
        (("files:read",), "GET", "/apis/files/x", None),
        (("files:read",), "GET", "/apis/files", None),  # prefix matches its own dir
        (("files:read",), "PUT", "/apis/files/x", "files:write"),
        (("jobs:write",), "POST", "/apis/jobs/1", None),
        (("platform:admin",), "POST", "/apis/jobs", None),  # any one of the listed scopes
        (("platform:write",), "POST", "/apis/jobs-x", None),  # segment boundary
        (("platform:write",), "POST", "/apis/jobs/1", "jobs:write platform:admin"),
        # issue 11 defect 6: a token without API scopes no longer gets every scope
        ((), "POST", "/apis/files/x", "files:write"),
        (("openid", "profile", "email", "offline_access"), "DELETE", "/x", "platform:write"),
        (("openid", "other"), "DELETE", "/x", "platform:write"),
    ],
)
def test_scope_rules(scopes: tuple[str, ...], method: str, path: str, outcome: str | None) -> None:
    if outcome is None:
        AUTHZ.authorize(who(*scopes), method, path)
        return
    with pytest.raises(InsufficientScope) as info:
        AUTHZ.authorize(who(*scopes), method, path)
    assert info.value.scope == outcome
    assert info.value.status == 403
    challenge = info.value.www_authenticate("authgate")
    assert challenge == (
        f'Bearer realm="authgate", error="insufficient_scope", '
        f'error_description="{info.value.description}", scope="{outcome}"'
    )


@pytest.mark.parametrize("scopes", [(), ("openid", "profile", "email")])
def test_scopeless_tokens_allow_is_the_opt_in_nemo_behaviour(scopes: tuple[str, ...]) -> None:
    allowing = Authorizer(replace(CONFIG, scopeless_tokens="allow"))
    allowing.authorize(who(*scopes), "DELETE", "/apis/files/x")
    with pytest.raises(InsufficientScope):
        allowing.authorize(who("openid", "other"), "DELETE", "/apis/files/x")
    with pytest.raises(InsufficientScope):
        AUTHZ.authorize(who(*scopes), "DELETE", "/apis/files/x")


def test_longest_prefix_wins_and_groups() -> None:
    assert AUTHZ.rule_for("/apis/files/admin/x").prefix == "/apis/files/admin/"
    assert AUTHZ.rule_for("/apis/files/x").prefix == "/apis/files/"
    with pytest.raises(Forbidden) as info:
        AUTHZ.authorize(who("files:read", groups=("developers",)), "GET", "/apis/files/admin/x")
    assert info.value.reason == "missing_group"
    # inherited default scopes on the admin rule
    AUTHZ.authorize(who("platform:read", groups=("platform-admins",)), "GET", "/apis/files/admin/x")
    with pytest.raises(InsufficientScope):
        AUTHZ.authorize(who("files:read", groups=("platform-admins",)), "GET", "/apis/files/admin/")


@pytest.mark.parametrize(
    ("path", "public"),
    [
        ("/apis/auth/discovery", True),
        ("/apis/auth/discovery/x", False),
        ("/apis/auth/discoveryx", False),
        ("/healthz", True),
        ("/docs/", True),
        ("/docs/a/b", True),
        ("/docs", False),
        ("/docsx", False),
        ("/", False),
    ],
)
def test_public_paths(path: str, public: bool) -> None:
    assert AUTHZ.is_public(path) is public


def test_empty_default_scopes_allow_any_valid_token() -> None:
    authz = Authorizer(AuthorizationConfig(read_scopes=(), write_scopes=()))
    authz.authorize(who("x"), "POST", "/anything")
