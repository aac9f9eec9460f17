"""Card-front scans on the command line: ``mynaid confirm`` and ``--scan`` / ``--camera``.

``mynaid confirm`` is the face-to-face confirmation mode (対面確認): scan the card front →
read the visual application with 照合番号B → verify the card face (DF28, the CV certificate
against a trusted issuer key, the card's presence proof) → show the chip's photo and
attributes for staff (terminal; ``--photo FILE``; ``--html FILE``, one page with the photo
embedded) → a confirmation record (``--record FILE`` appends one JSON line; ``--json``).
The core is :mod:`mynaid.cardfront.confirm`.

:func:`scan_option` adds ``--scan FRONT.jpg`` and ``--camera DEV`` to a command (``mynaid
visual``, ``mynaid text --with pin-b``; ``mynaid kiosk`` names the camera ``--scan-camera``,
since its ``--camera`` is the face camera). The command then takes 照合番号B from
:func:`collation_b_from_scan`: a photo that cannot be read well enough is refused with the
field and the reason (:class:`mynaid.errors.CardFrontError`, exit code 2) before anything is
sent to the card.

Kiosk integration: :class:`ScanCollationB` implements :class:`mynaid.kiosk.CollationBSource`
(``read()`` returns 照合番号B from a scan of the card, or None when no good read could be
made) over a file or a camera; the kiosk state machine takes one injected like the face
camera (``KioskConfig.collation_b_source``) and falls back to typed entry by staff.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

import click

from mynaid.cli.main import Settings, emit, pass_settings, write_private
from mynaid.errors import CardFrontError

F = TypeVar("F", bound=Callable[..., Any])

if TYPE_CHECKING:
    from mynaid.cardfront.confirm import Confirmation
    from mynaid.cardfront.fields import CardFrontRead

_CTX_KEY = "mynaid.scan"
#: Frames taken from a live camera before giving up, and frames skipped first (exposure).
CAMERA_FRAMES = 8
CAMERA_WARMUP = 3
MAX_SCAN_FILE = 64 * 1024 * 1024


@dataclass(frozen=True)
class ScanSource:
    """A photo file of the card front, or a camera (index or device/video path)."""

    path: Path | None = None
    camera: str | None = None

    def describe(self) -> str:
        return f"camera {self.camera}" if self.camera is not None else f"photo {self.path}"


def _read_file(path: Path) -> bytes:
    with open(path, "rb") as f:
        data = f.read(MAX_SCAN_FILE + 1)
    if len(data) > MAX_SCAN_FILE:
        raise CardFrontError("image", "the image file is larger than 64 MiB")
    return data


def _camera_frames(camera: str) -> list[Any]:
    """Up to :data:`CAMERA_FRAMES` frames from a camera (after a short warm-up)."""
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - the ocr extra brings OpenCV
        from mynaid.errors import DependencyMissingError

        raise DependencyMissingError("--camera needs OpenCV: pip install 'mynaid[ocr]'") \
            from exc
    cap = cv2.VideoCapture(int(camera) if camera.isdigit() else camera)
    frames: list[Any] = []
    try:
        if not cap.isOpened():
            raise CardFrontError("image", f"cannot open camera {camera}")
        for i in range(CAMERA_WARMUP + CAMERA_FRAMES):
            ok, frame = cap.read()
            if not ok:
                break
            if i >= CAMERA_WARMUP or not frames:
                frames.append(frame)
    finally:
        cap.release()
    if not frames:
        raise CardFrontError("image", f"camera {camera} gave no picture")
    return frames[-CAMERA_FRAMES:]


def read_scan(source: ScanSource, *, today: dt.date | None = None) -> CardFrontRead:
    """The best read of the card front: the file, or the first accepted camera frame (the
    last frame's refusal when none is accepted)."""
    from mynaid.cardfront import read_card_front

    if source.camera is None:
        assert source.path is not None
        return read_card_front(_read_file(source.path), today=today)
    read = None
    for frame in _camera_frames(source.camera):
        read = read_card_front(frame, today=today)
        if read.accepted:
            return read
    assert read is not None
    return read


def collation_b_from_scan(source: ScanSource | str | Path, *,
                          today: dt.date | None = None) -> str:
    """照合番号B read from a photo of the card front (a path, or a :class:`ScanSource`);
    :class:`CardFrontError` (which field, why) when the read is not good enough."""
    if not isinstance(source, ScanSource):
        source = ScanSource(path=Path(source))
    return read_scan(source, today=today).collation_b()


class ScanCollationB:
    """:class:`CollationBSource` over a photo file or a camera. A refusal is passed to
    ``on_refusal`` (e.g. shown to staff) and ``read()`` returns None."""

    def __init__(self, source: ScanSource,
                 on_refusal: Callable[[CardFrontError], None] | None = None) -> None:
        self.source = source
        self.on_refusal = on_refusal
        self.last_refusal: CardFrontError | None = None

    def read(self) -> str | None:
        try:
            return collation_b_from_scan(self.source)
        except CardFrontError as exc:
            self.last_refusal = exc
            if self.on_refusal is not None:
                self.on_refusal(exc)
            return None


def kiosk_collation_b_source() -> ScanCollationB | None:
    """For ``mynaid kiosk`` (terminal and web): with ``--scan``/``--scan-camera``, the
    :class:`CollationBSource` that :class:`mynaid.kiosk.KioskFlow` tries before typed entry
    (a refusal is told to staff on stderr and the flow falls back to typed entry)."""
    source = scan_source()
    if source is None:
        return None

    def refused(exc: CardFrontError) -> None:
        click.echo(f"card front not read ({exc.why}): 照合番号B is typed instead", err=True)

    return ScanCollationB(source, refused)


# --- the option ------------------------------------------------------------------------------


def _store(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None:
        current = ctx.meta.get(_CTX_KEY) or ScanSource()
        if param.name == "scan":
            current = ScanSource(path=value, camera=current.camera)
        else:
            current = ScanSource(path=current.path, camera=value)
        if current.path is not None and current.camera is not None:
            raise click.UsageError("--scan and the camera option go one at a time")
        ctx.meta[_CTX_KEY] = current
    return value


@overload
def scan_option(f: F) -> F: ...
@overload
def scan_option(f: None = None, *, camera: str = ...) -> Callable[[F], F]: ...
def scan_option(f: F | None = None, *, camera: str = "--camera") -> F | Callable[[F], F]:
    """Add ``--scan FILE`` and ``camera`` (``--camera DEV``) to a click command: 照合番号B
    then comes from the card front (see :func:`scanned_collation_b`)."""
    def decorate(func: F) -> F:
        func = click.option(
            camera, "scan_camera", metavar="DEV", expose_value=False, callback=_store,
            help="Take 照合番号B from a live shot of the card front (camera index or "
                 "device).")(func)
        return click.option(
            "--scan", "scan", metavar="FRONT.jpg", expose_value=False, callback=_store,
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Read 照合番号B from a photo of the card front instead of asking "
                 "(mynaid[ocr]).")(func)
    return decorate(f) if f is not None else decorate


def scan_source() -> ScanSource | None:
    """The scan given to the running command, if any."""
    ctx = click.get_current_context(silent=True)
    return None if ctx is None else ctx.find_root().meta.get(_CTX_KEY)


def scanned_credential(credential: str) -> str:
    """With a scan, the credential is 照合番号B: ``pin-b`` (a default pin-a becomes pin-b;
    another credential given explicitly is a usage error)."""
    if scan_source() is None:
        return credential
    ctx = click.get_current_context()
    source = ctx.get_parameter_source("credential") if "credential" in ctx.params else None
    if credential != "pin-b" and source is not None and \
            source is not click.core.ParameterSource.DEFAULT:
        raise click.UsageError("--scan reads 照合番号B: use it with --with pin-b")
    return "pin-b"


def scanned_collation_b(name: str) -> str | None:
    """照合番号B from the command's scan when ``name`` is pin-b and a scan was given."""
    source = scan_source()
    if source is None or name != "pin-b":
        return None
    read = read_scan(source)
    if not read.accepted:
        click.echo(f"card front ({source.describe()}): refused, nothing sent to the card",
                   err=True)
    return read.collation_b()


# --- mynaid confirm --------------------------------------------------------------------------

_SEX = {"0": "unknown", "1": "male / 男", "2": "female / 女", "9": "not applicable"}


def _html_report(c: Confirmation, photo_png: bytes | None) -> str:
    import base64

    def img(data: bytes | None, alt: str) -> str:
        if not data:
            return f"<p>({html.escape(alt)}: none)</p>"
        return (f'<img alt="{html.escape(alt)}" src="data:image/png;base64,'
                f'{base64.b64encode(data).decode("ascii")}">')

    face = c.face
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td class={'ok' if v else 'bad'}>"
        f"{'pass' if v else ('FAIL' if v is False else 'not checked')}</td>"
        f"<td>{html.escape(c.details.get(name, ''))}</td></tr>" for name, v in c.checks.items())
    verdict = "確認済み / confirmed" if c.ok else "確認できません / NOT confirmed"
    return f"""<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>対面確認 / face-to-face confirmation</title>
<style>body{{font-family:sans-serif;margin:2em}} .cols{{display:flex;gap:2em}}
td{{padding:.2em .6em}} .ok{{color:#060}} .bad{{color:#a00;font-weight:bold}}
img{{border:1px solid #999;max-width:100%}}</style></head><body>
<h1>対面確認 — {html.escape(verdict)}</h1>
<div class="cols"><div>{img(photo_png, "IC chip photo")}</div><div>
<h2>ICチップの券面事項 / from the IC chip</h2>
<p>氏名 / name</p>{img(face.name_image, "name")}
<p>住所 / address</p>{img(face.address_image, "address")}
<p>生年月日 / birth: {html.escape(face.birth.isoformat() if face.birth else face.birth_text)}
　性別 / sex: {html.escape(_SEX.get(face.sex.value, face.sex.value))}
　有効期限 / expiry: {html.escape(face.expiry.isoformat() if face.expiry else face.expiry_text)}
</p></div></div>
<h2>検証 / checks</h2><table>{rows}</table>
<p>Compare the person in front of you with the chip's photo. {html.escape(c.record.time)}</p>
</body></html>
"""


@click.command()
@scan_option
@click.option("--issuer-key", "issuer_keys", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Trusted visual-AP issuer key (PEM; repeatable; also $MYNAID_ISSUER_KEYS). "
                   "Test card: vectors/test-pki/visual-issuer.pem.")
@click.option("--photo", "photo_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the chip's photo here (PNG) for staff to look at.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a one-page report with the photo embedded.")
@click.option("--record", "record_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Append the confirmation record (one JSON line) to this file.")
@click.option("--force", is_flag=True, help="Attempt even when a failure could block the key.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@pass_settings
def confirm(settings: Settings, issuer_keys: tuple[Path, ...], photo_out: Path | None,
            html_out: Path | None, record_out: Path | None, force: bool,
            as_json: bool) -> None:
    """Face-to-face confirmation (対面確認): card front → IC chip → checks → record.

    Without --scan/--camera, 照合番号B is asked for (typed by staff).
    """
    from mynaid.cardfront.confirm import confirm as run_confirm
    from mynaid.integrity import load_issuer_keys

    settings.json = settings.json or as_json
    keys = load_issuer_keys(issuer_keys)
    source = scan_source()
    scan = None
    if source is not None:
        scan = read_scan(source)
        if not scan.accepted:
            click.echo(f"card front ({source.describe()}): refused, nothing sent to the card",
                       err=True)
        secret = scan.collation_b()
        method = "ic-chip+card-front-ocr"
    else:
        from mynaid.cli.secrets import read_secret

        secret = read_secret("照合番号B (14 digits: era birth YYMMDD, expiry year, "
                             "security code)")
        method = "ic-chip+typed"
    with settings.protocol() as protocol:
        result = run_confirm(protocol, secret, keys, method=method, scan=scan, force=force)
    del secret
    face = result.face
    photo_png = None
    if photo_out is not None or html_out is not None:
        from mynaid.photo import export

        photo_png = export(face.photo, "png")[0]
    if photo_out is not None and photo_png is not None:
        write_private(photo_out, photo_png)
    if html_out is not None:
        write_private(html_out, _html_report(result, photo_png).encode("utf-8"))
    record = result.record.as_dict()
    if record_out is not None:
        import os

        fd = os.open(record_out, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    data = {
        "result": record["result"],
        "attributes": {"birth": face.birth_text, "sex": face.sex.value,
                       "expiry": face.expiry_text},
        "checks": {k: {"passed": v, "detail": result.details.get(k)}
                   for k, v in result.checks.items()},
        "scan": scan.as_dict() if scan is not None else None,
        "record": record,
    }
    lines = [f"対面確認 / confirmation: {'CONFIRMED' if result.ok else 'NOT CONFIRMED'}",
             f"Birth date:  {face.birth.isoformat() if face.birth else face.birth_text}",
             f"Sex:         {_SEX.get(face.sex.value, face.sex.value)}",
             f"Expiry:      {face.expiry.isoformat() if face.expiry else face.expiry_text}",
             f"Photo:       {photo_out or 'not written (--photo FILE or --html FILE)'}",
             "Checks:"]
    for name, passed in result.checks.items():
        mark = {True: "pass", False: "FAIL", None: "not checked"}[passed]
        lines.append(f"  {name}: {mark} - {result.details.get(name, '')}")
    lines.append(f"Record:      {record['time']}, {method}"
                 + (f", appended to {record_out}" if record_out else ""))
    emit(settings, data, "\n".join(lines))
    failure = result.failure()
    if failure is not None:
        raise failure


def register(cli: click.Group) -> None:
    cli.add_command(confirm)
