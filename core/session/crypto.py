"""Sealed cookie values: AES-256-GCM with a key id, and cookie chunking.

Why this shape:

* **Authenticated encryption** (AES-GCM, NIST SP 800-38D) keeps the session's
  tokens confidential *and* makes any change to the cookie detectable; a
  tampered, truncated or foreign value fails to open and is treated as "no
  session" (never a 500).
* **A key id in clear** in front of the ciphertext lets a sidecar pick the key
  without trial decryption, so keys rotate without logging anyone out: the
  new key seals, every key still in the ring opens (the overlap), and a key
  removed from the ring ("retired") opens nothing.
* **Purpose binding**: the key id and a purpose (``session``, ``login``) are
  the GCM additional authenticated data, so a login-state cookie can never be
  replayed as a session cookie or the other way round.
* **Expiry inside** the sealed payload (``exp``): an old cookie the browser kept
  (or an attacker copied) stops working at the time we chose, whatever the
  cookie's own ``Max-Age`` said.

Wire format of a sealed value: ``<kid>.<base64url(nonce[12] || ciphertext+tag)>``.
Cookie values larger than one cookie may hold are split over numbered
cookies (``name-0``, ``name-1``, ...), as oauth2-proxy does; browsers keep at
least 4096 bytes per cookie (RFC 6265 §6.1).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "KEY_BYTES",
    "MAX_CHUNKS",
    "Keyring",
    "KeyringSource",
    "SessionInvalid",
    "SessionKey",
    "generate_key_material",
    "join_chunks",
    "load_keyring_dir",
    "parse_key_material",
    "split_value",
]

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # 96-bit GCM nonce, random per seal (SP 800-38D §8.2.2)
MAX_SEALED_BYTES = 32 * 1024  # never try to open more than this
MAX_CHUNKS = 8  # 8 x 3800 bytes: far beyond any session we write
CHUNK_BYTES = 3800  # value bytes per cookie; name + attributes stay under 4096
KID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")
CURRENT_FILE = "current"  # in a key directory: names the kid that seals


class SessionInvalid(Exception):
    """A sealed value that cannot be used; ``reason`` is a stable code
    (``malformed``, ``unknown_key``, ``bad_seal``, ``expired``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SessionKey:
    """One AES-256 key and its id."""

    kid: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not KID_PATTERN.fullmatch(self.kid):
            raise ValueError("a session key id is 1-32 characters of [A-Za-z0-9_-]")
        if len(self.secret) != KEY_BYTES:
            raise ValueError(f"a session key is {KEY_BYTES} bytes")


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise SessionInvalid("malformed")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise SessionInvalid("malformed") from None


def generate_key_material() -> str:
    """A fresh key as the text stored in a Secret (base64url, 43 characters)."""
    return _b64e(os.urandom(KEY_BYTES))


def parse_key_material(text: str) -> bytes:
    """The 32 key bytes of a Secret value (base64url or standard base64)."""
    cleaned = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    try:
        raw = _b64d(cleaned)
    except SessionInvalid:
        raise ValueError("session key material is not base64") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"session key material must decode to {KEY_BYTES} bytes")
    return raw


class Keyring:
    """The key that seals (``current``) and every key that may still open."""

    def __init__(self, current: SessionKey, previous: Iterable[SessionKey] = ()) -> None:
        self.current = current
        self._keys: dict[str, AESGCM] = {current.kid: AESGCM(current.secret)}
        for key in previous:
            self._keys.setdefault(key.kid, AESGCM(key.secret))

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    @staticmethod
    def _aad(purpose: str, kid: str) -> bytes:
        return f"authgate/v1|{purpose}|{kid}".encode()

    def seal(self, purpose: str, payload: Mapping[str, Any], *, expires_at: float) -> str:
        """Encrypt ``payload`` (JSON) for ``purpose``, valid until ``expires_at``."""
        body = dict(payload)
        body["exp"] = int(expires_at)
        plaintext = json.dumps(body, separators=(",", ":")).encode()
        nonce = os.urandom(NONCE_BYTES)
        kid = self.current.kid
        sealed = self._keys[kid].encrypt(nonce, plaintext, self._aad(purpose, kid))
        return f"{kid}.{_b64e(nonce + sealed)}"

    def open(self, purpose: str, value: str, *, now: float | None = None) -> dict[str, Any]:
        """The payload of a sealed value, or :class:`SessionInvalid`."""
        if not value or len(value) > MAX_SEALED_BYTES:
            raise SessionInvalid("malformed")
        kid, dot, data = value.partition(".")
        if not dot or not KID_PATTERN.fullmatch(kid):
            raise SessionInvalid("malformed")
        aead = self._keys.get(kid)
        if aead is None:
            raise SessionInvalid("unknown_key")
        raw = _b64d(data)
        if len(raw) < NONCE_BYTES + 16:
            raise SessionInvalid("malformed")
        try:
            plaintext = aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], self._aad(purpose, kid))
        except InvalidTag:
            raise SessionInvalid("bad_seal") from None
        try:
            payload = json.loads(plaintext)
        except ValueError:  # cannot happen for values we sealed; be safe anyway
            raise SessionInvalid("malformed") from None
        if not isinstance(payload, dict):
            raise SessionInvalid("malformed")
        exp = payload.get("exp")
        if not isinstance(exp, int) or (now if now is not None else time.time()) >= exp:
            raise SessionInvalid("expired")
        return payload


