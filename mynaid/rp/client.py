"""The card side of the relying-party protocol, and a small HTTP client (urllib only).

Body builders (a card and its secrets in, a JSON-ready dict out; the library never prompts):

* :func:`registration_body`: the signature key and the auth key sign the registration
  nonce (signature password and auth PIN, both under the lockout guard);
* :func:`login_body`: the auth key signs a login nonce (what ``mynaid auth`` does);
* :func:`face_body`: the kiosk reads and verifies the card-face identity with 照合番号B
  (:func:`mynaid.rp.binding.read_card_face_identity`) and signs the claim with its device
  key (Ed25519), after its own face match or staff confirmation.

:class:`RpClient` posts them (``mynaid rp register|login --server URL``, the eligibility
kiosk). PINs never leave the card reader's host; the server sees certificates, signatures
and the card-face identity only.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mynaid.challenge import respond, signed_message
from mynaid.errors import MynaidError
from mynaid.rp.binding import CardFaceIdentity, read_card_face_identity
from mynaid.rp.core import REGISTER_SUFFIX, device_message

if TYPE_CHECKING:
    from mynaid.integrity import IssuerKey
    from mynaid.protocol import CardProtocol

__all__ = ["ClientError", "RpClient", "face_body", "login_body", "registration_body"]

MAX_ANSWER = 1 << 20


class ClientError(MynaidError):
    """The service could not be asked, or answered something unusable."""

    reason = "service-unreachable"


def _b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


def _challenge(answer: dict[str, Any], purpose: str, context: str) -> bytes:
    """The nonce of a ``/v1/nonce`` answer, refusing one made for another context (signing
    it would hand the server a signature another verifier accepts)."""
    expected = context + (REGISTER_SUFFIX if purpose == "register" else "")
    if answer.get("context") != expected or answer.get("purpose") != purpose:
        raise ClientError(f"the server asked for context {answer.get('context')!r}, "
                          f"not {expected!r}")
    try:
        return bytes.fromhex(str(answer["nonce"]))
    except (KeyError, ValueError) as exc:
        raise ClientError("the server's nonce is not hex") from exc


def registration_body(protocol: CardProtocol, nonce: bytes, context: str, *,
                      sign_password: str, auth_pin: str,
                      reserve: int | None = None) -> dict[str, Any]:
    """Both keys sign ``signed_message(context + "/register", nonce)``, in one card
    transaction; with the four certificates."""
    from mynaid.cardspec import CertificateSlot
    from mynaid.sessions.jpki import JpkiSession

    message = signed_message(context + REGISTER_SUFFIX, nonce)
    digest = hashlib.sha256(message).digest()
    reserves = None if reserve is None else {"auth-pin": reserve, "sign-password": reserve}
    session = JpkiSession(protocol, reserves)
    with session.transaction():
        sign_cert = session.read_certificate(CertificateSlot.SIGN, sign_password)
        sign_ca = session.read_certificate(CertificateSlot.SIGN_CA)
        sign_sig = session.sign_digest("sign", "sha256", digest, sign_password)
        auth_cert = session.read_certificate(CertificateSlot.AUTH)
        auth_ca = session.read_certificate(CertificateSlot.AUTH_CA)
        auth_sig = session.sign_digest("auth", "sha256", digest, auth_pin)
    return {
        "nonce": nonce.hex(), "context": context + REGISTER_SUFFIX,
        "sign": {"certificate": _b64(sign_cert), "ca_certificates": [_b64(sign_ca)],
                 "signature": base64.b64encode(sign_sig).decode()},
        "auth": {"certificate": _b64(auth_cert), "ca_certificates": [_b64(auth_ca)],
                 "signature": base64.b64encode(auth_sig).decode()},
    }


def login_body(protocol: CardProtocol, nonce: bytes, context: str, *, auth_pin: str,
               reserve: int | None = None) -> dict[str, Any]:
    """The auth key signs ``signed_message(context, nonce)`` (:func:`mynaid.challenge.respond`)."""
    return respond(protocol, nonce, auth_pin, context=context, reserve=reserve).as_dict()


def face_claim(kiosk_id: str, method: str, nonce: bytes, context: str,
               auth_certificate: x509.Certificate,
               ca_certificates: Sequence[x509.Certificate],
               identity: CardFaceIdentity) -> dict[str, Any]:
    """The claim a kiosk signs (every field is covered by the device signature)."""
    return {"kiosk_id": kiosk_id, "method": method, "nonce": nonce.hex(),
            "context": context, "certificate": _b64(auth_certificate),
            "ca_certificates": [_b64(c) for c in ca_certificates],
            "card_face": identity.as_dict()}


def sign_claim(claim: dict[str, Any], device_key: Ed25519PrivateKey) -> dict[str, Any]:
    """The body of ``/v1/face``: the claim and the device signature over it."""
    signature = device_key.sign(device_message(claim))
    return {"claim": claim, "device_signature": base64.b64encode(signature).decode()}


def face_body(protocol: CardProtocol, nonce: bytes, context: str, *, collation_b: str,
              issuer_keys: Sequence[IssuerKey], kiosk_id: str,
              device_key: Ed25519PrivateKey, method: str = "face") -> dict[str, Any]:
    """Read the auth certificate (no PIN) and the verified card-face identity (照合番号B),
    and sign the claim. Call it once the face matched (or staff confirmed)."""
    from mynaid.cardspec import CertificateSlot
    from mynaid.sessions.jpki import JpkiSession

    jpki = JpkiSession(protocol)
    auth_cert = jpki.read_certificate(CertificateSlot.AUTH)
    auth_ca = jpki.read_certificate(CertificateSlot.AUTH_CA)
    identity = read_card_face_identity(protocol, collation_b, issuer_keys, context=context,
                                       nonce=nonce)
    claim = face_claim(kiosk_id, method, nonce, context, auth_cert, (auth_ca,), identity)
    return sign_claim(claim, device_key)


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RpClient:
    """JSON over HTTP(S) to the relying-party service."""

    def __init__(self, base_url: str, *, timeout: float = 15.0,
                 context: str = "mynaid-rp") -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https"):
            raise ClientError(f"the server URL must be http(s), not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.context = context
        handlers: list[urllib.request.BaseHandler] = []
        if _is_loopback(parts.hostname):
            # Never send a loopback request (certificates, signatures) to a proxy.
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON answer); a 4xx/5xx answer is returned, not raised."""
        request = urllib.request.Request(  # noqa: S310 (scheme checked in __init__)
            self.base_url + path, data=json.dumps(body).encode("utf-8"), method="POST",
            headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read(MAX_ANSWER)
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read(MAX_ANSWER)
            exc.close()
        except (urllib.error.URLError, OSError) as exc:
            raise ClientError(f"the service at {self.base_url} did not answer: "
                              f"{getattr(exc, 'reason', exc)}") from exc
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ClientError(f"the service answered {status} without a JSON object")
        return int(status), answer

    def nonce(self, purpose: str = "login") -> bytes:
        """A fresh nonce for ``purpose``, checked to be for this client's context."""
        status, answer = self.post("/v1/nonce", {"purpose": purpose})
        if status != 200:
            raise ClientError(f"no nonce: {answer.get('reason')}: {answer.get('message')}")
        return _challenge(answer, purpose, self.context)

    def register(self, protocol: CardProtocol, *, sign_password: str,
                 auth_pin: str) -> tuple[int, dict[str, Any]]:
        nonce = self.nonce("register")
        return self.post("/v1/register", registration_body(
            protocol, nonce, self.context, sign_password=sign_password, auth_pin=auth_pin))

    def login(self, protocol: CardProtocol, *, auth_pin: str) -> tuple[int, dict[str, Any]]:
        nonce = self.nonce("login")
        return self.post("/v1/login", login_body(protocol, nonce, self.context,
                                                 auth_pin=auth_pin))

    def face(self, protocol: CardProtocol, *, collation_b: str,
             issuer_keys: Sequence[IssuerKey], kiosk_id: str,
             device_key: Ed25519PrivateKey,
             method: str = "face") -> tuple[int, dict[str, Any]]:
        nonce = self.nonce("face")
        return self.post("/v1/face", face_body(
            protocol, nonce, self.context, collation_b=collation_b, issuer_keys=issuer_keys,
            kiosk_id=kiosk_id, device_key=device_key, method=method))
