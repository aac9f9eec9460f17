"""Certificate path building and validation for JPKI certificates.

JPKI paths are short (end entity, then a self-signed root), but several root generations
share one DN (card-reference §7), so the issuer is chosen by key, not by name: candidates
whose subject matches the certificate's issuer are ordered by authority/subject key
identifier and kept only when their key verifies the certificate's signature. Every path
that ends in a trust anchor (see :mod:`mynaid.trust.anchors`) is then checked, and the first
that passes wins; when none passes, the error of the best candidate path is raised.

The checks follow RFC 5280 §6 where JPKI needs them (validity at a given time, including the
anchor's; BasicConstraints and pathLenConstraint on issuers; KeyUsage; unknown critical
extensions) and add the JPKI role profile of the end entity (§7): KeyUsage bits, clientAuth
for authentication certificates, and the certificate policy, which is reported as production
or test. Not implemented: policy mapping/constraints processing across CAs and name
constraints; a certificate that marks policy extensions critical is rejected as unknown, and
a CA with NameConstraints (critical or not) is refused with ``name-constraints-unsupported``
rather than silently ignored. A pinned J-LIS root has a purpose (auth or sign): a path under
it validates only for that role.

Every certificate is parsed completely first (:func:`mynaid.trust.certs.checked`), so hostile
DER ends in a ``malformed-certificate`` error, never in a foreign exception.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from mynaid.trust.anchors import PinnedRoot, TrustStore, fingerprint, pinned_root
from mynaid.trust.certs import ASN1_ERRORS, FOREIGN_ERRORS, checked
from mynaid.trust.errors import Reason, VerificationError
from mynaid.trust.pathcache import DEFAULT as DEFAULT_CACHE
from mynaid.trust.pathcache import PathCache

__all__ = [
    "AUTH_POLICIES",
    "PRODUCTION_AUTH_POLICY",
    "PRODUCTION_SIGN_POLICY",
    "SIGN_POLICIES",
    "TEST_AUTH_POLICY",
    "TEST_SIGN_POLICY",
    "CertificateRole",
    "PolicyKind",
    "ValidatedPath",
    "ValidationOptions",
    "certificate_extensions",
    "check_anchor",
    "issuer_candidates",
    "role_from_policies",
    "validate_path",
]

#: JPKI certificate policies (card-reference §7). The test ones are J-LIS's test-card arc,
#: which mynaid's emulator also uses.
PRODUCTION_AUTH_POLICY = x509.ObjectIdentifier("1.2.392.200149.8.5.1.3.30")
PRODUCTION_SIGN_POLICY = x509.ObjectIdentifier("1.2.392.200149.8.5.1.1.20")
TEST_AUTH_POLICY = x509.ObjectIdentifier("1.2.392.200149.8.5.1.0.30")
TEST_SIGN_POLICY = x509.ObjectIdentifier("1.2.392.200149.8.5.1.0.20")
AUTH_POLICIES = frozenset({PRODUCTION_AUTH_POLICY, TEST_AUTH_POLICY})
SIGN_POLICIES = frozenset({PRODUCTION_SIGN_POLICY, TEST_SIGN_POLICY})
_PRODUCTION_POLICIES = frozenset({PRODUCTION_AUTH_POLICY, PRODUCTION_SIGN_POLICY})

#: Extensions this module (or the revocation and SAN code) understands. A critical extension
#: outside this set makes the certificate unusable (RFC 5280 §4.2).
KNOWN_EXTENSIONS = frozenset({
    ExtensionOID.BASIC_CONSTRAINTS,
    ExtensionOID.KEY_USAGE,
    ExtensionOID.EXTENDED_KEY_USAGE,
    ExtensionOID.CERTIFICATE_POLICIES,
    ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
    ExtensionOID.ISSUER_ALTERNATIVE_NAME,
    ExtensionOID.SUBJECT_KEY_IDENTIFIER,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    ExtensionOID.CRL_DISTRIBUTION_POINTS,
    ExtensionOID.FRESHEST_CRL,
    ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
    ExtensionOID.SUBJECT_INFORMATION_ACCESS,
    ExtensionOID.OCSP_NO_CHECK,
})

_E = TypeVar("_E", bound=x509.ExtensionType)

#: Hashes accepted in certificate signatures (SHA-1 and MD5 are collision-broken).
ACCEPTED_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)
MIN_RSA_BITS = 2048
#: Longest chain the builder follows (JPKI needs 2: end entity and root).
MAX_PATH_LENGTH = 6
#: A JPKI path is the end-entity certificate and its root: a handful of offered CA
#: certificates is plenty, and bounds the work an attacker can ask for.
MAX_OFFERED_CERTIFICATES = 8
#: Signature checks one path search may make before it gives up.
MAX_SIGNATURE_CHECKS = 64


class CertificateRole(str, enum.Enum):
    """What the end-entity certificate is used for, which decides its profile checks."""

    AUTH = "auth"
    """JPKI user authentication: KeyUsage digitalSignature, ExtKeyUsage clientAuth, auth policy."""
    SIGN = "sign"
    """JPKI digital signature: KeyUsage digitalSignature + nonRepudiation, signature policy."""
    ANY = "any"
    """Not a JPKI certificate: KeyUsage digitalSignature or nonRepudiation, any policy."""


class PolicyKind(str, enum.Enum):
    """Whether the end entity's policy is J-LIS production, J-LIS test, or something else."""

    PRODUCTION = "production"
    TEST = "test"
    OTHER = "other"


