"""Reader and card diagnostics: what support staff and kiosk software need to know.

:func:`diagnose` checks the PC/SC service, the readers, the card's ATR and protocol, which
applications answer SELECT, the token type, the freely readable certificates' validity,
the PIN counters, extended-length support and the APDU round-trip latency, and returns
a frozen :class:`DiagReport`. It prints nothing and raises nothing for a failing reader or
card: every error is collected into the report (:attr:`DiagReport.errors`).

It never consumes a PIN try and never needs a secret: counters are read by the empty
VERIFY query, and the signature certificate (which needs the signature password) is
reported from the availability EF, never read.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from cryptography import x509

from mynaid.atr import Atr, parse_atr
from mynaid.cardspec import Aid, CertificateSlot, JpkiFile
from mynaid.errors import (
    CardRemovedError,
    DependencyMissingError,
    MynaidError,
    NoCardError,
    NoReaderError,
    NoServiceError,
    ParseError,
    SecurityStatusNotSatisfiedError,
)
from mynaid.iso7816 import status as st
from mynaid.iso7816.apdu import CommandApdu
from mynaid.models import CertificateAvailability, PinState, TokenInfo, validity_status
from mynaid.protocol import CardProtocol, ExtendedLength
from mynaid.transport.base import ReaderInfo, Transport

if TYPE_CHECKING:
    from mynaid.emulator.card import EmulatedCard

#: Certificates expiring within this many days are flagged (time to book a renewal).
EXPIRY_WARNING_DAYS = 90
DEFAULT_ROUNDS = 50
#: Bound on a certificate read (real ones are 1.3–2 KB), as in the JPKI session.
_MAX_CERTIFICATE = 8192
#: Free EFs tried, in order, for the extended-length probe: auth certificate, its CA.
_PROBE_FILES = (JpkiFile.AUTH_CERT, JpkiFile.AUTH_CA_CERT)
#: Errors after which talking to the card again is pointless.
_FATAL = (CardRemovedError, NoCardError, NoServiceError)

T = TypeVar("T")


# --- the report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiagIssue:
    """An error met during diagnosis: the stage, the error's class name, its message."""

    stage: str
    error: str
    message: str
    sw: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "error": self.error, "message": self.message,
                "sw": None if self.sw is None else f"{self.sw:04X}"}


@dataclass(frozen=True)
class ServiceStatus:
    """The PC/SC service (or the in-process emulator standing in for it)."""

    kind: str  # "pcsc" or "emulator"
    available: bool
    detail: str


@dataclass(frozen=True)
class ApplicationProbe:
    """One application's answer to SELECT by AID."""

    name: str
    aid: bytes
    sw: int

    @property
    def present(self) -> bool:
        return self.sw == st.SW_OK


@dataclass(frozen=True)
class CertificateCheck:
    """A certificate's presence and validity.

    ``status`` is one of ``valid``, ``expiring`` (under the warning threshold),
    ``expired``, ``not-yet-valid``, ``absent``, ``not-read`` (the signature certificate,
    which needs the password), ``protected`` (needs a PIN on this token) or ``error``.
    """

    slot: str
    fid: int
    status: str
    subject: str | None = None
    issuer: str | None = None
    serial: str | None = None
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None
    days_to_expiry: int | None = None
    note: str = ""


@dataclass(frozen=True)
class ExtendedLengthCheck:
    """Whether one extended-length READ BINARY worked (None: it could not be tried)."""

    supported: bool | None
    detail: str


@dataclass(frozen=True)
class LatencyStats:
    """Round-trip times of SELECT commands, in milliseconds (nearest-rank percentiles)."""

    rounds: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    min_ms: float


@dataclass(frozen=True)
class CardReport:
    """What was learnt from the card in the chosen reader."""

    reader: str
    atr: bytes
    atr_info: Atr | None
    atr_error: str | None
    protocol: str
    applications: tuple[ApplicationProbe, ...] = ()
    token: TokenInfo | None = None
    availability: CertificateAvailability | None = None
    certificates: tuple[CertificateCheck, ...] = ()
    pins: tuple[PinState, ...] = ()
    extended_length: ExtendedLengthCheck | None = None
    latency: LatencyStats | None = None
    #: APDUs the diagnosis sent (all of them non-consuming).
    apdus: int = 0


