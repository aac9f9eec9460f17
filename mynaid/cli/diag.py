"""``mynaid diag`` (reader and card report) and ``mynaid watch`` (card and reader events)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from mynaid.cli.exitcodes import ExitCode
from mynaid.cli.main import Settings, emit, pass_settings
from mynaid.errors import MynaidError, NoCardError

if TYPE_CHECKING:
    from mynaid.atr import Atr
    from mynaid.diag import CardReport, DiagReport
    from mynaid.events import ReaderEvent, Snapshot

#: Errors that mean "no card to examine": exit 5, as for every other command.
_NO_CARD_ERRORS = frozenset({"NoServiceError", "NoReaderError", "NoCardError", "CardRemovedError"})


def diag_exit_code(report: DiagReport) -> ExitCode:
    """0 when a card was examined without error; 5 no reader or card; 1 any other error.

    Warnings (an expiring certificate, a lowered PIN counter) do not change the code.
    """
    if report.ok:
        return ExitCode.OK
    if any(issue.error in _NO_CARD_ERRORS for issue in report.errors):
        return ExitCode.NO_CARD
    return ExitCode.ERROR


def _raise_for_report(report: DiagReport) -> None:
    """Signal a failed diagnosis through the CLI's one error-to-exit-code mapping."""
    code = diag_exit_code(report)
    if code is ExitCode.OK:
        return
    count = len(report.errors)
    summary = f"diag: {count} error{'s' if count != 1 else ''} (see the report above)"
    if code is ExitCode.NO_CARD:
        raise NoCardError(f"{summary}; no card could be examined")
    raise MynaidError(summary)


# --- text rendering (pure) -------------------------------------------------------------------


def _atr_lines(atr: Atr) -> list[str]:
    present = [f"T{k}1" for bit, k in ((0x10, "A"), (0x20, "B"), (0x40, "C"), (0x80, "D"))
               if atr.t0 & bit]
    lines = [
        f"  TS   {atr.ts:02X}  {atr.convention} convention",
        f"  T0   {atr.t0:02X}  {' '.join(present) or 'no interface bytes'} present; "
        f"{atr.t0 & 0x0F} historical bytes",
    ]
    lines += [f"  {b.name:<4} {b.value:02X}  {b.meaning}" for b in atr.interface_bytes]
    if atr.tck is not None:
        lines.append(f"  TCK  {atr.tck:02X}  checksum {'correct' if atr.tck_ok else 'WRONG'}")
    fi, fmax, di = atr.fi_di
    lines.append(f"  protocols offered: {', '.join(f'T={t}' for t in atr.protocols)}; "
                 f"Fi={fi if fi else 'RFU'}, Di={di if di else 'RFU'}"
                 + (f", fmax {fmax:g} MHz" if fmax else ""))
    if atr.global_t15:
        lines.append("  global bytes (T=15): "
                     + "; ".join(f"{b.name} {b.meaning}" for b in atr.global_t15))
    if atr.historical:
        lines.append(f"  historical bytes: {atr.historical.hex(' ').upper()}")
        lines += [f"    {o.name} ({o.tag:X}): {o.meaning}" for o in atr.historical_objects]
    else:
        lines.append("  historical bytes: none")
    if atr.trailing:
        lines.append(f"  after the ATR: {atr.trailing.hex(' ').upper()}")
    return lines


def _card_lines(card: CardReport) -> list[str]:
    from mynaid.pins import state_text

    lines = [f"ATR              {card.atr.hex(' ').upper()}"]
    if card.atr_info is not None:
        lines.append("                 " + (card.atr_info.known_name
                                           or "not a known My Number Card ATR (cards are "
                                              "identified by SELECT, not by ATR)"))
        lines += _atr_lines(card.atr_info)
    else:
        lines.append(f"                 not decodable: {card.atr_error}")
    lines.append(f"Protocol in use  {card.protocol}")
    if card.applications:
        lines.append("Applications     " + ", ".join(
            f"{a.name} {'yes' if a.present else f'no ({a.sw:04X})'}"
            for a in card.applications))
    if card.token is not None:
        lines.append(f"Token            {card.token.label} ({card.token.kind.value})")
    if card.certificates:
        lines.append("Certificates")
        for c in card.certificates:
            if c.not_after is not None:
                detail = (f"until {c.not_after.date().isoformat()} "
                          f"({c.days_to_expiry} days)  {c.subject}")
            else:
                detail = c.note
            lines.append(f"  {c.slot:<8} {c.status:<13} {detail}")
    if card.pins:
        lines.append("PIN tries (by the query that uses no try)")
        for p in card.pins:
            counted = (p.present and not p.verified and not p.blocked
                       and not p.no_retry_limit and p.tries_left is not None)
            lines.append(f"  {p.name:<14} "
                         f"{f'{p.tries_left}/{p.max_tries}' if counted else state_text(p)}")
    if card.extended_length is not None:
        supported = {True: "supported", False: "not supported", None: "unknown"}[
            card.extended_length.supported]
        lines.append(f"Extended length  {supported}: {card.extended_length.detail}")
    if card.latency is not None:
        lat = card.latency
        lines.append(f"Latency          {lat.rounds} SELECTs: p50 {lat.p50_ms:.3f} ms, "
                     f"p90 {lat.p90_ms:.3f} ms, p99 {lat.p99_ms:.3f} ms, "
                     f"max {lat.max_ms:.3f} ms")
    lines.append(f"APDUs sent       {card.apdus} (none uses a PIN try)")
    return lines


