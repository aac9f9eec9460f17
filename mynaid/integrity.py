"""Integrity of the text and visual applications' data, and card-presence proofs.

Three links (card-reference §5–6), each reported as its own :class:`Check`:

1. the AP's CV certificate (EF 0004) is signed by an issuer key the caller trusts. The
   production issuer keys (``5000023`` visual, ``5000033`` text) are pinned in
   :mod:`mynaid.trust.cvkeys` (published by soltia48/myna-card; not checked here against a
   physical card) and matched by the whole 16-byte 証明者鍵ID; other keys are passed with
   :func:`load_issuer_keys` (the test card's are ``vectors/test-pki/{text,visual}-issuer.pem``).
   The check says which hierarchy verified (``production``, ``test`` or ``user-supplied``):
   a test card is never reported as a production card. With no key for the issuer, the
   check is *skipped*, never passed;
2. the record's signature verifies with the key in that CV certificate: text DF33 over
   DF31‖DF32, visual DF28 over a DigestInfo of three SHA-256 digests; visual 0001 DF13,
   visual 0005 DF43 and text 0007 DF52 over the fields before them as written
   (card-reference §9);
3. the signed digests match the data read: text DF31 = SHA-256(EF 0001), DF32 =
   SHA-256(DF22..DF25); visual DF28's three digests are recomputed from the face record.

A check that fails says why, naming the part that does not match. The expiry date (DF29) and
the security-code image (DF2A) are outside the visual signature, so changes to them pass.

A card-presence proof goes further: the visual face record carries the card's own public key
(DF24), and text EF 0007 the text application's (DF51). The card key is a different key from
the EF 0004 key that signs the records. Once the record verifies, a fresh random challenge
signed by the card (``80 2A 00 00``, no secret) with that card key shows that the card itself
is present, not a copy of its data.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mynaid.errors import ParseError
from mynaid.records import (
    AgeRecord,
    Attributes,
    CardFace,
    CvCertificate,
    MyNumberImage,
    SignedCardKey,
    TextIntegrityRecord,
)
from mynaid.trust.cvkeys import CV_KEYS_SOURCE, hierarchy_of, pinned_cv_key

#: DigestInfo header of the visual signature: SHA-256's OID with a 96-byte digest (§6).
FACE_DIGEST_INFO_PREFIX = bytes.fromhex("3071300D060960864801650304020105000460")
#: Environment variable listing issuer public-key PEM files (``os.pathsep``-separated).
ISSUER_KEYS_ENV = "MYNAID_ISSUER_KEYS"
_FACE_PART_NAMES = (
    "birth date, sex and card key (DF22-DF24)",
    "name and address images (DF25-DF26)",
    "photo (DF27)",
)


@dataclass(frozen=True)
class Check:
    """One check's outcome: ``passed`` is True, False, or None when it could not be made.

    ``hierarchy`` is set on a passed CV-certificate check: which issuer hierarchy verified it
    (``production``: a pinned J-LIS key; ``test``: a test-hierarchy id verified by a supplied
    key; ``user-supplied``: any other id verified by a supplied key).
    """

    passed: bool | None
    reason: str
    hierarchy: str | None = None

    @property
    def skipped(self) -> bool:
        return self.passed is None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"passed": self.passed, "reason": self.reason}
        if self.hierarchy is not None:
            out["hierarchy"] = self.hierarchy
        return out


def _ok(reason: str, hierarchy: str | None = None) -> Check:
    return Check(True, reason, hierarchy)


def _fail(reason: str) -> Check:
    return Check(False, reason)


def _skip(reason: str) -> Check:
    return Check(None, reason)


class IntegrityReport:
    """Shared behaviour of the report dataclasses below (every field is a Check)."""

    def checks(self) -> dict[str, Check]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    @property
    def ok(self) -> bool:
        """True only when every check was made and passed (a skipped check is not a pass)."""
        return all(c.passed is True for c in self.checks().values())

    @property
    def failed(self) -> list[str]:
        """Names of the checks that failed."""
        return [name for name, c in self.checks().items() if c.passed is False]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: c.as_dict() for name, c in self.checks().items()}
        out["ok"] = self.ok
        return out


@dataclass(frozen=True)
class TextIntegrityReport(IntegrityReport):
    """The text AP's checks."""

    cv_certificate: Check
    record_signature: Check
    my_number_digest: Check
    attributes_digest: Check


@dataclass(frozen=True)
class VisualIntegrityReport(IntegrityReport):
    """The visual AP's checks."""

    cv_certificate: Check
    face_signature: Check


@dataclass(frozen=True)
class PresenceReport(IntegrityReport):
    """A card-presence proof: the data's checks, then the card's signature of a challenge."""

    cv_certificate: Check
    face_signature: Check
    challenge_signature: Check


@dataclass(frozen=True)
class RecordReport(IntegrityReport):
    """One signed record (visual 0001 or 0005, text 0007): CV certificate and signature."""

    cv_certificate: Check
    record_signature: Check