@dataclass(frozen=True)
class DiagReport:
    """The whole diagnosis. ``ok`` when a card was examined without any error."""

    time: dt.datetime
    service: ServiceStatus
    readers: tuple[ReaderInfo, ...]
    reader: str | None
    card: CardReport | None
    errors: tuple[DiagIssue, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.card is not None and not self.errors

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (``mynaid diag --json``)."""
        return {
            "time": self.time.isoformat(),
            "ok": self.ok,
            "service": {"kind": self.service.kind, "available": self.service.available,
                        "detail": self.service.detail},
            "readers": [{"index": r.index, "name": r.name, "card_present": r.card_present,
                         "atr": _hex(r.atr)} for r in self.readers],
            "reader": self.reader,
            "card": _card_dict(self.card) if self.card else None,
            "errors": [issue.to_dict() for issue in self.errors],
            "warnings": list(self.warnings),
        }


def _hex(data: bytes | None) -> str | None:
    return data.hex(" ").upper() if data else None


def _time(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _card_dict(card: CardReport) -> dict[str, Any]:
    return {
        "reader": card.reader,
        "atr": _hex(card.atr),
        "atr_decoded": card.atr_info.to_dict() if card.atr_info else None,
        "atr_error": card.atr_error,
        "protocol": card.protocol,
        "applications": [{"name": a.name, "aid": a.aid.hex().upper(), "present": a.present,
                          "sw": f"{a.sw:04X}"} for a in card.applications],
        "token": ({"label": card.token.label, "kind": card.token.kind.value}
                  if card.token else None),
        "certificate_availability": (
            {"signature": card.availability.signature,
             "authentication": card.availability.authentication}
            if card.availability else None),
        "certificates": [
            {"slot": c.slot, "fid": f"{c.fid:04X}", "status": c.status, "subject": c.subject,
             "issuer": c.issuer, "serial": c.serial, "not_before": _time(c.not_before),
             "not_after": _time(c.not_after), "days_to_expiry": c.days_to_expiry,
             "note": c.note or None} for c in card.certificates],
        "pins": [{"name": p.name, "label": p.label, "present": p.present,
                  "tries_left": p.tries_left, "max_tries": p.max_tries, "blocked": p.blocked,
                  "verified": p.verified, "locked_by_design": p.locked_by_design,
                  "no_retry_limit": p.no_retry_limit} for p in card.pins],
        "extended_length": (
            {"supported": card.extended_length.supported,
             "detail": card.extended_length.detail} if card.extended_length else None),
        "latency": (
            {"rounds": card.latency.rounds, "p50_ms": card.latency.p50_ms,
             "p90_ms": card.latency.p90_ms, "p99_ms": card.latency.p99_ms,
             "max_ms": card.latency.max_ms, "min_ms": card.latency.min_ms}
            if card.latency else None),
        "apdus": card.apdus,
    }


# --- pure helpers ------------------------------------------------------------------------------


def percentile(sorted_samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of non-empty, ascending ``sorted_samples`` (0 < pct <= 100)."""
    if not sorted_samples:
        raise ValueError("no samples")
    rank = max(1, math.ceil(pct / 100 * len(sorted_samples)))
    return sorted_samples[min(rank, len(sorted_samples)) - 1]


def latency_stats(samples_ms: Sequence[float]) -> LatencyStats:
    """Percentiles of round-trip times (ms)."""
    ordered = sorted(samples_ms)

    def ms(value: float) -> float:
        return round(value, 3)  # microsecond resolution is all a round trip can claim

    return LatencyStats(len(ordered), ms(percentile(ordered, 50)), ms(percentile(ordered, 90)),
                        ms(percentile(ordered, 99)), ms(ordered[-1]), ms(ordered[0]))


def certificate_check(slot: CertificateSlot, cert: x509.Certificate, now: dt.datetime,
                      warn_days: int = EXPIRY_WARNING_DAYS) -> CertificateCheck:
    """Validity of a certificate at ``now``, with whole days to expiry (floored)."""
    not_before = cert.not_valid_before_utc
    not_after = cert.not_valid_after_utc
    status, days = validity_status(not_before, not_after, now, warn_days)
    return CertificateCheck(slot.value, slot.fid, status, cert.subject.rfc4514_string(),
                            cert.issuer.rfc4514_string(), format(cert.serial_number, "X"),
                            not_before, not_after, days)


# --- running the checks ---------------------------------------------------------------------


@dataclass
class _Collector:
    """Runs each check, turning mynaid errors into report entries instead of raising."""

    errors: list[DiagIssue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dead: bool = False

    def record(self, stage: str, exc: MynaidError) -> None:
        self.errors.append(DiagIssue(stage, type(exc).__name__, str(exc), exc.sw))
        if isinstance(exc, _FATAL):
            self.dead = True

    def run(self, stage: str, check: Callable[[], T]) -> T | None:
        if self.dead:
            return None
        try:
            return check()
        except MynaidError as exc:
            self.record(stage, exc)
            return None


def _probe_applications(protocol: CardProtocol) -> tuple[ApplicationProbe, ...]:
    with protocol.transport.transaction():
        return tuple(ApplicationProbe(aid.name, aid.value,
                                      protocol.select_application(aid.value).sw)
                     for aid in Aid)


def _read_certificates(protocol: CardProtocol, availability: CertificateAvailability | None,
                       now: dt.datetime, warn_days: int, out: _Collector
                       ) -> tuple[CertificateCheck, ...]:
    from mynaid.sessions.jpki import JpkiSession

    session = JpkiSession(protocol)
    checks: list[CertificateCheck] = []
    for slot in CertificateSlot:
        if slot.needs_sign_password:
            present = availability.signature if availability else None
            status = "absent" if present is False else "not-read"
            checks.append(CertificateCheck(
                slot.value, slot.fid, status,
                note="needs the signature password; diag never reads it"
                if present is not False
                else "no signature certificate (holder under 15, or a PIN-less card)"))
            continue
        if slot is CertificateSlot.AUTH and availability and not availability.authentication:
            checks.append(CertificateCheck(slot.value, slot.fid, "absent"))
            continue
        if out.dead:
            break
        try:
            cert = session.read_certificate(slot)
        except SecurityStatusNotSatisfiedError:
            # Smartphone tokens protect the auth certificate with the auth PIN (§3).
            checks.append(CertificateCheck(slot.value, slot.fid, "protected",
                                           note="needs a PIN on this token; not read"))
            continue
        except MynaidError as exc:
            out.record(f"certificate {slot.value}", exc)
            checks.append(CertificateCheck(slot.value, slot.fid, "error", note=str(exc)))
            continue
        checks.append(certificate_check(slot, cert, now, warn_days))
    return tuple(checks)


def _probe_extended(transport: Transport) -> tuple[ExtendedLengthCheck, int]:
    """One extended READ BINARY of a free EF on a fresh protocol object (AUTO mode)."""
    from mynaid.sessions.jpki import JpkiSession

    probe = CardProtocol(transport, ExtendedLength.AUTO)
    session = JpkiSession(probe)
    with session.transaction():
        for fid in _PROBE_FILES:
            if probe.select_file(fid).sw != st.SW_OK:
                continue
            data, sw = probe.read_tlv_file(_MAX_CERTIFICATE)
            if probe.extended_supported is True:
                return ExtendedLengthCheck(
                    True, f"one extended READ BINARY returned EF {fid:04X} "
                          f"({len(data)} bytes)"), probe.stats.commands
            if probe.extended_supported is False:
                return ExtendedLengthCheck(
                    False, "an extended READ BINARY was refused or answered short (by the "
                           "card, reader or driver): files are read in 256-byte chunks"
                ), probe.stats.commands
            if sw == st.SW_OK:
                break
    return ExtendedLengthCheck(None, "not determined: no freely readable EF answered"), \
        probe.stats.commands


def _measure_latency(protocol: CardProtocol, aid: bytes, rounds: int,
                     clock: Callable[[], int]) -> LatencyStats:
    command = CommandApdu(0x00, 0xA4, 0x04, 0x0C, aid)
    samples: list[float] = []
    # One transaction: other clients' APDUs would otherwise count as this card's latency.
    with protocol.transport.transaction():
        for _ in range(rounds):
            start = clock()
            protocol.send(command)
            samples.append((clock() - start) / 1e6)
    return latency_stats(samples)


def _warn_about(card: CardReport, warn_days: int, out: _Collector) -> None:
    if card.atr_error:
        out.warnings.append(f"ATR not decodable: {card.atr_error}")
    elif card.atr_info:
        out.warnings.extend(f"ATR: {problem}" for problem in card.atr_info.problems)
    if card.applications and not any(a.present and a.aid == Aid.JPKI.value
                                     for a in card.applications):
        out.warnings.append("no JPKI application answered SELECT: not a My Number Card, or "
                            "the card is not read correctly")
    for cert in card.certificates:
        if cert.status == "expiring":
            out.warnings.append(f"{cert.slot} certificate expires in {cert.days_to_expiry} "
                                f"days (under {warn_days}): renewal is due")
        elif cert.status == "expired":
            out.warnings.append(f"{cert.slot} certificate has expired")
        elif cert.status == "not-yet-valid":
            out.warnings.append(f"{cert.slot} certificate is not valid yet (check the clock)")
    from mynaid.pins import LOCKED_BY_DESIGN_ADVICE, reset_advice

    if any(pin.locked_by_design for pin in card.pins):
        # The PIN-less face-authentication card: nothing to reset (card-reference §9).
        out.warnings.append(LOCKED_BY_DESIGN_ADVICE)
    for pin in card.pins:
        if not pin.present or pin.tries_left is None or pin.locked_by_design:
            continue
        if pin.blocked:
            out.warnings.append(f"{pin.name} is BLOCKED ({reset_advice(pin.name)})")
        elif pin.tries_left < pin.max_tries:
            out.warnings.append(f"{pin.name}: {pin.tries_left} of {pin.max_tries} tries left "
                                "(earlier wrong entries; a correct one resets it)")


def diagnose_card(transport: Transport, *, rounds: int = DEFAULT_ROUNDS,
                  now: dt.datetime | None = None, warn_days: int = EXPIRY_WARNING_DAYS,
                  extended: ExtendedLength = ExtendedLength.AUTO,
                  clock: Callable[[], int] = time.perf_counter_ns,
                  ) -> tuple[CardReport, list[DiagIssue], list[str]]:
    """Examine the card behind an open ``transport``: the report, errors and warnings.

    For callers that hold their own connection (kiosk software); :func:`diagnose`
    opens one. The transport is left open.
    """
    from mynaid.pins import pin_status
    from mynaid.sessions.jpki import JpkiSession

    now = now or dt.datetime.now(dt.timezone.utc)
    out = _Collector()
    protocol = CardProtocol(transport, extended)
    atr = transport.atr
    atr_info: Atr | None = None
    atr_error: str | None = None
    try:
        atr_info = parse_atr(atr)
    except ParseError as exc:
        atr_error = str(exc)
    applications = out.run("SELECT applications", lambda: _probe_applications(protocol)) or ()
    jpki = any(a.present and a.aid == Aid.JPKI.value for a in applications)
    token = availability = None
    certificates: tuple[CertificateCheck, ...] = ()
    extended_check: ExtendedLengthCheck | None = None
    probe_apdus = 0
    if jpki:
        session = JpkiSession(protocol)
        token = out.run("token info (EF 0006)", session.token_info)
        availability = out.run("certificate availability (EF 0008)",
                               session.certificate_availability)
        if not out.dead:
            certificates = _read_certificates(protocol, availability, now, warn_days, out)
        probed = out.run("extended-length probe", lambda: _probe_extended(transport))
        if probed:
            extended_check, probe_apdus = probed
    else:
        extended_check = ExtendedLengthCheck(None, "not tested: no JPKI application")
    pins = out.run("PIN counters", lambda: tuple(pin_status(protocol))) or ()
    latency = None
    if rounds > 0:
        latency = out.run("latency", lambda: _measure_latency(protocol, Aid.JPKI.value,
                                                              rounds, clock))
    card = CardReport(transport.reader_name, atr, atr_info, atr_error,
                      transport.protocol_name, applications, token, availability,
                      certificates, pins, extended_check, latency,
                      protocol.stats.commands + probe_apdus)
    _warn_about(card, warn_days, out)
    return card, out.errors, out.warnings


def diagnose(reader: str | int | None = None, *, card: EmulatedCard | None = None,
             rounds: int = DEFAULT_ROUNDS, now: dt.datetime | None = None,
             warn_days: int = EXPIRY_WARNING_DAYS,
             extended: ExtendedLength = ExtendedLength.AUTO,
             clock: Callable[[], int] = time.perf_counter_ns) -> DiagReport:
    """Diagnose the PC/SC service, the readers and the card in ``reader``.

    ``reader`` is an index or a name substring (None: the first reader with a card);
    ``card`` diagnoses an in-process emulated card instead of PC/SC. Never raises for a
    missing service, reader or card, nor for a card error: see :attr:`DiagReport.errors`.

    >>> from mynaid.connect import emulated_card
    >>> report = diagnose(card=emulated_card(), rounds=5)
    >>> report.ok, report.card.token.label
    (True, 'JPKIAPICCTOKEN2')
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    if card is not None:
        from mynaid.transport.emulated import EmulatorTransport

        emulated = EmulatorTransport(card)
        try:
            found, errors, warnings = diagnose_card(emulated, rounds=rounds, now=now,
                                                    warn_days=warn_days, extended=extended,
                                                    clock=clock)
        finally:
            emulated.close()
        return DiagReport(now, ServiceStatus("emulator", True, "in-process emulated card"),
                          (ReaderInfo(0, emulated.reader_name, True, card.atr),),
                          emulated.reader_name, found, tuple(errors), tuple(warnings))
    return _diagnose_pcsc(reader, rounds, now, warn_days, extended, clock)


def _diagnose_pcsc(selector: str | int | None, rounds: int, now: dt.datetime, warn_days: int,
                   extended: ExtendedLength, clock: Callable[[], int]) -> DiagReport:
    out = _Collector()
    try:
        from mynaid.transport import pcsc
    except DependencyMissingError as exc:
        out.record("PC/SC service", exc)
        return DiagReport(now, ServiceStatus("pcsc", False, str(exc)), (), None, None,
                          tuple(out.errors))
    try:
        readers = tuple(pcsc.list_readers())
    except MynaidError as exc:
        out.record("PC/SC service", exc)
        return DiagReport(now, ServiceStatus("pcsc", False, str(exc)), (), None, None,
                          tuple(out.errors))
    service = ServiceStatus("pcsc", True, "the PC/SC service answers")
    try:
        chosen = pcsc.select_reader(list(readers), selector)
    except (NoReaderError, NoCardError) as exc:
        out.record("choosing a reader", exc)
        return DiagReport(now, service, readers, None, None, tuple(out.errors))
    if not chosen.card_present:
        out.record("choosing a reader", NoCardError(f"no card in {chosen.name!r}"))
        return DiagReport(now, service, readers, chosen.name, None, tuple(out.errors))
    try:
        transport = pcsc.PcscTransport(chosen.name)
    except MynaidError as exc:
        out.record(f"connecting to {chosen.name!r}", exc)
        return DiagReport(now, service, readers, chosen.name, None, tuple(out.errors))
    try:
        found, errors, warnings = diagnose_card(transport, rounds=rounds, now=now,
                                                warn_days=warn_days, extended=extended,
                                                clock=clock)
    finally:
        transport.close()
    return DiagReport(now, service, readers, chosen.name, found, tuple(errors),
                      tuple(warnings))