@dataclass(frozen=True)
class ValidationOptions:
    """How to validate a path.

    ``at``: the validation time (default: now, UTC). ``production_only``: refuse the JPKI
    test-card policies. ``role`` None means "infer from the end entity's policy" (JPKI auth
    or sign policy); ``allow_other_policies`` then lets a certificate with neither be
    validated with the generic profile (:attr:`CertificateRole.ANY`).
    """

    role: CertificateRole | None = None
    at: dt.datetime | None = None
    production_only: bool = False
    allow_other_policies: bool = False

    def when(self) -> dt.datetime:
        """The validation time as an aware UTC datetime."""
        at = self.at or dt.datetime.now(dt.timezone.utc)
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.timezone.utc)
        return at


@dataclass(frozen=True)
class ValidatedPath:
    """A path that passed validation, from the end entity (index 0) to the anchor."""

    certificates: tuple[x509.Certificate, ...]
    role: CertificateRole
    policies: tuple[str, ...]
    policy_kind: PolicyKind
    validated_at: dt.datetime
    jlis_root: PinnedRoot | None = field(default=None)

    @property
    def end_entity(self) -> x509.Certificate:
        return self.certificates[0]

    @property
    def anchor(self) -> x509.Certificate:
        return self.certificates[-1]

    @property
    def anchor_fingerprint(self) -> str:
        return fingerprint(self.anchor).hex(":").upper()


# --- helpers ---------------------------------------------------------------------------------


def _where(index: int) -> str:
    return "the end-entity certificate" if index == 0 else f"issuing certificate {index}"


def certificate_extensions(cert: x509.Certificate, index: int = 0) -> x509.Extensions:
    """The parsed extensions, or :class:`VerificationError` naming the one that fails.

    ``cryptography`` parses extension values lazily and reports only that something failed;
    a second parse with asn1crypto finds which one, so that a broken SubjectAltName is told
    apart (``malformed-san``) from any other damage (``malformed-certificate``).
    """
    try:
        return cert.extensions
    except FOREIGN_ERRORS:
        bad = _find_malformed_extension(cert)
    if bad == ExtensionOID.SUBJECT_ALTERNATIVE_NAME.dotted_string:
        raise VerificationError(Reason.MALFORMED_SAN,
                                f"the SubjectAltName of {_where(index)} is not valid DER",
                                subject=f"certificate {index}")
    raise VerificationError(Reason.MALFORMED_CERTIFICATE,
                            f"extension {bad or '(unknown)'} of {_where(index)} does not parse",
                            subject=f"certificate {index}")


