"""The ``mynaid`` command line. Data goes to stdout; prompts, logs and errors to stderr.

Heavy modules (cryptography, pyscard, the emulator) are imported inside the commands so
that ``mynaid --help`` starts quickly.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mynaid.cli.exitcodes import ExitCode, exit_code_for
from mynaid.errors import MynaidError

if TYPE_CHECKING:
    from cryptography import x509

    from mynaid.emulator.card import EmulatedCard
    from mynaid.protocol import CardProtocol


@dataclass
class Settings:
    """Global options, shared by every command through click's context."""

    reader: str | None = None
    emulator: bool = False
    profile: Path | None = None
    json: bool = False
    verbose: int = 0
    extended: str = "auto"
    _card: EmulatedCard | None = field(default=None, repr=False)

    def card(self) -> EmulatedCard | None:
        """The in-process emulated card when ``--emulator`` was given, else None."""
        if not self.emulator:
            return None
        if self._card is None:
            from mynaid.connect import emulated_card

            self._card = emulated_card(self.profile)
        return self._card

    @contextmanager
    def protocol(self) -> Iterator[CardProtocol]:
        from mynaid.connect import connect
        from mynaid.protocol import ExtendedLength

        with connect(self.reader, card=self.card(),
                     extended=ExtendedLength(self.extended)) as protocol:
            yield protocol


pass_settings = click.make_pass_decorator(Settings)


def emit(settings: Settings, data: Any, text: str) -> None:
    """Print ``data`` as JSON with ``--json``, else ``text``."""
    if settings.json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(text)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the CLI's own handler so that repeated in-process runs add it only once."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr  # follow redirections of sys.stderr (tests, pipelines)
        super().emit(record)


def _setup_logging(verbose: int) -> None:
    if verbose <= 0:
        return
    root = logging.getLogger("mynaid")
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        root.addHandler(handler)
    # -v: informational messages and the APDU trace (secrets redacted in the trace).
    root.setLevel(logging.DEBUG)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--reader", "-r", metavar="SUBSTR|INDEX",
              help="Reader by name substring or index (default: first with a card).")
@click.option("--emulator", is_flag=True, help="Use the built-in emulated card in-process.")
@click.option("--profile", type=click.Path(dir_okay=False, path_type=Path),
              help="Card profile (JSON) for --emulator; default: the built-in test card.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")
@click.option("-v", "--verbose", count=True, help="Log to stderr, with an APDU trace.")
@click.option("--extended", type=click.Choice(["auto", "off"]), default="auto",
              show_default=True, help="Extended-length READ BINARY: detect, or never.")
@click.version_option(package_name="mynaid")
@click.pass_context
def cli(ctx: click.Context, reader: str | None, emulator: bool, profile: Path | None,
        as_json: bool, verbose: int, extended: str) -> None:
    """Verify identity with the Japanese My Number Card through PC/SC readers.

    Exit codes: 0 ok, 1 error, 2 usage, 3 wrong PIN, 4 PIN blocked, 5 no reader or no
    card, 6 verification failed, 7 refused by the lockout guard.
    """
    _setup_logging(verbose)
    ctx.obj = Settings(reader, emulator, profile, as_json, verbose, extended)


# --- readers -------------------------------------------------------------------------------


@cli.command()
@pass_settings
def readers(settings: Settings) -> None:
    """List PC/SC readers, card presence and ATR."""
    from mynaid.connect import list_readers

    found = list_readers()
    rows = [{"index": r.index, "name": r.name, "card_present": r.card_present,
             "atr": r.atr.hex(" ").upper() if r.atr else None} for r in found]
    lines = [f"{r.index}: {r.name}  [{'card ' + r.atr.hex(' ').upper() if r.atr else 'no card'}]"
             for r in found] or ["no readers"]
    emit(settings, rows, "\n".join(lines))


# --- info ----------------------------------------------------------------------------------


def _certificate_summary(cert: x509.Certificate, now: dt.datetime) -> dict[str, Any]:
    not_after = cert.not_valid_after_utc
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "X"),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": not_after.isoformat(),
        "days_to_expiry": (not_after - now).days,
    }


