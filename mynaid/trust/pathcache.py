"""One bounded cache of validated certificate paths, shared by every verifier.

Where a verification spends its time (benchmarks/bench_service.py, bench_sign.py): two
RSA-2048 verifications cost about 0.03 ms each, path validation several times that. The
result of path validation depends only on the certificates (their DER, hence their SHA-256
fingerprints), the trust store's anchors and pins, the role and policy options - and on the
time, which is re-checked on every hit against the validity windows of the path's
certificates. So an LRU keyed by those makes a repeat validation one dictionary lookup.
Only successes are cached (a failure is always re-validated, so its error is the
validator's own); revocation is never cached here.

:func:`mynaid.trust.path.validate_path` uses the process-wide :data:`DEFAULT` cache, keyed
by fingerprints; the relying-party service keeps one :class:`PathCache` per trust store and
keys it by the DER bytes as received (:meth:`PathCache.validate`), so a hit needs no parsing.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import hashlib
import threading
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

from cryptography import x509

from mynaid.trust.errors import Reason, VerificationError

if TYPE_CHECKING:
    from mynaid.trust.anchors import TrustStore
    from mynaid.trust.path import CertificateRole, ValidatedPath

__all__ = ["DEFAULT", "PathCache"]


@dataclasses.dataclass(frozen=True)
class _Entry:
    path: ValidatedPath
    not_before: dt.datetime
    not_after: dt.datetime


class PathCache:
    """Validated paths (thread-safe, bounded LRU). ``trust`` is the store
    :meth:`validate` validates against (the process-wide cache has none: its keys name the
    store's contents)."""

    def __init__(self, trust: TrustStore | None = None, *, size: int = 4096) -> None:
        self.trust = trust
        self.size = size
        self._entries: collections.OrderedDict[Hashable, _Entry] = collections.OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, at: dt.datetime) -> ValidatedPath | None:
        """The path cached under ``key`` if every certificate of it is valid at ``at``,
        re-stamped with ``at``; None otherwise."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None or not entry.not_before <= at <= entry.not_after:
            # Outside the window: the caller validates afresh, so the error is its own.
            self.misses += 1
            return None
        self.hits += 1
        return dataclasses.replace(entry.path, validated_at=at)

    def put(self, key: Hashable, path: ValidatedPath) -> None:
        """Remember a path that passed validation."""
        try:
            not_before = max(c.not_valid_before_utc for c in path.certificates)
            not_after = min(c.not_valid_after_utc for c in path.certificates)
        except ValueError as exc:  # pragma: no cover - validate_path parsed them already
            raise VerificationError(Reason.MALFORMED_CERTIFICATE, str(exc)) from exc
        with self._lock:
            self._entries[key] = _Entry(path, not_before, not_after)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every path."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

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
        """:func:`~mynaid.trust.path.validate_path` of ``leaf`` against :attr:`trust` at
        ``at``, from this cache when possible (keyed by the DER bytes as received)."""
        from mynaid.trust.path import ValidationOptions, validate_path

        if self.trust is None:
            raise ValueError("this PathCache has no trust store")
        key = self._key(leaf_der, ca_ders, role, production_only)
        hit = self.get(key, at)
        if hit is not None:
            return hit
        options = ValidationOptions(role=role, at=at, production_only=production_only)
        path = validate_path(leaf, self.trust, intermediates=cas, options=options, cache=None)
        self.put(key, path)
        return path


#: The process-wide cache :func:`~mynaid.trust.path.validate_path` uses by default.
DEFAULT = PathCache(size=1024)