def load_keyring_dir(path: str) -> Keyring:
    """A keyring from a mounted Secret: one file per kid holding base64 key
    material, and a file ``current`` naming the kid that seals.  Raises
    ``ValueError`` (with no key material in the message) when unusable."""
    try:
        names = sorted(os.listdir(path))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the session key directory: {exc.strerror}") from None
    keys: dict[str, SessionKey] = {}
    current_kid: str | None = None
    for name in names:
        full = os.path.join(path, name)
        if name.startswith(".") or not os.path.isfile(full):
            continue  # Kubernetes' ..data symlink farm, hidden files
        with open(full, encoding="utf-8") as fh:
            text = fh.read()
        if name == CURRENT_FILE:
            current_kid = text.strip()
            continue
        if not KID_PATTERN.fullmatch(name):
            continue
        try:
            keys[name] = SessionKey(name, parse_key_material(text))
        except ValueError as exc:
            raise ValueError(f"{path}/{name}: {exc}") from None
    if not keys:
        raise ValueError(f"{path}: no session keys")
    if current_kid is None:
        current_kid = sorted(keys)[-1]  # no 'current' file: the highest kid seals
    if current_kid not in keys:
        raise ValueError(f"{path}: 'current' names key {current_kid[:32]!r}, which is not there")
    return Keyring(keys[current_kid], [k for kid, k in keys.items() if kid != current_kid])


def split_value(name: str, value: str, *, chunk: int = CHUNK_BYTES) -> list[tuple[str, str]]:
    """``[(name, value)]`` when it fits one cookie, else ``name-0``, ``name-1``, ..."""
    if len(value) <= chunk:
        return [(name, value)]
    parts = [value[i : i + chunk] for i in range(0, len(value), chunk)]
    if len(parts) > MAX_CHUNKS:
        raise ValueError("the session is too large for the cookie jar")
    return [(f"{name}-{i}", part) for i, part in enumerate(parts)]


def chunk_names(name: str) -> tuple[str, ...]:
    """Every cookie name a value called ``name`` may occupy."""
    return (name, *(f"{name}-{i}" for i in range(MAX_CHUNKS)))


def join_chunks(name: str, cookies: Mapping[str, str]) -> str | None:
    """The value stored under ``name`` (whole, or reassembled from consecutive
    chunks starting at ``name-0``); ``None`` when absent."""
    whole = cookies.get(name)
    if whole is not None:
        return whole
    parts: list[str] = []
    for i in range(MAX_CHUNKS):
        part = cookies.get(f"{name}-{i}")
        if part is None:
            break
        parts.append(part)
    return "".join(parts) if parts else None


def parse_cookie_header(values: Sequence[str]) -> dict[str, str]:
    """Cookie pairs of the request's ``Cookie`` field(s) (RFC 6265 §5.4);
    the first occurrence of a name wins, as in browsers' most-specific-first order."""
    cookies: dict[str, str] = {}
    for value in values:
        for pair in value.split(";"):
            name, eq, val = pair.strip().partition("=")
            if eq and name and name not in cookies:
                cookies[name] = val.strip().strip('"')
    return cookies


class KeyringSource:
    """The keyring of a mounted key directory, re-read when it changes.

    The kubelet updates a mounted Secret by swapping a symlink, so the
    directory is polled (at most once per ``interval`` seconds, on use) by the
    resolved path and mtime of its files.  A directory that becomes unusable
    keeps the last good keyring (logged by the caller via ``last_error``)."""

    def __init__(
        self, path: str, *, interval: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = path
        self._interval = interval
        self._clock = clock
        self._checked = -1e18
        self._signature: tuple[Any, ...] | None = None
        self.last_error: str | None = None
        self._ring = load_keyring_dir(path)  # the first load must succeed
        self._signature = self._current_signature()

    def _current_signature(self) -> tuple[Any, ...]:
        entries = []
        try:
            for name in sorted(os.listdir(self.path)):
                real = os.path.realpath(os.path.join(self.path, name))
                st = os.stat(real)
                entries.append((name, real, st.st_mtime_ns, st.st_size))
        except OSError:
            return ()
        return tuple(entries)

    def get(self) -> Keyring:
        now = self._clock()
        if now - self._checked >= self._interval:
            self._checked = now
            signature = self._current_signature()
            if signature != self._signature:
                self._signature = signature
                try:
                    self._ring = load_keyring_dir(self.path)
                    self.last_error = None
                except ValueError as exc:
                    self.last_error = str(exc)
        return self._ring
