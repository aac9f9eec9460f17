"""One parsing step for certificates from hostile sources (cards, signatures, responses, files).

``cryptography`` parses lazily: ``load_der_x509_certificate`` accepts a certificate whose
version, key, names or extensions are broken, and the failure surfaces later as a foreign
exception (``InvalidVersion``, ``UnsupportedAlgorithm``, ``DuplicateExtension``, a
``ValueError`` from a name comparison, ``UnicodeDecodeError`` from a name's string) deep in
path validation or revocation checking. :func:`load_certificate` and :func:`checked` touch
every field that the rest of mynaid uses, once, inside the parsing step, and map every
failure to :class:`~mynaid.trust.errors.VerificationError` (``malformed-certificate``, or
``malformed-san`` for the SubjectAltName) or to :class:`~mynaid.errors.ParseError`.
"""

from __future__ import annotations

import threading

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from mynaid.errors import ParseError
from mynaid.trust.errors import Reason, VerificationError

__all__ = ["ASN1_ERRORS", "FOREIGN_ERRORS", "checked", "load_certificate",
           "load_certificates_checked"]

#: What ``cryptography`` and ``asn1crypto`` raise on malformed input. Code that handles
#: hostile data catches exactly these and turns them into a typed mynaid error.
FOREIGN_ERRORS: tuple[type[Exception], ...] = (
    ValueError,  # includes UnicodeDecodeError and asn1crypto's parse errors
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)
#: Around asn1crypto: on hostile input it can also fail inside its own code with an
#: AttributeError (a child of an unexpected type), which is still a parse failure.
ASN1_ERRORS: tuple[type[Exception], ...] = (*FOREIGN_ERRORS, AttributeError)



def _force_name(name: x509.Name) -> None:
    # cryptography decodes the whole Name (every attribute's string) on first access.
    for rdn in name.rdns:
        for attribute in rdn:
            _ = attribute.value


#: Certificates already checked, by object identity (the object is kept, so an id is not
#: reused while it is in here). Bounded: a verifier sees the same few CA objects over again.
_CHECKED: dict[int, x509.Certificate] = {}
_CHECKED_MAX = 512
_LOCK = threading.Lock()


def checked(cert: x509.Certificate, *, what: str = "the certificate",
            index: int = 0) -> x509.Certificate:
    """``cert`` after every field mynaid reads later has been parsed once.

    Raises :class:`VerificationError` (``malformed-certificate``, or ``malformed-san`` when
    only the SubjectAltName is broken) naming ``what``.
    """
    if _CHECKED.get(id(cert)) is cert:
        return cert
    subject = f"certificate {index}"
    try:
        _ = cert.version
        _ = cert.serial_number
        _ = cert.not_valid_before_utc
        _ = cert.not_valid_after_utc
        _force_name(cert.issuer)
        _force_name(cert.subject)
        _ = cert.subject == cert.issuer
        _ = cert.signature_algorithm_oid
        _ = cert.signature
        _ = cert.tbs_certificate_bytes
        _ = cert.public_key()
        try:
            _ = cert.signature_hash_algorithm
        except UnsupportedAlgorithm:
            pass  # reported as such by path validation (unsupported-algorithm)
    except FOREIGN_ERRORS as exc:
        raise VerificationError(Reason.MALFORMED_CERTIFICATE,
                                f"{what} does not parse ({_kind(exc)})",
                                subject=subject) from None
    try:
        extensions = cert.extensions
        for ext in extensions:
            _ = ext.oid.dotted_string
            _ = ext.value
    except FOREIGN_ERRORS as exc:
        # Name the broken extension when possible (malformed-san vs malformed-certificate).
        from mynaid.trust.path import certificate_extensions

        try:
            certificate_extensions(cert, index)
        except VerificationError:
            raise
        except FOREIGN_ERRORS:
            pass
        raise VerificationError(Reason.MALFORMED_CERTIFICATE,
                                f"the extensions of {what} do not parse ({_kind(exc)})",
                                subject=subject) from None
    with _LOCK:  # verifiers run in threads (the relying-party service)
        if len(_CHECKED) >= _CHECKED_MAX:
            _CHECKED.pop(next(iter(_CHECKED)))
        _CHECKED[id(cert)] = cert
    return cert


def _kind(exc: BaseException) -> str:
    """A short, exception-name-free description of a parse failure."""
    if isinstance(exc, x509.InvalidVersion):
        return "unknown version"
    if isinstance(exc, UnsupportedAlgorithm):
        return "unsupported key or algorithm"
    if isinstance(exc, x509.DuplicateExtension):
        return "an extension appears twice"
    if isinstance(exc, UnicodeError):
        return "a string is not in its declared encoding"
    return "bad structure"


#: Certificates that passed :func:`checked`, by their DER bytes: the same certificates (a
#: card's, a root, a signer's embedded in every signature it makes) arrive over and over,
#: and one object per DER lets the per-object memories (checked, fingerprint, extensions,
#: holder data) hit. Keyed by the bytes themselves, so a hit is the very same encoding.
_LOADED: dict[bytes, x509.Certificate] = {}
_LOADED_MAX = 512


def load_certificate(der: bytes, *, what: str = "the certificate",
                     index: int = 0) -> x509.Certificate:
    """Parse DER ``der`` completely (see :func:`checked`); :class:`VerificationError` if not.

    The same DER gives the same (immutable) certificate object while it is remembered."""
    der = bytes(der)
    hit = _LOADED.get(der)
    if hit is not None:
        return hit
    try:
        cert = x509.load_der_x509_certificate(der)
    except FOREIGN_ERRORS as exc:
        raise VerificationError(Reason.MALFORMED_CERTIFICATE,
                                f"{what} is not DER X.509 ({_kind(exc)})",
                                subject=f"certificate {index}") from None
    cert = checked(cert, what=what, index=index)
    with _LOCK:
        if len(_LOADED) >= _LOADED_MAX:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[der] = cert
    return cert


def load_certificates_checked(data: bytes, *, source: str) -> list[x509.Certificate]:
    """PEM (one or more) or DER certificates from a file, each fully parsed.

    Raises :class:`ParseError` (an input error, not a failed verification) naming ``source``.
    """
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
        return [checked(c, what=f"{source}: certificate {i}", index=i)
                for i, c in enumerate(certs)]
    except VerificationError as exc:
        raise ParseError(exc.detail, reason="malformed-certificate") from None
    except FOREIGN_ERRORS as exc:
        raise ParseError(f"{source}: not a PEM or DER X.509 certificate ({_kind(exc)})",
                         reason="malformed-certificate") from None