@cli.command()
@pass_settings
def info(settings: Settings) -> None:
    """Token type, applications, certificates and PIN tries (uses no PIN try)."""
    from mynaid.cardspec import Aid, CertificateSlot
    from mynaid.iso7816.status import SW_OK
    from mynaid.sessions.jpki import JpkiSession

    now = dt.datetime.now(dt.timezone.utc)
    with settings.protocol() as protocol:
        apps = {aid.name.lower(): protocol.select_application(aid.value).sw == SW_OK
                for aid in Aid}
        session = JpkiSession(protocol)
        token = session.token_info()
        availability = session.certificate_availability()
        certs: dict[str, Any] = {}
        for slot in CertificateSlot:
            if slot.needs_sign_password:
                certs[slot.value] = {"present": availability.signature,
                                     "note": "needs the signature password"}
                continue
            certs[slot.value] = _certificate_summary(session.read_certificate(slot), now)
        pins = session.pin_states()
        reader = protocol.transport.reader_name
        atr = protocol.transport.atr.hex(" ").upper()
    data = {
        "reader": reader, "atr": atr,
        "token": {"label": token.label, "kind": token.kind.value},
        "applications": apps,
        "certificates": certs,
        "pins": [{"name": p.name, "tries_left": p.tries_left, "max_tries": p.max_tries,
                  "blocked": p.blocked} for p in pins],
    }
    lines = [f"Reader:       {reader}", f"ATR:          {atr}",
             f"Token:        {token.label} ({token.kind.value})",
             "Applications: " + ", ".join(k for k, v in apps.items() if v)]
    for name, c in certs.items():
        if "subject" in c:
            lines.append(f"Certificate {name}: {c['subject']}")
            lines.append(f"    serial {c['serial']}, valid {c['not_before'][:10]} to "
                         f"{c['not_after'][:10]} ({c['days_to_expiry']} days left)")
        else:
            lines.append(f"Certificate {name}: {'present' if c['present'] else 'absent'} "
                         f"({c['note']})")
    for p in pins:
        tries = "verified" if p.tries_left is None else f"{p.tries_left}/{p.max_tries} tries"
        lines.append(f"PIN {p.name}: {tries}{' (BLOCKED)' if p.blocked else ''}")
    emit(settings, data, "\n".join(lines))


def write_private(path: Path, content: bytes) -> None:
    """Write personal data readable by the owner only, also over an existing file, and
    never through a symbolic link planted at ``path``."""
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
        with os.fdopen(fd, "wb") as out:
            fd = -1
            out.write(content)
    finally:
        if fd >= 0:
            os.close(fd)


def der_to_pem(der: bytes, label: str = "CERTIFICATE") -> bytes:
    """PEM armour (RFC 7468) with the standard library, so DER export needs no cryptography."""
    import base64

    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return ("\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]) + "\n"
            ).encode("ascii")


# --- cert export ---------------------------------------------------------------------------


@cli.group()
def cert() -> None:
    """Certificates on the card."""


@cert.command("export")
@click.argument("which", type=click.Choice(["auth", "auth-ca", "sign", "sign-ca"]))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE instead of stdout.")
@click.option("--format", "fmt", type=click.Choice(["pem", "der"]), default="pem",
              show_default=True)
@click.option("--force", is_flag=True, help="Attempt the password even on its last try.")
@pass_settings
def cert_export(settings: Settings, which: str, output: Path | None, fmt: str,
                force: bool) -> None:
    """Export a certificate (sign asks for the signature password)."""
    from mynaid.cardspec import CertificateSlot
    from mynaid.cli.secrets import read_secret
    from mynaid.sessions.jpki import JpkiSession

    slot = CertificateSlot(which)
    password = read_secret("Signature password") if slot.needs_sign_password else None
    with settings.protocol() as protocol:
        der = JpkiSession(protocol).read_certificate_der(slot, password, force=force)
    data = der_to_pem(der) if fmt == "pem" else der
    if output:
        # The signature certificate holds the holder's name, address and birth date.
        if slot.needs_sign_password:
            write_private(output, data)
        else:
            output.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


