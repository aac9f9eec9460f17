"""Revocation checking: CRL files (mapped from X.500 distribution points) and OCSP.

JPKI names its CRLs by X.500 DirName (``..., OU=CRL Distribution Points, OU=<prefecture>,
CN=<city> CRLDP``), served from J-LIS's directory to approved verifiers, not by URL. So CRLs
come from files: a folder of CRLs matched by issuer, and a configurable mapping from a
distribution-point name (DirName or URI) to a file. OCSP requests go by HTTP POST to a
configured URL (or, when asked, the certificate's AIA URL).

Every check returns a :class:`RevocationResult` whose ``status`` is good, revoked, unknown
or indeterminate, with a :class:`~mynaid.trust.errors.Reason` for everything but good.
:meth:`RevocationChecker.enforce` turns a non-good result into a
:class:`~mynaid.trust.errors.VerificationError`.

A CRL or OCSP response is only believed when signed by the key of the *issuer that the path
validation chose* (same-DN root generations have different keys), or by an OCSP responder
that issuer delegated to (id-kp-OCSPSigning), or by a responder the caller trusts.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import http.client
import ipaddress
import itertools
import json
import os
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    ExtensionOID,
)

from mynaid.errors import ParseError
from mynaid.trust.certs import ASN1_ERRORS
from mynaid.trust.errors import Reason, VerificationError
from mynaid.trust.path import ACCEPTED_HASHES, KNOWN_EXTENSIONS

__all__ = [
    "CrlSource",
    "OcspChecker",
    "RevocationChecker",
    "RevocationResult",
    "RevocationStatus",
]

#: Tolerated clock difference between us and a CRL issuer or OCSP responder.
CLOCK_SKEW = dt.timedelta(minutes=5)
#: An OCSP response without nextUpdate is stale after this long.
OCSP_MAX_AGE = dt.timedelta(days=1)
#: A CRL without nextUpdate is stale this long after its thisUpdate (JPKI CRLs are
#: reissued daily; a week leaves room for a verifier that fetches them less often).
CRL_MAX_AGE = dt.timedelta(days=7)
#: OCSP responses larger than this are refused (real ones are 1-4 KB).
MAX_OCSP_RESPONSE = 64 * 1024
#: CRL extensions we understand; a CRL with another critical extension is not used.
_KNOWN_CRL_EXTENSIONS = frozenset({
    ExtensionOID.CRL_NUMBER,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    ExtensionOID.ISSUING_DISTRIBUTION_POINT,
    ExtensionOID.ISSUER_ALTERNATIVE_NAME,
})


class RevocationStatus(str, enum.Enum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"
    """The OCSP responder does not know the certificate."""
    INDETERMINATE = "indeterminate"
    """No usable answer (stale, unreachable, wrong responder, no CRL, ...)."""


@dataclass(frozen=True)
class RevocationResult:
    """The outcome of one revocation check."""

    status: RevocationStatus
    source: str  # "crl", "ocsp" or "none"
    message: str
    reason: Reason | None = None
    this_update: dt.datetime | None = None
    next_update: dt.datetime | None = None
    revocation_time: dt.datetime | None = None
    revocation_reason: str | None = None

    @property
    def good(self) -> bool:
        return self.status is RevocationStatus.GOOD

    def as_dict(self) -> dict[str, str | None]:
        def iso(t: dt.datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {
            "status": self.status.value,
            "source": self.source,
            "reason": self.reason.value if self.reason else None,
            "message": self.message,
            "this_update": iso(self.this_update),
            "next_update": iso(self.next_update),
            "revocation_time": iso(self.revocation_time),
            "revocation_reason": self.revocation_reason,
        }


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _aware(t: dt.datetime | None) -> dt.datetime:
    if t is None:
        return _now()
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def _verify_signature(public_key: object, signature: bytes, data: bytes,
                      algorithm: hashes.HashAlgorithm | None) -> bool:
    """Whether ``signature`` over ``data`` verifies with ``public_key`` (RSA PKCS#1 v1.5,
    ECDSA or EdDSA, as CRLs and OCSP responses are signed). Hashes that certificate paths
    refuse (SHA-1, MD5) are refused here too."""
    if algorithm is not None and not isinstance(algorithm, ACCEPTED_HASHES):
        return False
    try:
        if isinstance(public_key, rsa.RSAPublicKey) and algorithm is not None:
            public_key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and algorithm is not None:
            public_key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(public_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            public_key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        return False
    return True


def _same_key(a: x509.Certificate, b: x509.Certificate) -> bool:
    from cryptography.hazmat.primitives import serialization

    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return a.public_key().public_bytes(enc, fmt) == b.public_key().public_bytes(enc, fmt)


def _reason_name(flag: x509.ReasonFlags | None) -> str | None:
    return flag.value if flag is not None else None


# --- CRLs ------------------------------------------------------------------------------------


DpKey = x509.Name | str


def _distribution_points(cert: x509.Certificate) -> list[DpKey]:
    """The names of ``cert``'s CRL distribution points: DirNames and URIs."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    except (x509.ExtensionNotFound, ValueError):
        return []
    names: list[DpKey] = []
    for dp in ext.value:
        if dp.full_name:
            for general_name in dp.full_name:
                if isinstance(general_name, x509.DirectoryName):
                    names.append(general_name.value)
                elif isinstance(general_name, x509.UniformResourceIdentifier):
                    names.append(general_name.value)
        elif dp.relative_name is not None:
            # RFC 5280 4.2.1.13: the RDN is appended to the CRL issuer's (here: the issuer's) DN.
            names.append(x509.Name([*cert.issuer.rdns, dp.relative_name]))
    return names


