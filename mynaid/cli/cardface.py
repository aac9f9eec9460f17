"""``mynaid text`` and ``mynaid visual``: the card's text and visual applications.

Secrets come from a hidden prompt or one line of stdin each (:func:`read_secret`), never from
argv. ``mynaid text`` prints the My Number to stdout (that is what it is for) and nowhere else:
the APDU trace of ``-v`` redacts the responses of these applications.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mynaid.cli.main import Settings, emit, pass_settings, write_private
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
    f = click.option("--expiry-year", type=click.IntRange(1000, 9999),
                     help="With --birth: the card's expiry year (Gregorian).")(f)
    return click.option(
        "--birth", metavar="YYYY-MM-DD",
        help="For pin-b: build 照合番号B from the birth date (Gregorian), --expiry-year and "
             "the security code, which is then prompted for.")(f)


def _common_options(f: Any) -> Any:
    f = click.option("--force", is_flag=True,
                     help="Attempt even when a failure could block the key.")(f)
    return click.option("--json", "as_json", is_flag=True, help="JSON output.")(f)


def read_credential(name: str, birth: str | None, expiry_year: int | None) -> str:
    """The secret for credential ``name``: prompted, or built for pin-b from its parts."""
    from mynaid.cli.secrets import read_secret

    scanned = scanned_collation_b(name)  # --scan / --camera: from the card front
    if scanned is not None:
        return scanned
    if name == "pin-b" and (birth or expiry_year):
        from mynaid.era import build_pin_b, parse_gregorian

        if not (birth and expiry_year):
            raise click.UsageError("--birth and --expiry-year go together")
        date = parse_gregorian(birth)  # checked before the prompt: fail early
        code = read_secret("Security code printed on the card (4 digits)")
        return build_pin_b(date, expiry_year, code)
    if birth or expiry_year:
        raise click.UsageError("--birth and --expiry-year are for --with pin-b")
    return read_secret(_PROMPTS[name])


def _issuer_keys(paths: Sequence[Path]) -> list[IssuerKey]:
    from mynaid.integrity import load_issuer_keys

    return load_issuer_keys(paths)


def _integrity_lines(report: IntegrityReport) -> list[str]:
    status = "ok" if report.ok else ("FAILED" if report.failed else "incomplete")
    lines = [f"Integrity:   {status}"]
    for name, check in report.checks().items():
        mark = {True: "pass", False: "FAIL", None: "skipped"}[check.passed]
        lines.append(f"  {name}: {mark} - {check.reason}")
    return lines


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
@_common_options
@scan_option
@pass_settings
def text(settings: Settings, credential: str, birth: str | None,
         expiry_year: int | None, issuer_keys: tuple[Path, ...], force: bool,
         as_json: bool) -> None:
    """The text application: My Number and the four attributes, with integrity checks."""
    from mynaid.sessions.text import TextSession

    settings.json = settings.json or as_json
    keys = _issuer_keys(issuer_keys)
    credential = scanned_credential(credential)
    secret = read_credential(credential, birth, expiry_year)
    with settings.protocol() as protocol:
        data = TextSession(protocol).read(secret, credential, force=force)
    report = data.integrity(keys)
    out: dict[str, Any] = {}
    lines: list[str] = []
    if data.my_number is not None:
        out["my_number"] = data.my_number.value
        lines.append(f"My Number:   {data.my_number.value}")
    if data.attributes is not None:
        a = data.attributes
        out.update(name=a.name, address=a.address, birth=a.birth_text,
                   birth_era=_era(a.birth), sex=a.sex.value)
        lines += [f"Name:        {a.name}", f"Address:     {a.address}",
                  f"Birth date:  {_birth_text(a.birth_text, a.birth)}",
                  f"Sex:         {_SEX_NAMES.get(a.sex.value, a.sex.value)}"]
    out["integrity"] = report.as_dict()
    emit(settings, out, "\n".join(lines + _integrity_lines(report)))
    _exit_on_failure(report)


# --- mynaid visual ---------------------------------------------------------------------------


def _read_face(settings: Settings, credential: str, birth: str | None,
               expiry_year: int | None, force: bool) -> Any:
    from mynaid.sessions.visual import VisualSession

    credential = scanned_credential(credential)
    secret = read_credential(credential, birth, expiry_year)
    with settings.protocol() as protocol:
        return VisualSession(protocol).read(secret, credential, force=force)


def _visual_credential(f: Any) -> Any:
    return click.option("--with", "credential", type=click.Choice(["pin-a", "pin-b"]),
                        default="pin-a", show_default=True,
                        help="pin-a: 照合番号A (the My Number); pin-b: 照合番号B.")(f)


@click.group(invoke_without_command=True)
@_visual_credential
@_pin_b_options
@_issuer_key_option
@_common_options
@scan_option
@pass_settings
@click.pass_context
def visual(ctx: click.Context, settings: Settings, credential: str, birth: str | None,
           expiry_year: int | None, issuer_keys: tuple[Path, ...], force: bool,
           as_json: bool) -> None:
    """The visual application: the card face (photo, images, dates) and its signature."""
    if ctx.invoked_subcommand is not None:
        return
    settings.json = settings.json or as_json
    keys = _issuer_keys(issuer_keys)
    data = _read_face(settings, credential, birth, expiry_year, force)
    face: CardFace = data.face
    report = data.integrity(keys)
    images = {"name": len(face.name_image), "address": len(face.address_image),
              "security_code": len(face.security_code_image)}
    out = {
        "birth": face.birth_text, "birth_era": _era(face.birth), "sex": face.sex.value,
        "expiry": face.expiry_text,
        "photo": {"format": face.photo_format.value, "bytes": len(face.photo)},
        "images": images, "integrity": report.as_dict(),
    }
    lines = [
        f"Birth date:  {_birth_text(face.birth_text, face.birth)}",
        f"Sex:         {_SEX_NAMES.get(face.sex.value, face.sex.value)}",
        f"Expiry:      {face.expiry.isoformat() if face.expiry else face.expiry_text}",
        f"Photo:       {face.photo_format.value.upper()}, {len(face.photo)} bytes",
        "Images:      " + ", ".join(f"{k} {v} bytes" for k, v in images.items()),
    ]
    emit(settings, out, "\n".join(lines + _integrity_lines(report)))
    _exit_on_failure(report)


@visual.command("photo")
@click.option("-o", "--output", required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
@click.option("--format", "fmt", type=click.Choice(["jp2", "png"]), default="jp2",
              show_default=True,
              help="jp2: the bytes as stored (JP2 or raw J2K); png: decoded (mynaid[photo]).")
@_visual_credential
@_pin_b_options
@click.option("--force", is_flag=True, help="Attempt even when a failure could block the key.")
@scan_option
@pass_settings
def visual_photo(settings: Settings, output: Path, fmt: str, credential: str,
                 birth: str | None, expiry_year: int | None, force: bool) -> None:
    """Export the face photo."""
    from mynaid.photo import export

    if fmt == "png":
        from mynaid.photo import require_opencv

        require_opencv()  # fail on a missing OpenCV before a try of the secret is spent
    data = _read_face(settings, credential, birth, expiry_year, force)
    content, extension = export(data.face.photo, fmt)
    write_private(output, content)
    click.echo(f"wrote {output} ({len(content)} bytes, {extension[1:]})", err=True)


@visual.command("images")
@click.option("-o", "--output", required=True,
              type=click.Path(file_okay=False, path_type=Path), help="Directory to write to.")
@_visual_credential
@_pin_b_options
@click.option("--force", is_flag=True, help="Attempt even when a failure could block the key.")
@scan_option
@pass_settings
def visual_images(settings: Settings, output: Path, credential: str, birth: str | None,
                  expiry_year: int | None, force: bool) -> None:
    """Write the card face's images: name, address, security code (PNG) and the photo."""
    data = _read_face(settings, credential, birth, expiry_year, force)
    face: CardFace = data.face
    output.mkdir(parents=True, exist_ok=True)
    files = {
        "name.png": face.name_image,
        "address.png": face.address_image,
        "security-code.png": face.security_code_image,
        "photo" + face.photo_format.extension: face.photo,
    }
    for name, content in files.items():
        path = output / name
        write_private(path, content)
        click.echo(f"wrote {path} ({len(content)} bytes)", err=True)


def register(cli: click.Group) -> None:
    cli.add_command(text)
    cli.add_command(visual)
