"""The ``mynaid`` command line. Data goes to stdout; prompts, logs and errors to stderr.

Heavy modules (cryptography, pyscard, the emulator) are imported inside the commands so
that ``mynaid --help`` starts quickly.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mynaid import __version__
from mynaid.cli.exitcodes import ExitCode, exit_code_for
from mynaid.errors import MynaidError

if TYPE_CHECKING:

    from mynaid.emulator.card import EmulatedCard
    from mynaid.protocol import CardProtocol


#: The in-process emulator's reader name (as PC/SC would list it).
EMULATOR_READER = "mynaid emulator"


class Settings:
    """Global options, shared by every command through click's context.

    A plain class rather than a dataclass: importing dataclasses costs start-up time on
    every command.
    """

    def __init__(self, reader: str | None = None, emulator: bool = False,
                 profile: Path | None = None, json: bool = False, verbose: int = 0,
                 extended: str = "auto", state: Path | None = None,
                 log_file: Path | None = None) -> None:
        self.reader = reader
        self.emulator = emulator
        self.profile = profile
        self.json = json
        self.verbose = verbose
        self.extended = extended
        self.state = state
        self.log_file = log_file
        #: Set once a command has printed its JSON document (errors then add none).
        self.emitted = False
        self._card: EmulatedCard | None = None
        self._original_secrets: dict[str, bytes] | None = None

    def __repr__(self) -> str:
        return (f"Settings(reader={self.reader!r}, emulator={self.emulator}, "
                f"profile={self.profile!r}, json={self.json})")

    def card(self) -> EmulatedCard | None:
        """The in-process emulated card when ``--emulator`` was given, else None."""
        if not self.emulator:
            return None
        if self._card is None:
            from mynaid.connect import emulated_card
            from mynaid.emulator import state

            card = emulated_card(self.profile)
            self._original_secrets = state.secrets_of(card)
            if self.state is not None:
                state.load(card, self.state)
            self._card = card
        return self._card

    def save_state(self) -> None:
        """Keep the emulated card's counters and secrets for the next command (``--state``)."""
        if self.state is not None and self._card is not None:
            from mynaid.emulator import state

            state.save(self._card, self.state, self._original_secrets)

    def check_emulator_reader(self) -> None:
        """``--reader`` with ``--emulator`` must name the emulator's reader, as with PC/SC."""
        if self.emulator and self.reader is not None and not reader_matches(
                self.reader, 0, EMULATOR_READER):
            from mynaid.errors import NoReaderError

            raise NoReaderError(f"no reader matches {self.reader!r} (the emulator's reader "
                                f"is {EMULATOR_READER!r}, index 0)")

    @contextmanager
    def protocol(self) -> Iterator[CardProtocol]:
        from mynaid.connect import connect
        from mynaid.protocol import ExtendedLength

        self.check_emulator_reader()
        card = self.card()
        reader = None if card is not None else self.reader
        with connect(reader, card=card, extended=ExtendedLength(self.extended)) as protocol:
            yield protocol


def reader_matches(selector: str, index: int, name: str) -> bool:
    """``--reader`` semantics: an index, or a case-insensitive name substring."""
    if selector.isdigit():
        return int(selector) == index
    return selector.lower() in name.lower()


pass_settings = click.make_pass_decorator(Settings)


def emit(settings: Settings, data: Any, text: str) -> None:
    """Print ``data`` as JSON with ``--json`` (one document, with ``schema_version``), else
    ``text``."""
    if settings.json:
        from mynaid.cli.jsonout import document

        if isinstance(data, dict):
            data = document(data)
        import json

        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        settings.emitted = True
    else:
        click.echo(text)


_LOG_FORMAT = "%(name)s: %(message)s"
#: Marks the CLI's own handlers, so that repeated in-process runs add them only once.
_STDERR_MARK = "_mynaid_cli_stderr"
_FILE_MARK = "_mynaid_cli_log_file"