def _may_sign_crls(issuer: x509.Certificate) -> bool:
    """RFC 5280 4.2.1.3: a KeyUsage, when present, must allow cRLSign for CRLs."""
    try:
        ku = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return bool(ku.crl_sign)


def _crl_hash(crl: x509.CertificateRevocationList) -> hashes.HashAlgorithm | None:
    try:
        return crl.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return None


def _load_crls(data: bytes, source: str) -> list[x509.CertificateRevocationList]:
    try:
        if b"-----BEGIN" in data:
            blocks = data.split(b"-----END X509 CRL-----")
            crls = [x509.load_pem_x509_crl(block + b"-----END X509 CRL-----")
                    for block in blocks if b"-----BEGIN X509 CRL-----" in block]
            if not crls:
                raise ValueError("no CRL block")
        else:
            crls = [x509.load_der_x509_crl(data)]
        for crl in crls:  # the fields every check reads, parsed once here
            _ = (crl.issuer.rfc4514_string(), crl.last_update_utc, crl.next_update_utc,
                 crl.signature, crl.tbs_certlist_bytes, list(crl.extensions))
        return crls
    except ASN1_ERRORS:
        raise ParseError(f"{source}: not a PEM or DER CRL", reason="malformed-crl") from None


_CRL_SUFFIXES = frozenset({".crl", ".pem", ".der"})


