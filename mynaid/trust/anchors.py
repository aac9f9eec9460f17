"""Trust anchors: the pinned J-LIS roots plus roots the user supplies.

JPKI roots are not in any operating-system trust store, and a card carries its own issuing
CA certificate (EF 0002 / 000B) that anyone could have written. So trust is decided by
fingerprint, never by name: a CA certificate (from the card, from a CMS signature, or from a
file) becomes an anchor only when the SHA-256 fingerprint of its DER is pinned here
(card-reference §7) or it was supplied explicitly by the user.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mynaid.errors import ParseError

__all__ = [
    "JLIS_ROOTS",
    "PinnedRoot",
    "TrustStore",
    "fingerprint",
    "load_certificates",
]


@dataclass(frozen=True)
class PinnedRoot:
    """A J-LIS root generation known by the SHA-256 fingerprint of its DER.

    ``valid_from``/``valid_to`` are the UTC dates of the certificate's validity (what the
    listing shows); ``not_before``/``not_after`` the exact instants, which decide
    :meth:`current`. ``generation`` is the year the generation was issued (2015, 2019,
    2023): J-LIS keeps one DN for all of them, so the year is how people tell them apart.
    """

    label: str
    purpose: str  # "auth" or "sign"
    valid_from: str
    valid_to: str
    sha256: bytes
    generation: int = 0
    not_before: dt.datetime = field(default=dt.datetime.min.replace(tzinfo=dt.timezone.utc),
                                    compare=False)
    not_after: dt.datetime = field(default=dt.datetime.max.replace(tzinfo=dt.timezone.utc),
                                   compare=False)
    serial: str = ""

    def current(self, at: dt.datetime | None = None) -> bool:
        """Whether this generation is within its validity at ``at`` (default: now)."""
        at = at or dt.datetime.now(dt.timezone.utc)
        return self.not_before <= at <= self.not_after

    @property
    def fingerprint_hex(self) -> str:
        """The fingerprint as ``AA:BB:...`` (how openssl prints it)."""
        return ":".join(f"{b:02X}" for b in self.sha256)


def _fp(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)


def _root(label: str, purpose: str, generation: int, not_before: str, not_after: str,
          serial: str, sha256: str) -> PinnedRoot:
    start, end = _utc(not_before), _utc(not_after)
    return PinnedRoot(label, purpose, start.date().isoformat(), end.date().isoformat(),
                      _fp(sha256), generation, start, end, serial)


#: The JPKI roots of card-reference §7 and §9: three generations of each CA, as J-LIS
#: publishes them (authca01..03 / signca01..03). Fingerprints, validity and serials are those
#: of the published certificates (checked by tests against ../shared/jpki-roots/). The 2019
#: generation signs the certificates of cards issued or renewed 2019-2023 and is valid to
#: 2029, so all three are pinned; chain building picks among them by key.
JLIS_ROOTS: tuple[PinnedRoot, ...] = (
    _root("auth_ca_2015", "auth", 2015, "2015-10-20T03:08:13", "2025-10-19T14:59:59", "01",
          "4D:CF:C4:CA:0A:AF:9F:B2:A3:08:1B:3F:0C:99:1C:32:0B:3A:CC:00:86:67:A3:41:EE:AE:C5:AF:1D:58:CA:7D"),
    _root("auth_ca_2019", "auth", 2019, "2019-09-14T23:41:59", "2029-09-14T14:59:59",
          "0133C349",
          "0D:98:DE:47:FC:11:B7:F6:71:26:87:4B:70:28:B6:02:6A:80:3D:26:38:D6:ED:FE:53:17:69:53:96:1F:AD:E6"),
    _root("auth_ca_2023", "auth", 2023, "2023-07-16T01:01:04", "2033-07-15T14:59:59",
          "06D18006",
          "64:11:4F:29:62:0C:24:ED:26:31:D4:64:76:A0:40:E7:EE:74:0D:95:60:89:C0:0B:03:6A:6A:81:18:C3:22:B5"),
    _root("sign_ca_2015", "sign", 2015, "2015-10-20T02:40:28", "2025-10-19T14:59:59", "01",
          "19:64:54:05:A1:FE:14:37:74:34:BD:55:95:76:28:AC:40:38:55:7C:54:24:03:A2:24:3F:21:C7:06:FC:93:55"),
    _root("sign_ca_2019", "sign", 2019, "2019-09-14T23:41:56", "2029-09-14T14:59:59",
          "0132C4AB",
          "79:67:9C:33:E4:CC:93:19:44:0F:1A:D1:20:A5:97:FF:18:44:E2:EF:21:70:63:AD:B1:76:96:6F:D5:E6:FB:EB"),
    _root("sign_ca_2023", "sign", 2023, "2023-07-16T00:50:27", "2033-07-15T14:59:59",
          "067C6A21",
          "D2:27:F6:CD:E1:1D:35:C5:25:21:78:F1:06:F8:43:D2:46:51:94:49:75:41:3B:53:9F:A2:FB:68:DB:FA:36:5F"),
)


#: Fingerprints by object identity (the object is kept, so its id is not reused while it is
#: in here): re-encoding a certificate to DER costs more than the rest of a fingerprint, and
#: a verification asks for the same few certificates' fingerprints many times. Bounded.
_FINGERPRINTS: dict[int, tuple[x509.Certificate, bytes]] = {}
_FINGERPRINTS_MAX = 1024
_FINGERPRINT_LOCK = threading.Lock()


def fingerprint(cert: x509.Certificate) -> bytes:
    """SHA-256 over the certificate's DER (what §7 pins), remembered per object."""
    hit = _FINGERPRINTS.get(id(cert))
    if hit is not None and hit[0] is cert:
        return hit[1]
    value = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()
    with _FINGERPRINT_LOCK:  # verifiers run in threads (the relying-party service)
        if len(_FINGERPRINTS) >= _FINGERPRINTS_MAX:
            _FINGERPRINTS.pop(next(iter(_FINGERPRINTS)))
        _FINGERPRINTS[id(cert)] = (cert, value)
    return value


