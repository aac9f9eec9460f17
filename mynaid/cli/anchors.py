"""``mynaid trust roots``: the trust anchors the library pins, and which of them are current.

JSON (``--json``): ``{"checked_at": ISO 8601, "jpki_roots": [{"label", "purpose",
"generation", "serial", "valid_from", "valid_to", "sha256", "current"}, ...],
"cv_issuer_keys": [{"issuer_id", "key_id", "application", "hierarchy", "sha256", "source"},
...]}``; dates are ISO 8601 (UTC), fingerprints hex with colons.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from mynaid.cli.main import Settings, emit, pass_settings


def _parse_at(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.now(dt.timezone.utc)
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("expected an ISO 8601 date or time", param_hint="--at") \
            from None
    return at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)


def roots_data(at: dt.datetime) -> dict[str, Any]:
    """What ``mynaid trust roots --json`` prints (also used by tests)."""
    from mynaid.trust.anchors import JLIS_ROOTS
    from mynaid.trust.cvkeys import PINNED_CV_ISSUER_KEYS

    return {
        "checked_at": at.isoformat(),
        "jpki_roots": [{
            "label": r.label, "purpose": r.purpose, "generation": r.generation,
            "serial": r.serial, "valid_from": r.not_before.isoformat(),
            "valid_to": r.not_after.isoformat(), "sha256": r.fingerprint_hex,
            "current": r.current(at),
        } for r in JLIS_ROOTS],
        "cv_issuer_keys": [{
            "issuer_id": k.issuer_id, "key_id": k.key_id.hex().upper(),
            "application": k.application, "hierarchy": k.hierarchy,
            "sha256": k.fingerprint_hex, "source": k.source,
        } for k in PINNED_CV_ISSUER_KEYS],
    }


@click.group("trust")
def trust_group() -> None:
    """The trust anchors: pinned J-LIS roots and CV-certificate issuer keys."""


@trust_group.command("roots")
@click.option("--at", "at_text", metavar="ISO-DATE",
              help="Say which anchors are current at this time instead of now.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@pass_settings
def roots_command(settings: Settings, at_text: str | None, as_json: bool) -> None:
    """List the pinned anchors: purpose, generation, validity, SHA-256, and which are current."""
    settings.json = settings.json or as_json
    at = _parse_at(at_text)
    data = roots_data(at)
    lines = [f"JPKI root CAs (J-LIS), pinned by SHA-256; current at {at.isoformat()}:"]
    for r in data["jpki_roots"]:
        state = "current" if r["current"] else "not current"
        lines.append(f"  {r['label']:<13} {r['purpose']:<4} generation {r['generation']}  "
                     f"{r['valid_from'][:10]} - {r['valid_to'][:10]}  {state}")
        lines.append(f"    SHA-256 {r['sha256']}")
    lines.append("CV-certificate issuer keys (card-face applications), pinned:")
    for k in data["cv_issuer_keys"]:
        lines.append(f"  {k['issuer_id']} {k['application']:<6} {k['hierarchy']}  "
                     f"key id {k['key_id']}")
        lines.append(f"    SHA-256 (SPKI) {k['sha256']}")
        lines.append(f"    source: {k['source']}")
    emit(settings, data, "\n".join(lines))


def register(cli: click.Group) -> None:
    existing = cli.commands.get("trust")
    if isinstance(existing, click.Group):
        existing.add_command(roots_command)
    else:
        cli.add_command(trust_group)