def _setup_logging(verbose: int, log_file: Path | None = None) -> None:
    """-v: log to stderr; --log-file: the same log in a 0600 file. logging is imported only
    then (start-up time)."""
    if verbose <= 0 and log_file is None:
        _close_log_files()
        return
    import logging

    class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
        def emit(self, record: logging.LogRecord) -> None:
            self.stream = sys.stderr  # follow redirections of sys.stderr (tests, pipelines)
            super().emit(record)

    root = logging.getLogger("mynaid")
    _close_log_files()
    if verbose > 0 and not any(getattr(h, _STDERR_MARK, False) for h in root.handlers):
        handler = _StderrHandler(sys.stderr)
        setattr(handler, _STDERR_MARK, True)
        handler.setFormatter(logging.Formatter(_LOG_FORMAT))
        root.addHandler(handler)
    if log_file is not None:
        file_handler = logging.StreamHandler(open_private(log_file, "w"))
        setattr(file_handler, _FILE_MARK, True)
        file_handler.setFormatter(logging.Formatter("%(asctime)s " + _LOG_FORMAT))
        root.addHandler(file_handler)
    # -v: informational messages and the APDU trace (secrets redacted in the trace).
    root.setLevel(logging.DEBUG)


def _close_log_files() -> None:
    if "logging" not in sys.modules:
        return
    import logging

    root = logging.getLogger("mynaid")
    for handler in [h for h in root.handlers if getattr(h, _FILE_MARK, False)]:
        root.removeHandler(handler)
        handler.close()


# --- files: personal data is private, "-" is stdin/stdout ----------------------------------


def open_private(path: Path, mode: str = "wb") -> Any:
    """Open ``path`` for writing, readable by the owner only, never through a symbolic link
    (``O_NOFOLLOW``), also over an existing file (its mode is reset to 0600)."""
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
        return os.fdopen(fd, mode, encoding="utf-8" if "b" not in mode else None)
    except BaseException:
        os.close(fd)
        raise


def write_private(path: Path, content: bytes) -> None:
    """Write personal data readable by the owner only, also over an existing file, and
    never through a symbolic link planted at ``path``. ``-`` is standard output.

    The one helper for every file the CLI writes."""
    if str(path) == "-":
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
        return
    with open_private(path, "wb") as out:
        out.write(content)