def _find_malformed_extension(cert: x509.Certificate) -> str | None:
    from asn1crypto import x509 as a509  # deferred: only needed on this error path
    from cryptography.hazmat.primitives import serialization

    # A diagnosis only: asn1crypto can fail on hostile input in ways beyond its documented
    # ValueError (an AttributeError from a mis-tagged child), so any failure here counts as
    # "this extension is broken", never as a crash.
    try:
        parsed = a509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
        extensions = list(parsed["tbs_certificate"]["extensions"])
    except Exception:
        return None
    for ext in extensions:
        try:
            oid = ext["extn_id"].dotted
        except Exception:
            return None
        try:
            _ = ext["extn_value"].parsed.native
        except Exception:
            return str(oid)
        if oid == ExtensionOID.SUBJECT_ALTERNATIVE_NAME.dotted_string:
            # asn1crypto leaves otherName values unparsed; cryptography checks them.
            try:
                for general_name in ext["extn_value"].parsed:
                    if general_name.name == "other_name":
                        _ = general_name.chosen["value"].native
            except Exception:
                return str(oid)
    # asn1crypto accepted what cryptography refused: the culprit stays unnamed.
    return None


def _ext(extensions: x509.Extensions, cls: type[_E]) -> _E | None:
    """The value of the extension of type ``cls``, or None when absent."""
    try:
        return extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def _key_identifier(extensions: x509.Extensions, which: str) -> bytes | None:
    if which == "ski":
        ski = _ext(extensions, x509.SubjectKeyIdentifier)
        return ski.digest if ski is not None else None
    aki = _ext(extensions, x509.AuthorityKeyIdentifier)
    return aki.key_identifier if aki is not None else None


def _safe_extensions(cert: x509.Certificate) -> x509.Extensions | None:
    try:
        return cert.extensions
    except FOREIGN_ERRORS:
        return None


#: Remembered per object (a path search asks for the same few certificates' fingerprints
#: dozens of times): see :func:`mynaid.trust.anchors.fingerprint`.
_fingerprint = fingerprint