@dataclass
class CrlSource:
    """CRLs from files: loose ones (matched by issuer) and a DP-name -> file mapping.

    The mapping file (:meth:`load_config`) is JSON::

        {"distribution_points": [
            {"name": "CN=Chiyoda-ku CRLDP,OU=Tokyo-to,OU=CRL Distribution Points,O=JPKI,C=JP",
             "file": "crls/chiyoda.crl"},
            {"uri": "http://example.invalid/ca.crl", "file": "crls/ca.crl"}],
         "files": ["crls/root.crl"], "folders": ["crls/"]}

    ``name`` is an RFC 4514 string (most specific RDN first, as OpenSSL's ``-nameopt
    RFC2253`` prints it); relative paths are relative to the JSON file. Files are read when
    a check needs them, so a CRL replaced on disk is picked up by the next check.
    """

    loose: list[Path] = field(default_factory=list)
    mapping: dict[DpKey, list[Path]] = field(default_factory=dict)
    _extra: list[x509.CertificateRevocationList] = field(default_factory=list)
    #: How long a CRL without nextUpdate is believed after its thisUpdate.
    max_age: dt.timedelta = CRL_MAX_AGE

    def add_crl(self, crl: x509.CertificateRevocationList) -> None:
        """Use an in-memory CRL (matched by issuer)."""
        self._extra.append(crl)

    def add_path(self, path: str | Path) -> None:
        """A CRL file, or a folder whose ``.crl/.pem/.der`` files are CRLs."""
        self.loose.append(Path(path))

    def map_distribution_point(self, name: x509.Name | str, path: str | Path) -> None:
        """Read the CRL of distribution point ``name`` (a DirName, or a URI string) from
        ``path``."""
        self.mapping.setdefault(name, []).append(Path(path))

    @classmethod
    def load_config(cls, path: str | Path) -> CrlSource:
        """A source from the JSON mapping file described above (:class:`ParseError`, naming
        the file and the entry, when it has another shape)."""
        config_path = Path(path)
        try:
            config = json.loads(config_path.read_bytes().decode("utf-8"))
        except OSError as exc:
            raise ParseError(f"cannot read the CRL mapping {config_path}: "
                             f"{exc.strerror or exc}", reason="unreadable-file") from None
        except (ValueError, RecursionError):
            raise ParseError(f"{config_path}: the CRL mapping is not UTF-8 JSON",
                             reason="malformed-crl-map") from None

        def bad(message: str) -> ParseError:
            return ParseError(f"{config_path}: {message}", reason="malformed-crl-map")

        if not isinstance(config, dict):
            raise bad("the CRL mapping must be a JSON object")
        base = config_path.parent
        source = cls()
        points = config.get("distribution_points", [])
        if not isinstance(points, list):
            raise bad('"distribution_points" must be a list')
        for index, entry in enumerate(points):
            where = f"distribution_points[{index}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
                raise bad(f'{where} must be an object with a "file" string')
            target = base / entry["file"]
            if "name" in entry:
                if not isinstance(entry["name"], str):
                    raise bad(f'{where}: "name" must be a string')
                try:
                    name: DpKey = x509.Name.from_rfc4514_string(entry["name"])
                except ValueError:
                    raise bad(f"{where}: {entry['name']!r} is not an RFC 4514 DN") from None
            elif "uri" in entry:
                if not isinstance(entry["uri"], str):
                    raise bad(f'{where}: "uri" must be a string')
                name = entry["uri"]
            else:
                raise bad(f"{where}: a distribution point needs name or uri")
            source.map_distribution_point(name, target)
        for key in ("files", "folders"):
            items = config.get(key, [])
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise bad(f'"{key}" must be a list of strings')
            for item in items:
                source.add_path(base / item)
        return source

    def _files(self, path: Path) -> list[Path]:
        if path.is_dir():
            return [p for p in sorted(path.iterdir())
                    if p.is_file() and p.suffix.lower() in _CRL_SUFFIXES]
        return [path]

    def _candidates(self, cert: x509.Certificate) -> tuple[list[tuple[
            x509.CertificateRevocationList, str]], list[str]]:
        """CRLs that may cover ``cert``, with where they came from, and read errors."""
        found: list[tuple[x509.CertificateRevocationList, str]] = []
        errors: list[str] = []
        paths: list[Path] = []
        for dp in _distribution_points(cert):
            paths += self.mapping.get(dp, [])
        for path in self.loose:
            paths += self._files(path)
        for path in dict.fromkeys(paths):  # unique, in order
            try:
                crls = _load_crls(path.read_bytes(), str(path))
            except (OSError, ValueError, ParseError) as exc:
                errors.append(f"{path}: {exc}")
                continue
            found += [(crl, str(path)) for crl in crls]
        found += [(crl, "memory") for crl in self._extra]
        return [(crl, origin) for crl, origin in found if crl.issuer == cert.issuer], errors

    def check(self, cert: x509.Certificate, issuer: x509.Certificate,
              at: dt.datetime | None = None) -> RevocationResult:
        """The status of ``cert`` at ``at`` (default now) from the CRLs of ``issuer``."""
        when = _aware(at)
        try:
            return self._check(cert, issuer, when)
        except ASN1_ERRORS:
            return RevocationResult(RevocationStatus.INDETERMINATE, "crl",
                                    "a CRL or the certificate does not parse",
                                    Reason.MALFORMED)

    def _check(self, cert: x509.Certificate, issuer: x509.Certificate,
               when: dt.datetime) -> RevocationResult:
        if not _may_sign_crls(issuer):
            return RevocationResult(RevocationStatus.INDETERMINATE, "crl",
                                    f"the KeyUsage of {issuer.subject.rfc4514_string()} does "
                                    "not allow cRLSign", Reason.CRL_ISSUER_NOT_ALLOWED)
        candidates, errors = self._candidates(cert)
        stale: RevocationResult | None = None
        bad_signature = False
        usable: list[x509.CertificateRevocationList] = []
        for crl, origin in candidates:
            try:
                verdict = self._one(crl, cert, issuer, when)
            except ASN1_ERRORS:
                errors.append(f"{origin}: the CRL does not parse")
                continue
            if verdict == "bad-signature":
                bad_signature = True
            elif isinstance(verdict, RevocationResult):
                if verdict.status is RevocationStatus.REVOKED:
                    return verdict
                stale = stale or verdict
            elif verdict == "usable":
                usable.append(crl)
        if usable:
            newest = max(usable, key=lambda c: c.last_update_utc)
            return RevocationResult(RevocationStatus.GOOD, "crl",
                                    "not listed in the CRL", None, newest.last_update_utc,
                                    newest.next_update_utc)
        if stale is not None:
            return stale
        if bad_signature:
            return RevocationResult(RevocationStatus.INDETERMINATE, "crl",
                                    "the only CRL(s) for this issuer are not signed by its key",
                                    Reason.REVOCATION_BAD_SIGNATURE)
        detail = f" ({'; '.join(errors)})" if errors else ""
        return RevocationResult(RevocationStatus.INDETERMINATE, "crl",
                                f"no CRL of {cert.issuer.rfc4514_string()} is available{detail}",
                                Reason.REVOCATION_UNAVAILABLE)

    def _one(self, crl: x509.CertificateRevocationList, cert: x509.Certificate,
             issuer: x509.Certificate, when: dt.datetime) -> RevocationResult | str:
        """What one CRL says: a revoked or stale result, "usable", "bad-signature" or
        "skip" (not applicable, or issued after the time of interest)."""
        if not _verify_signature(issuer.public_key(), crl.signature,
                                 crl.tbs_certlist_bytes, _crl_hash(crl)):
            return "bad-signature"
        if not self._applicable(crl, cert):
            return "skip"
        next_update = crl.next_update_utc
        if next_update is None:
            # RFC 5280 5.1.2.5 makes nextUpdate mandatory; one without it still goes
            # stale, after the configured maximum age.
            next_update = crl.last_update_utc + self.max_age
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is not None and entry.revocation_date_utc <= when:
            # A listed revocation is conclusive in any CRL, older or newer than the time
            # of interest, as long as it took effect by then (revocation is final).
            return self._revoked(crl, entry)
        if crl.last_update_utc > when + CLOCK_SKEW:
            return "skip"  # issued later and not listing it: says nothing about then
        if next_update < when - CLOCK_SKEW:
            return RevocationResult(
                RevocationStatus.INDETERMINATE, "crl",
                f"the CRL of {crl.issuer.rfc4514_string()} expired at "
                f"{next_update.isoformat()}"
                + (" (it has no nextUpdate; maximum age applied)"
                   if crl.next_update_utc is None else ""),
                Reason.REVOCATION_STALE, crl.last_update_utc, next_update)
        return "usable"

    @staticmethod
    def _applicable(crl: x509.CertificateRevocationList, cert: x509.Certificate) -> bool:
        for ext in crl.extensions:
            if ext.critical and ext.oid not in _KNOWN_CRL_EXTENSIONS:
                return False
        try:
            idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
        except x509.ExtensionNotFound:
            return True
        try:
            bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            is_ca = bc.ca
        except (x509.ExtensionNotFound, ValueError):
            is_ca = False
        if idp.only_contains_ca_certs and not is_ca:
            return False
        if idp.only_contains_user_certs and is_ca:
            return False
        if idp.only_some_reasons or idp.indirect_crl or idp.only_contains_attribute_certs:
            return False  # partitioned or indirect CRLs are not supported
        if idp.relative_name is not None:
            # The partition named relative to the issuer: the issuer's DN plus this RDN.
            full = x509.Name([*crl.issuer.rdns, idp.relative_name])
            if full not in set(_distribution_points(cert)):
                return False
        if idp.full_name:
            idp_names = {g.value for g in idp.full_name
                         if isinstance(g, (x509.DirectoryName, x509.UniformResourceIdentifier))}
            if not idp_names & set(_distribution_points(cert)):
                return False
        return True

    @staticmethod
    def _revoked(crl: x509.CertificateRevocationList,
                 entry: x509.RevokedCertificate) -> RevocationResult:
        reason: str | None = None
        try:
            reason = _reason_name(entry.extensions.get_extension_for_class(x509.CRLReason)
                                  .value.reason)
        except (x509.ExtensionNotFound, ValueError):
            pass
        return RevocationResult(RevocationStatus.REVOKED, "crl",
                                f"revoked on {entry.revocation_date_utc.isoformat()}",
                                Reason.REVOKED, crl.last_update_utc, crl.next_update_utc,
                                entry.revocation_date_utc, reason)