def check_output(path: Path | None, *, directory: bool = False) -> None:
    """Refuse an output path that cannot be written, BEFORE a secret is asked or spent:
    a missing parent folder, a folder where a file goes, a symbolic link."""
    import os

    if path is None or str(path) == "-":
        return
    from mynaid.errors import OutputPathError

    if path.is_symlink():
        raise OutputPathError(f"{path} is a symbolic link; refusing to write through it")
    if directory:
        if path.exists() and not path.is_dir():
            raise OutputPathError(f"{path} exists and is not a folder")
        parent = path if path.exists() else path.parent
    else:
        if path.is_dir():
            raise OutputPathError(f"{path} is a folder; give a file name")
        parent = path.parent
    parent = parent if str(parent) else Path(".")
    while directory and not parent.exists() and parent != parent.parent:
        parent = parent.parent  # images -o creates missing folders
    if not parent.is_dir():
        raise OutputPathError(f"cannot write {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputPathError(f"cannot write {path}: the folder {parent} is not writable")


def read_input(path: Path, limit: int | None = None) -> bytes:
    """The bytes of an input file, or standard input for ``-``; bounded by ``limit``."""
    if str(path) == "-":
        data = sys.stdin.buffer.read(-1 if limit is None else limit + 1)
    else:
        with open(path, "rb") as handle:
            data = handle.read(-1 if limit is None else limit + 1)
    if limit is not None and len(data) > limit:
        from mynaid.errors import InputFileError

        raise InputFileError(f"{path} is over {limit} bytes")
    return data


class _FeatureGroup(click.Group):
    """The top-level group: the commands of feature modules are imported when asked for.

    ``mynaid info`` imports none of them and ``mynaid pin ...`` only mynaid.cli.pins (found
    through :data:`FEATURE_COMMANDS`); ``--help``, completion and an unknown name import
    every module of :data:`FEATURE_MODULES`, so a module added there needs no other change.
    """

    _loaded: set[str]

    def _load(self, module: str) -> None:
        import importlib

        loaded = self.__dict__.setdefault("_loaded", set())
        if module not in loaded:
            loaded.add(module)
            importlib.import_module(module).register(self)

    def _load_all(self) -> None:
        for module in FEATURE_MODULES:
            self._load(module)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            hinted = FEATURE_COMMANDS.get(cmd_name)
            if hinted is not None:
                self._load(hinted)
                command = super().get_command(ctx, cmd_name)
        if command is None:
            self._load_all()
            command = super().get_command(ctx, cmd_name)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_all()
        return super().list_commands(ctx)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``mynaid --help``, without importing the feature modules
        that :data:`FEATURE_HELP` describes (importing them all cost more than the rest of
        the process); a module it does not describe is imported, so it is never missing."""
        loaded = self.__dict__.setdefault("_loaded", set())
        described: dict[str, str] = {}
        for module in FEATURE_MODULES:
            if module in FEATURE_HELP and module not in loaded:
                described.update(FEATURE_HELP[module])
            else:
                self._load(module)
        rows: list[tuple[str, click.Command | None, str]] = []
        for name in sorted({*self.commands, *described}):
            command = self.commands.get(name)
            if command is not None and command.hidden:
                continue
            rows.append((name, command, described.get(name, "")))
        if not rows:
            return
        limit = formatter.width - 6 - max(len(row[0]) for row in rows)
        lines: list[tuple[str, str]] = []
        for name, command, text in rows:
            # A described command is shortened as click shortens a real one's help.
            short = (command or click.Command(name, help=text)).get_short_help_str(limit)
            lines.append((name, short))
        with formatter.section("Commands"):
            formatter.write_dl(lines)


@click.group(cls=_FeatureGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--reader", "-r", metavar="SUBSTR|INDEX",
              help="Reader by name substring or index (default: first with a card).")
@click.option("--emulator", is_flag=True, help="Use the built-in emulated card in-process.")
@click.option("--profile", type=click.Path(dir_okay=False, path_type=Path),
              help="Card profile (JSON) for the emulator; implies --emulator.")
@click.option("--state", "state_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Keep the emulated card's counters and PIN changes in FILE between "
                   "commands (JSON, 0600); implies --emulator.")
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable JSON (docs/json-schema.md); also after the command.")
@click.option("-v", "--verbose", count=True, help="Log to stderr, with an APDU trace.")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the -v log (secrets redacted) to FILE (0600): a support bundle.")
@click.option("--extended", type=click.Choice(["auto", "off"]), default="auto",
              show_default=True, help="Extended-length READ BINARY: detect, or never.")
@click.version_option(version=__version__, prog_name="mynaid")
@click.pass_context
def cli(ctx: click.Context, reader: str | None, emulator: bool, profile: Path | None,
        state_file: Path | None, as_json: bool, verbose: int, log_file: Path | None,
        extended: str) -> None:
    """Verify identity with the Japanese My Number Card through PC/SC readers.

    Exit codes: 0 ok, 1 error, 2 usage, 3 wrong PIN, 4 PIN blocked, 5 no reader or no
    card, 6 verification failed, 7 refused by the lockout guard, 130 interrupted.
    """
    settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings()
    settings.reader, settings.profile, settings.verbose = reader, profile, verbose
    settings.emulator = emulator or profile is not None or state_file is not None
    settings.state, settings.log_file, settings.extended = state_file, log_file, extended
    settings.json = settings.json or as_json
    _setup_logging(verbose, log_file)
    ctx.obj = settings


# --- readers -------------------------------------------------------------------------------


@cli.command()
@pass_settings
def readers(settings: Settings) -> None:
    """List readers, card presence and ATR (--reader filters; --emulator: its reader)."""
    from mynaid.transport.base import ReaderInfo

    if settings.emulator:
        card = settings.card()
        assert card is not None
        found = [ReaderInfo(0, EMULATOR_READER, True, card.atr)]
    else:
        from mynaid.connect import list_readers

        found = list_readers()
    if settings.reader is not None:
        found = [r for r in found if reader_matches(settings.reader, r.index, r.name)]
    rows = [{"index": r.index, "name": r.name, "card_present": r.card_present,
             "atr": r.atr.hex(" ").upper() if r.atr else None} for r in found]
    lines = [f"{r.index}: {r.name}  [{'card ' + r.atr.hex(' ').upper() if r.atr else 'no card'}]"
             for r in found] or ["no readers" + (" match" if settings.reader else "")]
    emit(settings, {"readers": rows}, "\n".join(lines))


# --- info ----------------------------------------------------------------------------------


def _slot_certificates(session: Any, slots: list[Any], now: dt.datetime,
                       password: str | None = None, force: bool = False) -> list[dict[str, Any]]:
    """The certificate shape for each slot; the signature certificate only with a password."""
    from cryptography import x509 as _x509

    from mynaid.cli import jsonout

    availability = session.certificate_availability()
    out = []
    for slot in slots:
        if slot.needs_sign_password and password is None:
            status = "not-read" if availability.signature else "absent"
            out.append(jsonout.certificate_absent(slot.value, status,
                                                  "needs the signature password"))
            continue
        from mynaid.errors import SecurityStatusNotSatisfiedError

        try:
            der = session.read_certificate_der(slot, password, force=force) \
                if slot.needs_sign_password else session.read_certificate_der(slot)
        except SecurityStatusNotSatisfiedError:
            # A smartphone token's auth certificate needs the auth PIN (card-reference §9).
            out.append(jsonout.certificate_absent(slot.value, "not-read",
                                                  "needs the auth PIN on this token"))
            continue
        try:
            cert = _x509.load_der_x509_certificate(der)
        except ValueError:
            out.append(jsonout.certificate_absent(slot.value, "error",
                                                  "the card's certificate is malformed"))
            continue
        out.append(jsonout.certificate(cert, slot=slot.value, now=now))
    return out


@cli.command()
@pass_settings
def info(settings: Settings) -> None:
    """Token type, applications, certificates and PIN tries (uses no PIN try)."""
    from mynaid.cardspec import AUTH_PIN, SIGN_PASSWORD, Aid, CertificateSlot
    from mynaid.cli import jsonout
    from mynaid.pins import pin_status, state_text
    from mynaid.sessions.jpki import JpkiSession

    now = dt.datetime.now(dt.timezone.utc)
    with settings.protocol() as protocol:
        apps = [jsonout.application(aid.name, aid.value,
                                    protocol.select_application(aid.value).sw) for aid in Aid]
        session = JpkiSession(protocol)
        token = session.token_info()
        certs = _slot_certificates(session, list(CertificateSlot), now)
        pins = pin_status(protocol, (AUTH_PIN, SIGN_PASSWORD))
        reader = protocol.transport.reader_name
        atr = protocol.transport.atr.hex(" ").upper()
    data = {
        "reader": reader, "atr": atr,
        "token": {"label": token.label, "kind": token.kind.value},
        "applications": apps,
        "certificates": certs,
        "secrets": [jsonout.secret_state(p) for p in pins],
    }
    lines = [f"Reader:       {reader}", f"ATR:          {atr}",
             f"Token:        {token.label} ({token.kind.value})",
             "Applications: " + ", ".join(a["name"] for a in apps if a["present"])]
    for c in certs:
        if c["subject"] is not None:
            lines.append(f"Certificate {c['slot']}: {c['subject']}")
            lines.append(f"    serial {c['serial']}, valid {c['not_before'][:10]} to "
                         f"{c['not_after'][:10]} ({c['days_to_expiry']} days left)")
        else:
            lines.append(f"Certificate {c['slot']}: "
                         f"{'absent' if c['status'] == 'absent' else 'present'} ({c['note']})")
    for p in pins:
        if p.locked_by_design or p.no_retry_limit or not p.present:
            lines.append(f"PIN {p.name}: {state_text(p)}")
        else:
            tries = "verified" if p.tries_left is None else f"{p.tries_left}/{p.max_tries} tries"
            lines.append(f"PIN {p.name}: {tries}{' (BLOCKED)' if p.blocked else ''}")
    emit(settings, data, "\n".join(lines))


def der_to_pem(der: bytes, label: str = "CERTIFICATE") -> bytes:
    """PEM armour (RFC 7468) with the standard library, so DER export needs no cryptography."""
    import base64

    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return ("\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]) + "\n"
            ).encode("ascii")


# --- cert export / show --------------------------------------------------------------------


@cli.group()
def cert() -> None:
    """Certificates on the card."""


@cert.command("export")
@click.argument("which", type=click.Choice(["auth", "auth-ca", "sign", "sign-ca"]))
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True,
                                                path_type=Path),
              help="Write to FILE (- or none: stdout).")
@click.option("--format", "fmt", type=click.Choice(["pem", "der"]), default="pem",
              show_default=True)
@click.option("--force", is_flag=True, help="Attempt the password even on its last try.")
@click.option("--auth-pin", "ask_auth_pin", is_flag=True,
              help="auth on a smartphone token: ask for the auth PIN, used only when the "
                   "token refuses the free read.")
@pass_settings
def cert_export(settings: Settings, which: str, output: Path | None, fmt: str,
                force: bool, ask_auth_pin: bool) -> None:
    """Export a certificate (sign asks for the signature password)."""
    from mynaid.cardspec import AUTH_PIN, SIGN_PASSWORD, CertificateSlot
    from mynaid.cli.secrets import guarded_prompt
    from mynaid.sessions.jpki import JpkiSession

    slot = CertificateSlot(which)
    if settings.json and (output is None or str(output) == "-"):
        raise click.UsageError("with --json, give -o FILE (the certificate is not JSON); "
                               "or use `mynaid cert show`")
    check_output(output)
    with settings.protocol() as protocol:
        password = guarded_prompt(protocol, SIGN_PASSWORD, force=force) \
            if slot.needs_sign_password else None
        auth_pin = guarded_prompt(protocol, AUTH_PIN, force=force) \
            if ask_auth_pin and slot is CertificateSlot.AUTH else None
        der = JpkiSession(protocol).read_certificate_der(slot, password, force=force,
                                                         auth_pin=auth_pin)
    data = der_to_pem(der) if fmt == "pem" else der
    # Every file goes through write_private: the signature certificate holds the holder's
    # name, address and birth date, and a CA certificate costs nothing to keep private.
    write_private(output or Path("-"), data)
    if settings.json:
        emit(settings, {"output": str(output), "slot": which, "format": fmt,
                        "bytes": len(data)}, "")


@cert.command("show")
@click.argument("which", type=click.Choice(["auth", "auth-ca", "sign", "sign-ca", "all"]),
                default="all")
@click.option("--force", is_flag=True, help="Attempt the password even on its last try.")
@pass_settings
def cert_show(settings: Settings, which: str, force: bool) -> None:
    """Subject, issuer, validity, SHA-256 fingerprint, key usage and policy of each slot.

    `all` shows the freely readable slots and the signature certificate as not read; `sign`
    asks for the signature password.
    """
    from mynaid.cardspec import SIGN_PASSWORD, CertificateSlot
    from mynaid.cli.secrets import guarded_prompt
    from mynaid.sessions.jpki import JpkiSession

    now = dt.datetime.now(dt.timezone.utc)
    slots = list(CertificateSlot) if which == "all" else [CertificateSlot(which)]
    with settings.protocol() as protocol:
        session = JpkiSession(protocol)
        password = None
        if which == "sign":
            password = guarded_prompt(protocol, SIGN_PASSWORD, force=force)
        certs = _slot_certificates(session, slots, now, password, force)
    lines: list[str] = []
    for c in certs:
        lines.append(f"[{c['slot']}]")
        if c["subject"] is None:
            lines.append(f"  {c['status']}: {c['note']}")
            continue
        lines += [f"  Subject:      {c['subject']}", f"  Issuer:       {c['issuer']}",
                  f"  Serial:       {c['serial']}",
                  f"  Validity:     {c['not_before']} to {c['not_after']} ({c['status']}, "
                  f"{c['days_to_expiry']} days left)",
                  f"  SHA-256:      {c['sha256_fingerprint']}",
                  f"  Key usage:    {', '.join(c['key_usage']) or '(none)'}",
                  f"  Ext. usage:   {', '.join(c['extended_key_usage']) or '(none)'}",
                  f"  Policies:     {', '.join(c['policies']) or '(none)'}"]
    emit(settings, {"certificates": certs}, "\n".join(lines))


# --- apdu ----------------------------------------------------------------------------------


@cli.command("apdu")
@click.argument("apdus", nargs=-1, required=True, metavar="HEX...")
@click.option("--force-secret-apdu", is_flag=True,
              help="Also send VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER with data "
                   "(their data is never logged; prefer `mynaid pin`, which is guarded).")
@pass_settings
def apdu(settings: Settings, apdus: tuple[str, ...], force_secret_apdu: bool) -> None:
    """Send raw command APDUs (hex, one argument each) and print the responses.

    For support desks. Refused without --force-secret-apdu: any command carrying a secret
    (INS 20 VERIFY, 24 CHANGE REFERENCE DATA, 2C RESET RETRY COUNTER with data). The empty
    VERIFY (the retry query, which uses no try) is allowed. Responses are printed but never
    logged (they may hold personal data).
    """
    from mynaid.iso7816.apdu import SECRET_INS, decode_command

    commands: list[tuple[bytes, Any, bool]] = []
    for text in apdus:
        cleaned = "".join(text.split()).replace(":", "")
        try:
            raw = bytes.fromhex(cleaned)
            command = decode_command(raw)
        except (ValueError, MynaidError):
            # The text is not echoed: it might be a mistyped secret APDU.
            raise click.BadParameter(f"argument {len(commands) + 1} is not one valid command "
                                     "APDU in hex", param_hint="HEX") from None
        secret = command.ins in SECRET_INS and bool(command.data)
        if secret and not force_secret_apdu:
            raise click.UsageError(
                f"APDU {len(commands) + 1} (INS {command.ins:02X}) carries a secret; it was "
                "not sent. Use `mynaid pin` (guarded), or --force-secret-apdu")
        commands.append((raw, command, secret))
    rows = []
    with settings.protocol() as protocol, protocol.transport.transaction(), \
            protocol.sensitive():
        for raw, command, secret in commands:
            if secret:
                response = protocol.send_secret(raw[:4], bytearray(command.data))
                shown = f"{raw[:4].hex(' ').upper()} Lc={len(command.data)} <secret>"
            else:
                response = protocol.send(command)
                shown = raw.hex(" ").upper()
            rows.append({"command": shown, "data": response.data.hex(" ").upper(),
                         "sw": f"{response.sw:04X}"})
    lines = [f"> {r['command']}\n< {(r['data'] + ' ') if r['data'] else ''}{r['sw']}"
             for r in rows]
    emit(settings, {"exchanges": rows}, "\n".join(lines))


# --- emulator ------------------------------------------------------------------------------


@cli.group()
def emulator() -> None:
    """The software card: serve it to pcscd through vpcd, or make profiles."""


@emulator.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Where vpcd listens.")
@click.option("--port", default=35963, show_default=True, type=int)
@click.option("--atr", "atr_hex", metavar="HEX", help="Answer to reset (hex).")
@click.option("--alternate-atr", is_flag=True, help="Use another real card's ATR.")
@click.option("--atr-variant", type=click.Choice(["default", "alternate", "2024"]),
              default=None, help="A known real card's ATR (2024 = a card issued in 2024).")
@click.option("--pinless", is_flag=True,
              help="The PIN-less face-authentication card: no signature certificate, PINs "
                   "locked by design.")
@click.option("--token-label", metavar="LABEL", default=None,
              help="JPKI token label, e.g. JPKIAPGPSETOKEN / JPKIAPIOSTOKEN (smartphone "
                   "tokens: the auth certificate needs the auth PIN).")
@click.option("--eof-warning", is_flag=True,
              help="Answer 62 82 to a READ BINARY that reaches the end of the file.")
@click.option("--no-pss", is_flag=True, help="Refuse the PSS signature schemes (6A 86).")
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
                   strict_le: bool, verified_query_ok: bool, no_extended: bool,
                   atr_variant: str | None, pinless: bool, token_label: str | None,
                   eof_warning: bool, no_pss: bool) -> None:
    """Be a card in vpcd's virtual reader until vpcd goes away (Ctrl-C to remove)."""
    if settings.json:
        raise click.UsageError("emulator serve prints no data; --json does not apply")
    from mynaid.connect import emulated_card
    from mynaid.emulator import vpcd
    from mynaid.emulator.card import ALTERNATE_ATR, ATR_VARIANTS, DEFAULT_ATR, EmulatorOptions

    atr = bytes.fromhex(atr_hex) if atr_hex else (ALTERNATE_ATR if alternate_atr
                                                   else DEFAULT_ATR)
    if atr_variant and not atr_hex:
        atr = ATR_VARIANTS[atr_variant]
    if token_label is not None and (len(token_label) > 32 or not token_label.isascii()
                                    or not token_label.isprintable()):
        raise click.BadParameter("at most 32 printable ASCII characters",
                                 param_hint="--token-label")
    options = EmulatorOptions(atr=atr, cert_filler=cert_filler, use_get_response=get_response,
                              strict_le=strict_le, verified_query_ok=verified_query_ok,
                              extended_length=not no_extended, pinless=pinless,
                              token_label=token_label, eof_warning=eof_warning,
                              pss=not no_pss)
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
@click.option("-o", "--output", required=True,
              type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              help="The profile file (0600: it holds private keys); - for stdout.")
@click.option("--name", default="random test card", show_default=True)
@pass_settings
def emulator_new_profile(settings: Settings, output: Path, name: str) -> None:
    """Make a new random test card profile (fresh keys and certificates).

    Its auth PIN is 1234 and its signature password TEST1234 (test material only).
    """
    from mynaid.emulator.testpki import generate_profile

    if settings.json and str(output) == "-":
        raise click.UsageError("with --json, write the profile to a file (-o FILE)")
    check_output(output)
    profile, _pki = generate_profile(None, name=name)
    write_private(output, profile.dumps().encode("utf-8"))
    if settings.json:
        emit(settings, {"output": str(output), "name": name}, "")
    else:
        click.echo(f"wrote {output}", err=True)


# --- commands of other features ------------------------------------------------------------

#: Modules that add commands to the group with ``register(cli)``. Each keeps its heavy
#: imports inside its command functions, so registering them costs little.
FEATURE_MODULES = (
    "mynaid.cli.pins",
    "mynaid.cli.cardface",
    "mynaid.cli.trust",
    "mynaid.cli.anchors",
    "mynaid.cli.diag",
    "mynaid.cli.face",
    "mynaid.cli.kiosk",
    "mynaid.cli.docsign",
    "mynaid.cli.rp",
    "mynaid.cli.scan",
)


#: Where the commands of FEATURE_MODULES live, so that one command imports one module. A
#: command missing here is still found (every module is then imported): a hint, not a list
#: to keep complete.
FEATURE_COMMANDS = {
    "pin": "mynaid.cli.pins", "text": "mynaid.cli.cardface", "visual": "mynaid.cli.cardface",
    "sign": "mynaid.cli.trust", "verify": "mynaid.cli.trust", "auth": "mynaid.cli.trust",
    "diag": "mynaid.cli.diag", "watch": "mynaid.cli.diag", "face": "mynaid.cli.face",
    "kiosk": "mynaid.cli.kiosk",
}


#: The commands each feature module registers, with their one-line help as ``--help`` lists
#: them, so that ``mynaid --help`` imports none of the modules. tests/test_cli_startup.py
#: checks it against the commands themselves (a module missing here is imported instead).
FEATURE_HELP: dict[str, dict[str, str]] = {
    "mynaid.cli.pins": {"pin": "PINs and passwords: counters, verification, change."},
    "mynaid.cli.cardface": {
        "text": "The text application: My Number and the four attributes, with integrity "
                "checks.",
        "visual": "The visual application: the card face (photo, images, dates) and its "
                  "signature."},
    "mynaid.cli.trust": {
        "auth": "Answer a verifier's challenge with the auth key (asks for the auth PIN).",
        "sign": "Sign FILE (- for standard input) with the card into a CMS (PKCS#7) "
                "SignedData.",
        "verify": "Verify a CMS signature: content digest, signature, certificate path, "
                  "revocation."},
    "mynaid.cli.anchors": {
        "trust": "The trust anchors: pinned J-LIS roots and CV-certificate issuer keys."},
    "mynaid.cli.diag": {
        "diag": "Report on the PC/SC service, readers and card: for support staff and kiosks.",
        "watch": "Print a line per card insertion or removal and reader arrival or removal."},
    "mynaid.cli.face": {"face": "Face verification against the card photo (needs mynaid[face])."},
    "mynaid.cli.kiosk": {
        "kiosk": "Run the clinic kiosk flow: card, face or PIN, consent, outcome."},
    "mynaid.cli.docsign": {
        "pdf": "Sign PDF documents with the card, and verify PDF signatures.",
        "xml": "Sign XML documents with the card (XML-DSig as e-Gov uses it), and verify them."},
    "mynaid.cli.rp": {
        "rp": "Relying-party service: registration, login, the face route, re-checks."},
    "mynaid.cli.scan": {
        "confirm": "Face-to-face confirmation (対面確認): card front → IC chip → checks → "
                   "record."},
}


def _register_features() -> None:
    """Import and register every feature module now (tests, documentation tools)."""
    assert isinstance(cli, _FeatureGroup)
    cli._load_all()


# --- entry point ---------------------------------------------------------------------------


def _split_json_flag(argv: list[str]) -> tuple[list[str], bool]:
    """``--json`` anywhere before ``--``: a global flag, however the command is written."""
    if "--" in argv:
        cut = argv.index("--")
        head, tail = argv[:cut], argv[cut:]
    else:
        head, tail = argv, []
    found = "--json" in head
    return [a for a in head if a != "--json"] + tail, found


def _verbose_in(argv: list[str]) -> bool:
    return any(a in ("-v", "--verbose") or (a.startswith("-v") and set(a[1:]) == {"v"})
               for a in argv)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error becomes a message on stderr and a documented exit code.

    With ``--json`` a failure is also one JSON object on stdout (``error.reason``). Nothing
    escapes as a traceback: an unexpected exception is one line ("internal error") and exit
    1, its traceback only in the -v log; Ctrl-C exits 130.

    ``-v`` lasts for this call only: the "mynaid" logger's level and handlers are put back
    when it returns, so that in-process callers (tests, tools) running it again without
    ``-v`` get no trace on stderr. (logging is looked at only when something imported it.)
    """
    snapshot = _logger_snapshot()
    try:
        return _main(argv)
    finally:
        _restore_logger(snapshot)


def _logger_snapshot() -> tuple[list[Any], int] | None:
    if "logging" not in sys.modules:
        return None
    import logging

    logger = logging.getLogger("mynaid")
    return list(logger.handlers), logger.level


def _restore_logger(snapshot: tuple[list[Any], int] | None) -> None:
    if "logging" not in sys.modules:
        return
    import logging

    handlers, level = snapshot if snapshot is not None else ([], logging.NOTSET)
    logger = logging.getLogger("mynaid")
    for handler in list(logger.handlers):
        if handler not in handlers:
            logger.removeHandler(handler)
    logger.setLevel(level)


def _main(argv: list[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    args, as_json = _split_json_flag(args)
    settings = Settings(json=as_json)
    code: int = ExitCode.OK
    try:
        try:
            cli.main(args=args, prog_name="mynaid", standalone_mode=False, obj=settings)
        finally:
            settings.save_state()
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        code = exc.exit_code
        if settings.json:
            _json_error(settings, exc, "usage", exc.format_message(), code)
        exc.show()
    except click.Abort:
        code = ExitCode.INTERRUPTED
        _fail(settings, None, "interrupted", "interrupted", code)
    except KeyboardInterrupt:
        code = ExitCode.INTERRUPTED
        _fail(settings, None, "interrupted", "interrupted", code)
    except MynaidError as exc:
        code = exit_code_for(exc)
        _fail(settings, exc, "error", str(exc), code)
    except BrokenPipeError:
        code = ExitCode.ERROR
    except OSError as exc:
        # Files named on the command line (-o, --profile): a message, not a traceback.
        where = f" {exc.filename}" if exc.filename else ""
        code = ExitCode.ERROR
        _fail(settings, exc, "os-error", f"cannot use{where}: {exc.strerror or exc}", code)
    except Exception as exc:  # the last resort: one line, never a traceback
        code = ExitCode.ERROR
        import logging

        logging.getLogger("mynaid").debug("internal error", exc_info=True)
        if _verbose_in(args) and not settings.verbose:
            import traceback

            traceback.print_exc(file=sys.stderr)
        _fail(settings, exc, "internal-error", "internal error, run with -v", code)
    finally:
        _close_log_files()
    return int(code)


def _json_error(settings: Settings, exc: BaseException | None, reason: str, message: str,
                code: int) -> None:
    if settings.emitted:
        return  # the command printed its own document (a failed check, a verify result)
    import json

    from mynaid.cli.jsonout import error

    try:
        click.echo(json.dumps(error(exc, reason=reason, message=message, exit_code=code),
                              ensure_ascii=False, indent=2))
    except OSError:
        pass
    settings.emitted = True


def _fail(settings: Settings, exc: BaseException | None, reason: str, message: str,
          code: int) -> None:
    if settings.json:
        _json_error(settings, exc, reason, message, code)
    try:
        click.echo(f"mynaid: {message}", err=True)
    except OSError:
        pass