_PEM_MARKER = b"-----BEGIN CERTIFICATE-----"


def load_certificates(data: bytes, *, source: str = "input") -> list[x509.Certificate]:
    """Every certificate in ``data``: one DER certificate, or any number of PEM blocks."""
    try:
        if _PEM_MARKER in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise ParseError(f"{source}: not a PEM or DER X.509 certificate") from exc


#: File names read from an anchor folder (as OpenSSL's c_rehash does, plus .der).
_CERT_SUFFIXES = frozenset({".pem", ".crt", ".cer", ".der"})


@dataclass
class TrustStore:
    """The anchors a path may end in.

    ``pinned`` holds fingerprints that are trusted whenever a certificate with that
    fingerprint turns up (the card's CA certificate, a certificate embedded in a signature);
    ``anchors`` holds certificates the user supplied, trusted as they are. The default store
    pins the J-LIS roots and has no certificates.
    """

    pinned: set[bytes] = field(default_factory=set)
    anchors: list[x509.Certificate] = field(default_factory=list)

    @classmethod
    def jpki(cls) -> TrustStore:
        """The pinned J-LIS roots only (what production verification needs)."""
        return cls(pinned={root.sha256 for root in JLIS_ROOTS})

    @classmethod
    def empty(cls) -> TrustStore:
        """No anchors at all (tests and closed deployments start here)."""
        return cls()

    def add_certificate(self, cert: x509.Certificate) -> None:
        """Trust ``cert`` as an anchor (it is also pinned by fingerprint)."""
        fp = fingerprint(cert)
        if fp not in {fingerprint(a) for a in self.anchors}:
            self.anchors.append(cert)
        self.pinned.add(fp)

    def add_file(self, path: str | Path) -> int:
        """Trust every certificate in a PEM or DER file; returns how many were added."""
        p = Path(path)
        certs = load_certificates(p.read_bytes(), source=str(p))
        for cert in certs:
            self.add_certificate(cert)
        return len(certs)

    def add_path(self, path: str | Path) -> int:
        """Trust a file, or every certificate file (``.pem/.crt/.cer/.der``) in a folder
        (not recursive; PEM files holding no certificate, such as keys, are skipped)."""
        p = Path(path)
        if not p.is_dir():
            return self.add_file(p)
        added = 0
        for child in sorted(p.iterdir()):
            if not child.is_file() or child.suffix.lower() not in _CERT_SUFFIXES:
                continue
            data = child.read_bytes()
            if b"-----BEGIN" in data and _PEM_MARKER not in data:
                continue  # a key or CRL next to the certificates (as c_rehash skips them)
            added += self.add_file(child)
        return added

    def pin(self, sha256: bytes) -> None:
        """Trust any certificate whose DER has this SHA-256 fingerprint."""
        if len(sha256) != 32:
            raise ValueError("a SHA-256 fingerprint is 32 bytes")
        self.pinned.add(sha256)

    def is_anchor(self, cert: x509.Certificate) -> bool:
        """Whether ``cert`` is trusted as an anchor (by fingerprint)."""
        return fingerprint(cert) in self.pinned

    def anchors_among(self, candidates: Iterable[x509.Certificate]) -> Iterator[x509.Certificate]:
        """The supplied anchors, then any pinned certificates among ``candidates``."""
        seen: set[bytes] = set()
        for cert in [*self.anchors, *candidates]:
            fp = fingerprint(cert)
            if fp in self.pinned and fp not in seen:
                seen.add(fp)
                yield cert


def pinned_root(cert: x509.Certificate) -> PinnedRoot | None:
    """The J-LIS root generation ``cert`` is, if it is one."""
    fp = fingerprint(cert)
    return next((root for root in JLIS_ROOTS if root.sha256 == fp), None)