def preload(source: CrlSource) -> int:
    """Read and parse every CRL file ``source`` names, now; returns how many CRLs.

    Raises :class:`ParseError` naming the file that is missing, unreadable or not a CRL
    (the CLI calls this, so that bad input is an input error, not a failed verification).
    """
    count = 0
    paths = [p for paths in source.mapping.values() for p in paths]
    for path in [*paths, *source.loose]:
        if path.is_dir():
            files = source._files(path)
            if not files:
                raise ParseError(f"{path}: the folder holds no .crl/.pem/.der file",
                                 reason="unreadable-file")
        else:
            files = [path]
        for item in files:
            try:
                data = item.read_bytes()
            except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
                detail = exc.strerror if isinstance(exc, OSError) else "bad file name"
                raise ParseError(f"cannot read the CRL {item!s}: {detail or exc}",
                                 reason="unreadable-file") from None
            count += len(_load_crls(data, str(item)))
    return count


# --- OCSP ------------------------------------------------------------------------------------

Fetcher = Callable[[str, bytes, float], bytes]


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def http_post(url: str, body: bytes, timeout: float) -> bytes:
    """POST an OCSP request (RFC 6960 A.1) and return the body of a 200 answer.

    ``timeout`` bounds the whole exchange (connect, request, status line, headers, body)
    with one deadline: a watchdog shuts the socket down when it passes, so a responder that
    drips one byte at a time cannot stretch it. Redirects are not followed (a 3xx is an
    error: a POST must not turn into a GET somewhere else). Raises :class:`OSError` (also
    for the deadline) or :class:`http.client.HTTPException`; ``ValueError`` for a bad URL.
    """
    import http.client
    import threading
    import time

    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"OCSP URL must be http or https with a host, not {url!r}")
    if timeout <= 0:
        raise ValueError("the OCSP timeout must be positive")
    deadline = time.monotonic() + timeout
    host, port = parts.hostname, parts.port
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    # Honour proxy settings from the environment, except for loopback responders (a local
    # test or relay responder must not be sent through a corporate proxy).
    proxy = None if _is_loopback(host) else urllib.request.getproxies().get(parts.scheme)
    if proxy is not None and urllib.request.proxy_bypass(host):
        proxy = None
    conn: http.client.HTTPConnection
    if proxy is not None:
        proxy_parts = urllib.parse.urlsplit(proxy if "//" in proxy else f"http://{proxy}")
        if not proxy_parts.hostname:
            raise ValueError("the proxy setting has no host")
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(proxy_parts.hostname, proxy_parts.port,
                                               timeout=timeout)
            conn.set_tunnel(host, port)
        else:
            conn = http.client.HTTPConnection(proxy_parts.hostname, proxy_parts.port,
                                              timeout=timeout)
            target = url
    elif parts.scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=timeout)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    expired = threading.Event()
    watchdog: threading.Timer | None = None
    try:
        conn.connect()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the OCSP exchange timed out")
        sock = conn.sock

        def stop() -> None:
            expired.set()
            try:
                sock.shutdown(2)  # SHUT_RDWR: any blocked recv returns at once
            except OSError:
                pass

        watchdog = threading.Timer(remaining, stop)
        watchdog.daemon = True
        watchdog.start()
        conn.request("POST", target, body=body, headers={
            "Content-Type": "application/ocsp-request",
            "Accept": "application/ocsp-response",
            "Connection": "close",
        })
        response = conn.getresponse()
        if response.status != 200:
            raise OSError(f"HTTP {response.status} (redirects are not followed)"
                          if 300 <= response.status < 400 else f"HTTP {response.status}")
        declared = response.getheader("Content-Length")
        if declared is not None and declared.strip().isdigit() \
                and int(declared) > MAX_OCSP_RESPONSE:
            raise ValueError("the OCSP response is too large")
        chunks: list[bytes] = []
        total = 0
        while total <= MAX_OCSP_RESPONSE:
            chunk = response.read1(MAX_OCSP_RESPONSE + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        data = b"".join(chunks)
    except (OSError, http.client.HTTPException) as exc:
        if expired.is_set():
            raise TimeoutError(f"the OCSP exchange took longer than {timeout:g} s") from None
        if isinstance(exc, http.client.HTTPException):
            raise OSError("not a valid HTTP answer") from None
        raise
    finally:
        if watchdog is not None:
            watchdog.cancel()
        conn.close()
    if expired.is_set():
        raise TimeoutError(f"the OCSP exchange took longer than {timeout:g} s")
    if len(data) > MAX_OCSP_RESPONSE:
        raise ValueError("the OCSP response is too large")
    return data


def _aia_ocsp_url(cert: x509.Certificate) -> str | None:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    for desc in aia:
        if desc.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
                desc.access_location, x509.UniformResourceIdentifier):
            return str(desc.access_location.value)
    return None


