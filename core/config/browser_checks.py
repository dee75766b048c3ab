"""Validation of the ``browser:`` section (called from the config validator).

It lives in the config package (the session code imports the config, never
the reverse); the rules are those :mod:`authgate.core.session` relies on.
Every problem is reported, none stops the others.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import ProxyConfig
    from .schema import ErrorList

__all__ = ["check_browser"]

_DOMAIN = re.compile(
    r"\.?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
)
_ORIGIN = re.compile(
    r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?"
)


def check_browser(
    cfg: ProxyConfig, errors: ErrorList, check_path: Callable[[str, str, ErrorList], None]
) -> None:
    """``check_path`` is the validator's path rule (passed in: no import cycle)."""
    from .checks import check_url as _check_url

    b = cfg.browser
    if not b.enabled:
        return
    chk = errors.check
    chk(cfg.auth_enabled, "browser.enabled", "browser sign-in needs auth_enabled: true")
    chk(
        not cfg.quickstart.enabled,
        "browser.enabled",
        "browser sign-in is not available in quickstart mode",
    )
    chk(
        bool(b.effective_client_id(cfg.oidc)),
        "browser.client_id",
        "must be set (or oidc.client_id)",
    )
    chk(
        bool(b.session_keys_dir.strip()),
        "browser.session_keys_dir",
        "must name the mounted session key Secret (the operator generates one)",
    )
    chk(
        b.client_secret_file is None or bool(b.client_secret_file.strip()),
        "browser.client_secret_file",
        "must not be empty (use null for a public client)",
    )
    if b.scopes is not None:
        chk("openid" in b.scopes.split(), "browser.scopes", "must include 'openid'")
    _check_url(
        b.redirect_url, "browser.redirect_url", errors, schemes=("http", "https"), strict=True
    )
    if b.redirect_url is not None and "browser.redirect_url" not in errors.bad:
        chk(
            b.redirect_url.split("?", 1)[0].endswith("/apis/auth/callback"),
            "browser.redirect_url",
            "must end with /apis/auth/callback",
        )
    _check_url(
        b.post_logout_redirect_url,
        "browser.post_logout_redirect_url",
        errors,
        schemes=("http", "https"),
        strict=False,
    )
    if b.cookie_domain is not None:
        chk(
            bool(_DOMAIN.fullmatch(b.cookie_domain.lower())),
            "browser.cookie_domain",
            f"not a DNS domain: {b.cookie_domain!r}",
        )
    for i, path in enumerate(b.never_redirect):
        check_path(path, f"browser.never_redirect[{i}]", errors)
    for i, origin in enumerate(b.trusted_origins):
        chk(
            bool(_ORIGIN.fullmatch(origin)),
            f"browser.trusted_origins[{i}]",
            f"must be an origin like https://app.example.com, got {origin!r}",
        )
