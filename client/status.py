"""What ``authgate status`` shows: rows for a token set, the token source in use,
and whether a platform has authentication switched off (asked live, so a
context logged in before the switch is not reported as "not logged in")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from authgate.client.clock import human_duration
from authgate.client.credential import credential_type
from authgate.client.discovery import fetch_discovery
from authgate.client.errors import ClientError
from authgate.client.sources import Source, TokenFile, check_token, env_source
from authgate.client.store import ConfigStore
from authgate.client.tokens import TokenSet, claims, identity
from authgate.client.transport import sync_client

__all__ = ["auth_disabled", "env_login", "status_rows"]


def status_rows(tokens: TokenSet) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    found = claims(tokens.access_token)
    raw_groups = found.get("groups")
    groups: list[str] = [str(g) for g in raw_groups] if isinstance(raw_groups, list) else []
    left = tokens.seconds_left()
    expires = "unknown"
    if tokens.expires_at is not None and left is not None:
        stamp = datetime.fromtimestamp(tokens.expires_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        expires = f"{stamp} ({'in ' + human_duration(left) if left > 0 else 'expired'})"
    data: dict[str, Any] = {
        "user": identity(tokens),
        "subject": found.get("sub"),
        "groups": groups,
        "scopes": (tokens.scope or str(found.get("scope") or "")).split(),
        "issuer": found.get("iss"),
        "expires_at": tokens.expires_at,
        "expires_in_seconds": None if left is None else int(left),
        "refresh_token": tokens.refresh_token is not None,
        "grant": tokens.grant,
    }
    rows = [
        ("User", str(data["user"] or "-")),
        ("Subject", str(data["subject"] or "-")),
        ("Groups", ", ".join(groups) or "-"),
        ("Scopes", " ".join(data["scopes"]) or "-"),
        ("Issuer", str(data["issuer"] or "-")),
        ("Expires", expires),
        ("Refresh token", "present" if tokens.refresh_token else "none"),
        ("Login method", tokens.grant),
    ]
    if tokens.grant == "token_exchange":  # RFC 8693: where the next exchange reads from
        data["exchanged_from"] = tokens.subject_file
        rows.append(("Exchanged from", tokens.subject_file or "stdin (not renewed)"))
    kind = credential_type(found)  # "access key" (with its jti) or "IdP token"
    data.update(kind[0])
    rows.insert(0, kind[1])
    return data, rows


def env_login(token: str | None) -> tuple[Source, TokenSet] | None:
    """The explicit or environment token source, when one is set (see client.sources)."""
    found = (
        (Source("argument"), check_token(token, "--token")) if token is not None else env_source()
    )
    if found is None:
        return None
    source, value = found
    access = value.read() if isinstance(value, TokenFile) else value
    exp = claims(access).get("exp")
    expires_at = float(exp) if isinstance(exp, int | float) else None
    return source, TokenSet(access_token=access, expires_at=expires_at, grant="static")


def auth_disabled(store: ConfigStore, context: str | None) -> str | None:
    """The platform of ``context`` when it says auth is off (checked live), else None."""
    config = store.load()
    entry = config.contexts.get(context or config.current_context or "")
    cluster = config.clusters.get(entry.cluster) if entry else None
    if cluster is None:
        return None
    try:
        with sync_client(cluster.ca_file) as http:
            discovery = fetch_discovery(http, cluster.base_url)
    except ClientError:
        return None
    return None if discovery.auth_enabled else cluster.base_url