def _key_hash(cert: x509.Certificate) -> bytes:
    # RFC 6960 ResponderID byKey and CertID issuerKeyHash: SHA-1 of the subjectPublicKey
    # BIT STRING contents (a protocol identifier here, not a security-relevant hash).
    return hashlib.sha1(_public_key_bits(cert), usedforsecurity=False).digest()


def _cert_id_hash(name: str) -> hashes.HashAlgorithm | None:
    return {"sha1": hashes.SHA1(), "sha256": hashes.SHA256(), "sha384": hashes.SHA384(),  # noqa: S303
            "sha512": hashes.SHA512()}.get(name)


@dataclass
class OcspChecker:
    """An OCSP client with response validation (RFC 6960).

    ``url``: the responder; None means the certificate's AIA OCSP URL (JPKI's responder
    only answers approved verifiers, so usually a URL is configured). ``trusted_responders``
    are responder certificates trusted for any issuer (RFC 6960 4.2.2.2, "locally
    configured"). ``fetch`` replaces the HTTP POST (tests, or a custom transport).
    """

    url: str | None = None
    timeout: float = 10.0
    use_nonce: bool = True
    require_nonce: bool = False
    trusted_responders: list[x509.Certificate] = field(default_factory=list)
    max_age: dt.timedelta = OCSP_MAX_AGE
    fetch: Fetcher = field(default=http_post)
    #: Hash of the request's CertID: SHA-1 is what RFC 5019 responders are required to take.
    cert_id_hash: hashes.HashAlgorithm = field(default_factory=hashes.SHA1)

    def build_request(self, cert: x509.Certificate, issuer: x509.Certificate,
                      nonce: bytes | None) -> bytes:
        """The DER OCSPRequest for ``cert`` (with a nonce extension when given)."""
        from cryptography.hazmat.primitives import serialization

        builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, self.cert_id_hash)
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        return builder.build().public_bytes(serialization.Encoding.DER)

    def check(self, cert: x509.Certificate, issuer: x509.Certificate,
              at: dt.datetime | None = None, *, now: dt.datetime | None = None
              ) -> RevocationResult:
        """Ask the responder about ``cert`` and validate the answer.

        ``at`` is the time of interest (a revocation after it does not count); ``now`` the
        current time for freshness (OCSP speaks about the present).
        """
        current = _aware(now)
        when = _aware(at) if at is not None else current
        url = self.url or _aia_ocsp_url(cert)
        if url is None:
            return self._fail(Reason.REVOCATION_UNAVAILABLE,
                              "no OCSP URL is configured and the certificate names none")
        nonce = os.urandom(16) if self.use_nonce else None
        request = self.build_request(cert, issuer, nonce)
        try:
            raw = self.fetch(url, request, self.timeout)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # Timeouts are OSErrors; ValueError covers a bad URL or an oversized answer;
            # HTTPException a garbled status line. All leave the CRL fallback to be tried.
            detail = str(exc) if not isinstance(exc, http.client.HTTPException) \
                else "not a valid HTTP answer"
            return self._fail(Reason.REVOCATION_UNREACHABLE,
                              f"the OCSP responder at {url} did not answer: {detail}")
        try:
            response = ocsp.load_der_ocsp_response(raw)
            status = response.response_status
        except ASN1_ERRORS:
            return self._fail(Reason.MALFORMED, "the OCSP response is not valid DER")
        if status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            return self._fail(Reason.OCSP_ERROR_RESPONSE,
                              f"the responder answered {status.name}")
        try:
            return self._validate(response, cert, issuer, nonce, when, current)
        except ASN1_ERRORS:  # lazily parsed parts of the response
            return self._fail(Reason.MALFORMED, "the OCSP response does not parse")

    @staticmethod
    def _fail(reason: Reason, message: str, status: RevocationStatus =
              RevocationStatus.INDETERMINATE) -> RevocationResult:
        return RevocationResult(status, "ocsp", message, reason)

    def _responder(self, response: ocsp.OCSPResponse, issuer: x509.Certificate,
                   when: dt.datetime) -> tuple[x509.Certificate | None, str]:
        """The certificate that signed ``response`` and whether it may speak for ``issuer``:
        returns (certificate, "") when authorised, (None, why) otherwise."""
        candidates = [issuer, *self.trusted_responders, *response.certificates]
        by_key = response.responder_key_hash
        by_name = response.responder_name
        named = [c for c in candidates
                 if (by_key is not None and _key_hash(c) == by_key)
                 or (by_name is not None and c.subject == by_name)]
        if not named:
            return None, "the response is signed by a responder that is not the issuer, " \
                         "not trusted, and included no certificate"
        why = ""
        for signer in named:
            if not _verify_signature(signer.public_key(), response.signature,
                                     response.tbs_response_bytes,
                                     response.signature_hash_algorithm):
                why = why or "bad-signature"
                continue
            if _same_key(signer, issuer):
                return signer, ""
            if any(_same_key(signer, t) for t in self.trusted_responders):
                return signer, ""
            if self._delegated(signer, issuer, when):
                return signer, ""
            why = (f"the responder {signer.subject.rfc4514_string()} is not authorised by "
                   f"the issuer (not issued by its key with id-kp-OCSPSigning)")
        return None, why

    @staticmethod
    def _delegated(signer: x509.Certificate, issuer: x509.Certificate,
                   when: dt.datetime) -> bool:
        """RFC 6960 4.2.2.2: issued by the issuer's key, id-kp-OCSPSigning, a KeyUsage (if
        any) with digitalSignature, no unknown critical extension, valid at ``when`` (the
        validation time, not the wall clock)."""
        try:
            signer.verify_directly_issued_by(issuer)
            extensions = signer.extensions
            eku = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (InvalidSignature, x509.ExtensionNotFound):
            return False
        except ASN1_ERRORS:
            return False
        if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            return False
        try:
            ku = extensions.get_extension_for_class(x509.KeyUsage).value
            if not ku.digital_signature:
                return False
        except x509.ExtensionNotFound:
            pass
        if any(ext.critical and ext.oid not in KNOWN_EXTENSIONS for ext in extensions):
            return False
        return signer.not_valid_before_utc <= when <= signer.not_valid_after_utc

    def _validate(self, response: ocsp.OCSPResponse, cert: x509.Certificate,
                  issuer: x509.Certificate, nonce: bytes | None, when: dt.datetime,
                  now: dt.datetime) -> RevocationResult:
        signer, why = self._responder(response, issuer, when)
        if signer is None:
            if why == "bad-signature":
                return self._fail(Reason.REVOCATION_BAD_SIGNATURE,
                                  "the OCSP response signature does not verify")
            return self._fail(Reason.OCSP_UNAUTHORIZED_RESPONDER, why)
        if nonce is not None:
            try:
                got = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
            except x509.ExtensionNotFound:
                got = None
            if (got is not None and got != nonce) or (got is None and self.require_nonce):
                return self._fail(Reason.OCSP_NONCE_MISMATCH,
                                  "the response does not echo the request's nonce")
        single = self._matching(response, cert, issuer)
        if single is None:
            return self._fail(Reason.OCSP_NO_MATCHING_RESPONSE,
                              "the response says nothing about this certificate")
        this_update = single.this_update_utc
        next_update = single.next_update_utc
        if this_update > now + CLOCK_SKEW:
            return RevocationResult(RevocationStatus.INDETERMINATE, "ocsp",
                                    f"the response's thisUpdate {this_update.isoformat()} "
                                    "is in the future", Reason.REVOCATION_STALE,
                                    this_update, next_update)
        expiry = next_update if next_update is not None else this_update + self.max_age
        if expiry < now - CLOCK_SKEW:
            return RevocationResult(RevocationStatus.INDETERMINATE, "ocsp",
                                    f"the response is stale (valid until {expiry.isoformat()})",
                                    Reason.REVOCATION_STALE, this_update, next_update)
        status = single.certificate_status
        if status is ocsp.OCSPCertStatus.REVOKED:
            revoked_at = single.revocation_time_utc
            if revoked_at is not None and revoked_at > when:
                return RevocationResult(RevocationStatus.GOOD, "ocsp",
                                        f"revoked on {revoked_at.isoformat()}, after the "
                                        "validation time", None, this_update, next_update,
                                        revoked_at, _reason_name(single.revocation_reason))
            return RevocationResult(RevocationStatus.REVOKED, "ocsp",
                                    f"revoked on {revoked_at.isoformat() if revoked_at else '?'}",
                                    Reason.REVOKED, this_update, next_update, revoked_at,
                                    _reason_name(single.revocation_reason))
        if status is ocsp.OCSPCertStatus.UNKNOWN:
            return RevocationResult(RevocationStatus.UNKNOWN, "ocsp",
                                    "the responder does not know this certificate",
                                    Reason.REVOCATION_UNKNOWN, this_update, next_update)
        return RevocationResult(RevocationStatus.GOOD, "ocsp", "good", None, this_update,
                                next_update)

    @staticmethod
    def _matching(response: ocsp.OCSPResponse, cert: x509.Certificate,
                  issuer: x509.Certificate) -> ocsp.OCSPSingleResponse | None:
        for single in response.responses:
            algorithm = _cert_id_hash(single.hash_algorithm.name)
            if algorithm is None or single.serial_number != cert.serial_number:
                continue
            name_hash = hashlib.new(algorithm.name, issuer.subject.public_bytes()).digest()
            key_hash_sha1 = _key_hash(issuer)
            if algorithm.name == "sha1":
                key_hash = key_hash_sha1
            else:
                key_hash = hashlib.new(algorithm.name, _public_key_bits(issuer)).digest()
            if single.issuer_name_hash == name_hash and single.issuer_key_hash == key_hash:
                return single
        return None