@dataclass(frozen=True)
class TextPresenceReport(IntegrityReport):
    """The text AP's presence proof: EF 0007 (the card key, signed by the EF 0004 key),
    then the card's signature of a fresh challenge with that card key."""

    cv_certificate: Check
    card_key_signature: Check
    challenge_signature: Check


# --- issuer keys -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuerKey:
    """A trusted CV-certificate issuer public key and where it came from.

    ``key_id``, when set, restricts the key to certificates naming exactly that 16-byte
    証明者鍵ID; a key loaded from a file has none and is tried for any issuer.
    """

    label: str
    public_key: rsa.RSAPublicKey
    key_id: bytes | None = None


def load_issuer_key(path: str | os.PathLike[str]) -> IssuerKey:
    """An issuer key from a PEM file: a public key (SPKI) or an X.509 certificate."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(f"cannot read issuer key {path}: {exc.strerror}") from exc
    key: Any
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            key = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise ParseError(f"{path} is not a PEM public key or certificate") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise ParseError(f"{path}: issuer keys are RSA keys")
    return IssuerKey(path.name, key)


def load_issuer_keys(paths: Iterable[str | os.PathLike[str]] = (), *,
                     use_env: bool = True) -> list[IssuerKey]:
    """Issuer keys from ``paths`` and, with ``use_env``, from ``$MYNAID_ISSUER_KEYS``."""
    all_paths: list[str | os.PathLike[str]] = list(paths)
    if use_env:
        all_paths += [p for p in os.environ.get(ISSUER_KEYS_ENV, "").split(os.pathsep) if p]
    return [load_issuer_key(p) for p in all_paths]


# --- checks ----------------------------------------------------------------------------------


def _pkcs1_sha256(key: rsa.RSAPublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def check_cv_certificate(cert: CvCertificate, issuer_keys: Sequence[IssuerKey], *,
                         pinned: bool = True) -> Check:
    """Is the CV certificate signed (PKCS#1 v1.5, SHA-256 over its body) by a trusted key?

    The pinned production key whose 16-byte id equals the certificate's issuer id is tried
    first (with ``pinned``), then the supplied keys: for a pinned id only those tied to that
    exact id (:attr:`IssuerKey.key_id`), for any other id every supplied key. Only a pinned
    key makes the result
    ``production``; a certificate under a test id (``6xxxxxx``) verified by a supplied key is
    ``test``, any other one ``user-supplied``.
    """
    issuer = str(cert.issuer_key_id)
    key_id = cert.issuer_key_id.raw
    pinned_key = pinned_cv_key(key_id) if pinned else None
    if pinned_key is not None and _pkcs1_sha256(pinned_key.public_key, cert.signature,
                                                cert.body):
        return _ok(f"signed by the production issuer {issuer} with its pinned key "
                   f"(source: {CV_KEYS_SOURCE})", "production")
    # A key from a file (no key_id) is tried only for ids that are not pinned: a stray test
    # key in $MYNAID_ISSUER_KEYS (the test issuers' private keys are published) must not
    # vouch for a certificate that names a production issuer. A key tied to exactly this
    # 16-byte id is tried whatever the id.
    candidates = [k for k in issuer_keys
                  if k.key_id == key_id or (k.key_id is None and pinned_key is None)]
    for key in candidates:
        if _pkcs1_sha256(key.public_key, cert.signature, cert.body):
            if hierarchy_of(key_id) == "test":
                return _ok(f"signed by the test-hierarchy issuer {issuer} with the supplied "
                           f"key {key.label}: a test card, not a production card", "test")
            return _ok(f"signed by issuer {issuer} with the supplied key {key.label} "
                       "(not a pinned production key)", "user-supplied")
    if pinned_key is not None:
        return _fail(f"the CV certificate names the production issuer {issuer} but is not "
                     "signed by its pinned key" + (" nor by any supplied key"
                                                   if candidates else ""))
    if not candidates:
        return _skip(f"no issuer public key known for issuer {issuer} (only the production "
                     "issuers 5000023 and 5000033 are pinned; for others see --issuer-key)")
    return _fail(f"the CV certificate (issuer {issuer}) is not signed by any configured "
                 "issuer key")


def _digest_check(expected: bytes, data: bytes | None, what: str, missing: str) -> Check:
    if data is None:
        return _skip(missing)
    if hmac.compare_digest(expected, hashlib.sha256(data).digest()):
        return _ok(f"{what} matches its digest in the signed record")
    return _fail(f"{what} does not match its digest in the signed record")


def check_text(record: TextIntegrityRecord, cert: CvCertificate,
               issuer_keys: Sequence[IssuerKey], *, my_number_ef: bytes | None,
               attributes: Attributes | None) -> TextIntegrityReport:
    """The text AP's four checks.

    ``my_number_ef`` is EF 0001 as read (all 17 bytes, filler included: DF31 covers them);
    None when the credential did not open it, and likewise ``attributes``: their checks are
    then skipped with the reason.
    """
    if _pkcs1_sha256(cert.public_key, record.signature, record.signed_data):
        signature = _ok("DF33 verifies over DF31 and DF32 with the CV certificate's key")
    else:
        signature = _fail("DF33 does not verify over DF31 and DF32 with the CV "
                          "certificate's key (the record or the certificate was altered)")
    return TextIntegrityReport(
        cv_certificate=check_cv_certificate(cert, issuer_keys),
        record_signature=signature,
        my_number_digest=_digest_check(
            record.my_number_digest, my_number_ef, "the My Number EF (0001)",
            "EF 0001 was not read (it needs the PIN or 照合番号A)"),
        attributes_digest=_digest_check(
            record.attributes_digest, attributes.covered if attributes else None,
            "the attributes DF22-DF25 (EF 0002)",
            "EF 0002 was not read (it needs the PIN or 照合番号B)"),
    )


def face_digest_info(face: CardFace) -> bytes:
    """The DigestInfo DF28 should sign, recomputed from the face record as read."""
    return FACE_DIGEST_INFO_PREFIX + b"".join(
        hashlib.sha256(part).digest() for part in face.signed_parts)


def check_face_signature(face: CardFace, cert: CvCertificate) -> Check:
    """DF28: PKCS#1 v1.5 over the 96-byte DigestInfo, by the CV certificate's key."""
    try:
        recovered = cert.public_key.recover_data_from_signature(
            face.signature, padding.PKCS1v15(), None)
    except (InvalidSignature, ValueError):
        return _fail("DF28 is not a signature by the CV certificate's key (the signature or "
                     "the certificate was altered)")
    expected = face_digest_info(face)
    if hmac.compare_digest(recovered, expected):
        return _ok("DF28 verifies over DF22-DF27 with the CV certificate's key")
    if recovered[: len(FACE_DIGEST_INFO_PREFIX)] != FACE_DIGEST_INFO_PREFIX \
            or len(recovered) != len(expected):
        return _fail("DF28 signs a DigestInfo of another form than SHA-256 x 3")
    start = len(FACE_DIGEST_INFO_PREFIX)
    changed = [name for i, name in enumerate(_FACE_PART_NAMES)
               if recovered[start + 32 * i : start + 32 * (i + 1)]
               != expected[start + 32 * i : start + 32 * (i + 1)]]
    return _fail("the data differs from what DF28 signs: " + "; ".join(changed))


def check_visual(face: CardFace, cert: CvCertificate,
                 issuer_keys: Sequence[IssuerKey]) -> VisualIntegrityReport:
    """The visual AP's checks (DF29 expiry and DF2A security-code image are not covered)."""
    return VisualIntegrityReport(check_cv_certificate(cert, issuer_keys),
                                 check_face_signature(face, cert))


def challenge_digest_info(challenge: bytes) -> bytes:
    """The SHA-256 DigestInfo of ``challenge`` that the card is asked to sign."""
    from mynaid.cardspec import DIGEST_INFO_PREFIXES

    return DIGEST_INFO_PREFIXES["sha256"] + hashlib.sha256(challenge).digest()


def check_challenge(key: rsa.RSAPublicKey, challenge: bytes, signature: bytes) -> Check:
    """Did the card's key sign the SHA-256 DigestInfo of ``challenge``?"""
    if _pkcs1_sha256(key, signature, challenge):
        return _ok("the card signed the fresh challenge with the key in its signed record")
    return _fail("the challenge's signature does not verify with the card key in the "
                 "signed record: the data may come from another card or a copy")


# --- records signed by the EF 0004 key (card-reference §9) -----------------------------------


def check_record_signature(signature: bytes, signed_data: bytes, cert: CvCertificate,
                           what: str) -> Check:
    """``what``'s signature: PKCS#1 v1.5 SHA-256 by the CV certificate's key over the
    fields before it, as read."""
    if _pkcs1_sha256(cert.public_key, signature, signed_data):
        return _ok(f"{what} verifies with the CV certificate's key")
    return _fail(f"{what} does not verify with the CV certificate's key (the record or the "
                 "certificate was altered, or it was signed by another key)")


def check_age_record(record: AgeRecord, cert: CvCertificate,
                     issuer_keys: Sequence[IssuerKey] = ()) -> RecordReport:
    """Visual EF 0001: DF13 over DF11‖DF12 by the visual EF 0004 key."""
    return RecordReport(check_cv_certificate(cert, issuer_keys), check_record_signature(
        record.signature, record.signed_data, cert, "DF13 over DF11 and DF12 (age record)"))


def check_my_number_image(record: MyNumberImage, cert: CvCertificate,
                          issuer_keys: Sequence[IssuerKey] = ()) -> RecordReport:
    """Visual EF 0005: DF43 over DF41‖DF42 by the visual EF 0004 key."""
    return RecordReport(check_cv_certificate(cert, issuer_keys), check_record_signature(
        record.signature, record.signed_data, cert,
        "DF43 over DF41 and DF42 (My Number image)"))


def check_signed_card_key(record: SignedCardKey, cert: CvCertificate,
                          issuer_keys: Sequence[IssuerKey] = ()) -> RecordReport:
    """Text EF 0007: DF52 over DF51 (the text card key) by the text EF 0004 key."""
    return RecordReport(check_cv_certificate(cert, issuer_keys), check_record_signature(
        record.signature, record.signed_data, cert, "DF52 over DF51 (text card key)"))
