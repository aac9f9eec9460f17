"""A cache of validated certificate paths, keyed by the DER bytes as received.

Where one challenge verification spends its time (measured: benchmarks/bench_service.py):
two RSA-2048 verifications cost about 0.05 ms each, but :func:`validate_path` costs about
0.5 ms, most of it re-encoding certificates to DER to fingerprint them (eleven times per
path) and re-verifying the CA's signature on the leaf. The result of path validation
depends only on the certificates, the trust store, the role and the policy options - and
on the time, which is re-checked here on every hit against the validity windows of the
path. So a bounded LRU keyed by the SHA-256 of the DER bytes the client sent (no parsing
needed to find a hit) makes a repeat verification cost one dictionary lookup.
Revocation is never cached here: it is asked per request.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from mynaid.trust.anchors import TrustStore
from mynaid.trust.errors import Reason, VerificationError
from mynaid.trust.path import CertificateRole, ValidatedPath, ValidationOptions, validate_path

__all__ = ["PathCache"]


@dataclass(frozen=True)
class _Entry:
    path: ValidatedPath
    not_before: dt.datetime
    not_after: dt.datetime


class PathCache:
    """Validated paths for one trust store (thread-safe, bounded)."""

    def __init__(self, trust: TrustStore, *, size: int = 4096) -> None:
        self.trust = trust
        self.size = size
        self._entries: collections.OrderedDict[bytes, _Entry] = collections.OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _key(leaf_der: bytes, ca_ders: Sequence[bytes], role: CertificateRole,
             production_only: bool) -> bytes:
        h = hashlib.sha256(role.value.encode() + (b"P" if production_only else b"T"))
        for der in (leaf_der, *ca_ders):
            h.update(len(der).to_bytes(4, "big") + der)
        return h.digest()

    def validate(self, leaf: x509.Certificate, leaf_der: bytes,
                 cas: Sequence[x509.Certificate], ca_ders: Sequence[bytes], *,
                 role: CertificateRole, at: dt.datetime,
                 production_only: bool) -> ValidatedPath:
        """:func:`validate_path` of ``leaf`` at ``at``, from the cache when possible."""
        key = self._key(leaf_der, ca_ders, role, production_only)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is not None:
            if entry.not_before <= at <= entry.not_after:
                self.hits += 1
                return entry.path
            # Outside the window: validate afresh, so the error is the validator's own.
        self.misses += 1
        options = ValidationOptions(role=role, at=at, production_only=production_only)
        path = validate_path(leaf, self.trust, intermediates=cas, options=options)
        try:
            not_before = max(c.not_valid_before_utc for c in path.certificates)
            not_after = min(c.not_valid_after_utc for c in path.certificates)
        except ValueError as exc:  # pragma: no cover - validate_path parsed them already
            raise VerificationError(Reason.MALFORMED_CERTIFICATE, str(exc)) from exc
        with self._lock:
            self._entries[key] = _Entry(path, not_before, not_after)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return path