# --- emulator ------------------------------------------------------------------------------


@cli.group()
def emulator() -> None:
    """The software card: serve it to pcscd through vpcd, or make profiles."""


@emulator.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Where vpcd listens.")
@click.option("--port", default=35963, show_default=True, type=int)
@click.option("--atr", "atr_hex", metavar="HEX", help="Answer to reset (hex).")
@click.option("--alternate-atr", is_flag=True, help="Use another real card's ATR.")
@click.option("--cert-filler", default=0, type=click.IntRange(0, 8192), show_default=True,
              help="FF bytes after each certificate in its EF.")
@click.option("--get-response", is_flag=True, help="Answer data with 61 xx (GET RESPONSE).")
@click.option("--strict-le", is_flag=True, help="Answer 6C xx to a too-long Le.")
@click.option("--verified-query-ok", is_flag=True,
              help="Answer 90 00 to the retry query of a verified key.")
@click.option("--no-extended", is_flag=True, help="Refuse extended-length APDUs.")
@pass_settings
def emulator_serve(settings: Settings, host: str, port: int, atr_hex: str | None,
                   alternate_atr: bool, cert_filler: int, get_response: bool,
                   strict_le: bool, verified_query_ok: bool, no_extended: bool) -> None:
    """Be a card in vpcd's virtual reader until vpcd goes away (Ctrl-C to remove)."""
    from mynaid.connect import emulated_card
    from mynaid.emulator import vpcd
    from mynaid.emulator.card import ALTERNATE_ATR, DEFAULT_ATR, EmulatorOptions

    atr = bytes.fromhex(atr_hex) if atr_hex else (ALTERNATE_ATR if alternate_atr
                                                   else DEFAULT_ATR)
    options = EmulatorOptions(atr=atr, cert_filler=cert_filler, use_get_response=get_response,
                              strict_le=strict_le, verified_query_ok=verified_query_ok,
                              extended_length=not no_extended)
    card = emulated_card(settings.profile, options)
    try:
        sock = vpcd.connect(host, port)
    except OSError as exc:
        raise MynaidError(f"cannot reach vpcd at {host}:{port}: {exc.strerror or exc}") \
            from exc
    click.echo(f"card inserted in vpcd at {host}:{port}", err=True)
    try:
        vpcd.serve(card, sock)
    except KeyboardInterrupt:
        pass
    click.echo("card removed", err=True)


@emulator.command("new-profile")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", default="random test card", show_default=True)
def emulator_new_profile(output: Path, name: str) -> None:
    """Make a new random test card profile (fresh keys and certificates).

    Its auth PIN is 1234 and its signature password TEST1234 (test material only).
    """
    from mynaid.emulator.testpki import generate_profile

    profile, _pki = generate_profile(None, name=name)
    profile.save(output)
    click.echo(f"wrote {output}", err=True)


# --- commands of other features ------------------------------------------------------------

#: Modules that add commands to the group with ``register(cli)``. Each keeps its heavy
#: imports inside its command functions, so registering them costs little.
FEATURE_MODULES = (
    "mynaid.cli.pins",
    "mynaid.cli.cardface",
    "mynaid.cli.trust",
    "mynaid.cli.diag",
    "mynaid.cli.face",
    "mynaid.cli.kiosk",
    "mynaid.cli.scan",
)


def _register_features() -> None:
    import importlib

    for name in FEATURE_MODULES:
        importlib.import_module(name).register(cli)


_register_features()


# --- entry point ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error becomes a message on stderr and a documented exit code."""
    try:
        cli.main(args=argv, prog_name="mynaid", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return ExitCode.ERROR
    except MynaidError as exc:
        click.echo(f"mynaid: {exc}", err=True)
        return exit_code_for(exc)
    except BrokenPipeError:
        return ExitCode.ERROR
    except OSError as exc:
        # Files named on the command line (-o, --profile): a message, not a traceback.
        where = f" {exc.filename}" if exc.filename else ""
        click.echo(f"mynaid: cannot use{where}: {exc.strerror or exc}", err=True)
        return ExitCode.ERROR
    return ExitCode.OK