def _is_self_issued(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except InvalidSignature:
        return False
    except FOREIGN_ERRORS:
        return False
    return True


# --- path building ---------------------------------------------------------------------------


def issuer_candidates(cert: x509.Certificate,
                      pool: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    """Certificates in ``pool`` named like ``cert``'s issuer, best first.

    The order is: subject key identifier equal to ``cert``'s authority key identifier, then
    certificates where either identifier is absent, then mismatching identifiers. Only the
    order depends on identifiers; whether a candidate *is* the issuer is decided by the
    signature (:func:`select_issuer`).
    """
    cert_ext = _safe_extensions(cert)
    aki = _key_identifier(cert_ext, "aki") if cert_ext is not None else None
    ranked: list[tuple[int, int, x509.Certificate]] = []
    for position, cand in enumerate(pool):
        if cand.subject != cert.issuer:
            continue
        cand_ext = _safe_extensions(cand)
        ski = _key_identifier(cand_ext, "ski") if cand_ext is not None else None
        rank = 1 if aki is None or ski is None else (0 if aki == ski else 2)
        ranked.append((rank, position, cand))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [cand for _, _, cand in ranked]


def select_issuer(cert: x509.Certificate,
                  pool: Iterable[x509.Certificate]) -> x509.Certificate | None:
    """The first candidate (see :func:`issuer_candidates`) whose key verifies ``cert``."""
    for cand in issuer_candidates(cert, pool):
        if _signed_by(cert, cand):
            return cand
    return None


@dataclass
class _BuildFailure:
    reason: Reason
    message: str
    index: int


def _build_paths(leaf: x509.Certificate, pool: Sequence[x509.Certificate],
                 trust: TrustStore) -> tuple[list[list[x509.Certificate]], _BuildFailure | None]:
    paths: list[list[x509.Certificate]] = []
    failure: _BuildFailure | None = None
    # Hostile input can offer many cross-signed certificates under one name; without these
    # bounds the search grows with the pool to the power of the path length.
    signed: dict[tuple[bytes, bytes], bool] = {}
    budget = [MAX_SIGNATURE_CHECKS]

    def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
        key = (_fingerprint(cert), _fingerprint(issuer))
        if key not in signed:
            if budget[0] <= 0:
                return False
            budget[0] -= 1
            signed[key] = _signed_by(cert, issuer)
        return signed[key]

    def note(reason: Reason, message: str, index: int) -> None:
        nonlocal failure
        # Keep the failure that got furthest: it says most about what is wrong.
        if failure is None or index > failure.index:
            failure = _BuildFailure(reason, message, index)

    def walk(chain: list[x509.Certificate]) -> Iterator[list[x509.Certificate]]:
        current = chain[-1]
        index = len(chain) - 1
        if trust.is_anchor(current):
            yield list(chain)
            return
        if _is_self_issued(current) and signed_by(current, current):
            # The subject is not quoted: a signature certificate's names locate its holder.
            note(Reason.UNTRUSTED_ANCHOR,
                 f"{_where(index)} is a self-signed certificate that is neither pinned nor "
                 "supplied as a trust anchor", index)
            return
        if len(chain) >= MAX_PATH_LENGTH:
            note(Reason.PATH_TOO_LONG, f"no anchor within {MAX_PATH_LENGTH} certificates",
                 index)
            return
        in_chain = {_fingerprint(c) for c in chain}
        candidates = [c for c in issuer_candidates(current, pool)
                      if _fingerprint(c) not in in_chain]
        if not candidates:
            note(Reason.UNKNOWN_ISSUER,
                 f"no certificate of the issuer {current.issuer.rfc4514_string()} of "
                 f"{_where(index)} is available", index)
            return
        verified = [c for c in candidates if signed_by(current, c)]
        if not verified and budget[0] <= 0:
            note(Reason.PATH_TOO_LONG, f"gave up after {MAX_SIGNATURE_CHECKS} signature "
                 "checks (too many candidate issuers)", index)
            return
        if not verified:
            note(Reason.UNKNOWN_ISSUER,
                 f"{len(candidates)} certificate(s) are named "
                 f"{current.issuer.rfc4514_string()}, but no such key signed {_where(index)}",
                 index)
            return
        for issuer in verified:
            yield from walk([*chain, issuer])

    for path in walk([leaf]):
        paths.append(path)
    return paths, failure


# --- checks ----------------------------------------------------------------------------------


def _check_time(cert: x509.Certificate, at: dt.datetime, index: int) -> None:
    if at < cert.not_valid_before_utc:
        raise VerificationError(Reason.NOT_YET_VALID,
                                f"{_where(index)} is valid from "
                                f"{cert.not_valid_before_utc.isoformat()}, after "
                                f"{at.isoformat()}", subject=f"certificate {index}")
    if at > cert.not_valid_after_utc:
        raise VerificationError(Reason.EXPIRED,
                                f"{_where(index)} expired on "
                                f"{cert.not_valid_after_utc.isoformat()} (checked at "
                                f"{at.isoformat()})", subject=f"certificate {index}")


def _check_critical(extensions: x509.Extensions, index: int) -> None:
    unknown = sorted(ext.oid.dotted_string for ext in extensions
                     if ext.critical and ext.oid not in KNOWN_EXTENSIONS)
    if unknown:
        raise VerificationError(Reason.UNKNOWN_CRITICAL_EXTENSION,
                                f"{_where(index)} has unsupported critical extension(s) "
                                f"{', '.join(unknown)}", subject=f"certificate {index}")


def _check_algorithms(cert: x509.Certificate, index: int) -> None:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise VerificationError(Reason.UNSUPPORTED_ALGORITHM,
                                    f"{_where(index)} has a {key.key_size}-bit RSA key",
                                    subject=f"certificate {index}")
    elif not isinstance(key, (ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey,
                              ed448.Ed448PublicKey)):
        raise VerificationError(Reason.UNSUPPORTED_ALGORITHM,
                                f"{_where(index)} has an unsupported key type",
                                subject=f"certificate {index}")


def _check_signature_hash(cert: x509.Certificate, index: int) -> None:
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        algorithm = None
    if isinstance(cert.public_key(), (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)) \
            and algorithm is None:
        return
    if not isinstance(algorithm, ACCEPTED_HASHES):
        name = (algorithm.name if algorithm is not None
                else cert.signature_algorithm_oid.dotted_string)
        raise VerificationError(Reason.UNSUPPORTED_ALGORITHM,
                                f"{_where(index)} is signed with {name}",
                                subject=f"certificate {index}")


def _check_issuer(cert: x509.Certificate, extensions: x509.Extensions, index: int,
                  below: Sequence[x509.Certificate]) -> None:
    bc = _ext(extensions, x509.BasicConstraints)
    if bc is None or not bc.ca:
        raise VerificationError(Reason.NOT_A_CA,
                                f"{_where(index)} issued a certificate but has no "
                                f"BasicConstraints cA=TRUE ({cert.subject.rfc4514_string()})",
                                subject=f"certificate {index}")
    path_length = bc.path_length
    if path_length is not None:
        # RFC 5280 6.1.4 (l)/(m): intermediates below this CA, not counting self-issued ones
        # nor the end entity.
        intermediates = sum(1 for c in below[1:] if not _is_self_issued(c))
        if intermediates > path_length:
            raise VerificationError(Reason.PATH_TOO_LONG,
                                    f"{_where(index)} allows {path_length} intermediate(s) "
                                    f"below it, the path has {intermediates}",
                                    subject=f"certificate {index}")
    ku = _ext(extensions, x509.KeyUsage)
    if ku is not None and not ku.key_cert_sign:
        raise VerificationError(Reason.KEY_USAGE_NOT_ALLOWED,
                                f"the KeyUsage of {_where(index)} does not allow keyCertSign",
                                subject=f"certificate {index}")


def _check_name_constraints(extensions: x509.Extensions, index: int) -> None:
    # RFC 5280 6.1.4 (g): NameConstraints bind every name below the CA. This validator does
    # not process them, so a path through a constrained CA is refused, critical or not.
    if _ext(extensions, x509.NameConstraints) is not None:
        raise VerificationError(Reason.NAME_CONSTRAINTS_UNSUPPORTED,
                                f"{_where(index)} has NameConstraints, which this validator "
                                "does not process", subject=f"certificate {index}")


def _policies(extensions: x509.Extensions) -> list[x509.ObjectIdentifier]:
    cp = _ext(extensions, x509.CertificatePolicies)
    if cp is None:
        return []
    return [info.policy_identifier for info in cp]


def role_from_policies(policies: Iterable[x509.ObjectIdentifier]) -> CertificateRole | None:
    """The JPKI role a set of policy OIDs names, if any."""
    found = set(policies)
    if found & SIGN_POLICIES:
        return CertificateRole.SIGN
    if found & AUTH_POLICIES:
        return CertificateRole.AUTH
    return None


def _check_end_entity(extensions: x509.Extensions, role: CertificateRole,
                      options: ValidationOptions) -> tuple[list[x509.ObjectIdentifier],
                                                            PolicyKind]:
    subject = "certificate 0"
    ku = _ext(extensions, x509.KeyUsage)
    if ku is None:
        raise VerificationError(Reason.KEY_USAGE_MISSING,
                                "the end-entity certificate has no KeyUsage extension",
                                subject=subject)
    if role is CertificateRole.AUTH:
        needed = {"digitalSignature": ku.digital_signature}
    elif role is CertificateRole.SIGN:
        needed = {"digitalSignature": ku.digital_signature,
                  "nonRepudiation": ku.content_commitment}
    else:
        needed = {"digitalSignature or nonRepudiation":
                  ku.digital_signature or ku.content_commitment}
    missing = [name for name, present in needed.items() if not present]
    if missing:
        raise VerificationError(Reason.KEY_USAGE_NOT_ALLOWED,
                                f"the KeyUsage of the {role.value} certificate lacks "
                                f"{', '.join(missing)}", subject=subject)
    if role is CertificateRole.AUTH:
        eku = _ext(extensions, x509.ExtendedKeyUsage)
        if eku is None or ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
            raise VerificationError(Reason.EXTENDED_KEY_USAGE_NOT_ALLOWED,
                                    "the authentication certificate does not allow clientAuth",
                                    subject=subject)
    policies = _policies(extensions)
    kind = (PolicyKind.PRODUCTION if set(policies) & _PRODUCTION_POLICIES
            else PolicyKind.TEST if set(policies) & (AUTH_POLICIES | SIGN_POLICIES)
            else PolicyKind.OTHER)
    if role is not CertificateRole.ANY:
        wanted = AUTH_POLICIES if role is CertificateRole.AUTH else SIGN_POLICIES
        if options.production_only:
            wanted = wanted & _PRODUCTION_POLICIES
        if not set(policies) & wanted:
            raise VerificationError(Reason.POLICY_NOT_ACCEPTED,
                                    f"none of the policies "
                                    f"[{', '.join(p.dotted_string for p in policies)}] is an "
                                    f"accepted JPKI {role.value} policy", subject=subject)
    return policies, kind


def _validate(path: list[x509.Certificate], options: ValidationOptions) -> ValidatedPath:
    at = options.when()
    all_extensions = [certificate_extensions(cert, i) for i, cert in enumerate(path)]
    for index, (cert, extensions) in enumerate(zip(path, all_extensions, strict=True)):
        if index > 0:
            _check_name_constraints(extensions, index)
        _check_critical(extensions, index)
        _check_time(cert, at, index)
        _check_algorithms(cert, index)
        if index < len(path) - 1:
            # The anchor's own signature is not checked: it is trusted by fingerprint.
            _check_signature_hash(cert, index)
        if index > 0:
            _check_issuer(cert, extensions, index, path[:index])
    role = options.role
    leaf_policies = _policies(all_extensions[0])
    if role is None:
        role = role_from_policies(leaf_policies)
        if role is None:
            if not options.allow_other_policies:
                raise VerificationError(
                    Reason.POLICY_NOT_ACCEPTED,
                    "the end-entity certificate has no JPKI authentication or signature "
                    f"policy ([{', '.join(p.dotted_string for p in leaf_policies)}])",
                    subject="certificate 0")
            role = CertificateRole.ANY
    policies, kind = _check_end_entity(all_extensions[0], role, options)
    root = pinned_root(path[-1])
    if root is not None and role is not CertificateRole.ANY and root.purpose != role.value:
        # J-LIS runs one root per purpose: an auth-policy certificate under the signature
        # root (or the reverse) is not what its policy claims.
        raise VerificationError(Reason.ROOT_PURPOSE_MISMATCH,
                                f"the path ends in the J-LIS {root.purpose} root "
                                f"({root.label}), which does not issue {role.value} "
                                "certificates", subject=f"certificate {len(path) - 1}")
    return ValidatedPath(
        certificates=tuple(path),
        role=role,
        policies=tuple(p.dotted_string for p in policies),
        policy_kind=kind,
        validated_at=at,
        jlis_root=root,
    )


def validate_path(leaf: x509.Certificate, trust: TrustStore, *,
                  intermediates: Iterable[x509.Certificate] = (),
                  options: ValidationOptions | None = None,
                  cache: PathCache | None = DEFAULT_CACHE) -> ValidatedPath:
    """Build and validate a path from ``leaf`` to an anchor in ``trust``.

    ``intermediates`` are untrusted certificates that may serve as issuers (the card's CA
    certificate, the certificates embedded in a signature); a pinned one among them becomes
    an anchor. Raises :class:`VerificationError` with the reason of the best failing path.

    A path that passed is remembered in ``cache`` (by default the process-wide one, see
    :mod:`mynaid.trust.pathcache`; None validates afresh), keyed by the fingerprints of the
    certificates, the store's anchors and pins, and the options; a hit is re-checked
    against the validity windows at the validation time.
    """
    options = options or ValidationOptions()
    offered = list(intermediates)  # iterated twice below; a generator would run dry
    if len(offered) > MAX_OFFERED_CERTIFICATES:
        raise VerificationError(Reason.MALFORMED,
                                f"{len(offered)} certificates offered; at most "
                                f"{MAX_OFFERED_CERTIFICATES} are considered for a path",
                                subject="certificates")
    leaf = checked(leaf, what="the end-entity certificate", index=0)
    # An offered certificate that does not parse cannot be part of a valid path: it is left
    # out rather than allowed to fail later with a foreign exception.
    offered = [c for c in offered if _parses(c)]
    key: tuple[object, ...] | None = None
    if cache is not None:
        at = options.when()
        options = dataclasses.replace(options, at=at)  # one time for the lookup and checks
        key = (options.role, options.production_only, options.allow_other_policies,
               frozenset(trust.pinned), tuple(_fingerprint(a) for a in trust.anchors),
               _fingerprint(leaf), tuple(_fingerprint(c) for c in offered))
        hit = cache.get(key, at)
        if hit is not None:
            return hit
    try:
        path = _validate_offered(leaf, trust, offered, options)
    except ASN1_ERRORS:
        # Belt and braces: a lazily parsed field that checked() did not reach.
        raise VerificationError(Reason.MALFORMED_CERTIFICATE,
                                "a certificate of the path does not parse",
                                subject="certificates") from None
    if cache is not None:
        cache.put(key, path)
    return path


def _parses(cert: x509.Certificate) -> bool:
    try:
        checked(cert)
    except VerificationError:
        return False
    return True


def _validate_offered(leaf: x509.Certificate, trust: TrustStore,
                      offered: list[x509.Certificate],
                      options: ValidationOptions) -> ValidatedPath:
    pool = [c for c in trust.anchors_among(offered) if _parses(c)]
    pinned = {_fingerprint(c) for c in pool}
    pool += [c for c in offered if _fingerprint(c) not in pinned]
    paths, failure = _build_paths(leaf, pool, trust)
    if not paths:
        assert failure is not None  # a walk with no path always notes why
        raise VerificationError(failure.reason, failure.message,
                                subject=f"certificate {failure.index}")
    first_error: VerificationError | None = None
    for path in paths:
        try:
            return _validate(path, options)
        except VerificationError as exc:
            first_error = first_error or exc
    assert first_error is not None
    raise first_error


def check_anchor(cert: x509.Certificate, at: dt.datetime | None = None) -> None:
    """Check that a root is usable as an anchor at ``at`` (validity, CA, self-signature).

    Used on anchors read from files or the card before trusting them, and by the tests on
    the real J-LIS roots (the 2015 generation is expired after 2025-10-19).
    """
    when = ValidationOptions(at=at).when()
    cert = checked(cert, what="the root", index=1)
    extensions = certificate_extensions(cert, 1)
    _check_critical(extensions, 1)
    _check_time(cert, when, 1)
    _check_issuer(cert, extensions, 1, [cert])
    if not _signed_by(cert, cert):
        raise VerificationError(Reason.BAD_SIGNATURE, "the root's self-signature does not verify",
                                subject="certificate 1")
