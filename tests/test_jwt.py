"""The HS256 JWT codec: Node-signed tokens verify, and every bad token says why it is bad."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from streamctl.core.jwt import JWTError, encode, mint_dev_token, verify

# The canonical example from jwt.io, as Node's jsonwebtoken signs it.
JWT_IO_SECRET = "your-256-bit-secret"
JWT_IO_PAYLOAD = {"sub": "1234567890", "name": "John Doe", "iat": 1516239022}
JWT_IO_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
NOW = 1_700_000_000.0


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: bytes, payload: bytes, secret: str = "s") -> str:
    """A correctly signed token around arbitrary header and payload bytes."""
    signing_input = f"{b64(header)}.{b64(payload)}"
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


HS256 = b'{"alg":"HS256","typ":"JWT"}'
NOT_UTF8 = b64(b"\xff")


def test_a_token_signed_by_node_jsonwebtoken_verifies() -> None:
    assert verify(JWT_IO_TOKEN, JWT_IO_SECRET, NOW) == JWT_IO_PAYLOAD


def test_encode_writes_the_same_bytes_as_jsonwebtoken() -> None:
    assert encode(JWT_IO_PAYLOAD, JWT_IO_SECRET) == JWT_IO_TOKEN


def test_round_trip_with_times_inside_the_window() -> None:
    payload = {"userId": "u1", "exp": NOW + 1, "nbf": NOW}
    assert verify(encode(payload, "s"), "s", NOW) == payload


def test_a_non_ascii_secret_and_payload_round_trip() -> None:
    payload = {"userId": "пользователь"}
    assert verify(encode(payload, "секрет"), "секрет", NOW) == payload


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("only.two", "three dot-separated parts"),
        ("a.b.c.d", "three dot-separated parts"),
        ("!!!.e30.sig", "header is not base64url"),
        ("a.e30.sig", "header is not base64url"),  # one base64 character cannot be a byte
        (f"{b64(b'not json')}.e30.sig", "header is not JSON"),
        (f"{NOT_UTF8}.e30.sig", "header is not JSON"),
        (f"{b64(b'[1]')}.e30.sig", "header is not a JSON object"),
        (forge(b'{"alg":"none"}', b"{}").rsplit(".", 1)[0] + ".", "'none'"),
        (forge(b'{"alg":"HS512"}', b"{}"), "'HS512'"),
        (forge(b'{"typ":"JWT"}', b"{}"), "None"),
        (forge(HS256, b"{}")[:-2] + "$$", "signature is not base64url"),
        (forge(HS256, b"{}", secret="other"), "invalid signature"),
        (forge(HS256, b"[1]"), "payload is not a JSON object"),
        (forge(HS256, b"nope"), "payload is not JSON"),
        (forge(HS256, b'{"exp": 1699999999}'), "token expired"),
        (forge(HS256, b'{"exp": 1700000000}'), "token expired"),  # "on or after" exp
        (forge(HS256, b'{"nbf": 1700000001}'), "not yet valid"),
        (forge(HS256, b'{"exp": "soon"}'), "'exp' must be a number"),
        (forge(HS256, b'{"exp": true}'), "'exp' must be a number"),
        (forge(HS256, b'{"exp": NaN}'), "'exp' must be a number"),
        (forge(HS256, b'{"nbf": Infinity}'), "'nbf' must be a number"),
    ],
)
def test_a_bad_token_is_refused_with_a_reason(token: str, reason: str) -> None:
    with pytest.raises(JWTError, match=reason.replace("$", r"\$")) as caught:
        verify(token, "s", NOW)
    assert isinstance(caught.value, ValueError)


def test_an_absurdly_large_exp_is_a_valid_number() -> None:
    token = forge(HS256, b'{"exp": 1' + b"0" * 400 + b"}")
    assert verify(token, "s", NOW)["exp"] == 10**400


def test_mint_dev_token_names_the_user_and_expires() -> None:
    token = mint_dev_token("s", "alice", ttl_s=60, now=NOW)
    assert verify(token, "s", NOW) == {"userId": "alice", "iat": int(NOW), "exp": int(NOW) + 60}
    with pytest.raises(JWTError, match="expired"):
        verify(token, "s", NOW + 60)


def test_mint_dev_token_defaults_to_an_hour_for_dev_user_from_now() -> None:
    before = time.time()
    payload = verify(mint_dev_token("s"), "s", before)
    assert payload["userId"] == "dev-user"
    assert payload["exp"] - payload["iat"] == 3600
    assert int(before) <= payload["iat"] <= time.time()


def test_the_header_encode_writes_is_hs256() -> None:
    header = encode({}, "s").split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "HS256", "typ": "JWT"}