def _public_key_bits(cert: x509.Certificate) -> bytes:
    from asn1crypto import keys  # the BIT STRING contents of subjectPublicKey
    from cryptography.hazmat.primitives import serialization

    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    bits: bytes = keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]
    return bits


# --- policy ------------------------------------------------------------------------------------


@dataclass
class RevocationChecker:
    """What to consult, in order: OCSP (when configured), then CRLs (when configured).

    OCSP "good" or "revoked" is final; on "unknown" or any failure the CRLs are tried and
    are final when they give good or revoked. Otherwise the first non-good result stands.
    """

    ocsp: OcspChecker | None = None
    crls: CrlSource | None = None

    def check(self, cert: x509.Certificate, issuer: x509.Certificate,
              at: dt.datetime | None = None) -> RevocationResult:
        results: list[RevocationResult] = []
        if self.ocsp is not None:
            result = self.ocsp.check(cert, issuer, at)
            if result.status in (RevocationStatus.GOOD, RevocationStatus.REVOKED):
                return result
            results.append(result)
        if self.crls is not None:
            result = self.crls.check(cert, issuer, at)
            if result.status in (RevocationStatus.GOOD, RevocationStatus.REVOKED):
                return result
            results.append(result)
        if results:
            return results[0]
        return RevocationResult(RevocationStatus.INDETERMINATE, "none",
                                "no revocation source is configured",
                                Reason.REVOCATION_UNAVAILABLE)

    def enforce(self, chain: Iterable[x509.Certificate],
                at: dt.datetime | None = None) -> list[RevocationResult]:
        """Check every certificate but the anchor of a validated chain (end entity first);
        raise :class:`VerificationError` at the first one that is not good."""
        certs = list(chain)
        results: list[RevocationResult] = []
        for index, (cert, issuer) in enumerate(itertools.pairwise(certs)):
            result = self.check(cert, issuer, at)
            results.append(result)
            if not result.good:
                assert result.reason is not None
                raise VerificationError(result.reason,
                                        f"certificate {index} ({result.source}): "
                                        f"{result.message}", subject=f"certificate {index}")
        return results
