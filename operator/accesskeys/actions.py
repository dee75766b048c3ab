"""What the API does to keys: mint, rotate, change state.  The rules of
issue #17 are enforced here, each with its own refusal:

* scopes are a subset of the caller's (``scope_escalation``, 403);
* a key acts as its creator unless bound to a service account, which only
  members of ``accessKeys.adminGroups`` may ask for (``not_admin``, 403);
* lifetimes have a default and a maximum; never-expiring keys only when the
  maximum is explicitly disabled (``invalid_expiry``, 422);
* a rotation's grace period is bounded by ``maxGraceSeconds`` (422);
* the raw token is returned once and only its hash is stored.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace
from typing import Any

from authgate.core.principal import Principal

from .model import PHASES, AccessKeyRecord, new_jti, token_hash
from .requests import (
    ApiError,
    check_expiry,
    check_scopes,
    parse_create,
    parse_rotate,
)
from .service import AccessKeyService, Provider
from .signing import mint

__all__ = ["Actions"]

#: A key that "never expires" still carries an exp (the verifier requires one): 100 years.
NEVER_SECONDS = 100 * 365 * 86400
WARNING = (
    "Store this token now: it is shown only once and authgate keeps only its hash. "
    "Treat it like a password."
)
DEFAULT_GRACE_SECONDS = 3600


class Actions:
    def __init__(self, service: AccessKeyService) -> None:
        self.service = service

    async def _mint(
        self, provider: Provider, template: AccessKeyRecord, lifetime: int | None
    ) -> tuple[AccessKeyRecord, str]:
        """Sign a token for ``template`` (with a fresh jti) and store its record."""
        now = time.time()
        keys = await self.service.signing_keys(provider)
        signer = keys.signer(now)
        jti = new_jti()
        expires = None if lifetime is None else now + lifetime
        claims: dict[str, Any] = {
            "iss": template.issuer,
            "aud": list(template.audiences),
            "sub": template.principal,
            "scope": " ".join(template.scopes),
            "jti": jti,
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now + (NEVER_SECONDS if lifetime is None else lifetime)),
        }
        if template.email:
            claims["email"] = template.email
        if template.groups:
            claims["groups"] = list(template.groups)
        token = mint(claims, signer)
        record = replace(
            template,
            jti=jti,
            token_hash=token_hash(token),
            signing_kid=signer.kid,
            created_at=float(int(now)),
            expires_at=None if expires is None else float(int(expires)),
            state="Active",
            state_changed_at=None,
            rotated_to=None,
            grace_until=None,
            resource_version=None,
        )
        stored = await self.service.store.create(record)
        self.service.index.put(stored)
        return stored, token

    def _issued(self, record: AccessKeyRecord, token: str) -> dict[str, Any]:
        return {**record.view(time.time()), "token": token, "warning": WARNING}

    async def create(
        self, provider: Provider, caller: Principal, body: dict[str, Any]
    ) -> dict[str, Any]:
        policy = provider.policy
        request = parse_create(body, provider.namespace)
        lifetime = check_expiry(request.expires_in_seconds, policy)
        scopes = check_scopes(request.scopes, caller.scopes)
        if request.service_account is not None:
            if not policy.is_admin(caller.groups):
                raise ApiError(
                    403,
                    "not_admin",
                    "only members of this provider's access-key admin groups may "
                    "create keys bound to a service account",
                )
            ns, name = request.service_account
            groups: tuple[str, ...] = ()
            principal, email = f"system:serviceaccount:{ns}:{name}", None
            bound: str | None = f"{ns}/{name}"
        else:
            principal, email, groups, bound = caller.subject, caller.email, caller.groups, None
        verifier = await self.service.caller_verifier(provider)
        audiences = verifier.config.oidc.effective_audience if verifier else ()
        template = AccessKeyRecord(
            jti="",
            namespace=provider.namespace,
            provider=provider.name,
            name=request.name,
            description=request.description,
            principal=principal,
            email=email,
            groups=groups,
            service_account=bound,
            created_by=caller.subject,
            scopes=scopes,
            audiences=tuple(audiences),
            issuer=self.service.issuer(provider.namespace, provider.name),
            token_hash="",
            signing_kid="",
            created_at=0.0,
            expires_at=None,
        )
        record, token = await self._mint(provider, template, lifetime)
        return self._issued(record, token)

    async def rotate(
        self, provider: Provider, caller: Principal, old: AccessKeyRecord, body: dict[str, Any]
    ) -> dict[str, Any]:
        policy = provider.policy
        request = parse_rotate(body)
        now = time.time()
        phase = old.phase(now)
        if phase != "Active":
            raise ApiError(
                409, "not_active", f"only an Active key can be rotated; this one is {phase}"
            )
        grace = request.grace_period_seconds
        if grace is None:
            grace = min(DEFAULT_GRACE_SECONDS, policy.max_grace_seconds)
        if grace > policy.max_grace_seconds:
            raise ApiError(
                422,
                "invalid_grace",
                f"'grace_period_seconds' exceeds this provider's maximum of "
                f"{policy.max_grace_seconds} s",
            )
        requested = request.expires_in_seconds
        if requested is None:  # the same lifetime again, within today's policy
            requested = 0 if old.expires_at is None else int(old.expires_at - old.created_at)
            if requested == 0 and not policy.never_expiring_allowed:
                requested = policy.effective_default_expiry()
            if policy.max_expiry_seconds and requested > policy.max_expiry_seconds:
                requested = policy.max_expiry_seconds
            requested = max(requested, 60) if requested else 0
        lifetime = check_expiry(requested, policy)
        if not policy.is_admin(caller.groups):
            check_scopes(old.scopes, caller.scopes)
        successor, token = await self._mint(provider, replace(old, rotated_from=old.jti), lifetime)
        try:
            updated = await self.service.store.replace(
                replace(old, rotated_to=successor.jti, grace_until=float(int(now + grace)))
            )
        except Exception:
            with contextlib.suppress(Exception):  # do not leave two active keys behind
                await self.service.store.delete(successor)
                self.service.index.drop(successor.jti)
            raise
        self.service.index.put(updated)
        return {**self._issued(successor, token), "previous": updated.view(now)}

    async def set_state(self, record: AccessKeyRecord, state: str) -> dict[str, Any]:
        now = time.time()
        phase = record.phase(now)
        if state == "Revoked" and record.state == "Revoked":
            return record.view(now)  # revoking twice is not an error
        allowed = {
            "Suspended": ("Active", "Rotating"),
            "Active": ("Suspended",),
            "Revoked": PHASES,
        }[state]
        if phase not in allowed or (
            state == "Active" and record.grace_until is not None and now >= record.grace_until
        ):
            verb = {"Suspended": "suspended", "Active": "unsuspended", "Revoked": "revoked"}[state]
            raise ApiError(409, "invalid_state", f"a {phase} key cannot be {verb}")
        updated = await self.service.store.replace(record.with_state(state, now))
        self.service.index.put(updated)
        return updated.view(now)
