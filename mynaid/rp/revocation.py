"""Revocation behind one interface: CRL files, OCSP, a certified platform operator.

A :class:`RevocationSource` answers "what is the status of this certificate, issued by this
CA, at this time" with a :class:`mynaid.trust.revocation.RevocationResult`. Three sources:

* :class:`CrlFiles`: CRLs on disk (:class:`mynaid.trust.revocation.CrlSource`);
* :class:`Ocsp`: an OCSP responder (:class:`mynaid.trust.revocation.OcspChecker`);
* :class:`PlatformOperator`: the HTTP JSON API of a certified platform operator
  (プラットフォーム事業者), for relying parties that are not approved to receive J-LIS
  revocation information themselves. The contract is below and in README.md.

:class:`RevocationChain` asks its sources in order: the first definitive answer (good or
revoked) wins, so that an OCSP responder that is down falls back to the CRLs; with none,
the first failure stands.

Platform operator contract (version 1)
--------------------------------------

``POST {base_url}/v1/certificate-status`` with ``Content-Type: application/json`` and, when
configured, ``Authorization: Bearer {token}``; TLS (with the operator's own client
authentication) is the transport's business. Request::

    {"certificate": "<base64 DER>", "issuer_certificate": "<base64 DER>",
     "at": "<ISO 8601 time of interest>"}

Answer (HTTP 200)::

    {"status": "good" | "revoked" | "unknown",
     "produced_at": "<ISO 8601>",            # when the operator established the status
     "next_update": "<ISO 8601>" | null,
     "revoked_at": "<ISO 8601>" | null, "revocation_reason": "<RFC 5280 name>" | null}

Any other HTTP status, a body that is not this object, or a ``produced_at`` older than
``max_age`` is "no usable answer" (indeterminate), never "good".
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mynaid.trust.errors import Reason, VerificationError
from mynaid.trust.revocation import (
    CrlSource,
    OcspChecker,
    RevocationResult,
    RevocationStatus,
)

__all__ = ["CrlFiles", "Ocsp", "PlatformOperator", "RevocationChain", "RevocationSource"]


class RevocationSource(Protocol):
    """Anything that can tell a certificate's status."""

    name: str

    def check(self, cert: x509.Certificate, issuer: x509.Certificate,
              at: dt.datetime) -> RevocationResult:
        """The status of ``cert`` at ``at``; never raises for network or format trouble
        (that is an indeterminate result with its reason)."""


@dataclass
class CrlFiles:
    """CRL files and folders (JPKI names CRLs by X.500 distribution point, not URL)."""

    crls: CrlSource
    name: str = "crl"

    def check(self, cert: x509.Certificate, issuer: x509.Certificate,
              at: dt.datetime) -> RevocationResult:
        return self.crls.check(cert, issuer, at)


@dataclass
class Ocsp:
    """An OCSP responder, with response validation (RFC 6960)."""

    checker: OcspChecker
    name: str = "ocsp"

    def check(self, cert: x509.Certificate, issuer: x509.Certificate,
              at: dt.datetime) -> RevocationResult:
        return self.checker.check(cert, issuer, at)


#: POST a JSON body, return (HTTP status, body). Tests pass a fake operator here.
JsonPoster = Callable[[str, bytes, dict[str, str], float], tuple[int, bytes]]


def _urllib_post(url: str, body: bytes, headers: dict[str, str],
                 timeout: float) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST",  # noqa: S310
                                     headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return int(response.status), response.read(1 << 16)
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code), exc.read(1 << 16)


def _b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


def _time(value: object) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError("not a time")
    t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