def render_report(report: DiagReport) -> str:
    """The text form of a report, for people."""
    service = report.service
    state = "available" if service.available else "NOT AVAILABLE"
    lines = [f"Service          {service.kind}: {state} ({service.detail})",
             f"Readers          {len(report.readers)}"]
    for r in report.readers:
        card = f"card {r.atr.hex(' ').upper()}" if r.card_present and r.atr else (
            "card" if r.card_present else "no card")
        lines.append(f"  {r.index}: {r.name}  [{card}]")
    if report.reader:
        lines.append(f"Reader           {report.reader}")
    if report.card is not None:
        lines += _card_lines(report.card)
    if report.errors:
        lines.append("Errors")
        lines += [f"  {e.stage}: {e.error}: {e.message}" for e in report.errors]
    else:
        lines.append("Errors           none")
    if report.warnings:
        lines.append("Warnings")
        lines += [f"  {w}" for w in report.warnings]
    else:
        lines.append("Warnings         none")
    return "\n".join(lines)


def render_watch_item(item: Snapshot | ReaderEvent) -> str:
    """One ``mynaid watch`` item as text (a snapshot takes one line per reader)."""
    from mynaid.atr import KNOWN_ATRS
    from mynaid.events import ReaderEvent

    stamp = item.time.isoformat(timespec="milliseconds")
    if isinstance(item, ReaderEvent):
        text = f"{stamp}  {item.kind.value:<14}  {item.reader}"
        if item.atr:
            text += f"  ATR {item.atr.hex(' ').upper()}"
            name = KNOWN_ATRS.get(item.atr)
            if name:
                text += f"  ({name})"
        return text
    lines = [f"{stamp}  watching {len(item.readers)} reader"
             f"{'' if len(item.readers) == 1 else 's'} (Ctrl-C to stop)"]
    for state in item.readers:
        card = (f"card {state.atr.hex(' ').upper()}" if state.card_present and state.atr
                else "card (mute)" if state.mute else "card" if state.card_present
                else "no card")
        lines.append(f"{stamp}  {'present':<14}  {state.name}  [{card}]")
    return "\n".join(lines)


def report_json(report: DiagReport) -> dict[str, Any]:
    """``diag --json``: the library's report with the shared shapes of docs/json-schema.md
    for applications, certificates and secrets (the same as ``info`` and ``pin status``)."""
    from mynaid.cli import jsonout

    data = report.to_dict()
    card = report.card
    if card is not None and isinstance(data.get("card"), dict):
        data["card"]["applications"] = [jsonout.application_probe(a)
                                        for a in card.applications]
        data["card"]["certificates"] = [jsonout.certificate_check(c)
                                        for c in card.certificates]
        data["card"]["secrets"] = [jsonout.secret_state(p) for p in card.pins]
        data["card"].pop("pins", None)
    # Beside each error's class name, its stable reason code (as in every error object).
    from mynaid import errors as error_classes

    for issue in data.get("errors", []):
        cls = getattr(error_classes, str(issue.get("error")), None)
        issue["reason"] = cls.reason if isinstance(cls, type) and hasattr(cls, "reason") \
            else "error"
    return jsonout.document(data)


# --- commands --------------------------------------------------------------------------------


@click.command("diag")
@click.option("--json", "as_json", is_flag=True, help="JSON output (as the global --json).")
@click.option("--rounds", type=click.IntRange(0, 100000), default=50, show_default=True,
              help="SELECT round trips timed for the latency percentiles (0: skip).")
@click.option("--warn-days", type=click.IntRange(0), default=90, show_default=True,
              help="Warn about certificates expiring within this many days.")
@pass_settings
def diag(settings: Settings, as_json: bool, rounds: int,
         warn_days: int) -> None:
    """Report on the PC/SC service, readers and card: for support staff and kiosks.

    Decodes the ATR, lists the applications that answer, the token type, certificate
    validity, PIN tries, extended-length support and APDU latency, and collects errors
    instead of stopping at the first. Uses no PIN try and asks for no secret. Exit 0
    when a card was examined without error, 5 without a reader or card, 1 otherwise.
    """
    from mynaid.diag import diagnose
    from mynaid.protocol import ExtendedLength

    report = diagnose(settings.reader, card=settings.card(), rounds=rounds,
                      warn_days=warn_days, extended=ExtendedLength(settings.extended))
    settings.json = settings.json or as_json
    emit(settings, report_json(report), render_report(report))
    _raise_for_report(report)


@click.command("watch")
@click.option("--json", "as_json", is_flag=True, help="JSON lines (as the global --json).")
@click.option("--count", type=click.IntRange(1), default=None,
              help="Exit after this many events.")
@click.option("--timeout", type=click.FloatRange(0), default=None,
              help="Exit after this many seconds.")
@pass_settings
def watch(settings: Settings, as_json: bool, count: int | None,
          timeout: float | None) -> None:
    """Print a line per card insertion or removal and reader arrival or removal.

    The first output is the current state of every reader (one JSON line of event
    "snapshot" with --json); then one line per event, with a UTC timestamp, the reader
    and the ATR of an inserted card. Runs until Ctrl-C, --count events or --timeout.
    """
    if settings.emulator:
        raise click.UsageError("watch follows PC/SC readers; the in-process emulator has no "
                               "events (put it in a reader with `mynaid emulator serve`)")
    from mynaid.events import iter_events
    from mynaid.transport.pcsc import ReaderMonitor

    json_lines = as_json or settings.json
    monitor = ReaderMonitor()
    try:
        for item in iter_events(monitor, count=count, timeout=timeout):
            if json_lines:
                from mynaid.cli.jsonout import document

                click.echo(json.dumps(document(item.to_dict()), ensure_ascii=False))
            else:
                click.echo(render_watch_item(item))
    except KeyboardInterrupt:
        pass  # Ctrl-C is the normal way to stop watching
    finally:
        monitor.close()


def register(cli: click.Group) -> None:
    cli.add_command(diag)
    cli.add_command(watch)
