"""``mynaid pdf sign|verify`` and ``mynaid xml sign|verify``: document signatures.

Everything that can be refused is checked before the secret is asked for (the output path,
a PDF certified against changes, attachment names), so a refusal never costs a try. The
signed file is written next to its destination and renamed into place, so a failure leaves
no half-written output. A refused verification exits with code 6 and names its reason.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from mynaid.cli.main import Settings, emit, pass_settings

if TYPE_CHECKING:
    from mynaid.trust.anchors import TrustStore
    from mynaid.trust.path import ValidationOptions
    from mynaid.trust.revocation import RevocationChecker

_SECRET_LABELS = {"sign": "Signature password", "auth": "Auth PIN"}


# --- shared options ----------------------------------------------------------------------------


def _need(*modules: str) -> None:
    """Fail with a clear message (not a traceback) when the docsign extra is missing."""
    import importlib.util

    from mynaid.errors import DependencyMissingError

    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise DependencyMissingError(f"{module} is not installed: pip install "
                                         "'mynaid[docsign]'")


def _check_output(output: Path, *inputs: Path) -> None:
    """Refuse an output path that cannot be written, or that is one of the inputs."""
    from mynaid.docsign.reasons import DocumentInputError

    target = output.resolve()
    for path in inputs:
        if path.resolve() == target:
            raise DocumentInputError(f"the output {output} is also an input")
    if target.is_dir():
        raise DocumentInputError(f"the output {output} is a folder")
    parent = target.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise DocumentInputError(f"cannot write into {parent}")


@contextmanager
def _atomic_output(output: Path) -> Iterator[IO[bytes]]:
    """A read-write temporary file beside ``output``, renamed onto it on success."""
    target = output.resolve()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w+b") as f:
            yield f
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _verify_options(func: Any) -> Any:
    options = [
        click.option("--trust", "trust_paths", multiple=True,
                     type=click.Path(exists=True, path_type=Path),
                     help="Extra trust anchors: a PEM/DER file or a folder (repeatable). The "
                          "J-LIS roots are always pinned."),
        click.option("--at", "at_text", metavar="TIME",
                     help="Validate at this ISO 8601 time instead of now."),
        click.option("--crl", "crls", multiple=True,
                     type=click.Path(exists=True, path_type=Path),
                     help="A CRL file or folder (repeatable); makes revocation mandatory."),
        click.option("--crl-map", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="JSON mapping of CRL distribution points to files."),
        click.option("--ocsp", "ocsp_url", metavar="URL|aia",
                     help="Check revocation by OCSP at URL (or the certificate's AIA URL)."),
        click.option("--ocsp-timeout", type=float, default=10.0, show_default=True),
        click.option("--production-only", is_flag=True,
                     help="Refuse the JPKI test-card policies."),
        click.option("--any-policy", is_flag=True,
                     help="Accept a signer certificate without a JPKI policy."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _validation(trust_paths: tuple[Path, ...], at_text: str | None, crls: tuple[Path, ...],
                crl_map: Path | None, ocsp_url: str | None, ocsp_timeout: float,
                production_only: bool, any_policy: bool
                ) -> tuple[TrustStore, ValidationOptions, RevocationChecker | None]:
    from mynaid.trust.anchors import TrustStore
    from mynaid.trust.path import ValidationOptions
    from mynaid.trust.revocation import CrlSource, OcspChecker, RevocationChecker

    at = None
    if at_text is not None:
        try:
            at = dt.datetime.fromisoformat(at_text.replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter(f"not an ISO 8601 time: {at_text!r}",
                                     param_hint="--at") from None
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.timezone.utc)
    store = TrustStore.jpki()
    for path in trust_paths:
        store.add_path(path)
    checker = None
    if crls or crl_map is not None or ocsp_url is not None:
        source = CrlSource.load_config(crl_map) if crl_map is not None else None
        if crls:
            source = source or CrlSource()
            for path in crls:
                source.add_path(path)
        ocsp = None
        if ocsp_url is not None:
            ocsp = OcspChecker(url=None if ocsp_url == "aia" else ocsp_url,
                               timeout=ocsp_timeout)
        checker = RevocationChecker(ocsp=ocsp, crls=source)
    options = ValidationOptions(at=at, production_only=production_only,
                                allow_other_policies=any_policy)
    return store, options, checker


def _holder_lines(holder: Any, signer: Any, role: str | None) -> list[str]:
    if holder is not None:
        return [f"  Signed by:  {holder.name}", f"  Address:    {holder.address}"]
    if signer is not None:
        return [f"  Signed by:  {signer.subject.rfc4514_string()} ({role or '?'} certificate: "
                "it names no person)"]
    return []


# --- pdf ---------------------------------------------------------------------------------------


def _visible(text: str | None) -> tuple[int, float, float, float, float] | None:
    if text is None:
        return None
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 5 or parts[0] < 1 or parts[0] != int(parts[0]) or min(parts[3:]) <= 0:
        raise click.BadParameter("PAGE,X,Y,W,H with PAGE from 1 and a positive size",
                                 param_hint="--visible")
    return int(parts[0]), parts[1], parts[2], parts[3], parts[4]


@click.group("pdf")
def pdf_group() -> None:
    """Sign PDF documents with the card, and verify PDF signatures."""


@pdf_group.command("sign")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Where to write the signed PDF.")
@click.option("--key", "which", type=click.Choice(["sign", "auth"]), default="sign",
              show_default=True, help="The signature key (password) or the auth key (PIN).")
@click.option("--reason", help="/Reason of the signature.")
@click.option("--location", help="/Location of the signature.")
@click.option("--field", "field_name", metavar="NAME",
              help="Signature field to fill (created when missing).")
@click.option("--visible", metavar="PAGE,X,Y,W,H", help="A visible signature box (points).")
@click.option("--pades", type=click.Choice(["b-b", "b-t"]),
              help="PAdES baseline instead of the 登記 format (adbe.pkcs7.detached).")
@click.option("--tsa", "tsa_url", metavar="URL", help="RFC 3161 timestamp authority (B-T).")
@click.option("--force", is_flag=True, help="Attempt the secret even on its last try.")
@pass_settings
def pdf_sign_command(settings: Settings, file: Path, output: Path, which: str,
                     reason: str | None, location: str | None, field_name: str | None,
                     visible: str | None, pades: str | None, tsa_url: str | None,
                     force: bool) -> None:
    """Sign the PDF FILE with the card (an incremental update: earlier signatures stay valid)."""
    _need("pyhanko")
    from mynaid.cli.secrets import read_secret
    from mynaid.docsign.card import open_document_key
    from mynaid.docsign.pdf import PdfSignOptions, check_signable, sign_pdf

    options = PdfSignOptions(field_name=field_name, reason=reason, location=location,
                             visible=_visible(visible), pades=pades, tsa_url=tsa_url)
    _check_output(output, file)
    with file.open("rb") as infile:
        check_signable(infile, options)  # before the secret: a refusal costs no try
        secret = read_secret(_SECRET_LABELS[which])
        with settings.protocol() as protocol, \
                open_document_key(protocol, which, secret, force=force) as opened, \
                _atomic_output(output) as outfile:
            summary = sign_pdf(infile, outfile, opened, options)
    serial = format(opened.certificate.serial_number, "X")
    data = {"output": str(output), "key": which, "certificate_serial": serial, **summary}
    emit(settings, data, f"wrote {output} (field {summary['field']}, "
                         f"{summary['subfilter']}, {which} key, certificate serial {serial})")


@pdf_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_verify_options
@pass_settings
def pdf_verify_command(settings: Settings, file: Path, trust_paths: tuple[Path, ...],
                       at_text: str | None, crls: tuple[Path, ...], crl_map: Path | None,
                       ocsp_url: str | None, ocsp_timeout: float, production_only: bool,
                       any_policy: bool) -> None:
    """Verify every signature of the PDF FILE, each with its own verdict."""
    _need("pyhanko")
    from mynaid.docsign.pdf import verify_pdf

    store, options, checker = _validation(trust_paths, at_text, crls, crl_map, ocsp_url,
                                          ocsp_timeout, production_only, any_policy)
    with file.open("rb") as stream:
        report = verify_pdf(stream, store, options=options, revocation=checker)
    lines = [f"{'Verification OK' if report.valid else 'Verification FAILED'}: {file} "
             f"({len(report.signatures)} signature(s))"]
    for i, verdict in enumerate(report.signatures, 1):
        d = verdict.as_dict()
        state = "valid" if verdict.valid else f"REFUSED {verdict.reason}: {verdict.detail}"
        lines.append(f"Signature {i} (field {verdict.field_name}, object {verdict.object_id}): "
                     f"{state}")
        if d["byte_range"] is not None:
            lines.append(f"  ByteRange:  {d['byte_range']} ({d['coverage'] or '?'})")
        if d["modification_level"] is not None:
            changed = ", ".join(d["changed_fields"]) or "-"
            lines.append(f"  Changes after it: {d['modification_level']} "
                         f"(fields: {changed})")
        lines += _holder_lines(verdict.holder, verdict.signer, d["role"])
        if d["signing_time"]:
            lines.append(f"  Signed at:  {d['signing_time']} (claimed by the signer)")
        if d["anchor_fingerprint"]:
            lines.append(f"  Anchor:     {d['anchor_fingerprint']}")
    emit(settings, report.as_dict(), "\n".join(lines))
    report.raise_for_failure()


# --- xml ---------------------------------------------------------------------------------------


@click.group("xml")
def xml_group() -> None:
    """Sign XML documents with the card (XML-DSig as e-Gov uses it), and verify them."""


@xml_group.command("sign")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Where to write the signed XML.")
@click.option("--detached", "attachments", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="An attachment file referenced by name and digest (repeatable).")
@click.option("--id", "reference_id", metavar="ID",
              help="Sign the element with this Id instead of the whole document.")
@click.option("--key", "which", type=click.Choice(["sign", "auth"]), default="sign",
              show_default=True)
@click.option("--force", is_flag=True, help="Attempt the secret even on its last try.")
@pass_settings
def xml_sign_command(settings: Settings, file: Path, output: Path,
                     attachments: tuple[Path, ...], reference_id: str | None, which: str,
                     force: bool) -> None:
    """Sign the XML FILE with the card (an enveloped signature)."""
    _need("lxml")
    from mynaid.cli.secrets import read_secret
    from mynaid.docsign.card import open_document_key
    from mynaid.docsign.reasons import DocumentInputError
    from mynaid.docsign.xml import sign_xml

    _check_output(output, file, *attachments)
    names = [p.name for p in attachments]
    if len(set(names)) != len(names):
        raise DocumentInputError("two attachments have the same file name")
    secret = read_secret(_SECRET_LABELS[which])
    with settings.protocol() as protocol, \
            open_document_key(protocol, which, secret, force=force) as opened, \
            _atomic_output(output) as outfile:
        summary = sign_xml(file, outfile, opened, detached=attachments,
                           reference_id=reference_id)
    serial = format(opened.certificate.serial_number, "X")
    emit(settings, {"output": str(output), "key": which, "certificate_serial": serial,
                    **summary},
         f"wrote {output} (references {summary['references']}, {which} key, "
         f"certificate serial {serial})")


@xml_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--base-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of the attachments (default: the document's).")
@_verify_options
@pass_settings
def xml_verify_command(settings: Settings, file: Path, base_dir: Path | None,
                       trust_paths: tuple[Path, ...], at_text: str | None,
                       crls: tuple[Path, ...], crl_map: Path | None, ocsp_url: str | None,
                       ocsp_timeout: float, production_only: bool, any_policy: bool) -> None:
    """Verify the XML signature of FILE and its attachments."""
    _need("lxml")
    from mynaid.docsign.reasons import DocumentError
    from mynaid.docsign.xml import verify_xml
    from mynaid.trust.errors import VerificationError

    store, options, checker = _validation(trust_paths, at_text, crls, crl_map, ocsp_url,
                                          ocsp_timeout, production_only, any_policy)
    try:
        result = verify_xml(file, store, base_dir=base_dir, options=options,
                            revocation=checker)
    except (DocumentError, VerificationError) as exc:
        if settings.json:
            from mynaid.cli.jsonout import verification_failure

            emit(settings, verification_failure(exc), "")  # the one failure shape (schema)
        raise
    data = result.as_dict()
    lines = ["Verification OK", *_holder_lines(result.holder, result.signer, data["role"]),
             f"  References: {', '.join(repr(u) for u in result.references)}",
             f"  Signed:     {', '.join(data['signed_elements'])}",
             f"  Anchor:     {data['anchor_fingerprint']}"]
    emit(settings, data, "\n".join(lines))


def register(cli: click.Group) -> None:
    cli.add_command(pdf_group)
    cli.add_command(xml_group)