@dataclass
class PlatformOperator:
    """A certified platform operator's status API (the contract in the module docstring)."""

    base_url: str
    token: str | None = field(default=None, repr=False)
    timeout: float = 5.0
    max_age: dt.timedelta = dt.timedelta(hours=25)
    post: JsonPoster = field(default=_urllib_post, repr=False)
    name: str = "platform"

    def __post_init__(self) -> None:
        if urllib.parse.urlsplit(self.base_url).scheme not in ("http", "https"):
            raise ValueError("the platform operator URL must be http(s)")

    def _fail(self, reason: Reason, message: str) -> RevocationResult:
        return RevocationResult(RevocationStatus.INDETERMINATE, self.name, message, reason)

    def check(self, cert: x509.Certificate, issuer: x509.Certificate,
              at: dt.datetime) -> RevocationResult:
        body = json.dumps({"certificate": _b64(cert), "issuer_certificate": _b64(issuer),
                           "at": at.isoformat()}).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        url = self.base_url.rstrip("/") + "/v1/certificate-status"
        try:
            status, raw = self.post(url, body, headers, self.timeout)
        except (OSError, ValueError) as exc:  # URLError and timeouts are OSErrors
            return self._fail(Reason.REVOCATION_UNREACHABLE,
                              f"the platform operator did not answer: {type(exc).__name__}")
        if status != 200:
            return self._fail(Reason.REVOCATION_UNREACHABLE,
                              f"the platform operator answered HTTP {status}")
        try:
            answer = json.loads(raw)
            if not isinstance(answer, dict):
                raise ValueError("not an object")
            state = answer.get("status")
            produced = _time(answer.get("produced_at"))
            next_update = _time(answer.get("next_update"))
            revoked_at = _time(answer.get("revoked_at"))
            why = answer.get("revocation_reason")
            if why is not None and (not isinstance(why, str) or len(why) > 64):
                raise ValueError("bad revocation_reason")
        except (ValueError, TypeError, RecursionError):
            return self._fail(Reason.MALFORMED, "the platform operator's answer does not parse")
        if produced is None:
            return self._fail(Reason.MALFORMED, "the answer has no produced_at")
        now = dt.datetime.now(dt.timezone.utc)
        if now - produced > self.max_age or (next_update is not None and next_update < now):
            return RevocationResult(RevocationStatus.INDETERMINATE, self.name,
                                    "the platform operator's answer is out of date",
                                    Reason.REVOCATION_STALE, produced, next_update)
        if state == "good":
            return RevocationResult(RevocationStatus.GOOD, self.name, "good", None,
                                    produced, next_update)
        if state == "revoked":
            if revoked_at is not None and revoked_at > at:
                return RevocationResult(RevocationStatus.GOOD, self.name,
                                        "revoked only after the time of interest", None,
                                        produced, next_update)
            return RevocationResult(RevocationStatus.REVOKED, self.name, "revoked",
                                    Reason.REVOKED, produced, next_update, revoked_at, why)
        if state == "unknown":
            return RevocationResult(RevocationStatus.UNKNOWN, self.name,
                                    "the platform operator does not know the certificate",
                                    Reason.REVOCATION_UNKNOWN, produced, next_update)
        return self._fail(Reason.MALFORMED, "the answer's status is not good/revoked/unknown")


@dataclass
class RevocationChain:
    """Sources asked in order; the first good or revoked answer is final."""

    sources: Sequence[RevocationSource]

    def check(self, cert: x509.Certificate, issuer: x509.Certificate,
              at: dt.datetime) -> RevocationResult:
        failures: list[RevocationResult] = []
        for source in self.sources:
            result = source.check(cert, issuer, at)
            if result.status in (RevocationStatus.GOOD, RevocationStatus.REVOKED):
                return result
            failures.append(result)
        if failures:
            # An "unknown" from a responder that was asked is more telling than "down".
            for result in failures:
                if result.status is RevocationStatus.UNKNOWN:
                    return result
            return failures[0]
        return RevocationResult(RevocationStatus.INDETERMINATE, "none",
                                "no revocation source is configured",
                                Reason.REVOCATION_UNAVAILABLE)

    def enforce(self, chain: Iterable[x509.Certificate],
                at: dt.datetime) -> list[RevocationResult]:
        """Check every certificate of a validated chain but the anchor (end entity first);
        :class:`VerificationError` at the first that is not good."""
        results: list[RevocationResult] = []
        for index, (cert, issuer) in enumerate(itertools.pairwise(list(chain))):
            result = self.check(cert, issuer, at)
            results.append(result)
            if not result.good:
                assert result.reason is not None
                raise VerificationError(result.reason, f"certificate {index} "
                                        f"({result.source}): {result.message}",
                                        subject=f"certificate {index}")
        return results
