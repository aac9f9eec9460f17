"""``mynaid sign``, ``mynaid verify`` and ``mynaid auth``: signatures and trust.

Secrets are read with :func:`mynaid.cli.secrets.read_secret` (a prompt, or one line of
stdin), never from argv. A verification failure exits with code 6 and names its reason.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mynaid.cli.main import Settings, emit, pass_settings

if TYPE_CHECKING:
    from mynaid.trust.anchors import TrustStore
    from mynaid.trust.errors import VerificationError
    from mynaid.trust.revocation import RevocationChecker

_SECRET_LABELS = {"sign": "Signature password", "auth": "Auth PIN"}


def _parse_time(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {text!r}", param_hint="--at") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _fail_json(settings: Settings, exc: VerificationError) -> None:
    if settings.json:
        from mynaid.cli.jsonout import verification_failure

        emit(settings, verification_failure(exc), "")


# --- files ---------------------------------------------------------------------------------


def _is_dash(path: Path | None) -> bool:
    return path is not None and str(path) == "-"


class _Output:
    """An output file opened (as a private temporary file next to it) before any secret is
    asked, so a bad ``-o`` fails first; renamed into place only on success. ``-`` is stdout.
    """

    def __init__(self, path: Path, option: str = "-o") -> None:
        import os
        import sys
        import tempfile

        self.path = path
        self._tmp: str | None = None
        if _is_dash(path):
            self.stream: Any = sys.stdout.buffer
            return
        from mynaid.cli.main import check_output
        from mynaid.errors import OutputPathError

        check_output(path)  # the one set of rules (exit 1): link, folder, missing folder
        if path.exists() and not os.access(path, os.W_OK):
            raise OutputPathError(f"{path} is not writable")
        parent = path.parent if str(path.parent) else Path(".")
        try:
            # mkstemp creates the file 0600 with O_EXCL: never through a planted link.
            fd, self._tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.",
                                             suffix=".tmp")
        except OSError as exc:
            raise OutputPathError(f"cannot write in {parent}: {exc.strerror or exc}") \
                from None
        self.stream = os.fdopen(fd, "wb")

    def commit(self) -> None:
        import os

        if self._tmp is None:
            self.stream.flush()
            return
        self.stream.close()
        os.replace(self._tmp, self.path)  # replaces a link planted meanwhile, not its target
        self._tmp = None

    def discard(self) -> None:
        import os

        if self._tmp is not None:
            self.stream.close()
            try:
                os.unlink(self._tmp)
            except OSError:
                pass
            self._tmp = None


def _open_input(path: Path, what: str) -> Any:
    import sys

    from mynaid.errors import ParseError

    if _is_dash(path):
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as exc:
        raise ParseError(f"cannot read the {what} {path}: {exc.strerror or exc}",
                         reason="unreadable-file") from None


# --- sign ------------------------------------------------------------------------------------


@click.command("sign")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True,
                                        path_type=Path))
@click.option("--key", "which", type=click.Choice(["sign", "auth"]), default="sign",
              show_default=True, help="The signature key (password) or the auth key (PIN).")
@click.option("-o", "--output", required=True,
              type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              help="Where to write the CMS signature (- for standard output).")
@click.option("--detached", is_flag=True, help="Leave the content out of the signature.")
@click.option("--digest", type=click.Choice(["sha256", "sha384", "sha512"]), default="sha256",
              show_default=True)
@click.option("--pem", is_flag=True, help="PEM armour (-----BEGIN CMS-----) instead of DER.")
@click.option("--include-chain", is_flag=True, help="Embed the card's CA certificate too.")
@click.option("--force", is_flag=True, help="Attempt the secret even on its last try.")
@pass_settings
def sign_command(settings: Settings, file: Path, which: str, output: Path, detached: bool,
                 digest: str, pem: bool, include_chain: bool, force: bool) -> None:
    """Sign FILE (- for standard input) with the card into a CMS (PKCS#7) SignedData.

    The content is hashed in chunks; an attached signature copies it into the output, so
    memory does not grow with the file.
    """
    import shutil
    import sys
    import tempfile

    from mynaid import cms
    from mynaid.cardkey import CardRsaPrivateKey
    from mynaid.cardspec import AUTH_PIN, SIGN_PASSWORD, CertificateSlot
    from mynaid.cli.secrets import guarded_prompt

    if _is_dash(file) and not sys.stdin.isatty():
        # Secrets are read as lines of a non-terminal stdin: it cannot hold the content too.
        raise click.BadParameter("standard input carries the secret; give the content as a "
                                 "file", param_hint="FILE")
    if settings.json and _is_dash(output):
        raise click.UsageError("with --json, write the signature to a file (-o FILE)")
    # Everything that can fail without the card fails before the secret is asked or spent.
    source = _open_input(file, "file to sign")
    if _is_dash(file):
        spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)
        shutil.copyfileobj(source, spool, cms.CHUNK)
        spool.seek(0)
        source = spool
    out = _Output(output)
    try:
        with settings.protocol() as protocol:
            secret = guarded_prompt(protocol, SIGN_PASSWORD if which == "sign" else AUTH_PIN,
                                    force=force, label=_SECRET_LABELS[which])
            key = CardRsaPrivateKey.open(protocol, which, secret, force=force)
            chain = []
            if include_chain:
                slot = CertificateSlot.SIGN_CA if which == "sign" else CertificateSlot.AUTH_CA
                chain.append(key.session.read_certificate(slot))
            cms.sign_file(source, out.stream, key, key.certificate, digest=digest,
                          detached=detached, chain=chain, pem=pem)
        out.commit()
    except BaseException:
        out.discard()
        raise
    finally:
        source.close()
    serial = format(key.certificate.serial_number, "X")
    data = {"output": str(output), "key": which, "detached": detached, "digest": digest,
            "format": "pem" if pem else "der", "certificate_serial": serial,
            "chain_included": include_chain}
    message = (f"wrote {output} ({'detached' if detached else 'attached'} CMS, "
               f"{digest}, {which} key, certificate serial {serial})")
    if _is_dash(output):
        click.echo(message, err=True)  # stdout carries the signature
        return
    emit(settings, data, message)


# --- verify ----------------------------------------------------------------------------------


def _trust_store(paths: tuple[Path, ...]) -> TrustStore:
    from mynaid.errors import ParseError
    from mynaid.trust.anchors import TrustStore
    from mynaid.trust.certs import load_certificates_checked

    store = TrustStore.jpki()
    for path in paths:
        files = sorted(p for p in path.iterdir() if p.is_file()
                       and p.suffix.lower() in {".pem", ".crt", ".cer", ".der"}) \
            if path.is_dir() else [path]
        for item in files:
            try:
                data = item.read_bytes()
            except OSError as exc:
                raise ParseError(f"cannot read the trust anchor file {item}: "
                                 f"{exc.strerror or exc}", reason="unreadable-file") from None
            if path.is_dir() and b"-----BEGIN" in data \
                    and b"-----BEGIN CERTIFICATE-----" not in data:
                continue  # a key or CRL next to the certificates (as c_rehash skips them)
            for cert in load_certificates_checked(data, source=f"--trust {item}"):
                store.add_certificate(cert)
    return store


def _revocation(crls: tuple[Path, ...], crl_map: Path | None,
                ocsp_url: str | None, timeout: float, require_nonce: bool = False,
                crl_max_age: float | None = None) -> RevocationChecker | None:
    from mynaid.trust.revocation import CrlSource, OcspChecker, RevocationChecker, preload

    if not crls and crl_map is None and ocsp_url is None:
        return None
    source: CrlSource | None = None
    if crl_map is not None:
        source = CrlSource.load_config(crl_map)
    if crls:
        source = source or CrlSource()
        for path in crls:
            source.add_path(path)
    if source is not None:
        # Garbage named on the command line is an input error now (exit 1), not a failed
        # verification later.
        preload(source)
        if crl_max_age is not None:
            source.max_age = dt.timedelta(days=crl_max_age)
    checker = None
    if ocsp_url is not None:
        checker = OcspChecker(url=None if ocsp_url == "aia" else ocsp_url, timeout=timeout,
                              require_nonce=require_nonce)
    return RevocationChecker(ocsp=checker, crls=source)


def _who(result: Any) -> list[str]:
    lines = []
    if result.holder is not None:
        lines.append(f"Signed by:   {result.holder.name}")
        lines.append(f"Address:     {result.holder.address}")
        if result.holder.name_substituted_positions or \
                result.holder.address_substituted_positions:
            lines.append("             (some characters are substitutes for ones outside "
                         "JIS X 0208)")
    else:
        lines.append(f"Signed by:   {result.signer.subject.rfc4514_string()} "
                     f"({result.role.value} certificate: it names no person)")
    return lines


@click.command("verify")
@click.argument("signature", type=click.Path(exists=True, dir_okay=False, allow_dash=True,
                                             path_type=Path))
@click.option("--content", type=click.Path(exists=True, dir_okay=False, allow_dash=True,
                                           path_type=Path),
              help="The signed content, for a detached signature (- for standard input).")
@click.option("--trust", "trust_paths", multiple=True,
              type=click.Path(exists=True, path_type=Path),
              help="Extra trust anchors: a PEM/DER file or a folder (repeatable). The J-LIS "
                   "roots are always pinned.")
@click.option("--at", "at_text", metavar="TIME",
              help="Validate at this ISO 8601 time instead of now.")
@click.option("--role", type=click.Choice(["sign", "auth", "any"]), default="sign",
              show_default=True,
              help="The certificate the signature must be made with: the signature "
                   "certificate (default), the auth certificate, or either.")
@click.option("--crl", "crls", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="A CRL file or folder (repeatable); makes revocation checking mandatory.")
@click.option("--crl-map", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON mapping of CRL distribution points to files.")
@click.option("--crl-max-age", type=click.FloatRange(min=0, min_open=True), metavar="DAYS",
              help="How long a CRL without nextUpdate is believed (default 7 days).")
@click.option("--ocsp", "ocsp_url", metavar="URL|aia",
              help="Check revocation by OCSP at URL (or the certificate's AIA URL).")
@click.option("--ocsp-timeout", type=click.FloatRange(min=0, min_open=True), default=10.0,
              show_default=True, help="Seconds for the whole OCSP exchange.")
@click.option("--require-nonce", is_flag=True,
              help="Refuse an OCSP answer that does not echo the request's nonce.")
@click.option("--production-only", is_flag=True, help="Refuse the JPKI test-card policies.")
@click.option("--any-policy", is_flag=True,
              help="Accept a signer certificate without a JPKI policy (generic profile).")
@click.option("--holder-details", is_flag=True,
              help="Also print sex and birth date from the signature certificate.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True,
                                                path_type=Path),
              help="Write the verified content here (- for standard output).")
@pass_settings
def verify_command(settings: Settings, signature: Path, content: Path | None,
                   trust_paths: tuple[Path, ...], at_text: str | None, role: str,
                   crls: tuple[Path, ...], crl_map: Path | None, crl_max_age: float | None,
                   ocsp_url: str | None, ocsp_timeout: float, require_nonce: bool,
                   production_only: bool, any_policy: bool, holder_details: bool,
                   output: Path | None) -> None:
    """Verify a CMS signature: content digest, signature, certificate path, revocation.

    Large files are hashed in chunks (attached content where it lies in the file).
    """
    from mynaid import cms
    from mynaid.trust.errors import Reason, VerificationError
    from mynaid.trust.path import CertificateRole, ValidationOptions

    if _is_dash(signature) and _is_dash(content):
        raise click.BadParameter("only one of SIGNATURE and --content can be standard input",
                                 param_hint="--content")
    if output is not None and content is not None and _is_dash(content):
        raise click.BadParameter("-o cannot copy content that was read from standard input",
                                 param_hint="-o")
    if require_nonce and ocsp_url is None:
        raise click.BadParameter("--require-nonce needs --ocsp", param_hint="--require-nonce")
    options = ValidationOptions(at=_parse_time(at_text), production_only=production_only,
                                allow_other_policies=any_policy)
    required = {"sign": CertificateRole.SIGN, "auth": CertificateRole.AUTH}.get(role)
    store = _trust_store(trust_paths)
    checker = _revocation(crls, crl_map, ocsp_url, ocsp_timeout, require_nonce, crl_max_age)
    out = _Output(output) if output is not None else None
    sig_stream = _open_input(signature, "signature")
    content_stream = _open_input(content, "content") if content is not None else None
    try:
        try:
            result = cms.verify_file(sig_stream, store, content=content_stream,
                                     options=options, revocation=checker,
                                     required_role=required)
        except VerificationError as exc:
            if exc.reason is Reason.CONTENT_MISSING:
                # Not a failed verification: the command line lacks the content.
                raise click.UsageError("the signature is detached: give the signed file "
                                       "with --content FILE") from None
            _fail_json(settings, exc)
            raise
        if out is not None:
            # Hashed again while copied: a file changed since it was verified is refused.
            try:
                cms.copy_content(sig_stream, result, out.stream, content=content)
            except VerificationError as exc:
                _fail_json(settings, exc)
                raise
            out.commit()
    except BaseException:
        if out is not None:
            out.discard()
        raise
    finally:
        if not _is_dash(signature):
            sig_stream.close()
        if content_stream is not None and not _is_dash(content):
            content_stream.close()
    data = result.as_dict(holder_details=holder_details)
    data["revocation_checked"] = checker is not None
    from mynaid.cli.jsonout import certificate

    data["certificate"] = certificate(result.signer, note="signer")  # the shared shape
    lines = ["Verification OK", *_who(result)]
    if holder_details and result.holder is not None:
        details = result.holder.details()
        lines.append(f"Sex:         {details['sex']}")
        lines.append(f"Born:        {details['birth_date']} ({details['birth_era']})")
    lines += [
        f"Certificate: serial {data['serial']}, {data['role']} certificate, "
        f"{data['policy_kind']} policy {', '.join(data['policies']) or '(none)'}",
        f"Issuer:      {data['issuer']}",
        f"Anchor:      {data['anchor_fingerprint']}"
        + (f" (J-LIS {data['jlis_root']})" if data["jlis_root"] else ""),
        f"Signed at:   {data['signing_time'] or 'unknown'} (claimed by the signer)",
    ]
    if checker is None:
        lines.append("Revocation:  not checked (give --crl, --crl-map or --ocsp)")
    for entry in data["revocation"]:
        lines.append(f"Revocation:  {entry['status']} ({entry['source']})")
    if _is_dash(output):
        click.echo("\n".join(lines), err=True)  # stdout carries the content
        return
    emit(settings, data, "\n".join(lines))


# --- auth ------------------------------------------------------------------------------------


@click.command("auth")
@click.option("--challenge", "challenge_hex", required=True, metavar="HEX",
              help="The verifier's nonce (16-128 bytes, hex).")
@click.option("--context", default=None, metavar="TEXT",
              help="The verifier's context string (default: mynaid-auth).")
@click.option("--force", is_flag=True, help="Attempt the PIN even on its last try.")
@pass_settings
def auth_command(settings: Settings, challenge_hex: str, context: str | None,
                 force: bool) -> None:
    """Answer a verifier's challenge with the auth key (asks for the auth PIN)."""
    from cryptography.hazmat.primitives import serialization

    from mynaid.cardspec import AUTH_PIN
    from mynaid.challenge import DEFAULT_CONTEXT, respond, signed_message
    from mynaid.cli.secrets import guarded_prompt

    try:
        nonce = bytes.fromhex(challenge_hex)
        signed_message(context or DEFAULT_CONTEXT, nonce)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--challenge") from None
    with settings.protocol() as protocol:
        pin = guarded_prompt(protocol, AUTH_PIN, force=force, label=_SECRET_LABELS["auth"])
        response = respond(protocol, nonce, pin, context=context or DEFAULT_CONTEXT,
                           force=force)
    data = response.as_dict()
    data["certificate_serial"] = format(response.certificate.serial_number, "X")
    data["subject"] = response.certificate.subject.rfc4514_string()
    pem = response.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    emit(settings, data, "\n".join([
        f"Context:   {response.context}",
        f"Nonce:     {response.nonce.hex()}",
        f"Signature: {data['signature']}",
        f"Serial:    {data['certificate_serial']}",
        pem.rstrip(),
    ]))


def register(cli: click.Group) -> None:
    cli.add_command(sign_command)
    cli.add_command(verify_command)
    cli.add_command(auth_command)
