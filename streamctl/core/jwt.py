"""A small, pure HS256 JSON Web Token codec (RFC 7519 / RFC 7515), stdlib only.

ws-events (seed 001) authenticates with "JWT токены" signed with ``JWT_SECRET``, the way the
Node ``jsonwebtoken`` package does: ``jwt.sign(payload, secret)`` and ``jwt.verify(token,
secret)``. This module does exactly that much: HS256 only (``alg: none`` and every other
algorithm are refused), the signature compared in constant time, ``exp`` and ``nbf`` checked
against an injected clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import time
from typing import Any

from streamctl.core.jsontext import NotAnObjectError, json_object

__all__ = ["JWTError", "encode", "mint_dev_token", "segment", "verify"]

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class JWTError(ValueError):
    """A token that does not verify; the message says why, readable by a person."""


def _b64encode(data: bytes) -> str:
    # RFC 7515 §2: base64url without padding.
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(part: str, what: str) -> bytes:
    if not _B64URL.fullmatch(part):
        raise JWTError(f"malformed token: the {what} is not base64url")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except binascii.Error:
        raise JWTError(f"malformed token: the {what} is not base64url") from None


def _json_object(part: str, what: str) -> dict[str, Any]:
    data = _b64decode(part, what)
    try:
        return json_object(data)
    except NotAnObjectError:
        raise JWTError(f"malformed token: the {what} is not a JSON object") from None
    except ValueError:  # also UnicodeDecodeError
        raise JWTError(f"malformed token: the {what} is not JSON") from None


def segment(obj: dict[str, Any]) -> str:
    """A JSON object as a token segment (header or payload): compact JSON, base64url."""
    return _b64encode(json.dumps(obj, separators=(",", ":")).encode())


def _sign(signing_input: str, secret: str) -> bytes:
    return hmac.new(secret.encode(), signing_input.encode("ascii"), hashlib.sha256).digest()


def encode(payload: dict[str, Any], secret: str) -> str:
    """``payload`` as a compact HS256 token signed with ``secret``."""
    header = _b64encode(b'{"alg":"HS256","typ":"JWT"}')
    signing_input = f"{header}.{segment(payload)}"
    return f"{signing_input}.{_b64encode(_sign(signing_input, secret))}"


def verify(token: str, secret: str, now: float) -> dict[str, Any]:
    """The payload of ``token`` if it is a valid HS256 token for ``secret`` at time ``now``
    (Unix seconds); otherwise :class:`JWTError` saying why."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JWTError("malformed token: a JWT has three dot-separated parts")
    header = _json_object(parts[0], "header")
    if header.get("alg") != "HS256":
        # RFC 8725 §3.1: only accept the algorithm you expect; "none" is never accepted.
        raise JWTError(f"unsupported algorithm {header.get('alg')!r} (only HS256 is accepted)")
    signature = _b64decode(parts[2], "signature")
    if not hmac.compare_digest(signature, _sign(f"{parts[0]}.{parts[1]}", secret)):
        raise JWTError("invalid signature")
    payload = _json_object(parts[1], "payload")
    _check_times(payload, now)
    return payload


def _check_times(payload: dict[str, Any], now: float) -> None:
    # RFC 7519 §4.1.4: "on or after" exp the token MUST NOT be accepted; §4.1.5: not before nbf.
    exp, nbf = _numeric(payload, "exp"), _numeric(payload, "nbf")
    if exp is not None and now >= exp:
        raise JWTError("token expired")
    if nbf is not None and now < nbf:
        raise JWTError("token not yet valid (nbf)")


def _numeric(payload: dict[str, Any], claim: str) -> int | float | None:
    value = payload.get(claim)
    if value is None:
        return None
    # Python's json accepts NaN and Infinity; a time claim must be a finite number.
    finite = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    if isinstance(value, bool) or not finite:
        raise JWTError(f"malformed token: {claim!r} must be a number of seconds")
    number: int | float = value
    return number


def mint_dev_token(
    secret: str, user_id: str = "dev-user", ttl_s: float = 3600, now: float | None = None
) -> str:
    """A token for ``streamctl token``: ``{"userId", "iat", "exp"}`` valid for ``ttl_s``."""
    issued = time.time() if now is None else now
    payload = {"userId": user_id, "iat": int(issued), "exp": int(issued + ttl_s)}
    return encode(payload, secret)
