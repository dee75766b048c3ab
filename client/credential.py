"""What kind of credential a token is, for ``authgate status`` (without verifying it).

An access key (issue #17) is recognised by its ``jti`` (``ak_<32 hex>``), which
the operator's issuer always sets; everything else is shown as an IdP token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["credential_type"]

_ACCESS_KEY_ID = re.compile(r"ak_[0-9a-f]{32}")


def credential_type(claims: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, str]]:
    """JSON fields and the table row describing the credential."""
    jti = claims.get("jti")
    if isinstance(jti, str) and _ACCESS_KEY_ID.fullmatch(jti):
        return (
            {"credential_type": "access key", "access_key_id": jti},
            ("Credential", f"access key {jti}"),
        )
    return {"credential_type": "IdP token"}, ("Credential", "IdP token")
