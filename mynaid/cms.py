"""CMS (PKCS#7) SignedData: signing with the card and verifying with a trusted path.

Signing (:func:`sign`) produces what ``openssl cms -verify`` accepts: SignedData v1 with
the content attached or detached, one SignerInfo identified by issuer and serial number,
signed attributes contentType, signingTime and messageDigest, signature algorithm
rsaEncryption (PKCS#1 v1.5) over the DER SET OF the signed attributes, and the signer
certificate embedded (plus its CA certificate when asked). Any ``RSAPrivateKey`` signs,
in particular :class:`mynaid.cardkey.CardRsaPrivateKey`.

Verifying (:func:`verify`) checks, each failure with its own
:class:`~mynaid.trust.errors.Reason`: the structure (DER, one signer), the algorithms
(SHA-256/384/512; RSA PKCS#1 v1.5 or ECDSA), the certificate that matches the signer
identifier, the content type and message digest attributes against the content, the
signature over the signed attributes, the certificate path (:mod:`mynaid.trust.path`), the
holder data of a signature certificate (:mod:`mynaid.trust.san`) and, when configured,
revocation. The structures are handled with asn1crypto; the cryptography with
``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import algos, cms, core
from asn1crypto import x509 as a509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from mynaid.trust.anchors import TrustStore
from mynaid.trust.errors import Reason, VerificationError
from mynaid.trust.path import CertificateRole, ValidatedPath, ValidationOptions, validate_path
from mynaid.trust.revocation import RevocationChecker, RevocationResult
from mynaid.trust.san import HolderInfo, parse_holder

__all__ = ["DIGESTS", "CmsVerification", "sign", "to_pem", "verify"]

#: Digest algorithms for signing and verifying (SHA-1 is refused: collisions are practical).
DIGESTS: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}
#: Largest signature file read (a CMS with a few certificates and 100 MB attached content
#: is the practical bound of an in-memory verifier).
MAX_INPUT = 256 * 1024 * 1024

_PEM_RE = re.compile(rb"-----BEGIN (CMS|PKCS7)-----(.*?)-----END \1-----", re.DOTALL)


# --- signing -----------------------------------------------------------------------------------


def _asn1_cert(cert: x509.Certificate) -> a509.Certificate:
    return a509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _utc_time(t: dt.datetime) -> cms.Time:
    # RFC 5652 11.3: UTCTime for 1950-2049, GeneralizedTime otherwise.
    t = t.astimezone(dt.timezone.utc).replace(microsecond=0)
    if 1950 <= t.year <= 2049:
        return cms.Time({"utc_time": t})
    return cms.Time({"general_time": t})


def sign(content: bytes, key: rsa.RSAPrivateKey, certificate: x509.Certificate, *,
         digest: str = "sha256", detached: bool = False,
         chain: Iterable[x509.Certificate] = (),
         signing_time: dt.datetime | None = None) -> bytes:
    """A DER ContentInfo(SignedData) over ``content``, signed by ``key``.

    ``certificate`` is the signer's (embedded, and named by issuer and serial); ``chain``
    adds CA certificates. ``key.sign`` is called once, over the signed attributes.
    """
    if digest not in DIGESTS:
        raise ValueError(f"digest must be one of {', '.join(DIGESTS)}")
    algorithm = DIGESTS[digest]
    when = signing_time or dt.datetime.now(dt.timezone.utc)
    signed_attrs = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute({"type": "signing_time", "values": [_utc_time(when)]}),
        cms.CMSAttribute({"type": "message_digest",
                          "values": [hashlib.new(digest, content).digest()]}),
    ])
    # RFC 5652 5.4: the signature covers the DER of the attributes as a SET OF (tag 0x31),
    # not the [0] IMPLICIT form they take inside SignerInfo. asn1crypto sorts the SET.
    signature = key.sign(signed_attrs.dump(), padding.PKCS1v15(), algorithm)
    signer = _asn1_cert(certificate)
    digest_algorithm = algos.DigestAlgorithm({"algorithm": digest})
    signer_info = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber({
            "issuer": signer.issuer, "serial_number": signer.serial_number})}),
        "digest_algorithm": digest_algorithm,
        "signed_attrs": signed_attrs,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}),
        "signature": signature,
    })
    encap: dict[str, Any] = {"content_type": "data"}
    if not detached:
        encap["content"] = content
    signed_data = cms.SignedData({
        "version": "v1",
        "digest_algorithms": [digest_algorithm],
        "encap_content_info": encap,
        "certificates": [signer, *(_asn1_cert(c) for c in chain)],
        "signer_infos": [signer_info],
    })
    info = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    der: bytes = info.dump()
    return der


def to_pem(der: bytes) -> bytes:
    """PEM armour with the ``CMS`` label (what ``openssl cms -outform PEM`` writes)."""
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return b"-----BEGIN CMS-----\n" + b"\n".join(lines) + b"\n-----END CMS-----\n"


# --- parsing -----------------------------------------------------------------------------------


def _malformed(message: str) -> VerificationError:
    return VerificationError(Reason.MALFORMED, message, subject="signature")


def _unarmour(data: bytes) -> bytes:
    if b"-----BEGIN" not in data[:1024]:
        return data
    match = _PEM_RE.search(data)
    if match is None:
        raise _malformed("PEM input without a CMS or PKCS7 block")
    try:
        return base64.b64decode(b"".join(match.group(2).split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _malformed("the PEM block is not valid base64") from exc


@dataclass
class _SignerData:
    content_type: str
    content: bytes | None
    certificates: list[x509.Certificate]
    asn1_certificates: list[a509.Certificate]
    sid: cms.SignerIdentifier
    digest_algorithm: str
    signature_algorithm: str
    signature_hash: str | None
    signature: bytes
    signed_attrs_der: bytes | None
    attributes: dict[str, list[Any]] = field(default_factory=dict)


def _parse(data: bytes) -> _SignerData:
    der = _unarmour(data)
    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise _malformed(f"the content type is {info['content_type'].native}, "
                             "not signedData")
        signed = info["content"]
        signer_infos = signed["signer_infos"]
        if len(signer_infos) == 0:
            raise _malformed("the SignedData has no SignerInfo")
        if len(signer_infos) > 1:
            raise VerificationError(Reason.UNSUPPORTED,
                                    f"{len(signer_infos)} signers; one is supported",
                                    subject="signature")
        si = signer_infos[0]
        encap = signed["encap_content_info"]
        content_type = encap["content_type"].dotted
        content = None
        if not isinstance(encap["content"], core.Void):
            value = encap["content"].native
            if not isinstance(value, bytes):
                raise _malformed("the encapsulated content is not an OCTET STRING")
            content = value
        asn1_certs: list[a509.Certificate] = []
        certs: list[x509.Certificate] = []
        if not isinstance(signed["certificates"], core.Void):
            for choice in signed["certificates"]:
                if choice.name != "certificate":
                    continue  # attribute certificates and others play no part here
                raw = choice.chosen.dump()
                asn1_certs.append(choice.chosen)
                certs.append(x509.load_der_x509_certificate(raw))
        signed_attrs_der = None
        attributes: dict[str, list[Any]] = {}
        if not isinstance(si["signed_attrs"], core.Void):
            # The original encoding, re-tagged from [0] IMPLICIT to SET OF (RFC 5652 5.4):
            # re-encoding would hide a non-DER set that the signer actually signed.
            signed_attrs_der = b"\x31" + si["signed_attrs"].dump()[1:]
            for attr in si["signed_attrs"]:
                name = attr["type"].native
                if name in attributes:
                    raise _malformed(f"the signed attribute {name} appears twice")
                attributes[name] = list(attr["values"].native)
        sig_alg = si["signature_algorithm"]
        try:
            signature_hash: str | None = sig_alg.hash_algo
        except ValueError:
            signature_hash = None
        return _SignerData(
            content_type=content_type,
            content=content,
            certificates=certs,
            asn1_certificates=asn1_certs,
            sid=si["sid"],
            digest_algorithm=si["digest_algorithm"]["algorithm"].native,
            signature_algorithm=sig_alg.signature_algo,
            signature_hash=signature_hash,
            signature=si["signature"].native,
            signed_attrs_der=signed_attrs_der,
            attributes=attributes,
        )
    except VerificationError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        # asn1crypto parses lazily, so truncation or a wrong tag surfaces on first access.
        raise _malformed(f"not a DER CMS SignedData ({type(exc).__name__})") from exc


# --- verifying ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CmsVerification:
    """A verified signature: who signed, with which certificate, validated how."""

    signer: x509.Certificate
    path: ValidatedPath
    holder: HolderInfo | None
    digest_algorithm: str
    signing_time: dt.datetime | None
    content: bytes = field(repr=False)
    detached: bool
    revocation: tuple[RevocationResult, ...] = ()

    @property
    def role(self) -> CertificateRole:
        return self.path.role

    def as_dict(self, *, holder_details: bool = False) -> dict[str, Any]:
        """A JSON-friendly summary (holder name and address only, unless asked)."""
        holder: dict[str, Any] | None = None
        if self.holder is not None:
            holder = self.holder.details() if holder_details else self.holder.summary()
        return {
            "valid": True,
            "role": self.role.value,
            "holder": holder,
            "subject": self.signer.subject.rfc4514_string(),
            "serial": format(self.signer.serial_number, "X"),
            "issuer": self.signer.issuer.rfc4514_string(),
            "not_after": self.signer.not_valid_after_utc.isoformat(),
            "policies": list(self.path.policies),
            "policy_kind": self.path.policy_kind.value,
            "anchor": self.path.anchor.subject.rfc4514_string(),
            "anchor_fingerprint": self.path.anchor_fingerprint,
            "jlis_root": self.path.jlis_root.label if self.path.jlis_root else None,
            "digest_algorithm": self.digest_algorithm,
            "signing_time": self.signing_time.isoformat() if self.signing_time else None,
            "detached": self.detached,
            "validated_at": self.path.validated_at.isoformat(),
            "revocation": [r.as_dict() for r in self.revocation],
        }


def _signer_certificate(parsed: _SignerData,
                        extra: Sequence[x509.Certificate]) -> x509.Certificate:
    sid = parsed.sid
    pool = list(zip(parsed.asn1_certificates, parsed.certificates, strict=True))
    pool += [(_asn1_cert(c), c) for c in extra]
    if not pool:
        raise VerificationError(Reason.SIGNER_CERT_MISSING,
                                "the signature carries no certificate and none was given",
                                subject="signature")
    for asn1_cert, cert in pool:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (asn1_cert.serial_number == wanted["serial_number"].native
                    and asn1_cert.issuer == wanted["issuer"]):
                return cert
        else:
            ski = asn1_cert.key_identifier
            if ski is not None and ski == sid.chosen.native:
                return cert
    raise VerificationError(Reason.SIGNER_CERT_MISMATCH,
                            "no certificate matches the SignerInfo's signer identifier",
                            subject="signature")


def _single(parsed: _SignerData, name: str) -> Any:
    values = parsed.attributes.get(name)
    if values is None:
        return None
    if len(values) != 1:
        raise _malformed(f"the signed attribute {name} has {len(values)} values")
    return values[0]


def _check_signature(cert: x509.Certificate, parsed: _SignerData, data: bytes,
                     algorithm: hashes.HashAlgorithm) -> None:
    key = cert.public_key()
    if parsed.signature_hash is not None and parsed.signature_hash != parsed.digest_algorithm:
        raise VerificationError(Reason.UNSUPPORTED_ALGORITHM,
                                f"signature hash {parsed.signature_hash} differs from the "
                                f"digest algorithm {parsed.digest_algorithm}",
                                subject="signature")
    try:
        if parsed.signature_algorithm == "rsassa_pkcs1v15" and isinstance(key,
                                                                          rsa.RSAPublicKey):
            key.verify(parsed.signature, data, padding.PKCS1v15(), algorithm)
        elif parsed.signature_algorithm == "ecdsa" and isinstance(key,
                                                                  ec.EllipticCurvePublicKey):
            key.verify(parsed.signature, data, ec.ECDSA(algorithm))
        else:
            raise VerificationError(Reason.UNSUPPORTED_ALGORITHM,
                                    f"signature algorithm {parsed.signature_algorithm} with a "
                                    f"{type(key).__name__} is not supported",
                                    subject="signature")
    except InvalidSignature:
        raise VerificationError(Reason.BAD_SIGNATURE,
                                "the signature over the signed attributes does not verify "
                                "with the signer's key", subject="signature") from None


def verify(data: bytes, trust: TrustStore, *, content: bytes | None = None,
           options: ValidationOptions | None = None,
           extra_certificates: Sequence[x509.Certificate] = (),
           revocation: RevocationChecker | None = None) -> CmsVerification:
    """Verify a DER or PEM CMS SignedData; raise :class:`VerificationError` if anything fails.

    ``content`` is required for a detached signature. ``extra_certificates`` may supply the
    signer certificate or CA certificates that the signature does not embed. With
    ``revocation``, every certificate but the anchor must be "good".
    """
    if len(data) > MAX_INPUT:
        raise VerificationError(Reason.UNSUPPORTED, "the signature file is too large",
                                subject="signature")
    parsed = _parse(data)
    options = options or ValidationOptions()

    algorithm = DIGESTS.get(parsed.digest_algorithm)
    if algorithm is None:
        raise VerificationError(Reason.UNSUPPORTED_ALGORITHM,
                                f"digest algorithm {parsed.digest_algorithm} is not accepted",
                                subject="signature")
    if parsed.content is None and content is None:
        raise VerificationError(Reason.CONTENT_MISSING,
                                "a detached signature needs its content", subject="signature")
    if parsed.content is not None and content is not None and parsed.content != content:
        raise VerificationError(Reason.CONTENT_MISMATCH,
                                "the given content differs from the signed, embedded content",
                                subject="signature")
    signed_content = parsed.content if parsed.content is not None else content
    assert signed_content is not None

    signer = _signer_certificate(parsed, extra_certificates)

    if parsed.signed_attrs_der is None:
        raise VerificationError(Reason.SIGNED_ATTRIBUTES_MISSING,
                                "the signature has no signed attributes", subject="signature")
    content_type = _single(parsed, "content_type")
    message_digest = _single(parsed, "message_digest")
    if content_type is None or message_digest is None:
        raise VerificationError(Reason.SIGNED_ATTRIBUTES_MISSING,
                                "contentType and messageDigest must be signed attributes",
                                subject="signature")
    type_oid = cms.ContentType(content_type).dotted
    if type_oid != parsed.content_type:
        raise VerificationError(Reason.CONTENT_TYPE_MISMATCH,
                                f"the contentType attribute {content_type} differs from the "
                                f"content's type", subject="signature")
    actual = hashlib.new(parsed.digest_algorithm, signed_content).digest()
    if message_digest != actual:
        raise VerificationError(Reason.MESSAGE_DIGEST_MISMATCH,
                                "the messageDigest attribute is not the digest of the content",
                                subject="signature")
    _check_signature(signer, parsed, parsed.signed_attrs_der, algorithm)

    path = validate_path(signer, trust,
                         intermediates=[*parsed.certificates, *extra_certificates],
                         options=options)
    holder = parse_holder(signer) if path.role is CertificateRole.SIGN else None
    results: tuple[RevocationResult, ...] = ()
    if revocation is not None:
        results = tuple(revocation.enforce(path.certificates, options.at))
    signing_time = _single(parsed, "signing_time")
    return CmsVerification(
        signer=signer,
        path=path,
        holder=holder,
        digest_algorithm=parsed.digest_algorithm,
        signing_time=signing_time if isinstance(signing_time, dt.datetime) else None,
        content=signed_content,
        detached=parsed.content is None,
        revocation=results,
    )
