"""``mynaid text`` and ``mynaid visual``: the card's text and visual applications.

Secrets come from a hidden prompt or one line of stdin each (:func:`read_secret`), never from
argv. ``mynaid text`` prints the My Number to stdout (that is what it is for) and nowhere else:
the APDU trace of ``-v`` redacts the responses of these applications.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mynaid.cli.jsonout import sex as sex_fields
from mynaid.cli.main import Settings, check_output, emit, pass_settings, write_private
from mynaid.cli.scan import scan_option, scanned_collation_b, scanned_credential

if TYPE_CHECKING:
    from mynaid.integrity import IntegrityReport, IssuerKey
    from mynaid.records import CardFace

_SEX_NAMES = {"0": "unknown", "1": "male", "2": "female", "9": "not applicable"}
_PROMPTS = {
    "pin": "Text PIN (券面事項入力補助用暗証番号, 4 digits)",
    "pin-a": "照合番号A (the 12-digit My Number)",
    "pin-b": "照合番号B (14 digits: era birth YYMMDD, expiry year, security code)",
}


def _issuer_key_option(f: Any) -> Any:
    return click.option(
        "--issuer-key", "issuer_keys", multiple=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="PEM public key (or certificate) of a trusted CV-certificate issuer; repeatable. "
             "Also read from $MYNAID_ISSUER_KEYS. Test card: vectors/test-pki/*-issuer.pem.",
    )(f)


def _pin_b_options(f: Any) -> Any:
    # --birth/--expiry-year took 10 of 照合番号B's 14 digits on argv (visible in ps and
    # shell history): they are refused with a pointer to the prompt that replaced them.
    f = click.option("--expiry-year", "legacy_expiry", hidden=True, expose_value=True,
                     help="Refused: secrets are never taken from argv.")(f)
    f = click.option("--birth", "legacy_birth", hidden=True, expose_value=True,
                     help="Refused: secrets are never taken from argv.")(f)
    return click.option(
        "--pin-b-parts", is_flag=True,
        help="For pin-b: ask for the birth date (1980-02-17, 昭和55年2月17日, S55.02.17), "
             "the expiry year and the security code instead of the 14 digits.")(f)


def _no_argv_secrets(legacy_birth: str | None, legacy_expiry: str | None) -> None:
    if legacy_birth is not None or legacy_expiry is not None:
        raise click.UsageError("--birth and --expiry-year were removed: 照合番号B is never "
                               "taken from argv. Use --pin-b-parts to be asked for the birth "
                               "date, the expiry year and the security code")


def _common_options(f: Any) -> Any:
    f = click.option("--force", is_flag=True,
                     help="Attempt even when a failure could block the key.")(f)
    return click.option("--json", "as_json", is_flag=True, help="JSON output.")(f)


_CREDENTIAL_SECRETS = {
    ("text", "pin"): "text-pin", ("text", "pin-a"): "text-pin-a",
    ("text", "pin-b"): "text-pin-b",
    ("visual", "pin-a"): "visual-pin-a", ("visual", "pin-b"): "visual-pin-b",
}


def read_credential(protocol: Any, app: str, name: str, pin_b_parts: bool = False, *,
                    force: bool = False) -> str:
    """The secret for credential ``name`` of ``app``, asked for only once the lockout guard
    has read the counter and would let it be sent. 照合番号B comes from
    :func:`mynaid.cli.secrets.read_pin_b` (the one place that acquires it)."""
    from mynaid.cardspec import SECRETS_BY_NAME
    from mynaid.cli.secrets import guarded_prompt, read_pin_b

    if pin_b_parts and name != "pin-b":
        raise click.UsageError("--pin-b-parts is for --with pin-b")
    ref = SECRETS_BY_NAME[_CREDENTIAL_SECRETS[(app, name)]]
    read: Callable[[], str] | None = None
    if name == "pin-b":
        # --scan / --camera: the card front is read first, so a bad photo is refused before
        # the card sees any APDU; then the guard, as for a typed value.
        scanned = scanned_collation_b(name)
        read = (lambda: scanned) if scanned is not None else (lambda: read_pin_b(pin_b_parts))
    return guarded_prompt(protocol, ref, force=force, label=_PROMPTS[name], read=read)


def _issuer_keys(paths: Sequence[Path]) -> list[IssuerKey]:
    from mynaid.integrity import load_issuer_keys

    return load_issuer_keys(paths)


def _integrity_lines(report: IntegrityReport, title: str = "Integrity:  ") -> list[str]:
    status = "ok" if report.ok else ("FAILED" if report.failed else "incomplete")
    lines = [f"{title} {status}"]
    for name, check in report.checks().items():
        mark = {True: "pass", False: "FAIL", None: "skipped"}[check.passed]
        # Which issuer hierarchy verified (production / test / user-supplied), so that a
        # test card is never taken for a production one.
        where = f" [{check.hierarchy}]" if check.hierarchy else ""
        lines.append(f"  {name}: {mark}{where} - {check.reason}")
    return lines


def _presence_option(f: Any) -> Any:
    return click.option("--presence", is_flag=True,
                        help="Also prove the card is present: the card signs a fresh "
                             "challenge with its card key (80 2A 00 00), checked against "
                             "the signed record that carries that key.")(f)


def _exit_on_failure(report: IntegrityReport) -> None:
    """After the output: a failed check (not a skipped one) ends with exit code 6."""
    if report.failed:
        from mynaid.trust.errors import Reason, VerificationError

        raise VerificationError(Reason.BAD_SIGNATURE,
                                "integrity check failed: " + ", ".join(report.failed))


def _era(date: Any) -> str | None:
    from mynaid.era import EraRangeError, to_era

    if date is None:
        return None
    try:
        return str(to_era(date))
    except EraRangeError:
        return None


def _birth_text(text: str, date: Any) -> str:
    if date is None:
        return text
    era = _era(date)
    return f"{date.isoformat()} ({era})" if era else date.isoformat()


# --- mynaid text -----------------------------------------------------------------------------


@click.command()
@click.option("--with", "credential", type=click.Choice(["pin", "pin-a", "pin-b"]),
              default="pin", show_default=True,
              help="pin: everything; pin-a (照合番号A): the My Number; pin-b (照合番号B): "
                   "name, address, birth date, sex.")
@_pin_b_options
@_issuer_key_option
@_presence_option
@_common_options
@scan_option
@pass_settings
def text(settings: Settings, credential: str, pin_b_parts: bool, legacy_birth: str | None,
         legacy_expiry: str | None, issuer_keys: tuple[Path, ...], presence: bool, force: bool,
         as_json: bool) -> None:
    """The text application: My Number and the four attributes, with integrity checks."""
    from mynaid.sessions.text import TextSession

    _no_argv_secrets(legacy_birth, legacy_expiry)
    settings.json = settings.json or as_json
    keys = _issuer_keys(issuer_keys)
    credential = scanned_credential(credential)  # --scan / --camera: 照合番号B
    proof: IntegrityReport | None = None
    with settings.protocol() as protocol:
        secret = read_credential(protocol, "text", credential, pin_b_parts, force=force)
        session = TextSession(protocol)
        if presence:
            data, proof = session.read_proven(secret, credential, keys, force=force)
        else:
            data = session.read(secret, credential, force=force)
    report = data.integrity(keys)
    out: dict[str, Any] = {}
    lines: list[str] = []
    if data.my_number is not None:
        out["my_number"] = data.my_number.value
        lines.append(f"My Number:   {data.my_number.value}")
    if data.attributes is not None:
        a = data.attributes
        out.update(name=a.name, address=a.address, birth=a.birth_text,
                   birth_date=a.birth.isoformat() if a.birth else None,
                   birth_era=_era(a.birth), **sex_fields(a.sex.value))
        lines += [f"Name:        {a.name}", f"Address:     {a.address}",
                  f"Birth date:  {_birth_text(a.birth_text, a.birth)}",
                  f"Sex:         {_SEX_NAMES.get(a.sex.value, a.sex.value)}"]
    out["integrity"] = report.as_dict()
    lines += _integrity_lines(report)
    if proof is not None:
        out["presence"] = proof.as_dict()
        lines += _integrity_lines(proof, "Presence:   ")
    emit(settings, out, "\n".join(lines))
    _exit_on_failure(report)
    if proof is not None:
        _exit_on_failure(proof)


# --- mynaid visual ---------------------------------------------------------------------------


def _read_face(settings: Settings, credential: str, pin_b_parts: bool, force: bool) -> Any:
    from mynaid.sessions.visual import VisualSession

    credential = scanned_credential(credential)  # --scan / --camera: 照合番号B
    with settings.protocol() as protocol:
        secret = read_credential(protocol, "visual", credential, pin_b_parts, force=force)
        return VisualSession(protocol).read(secret, credential, force=force)


def _read_face_proven(settings: Settings, credential: str, pin_b_parts: bool, force: bool,
                      keys: list[IssuerKey]) -> tuple[Any, Any]:
    from mynaid.sessions.visual import VisualSession

    credential = scanned_credential(credential)  # --scan / --camera: 照合番号B
    with settings.protocol() as protocol:
        secret = read_credential(protocol, "visual", credential, pin_b_parts, force=force)
        return VisualSession(protocol).read_with_presence(secret, credential, keys,
                                                          force=force)


def _visual_credential(f: Any) -> Any:
    return click.option("--with", "credential", type=click.Choice(["pin-a", "pin-b"]),
                        default="pin-a", show_default=True,
                        help="pin-a: 照合番号A (the My Number); pin-b: 照合番号B.")(f)


@click.group(invoke_without_command=True)
@_visual_credential
@_pin_b_options
@_issuer_key_option
@_presence_option
@_common_options
@scan_option
@pass_settings
@click.pass_context
def visual(ctx: click.Context, settings: Settings, credential: str, pin_b_parts: bool,
           legacy_birth: str | None, legacy_expiry: str | None,
           issuer_keys: tuple[Path, ...], presence: bool, force: bool, as_json: bool) -> None:
    """The visual application: the card face (photo, images, dates) and its signature."""
    _no_argv_secrets(legacy_birth, legacy_expiry)
    if ctx.invoked_subcommand is not None:
        return
    settings.json = settings.json or as_json
    keys = _issuer_keys(issuer_keys)
    proof = None
    if presence:
        data, proof = _read_face_proven(settings, credential, pin_b_parts, force, keys)
    else:
        data = _read_face(settings, credential, pin_b_parts, force)
    face: CardFace = data.face
    report = data.integrity(keys)
    images = {"name": len(face.name_image), "address": len(face.address_image),
              "security_code": len(face.security_code_image)}
    out = {
        "birth": face.birth_text, "birth_date": face.birth.isoformat() if face.birth else None,
        "birth_era": _era(face.birth), **sex_fields(face.sex.value),
        "expiry": face.expiry_text,
        "expiry_date": face.expiry.isoformat() if face.expiry else None,
        "photo": {"format": face.photo_format.value, "bytes": len(face.photo)},
        "images": images, "integrity": report.as_dict(),
    }
    lines = [
        f"Birth date:  {_birth_text(face.birth_text, face.birth)}",
        f"Sex:         {_SEX_NAMES.get(face.sex.value, face.sex.value)}",
        f"Expiry:      {face.expiry.isoformat() if face.expiry else face.expiry_text}",
        f"Photo:       {face.photo_format.value.upper()}, {len(face.photo)} bytes",
        "Images:      " + ", ".join(f"{k} {v} bytes" for k, v in images.items()),
        *_integrity_lines(report),
    ]
    if proof is not None:
        out["presence"] = proof.as_dict()
        lines += _integrity_lines(proof, "Presence:   ")
    emit(settings, out, "\n".join(lines))
    _exit_on_failure(report)
    if proof is not None:
        _exit_on_failure(proof)


@visual.command("photo")
@click.option("-o", "--output", required=True,
              type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              help="File to write (0600), or - for stdout.")
@click.option("--format", "fmt", type=click.Choice(["jp2", "png"]), default="jp2",
              show_default=True,
              help="jp2: the bytes as stored (JP2 or raw J2K); png: decoded (mynaid[photo]).")
@_visual_credential
@_pin_b_options
@click.option("--force", is_flag=True, help="Attempt even when a failure could block the key.")
@scan_option
@pass_settings
def visual_photo(settings: Settings, output: Path, fmt: str, credential: str,
                 pin_b_parts: bool, legacy_birth: str | None, legacy_expiry: str | None,
                 force: bool) -> None:
    """Export the face photo (- for stdout)."""
    from mynaid.photo import export

    _no_argv_secrets(legacy_birth, legacy_expiry)
    check_output(output)  # before the secret is asked for or spent

    if fmt == "png":
        from mynaid.photo import require_opencv

        require_opencv()  # fail on a missing OpenCV before a try of the secret is spent
    data = _read_face(settings, credential, pin_b_parts, force)
    content, extension = export(data.face.photo, fmt)
    if settings.json and str(output) == "-":
        raise click.UsageError("with --json, write the photo to a file (-o FILE)")
    write_private(output, content)
    if settings.json:
        emit(settings, {"output": str(output), "bytes": len(content),
                        "format": extension[1:]}, "")
    else:
        click.echo(f"wrote {output} ({len(content)} bytes, {extension[1:]})", err=True)


@visual.command("images")
@click.option("-o", "--output", required=True,
              type=click.Path(file_okay=False, path_type=Path), help="Directory to write to.")
@_visual_credential
@_pin_b_options
@click.option("--force", is_flag=True, help="Attempt even when a failure could block the key.")
@scan_option
@pass_settings
def visual_images(settings: Settings, output: Path, credential: str, pin_b_parts: bool,
                  legacy_birth: str | None, legacy_expiry: str | None, force: bool) -> None:
    """Write the card face's images: name, address, security code (PNG) and the photo."""
    _no_argv_secrets(legacy_birth, legacy_expiry)
    check_output(output, directory=True)  # before the secret is asked for or spent
    data = _read_face(settings, credential, pin_b_parts, force)
    face: CardFace = data.face
    output.mkdir(parents=True, exist_ok=True)
    files = {
        "name.png": face.name_image,
        "address.png": face.address_image,
        "security-code.png": face.security_code_image,
        "photo" + face.photo_format.extension: face.photo,
    }
    written = []
    for name, content in files.items():
        path = output / name
        write_private(path, content)
        written.append({"output": str(path), "bytes": len(content)})
        if not settings.json:
            click.echo(f"wrote {path} ({len(content)} bytes)", err=True)
    if settings.json:
        emit(settings, {"files": written}, "")


def register(cli: click.Group) -> None:
    cli.add_command(text)
    cli.add_command(visual)
