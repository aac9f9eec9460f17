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


# --- sign ------------------------------------------------------------------------------------


@click.command("sign")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True,
                                        path_type=Path))
@click.option("--key", "which", type=click.Choice(["sign", "auth"]), default="sign",
              show_default=True, help="The signature key (password) or the auth key (PIN).")
@click.option("-o", "--output", required=True,
              type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              help="Where to write the CMS signature (0600; - for stdout).")
@click.option("--detached", is_flag=True, help="Leave the content out of the signature.")
@click.option("--digest", type=click.Choice(["sha256", "sha384", "sha512"]), default="sha256",
              show_default=True)
@click.option("--pem", is_flag=True, help="PEM armour (-----BEGIN CMS-----) instead of DER.")
@click.option("--include-chain", is_flag=True, help="Embed the card's CA certificate too.")
@click.option("--force", is_flag=True, help="Attempt the secret even on its last try.")
@pass_settings
def sign_command(settings: Settings, file: Path, which: str, output: Path, detached: bool,
                 digest: str, pem: bool, include_chain: bool, force: bool) -> None:
    """Sign FILE with the card into a CMS (PKCS#7) SignedData."""
    from mynaid import cms
    from mynaid.cardkey import CardRsaPrivateKey
    from mynaid.cardspec import AUTH_PIN, SIGN_PASSWORD, CertificateSlot
    from mynaid.cli.main import check_output, read_input, write_private
    from mynaid.cli.secrets import guarded_prompt

    if settings.json and str(output) == "-":
        raise click.UsageError("with --json, write the signature to a file (-o FILE)")
    content = read_input(file)
    check_output(output)  # before the secret is asked for or spent
    with settings.protocol() as protocol:
        secret = guarded_prompt(protocol, SIGN_PASSWORD if which == "sign" else AUTH_PIN,
                                force=force, label=_SECRET_LABELS[which])
        key = CardRsaPrivateKey.open(protocol, which, secret, force=force)
        chain = []
        if include_chain:
            slot = CertificateSlot.SIGN_CA if which == "sign" else CertificateSlot.AUTH_CA
            chain.append(key.session.read_certificate(slot))
        der = cms.sign(content, key, key.certificate, digest=digest, detached=detached,
                       chain=chain)
    write_private(output, cms.to_pem(der) if pem else der)  # holds the signer's certificate
    serial = format(key.certificate.serial_number, "X")
    data = {"output": str(output), "key": which, "detached": detached, "digest": digest,
            "format": "pem" if pem else "der", "certificate_serial": serial,
            "chain_included": include_chain}
    summary = (f"wrote {output} ({'detached' if detached else 'attached'} CMS, "
               f"{digest}, {which} key, certificate serial {serial})")
    if str(output) == "-":
        click.echo(summary.replace("wrote -", "wrote the signature to stdout"), err=True)
    else:
        emit(settings, data, summary)


# --- verify ----------------------------------------------------------------------------------


def _trust_store(paths: tuple[Path, ...]) -> TrustStore:
    from mynaid.trust.anchors import TrustStore

    store = TrustStore.jpki()
    for path in paths:
        store.add_path(path)
    return store


def _revocation(crls: tuple[Path, ...], crl_map: Path | None,
                ocsp_url: str | None, timeout: float) -> RevocationChecker | None:
    from mynaid.trust.revocation import CrlSource, OcspChecker, RevocationChecker

    if not crls and crl_map is None and ocsp_url is None:
        return None
    source: CrlSource | None = None
    if crl_map is not None:
        source = CrlSource.load_config(crl_map)
    if crls:
        source = source or CrlSource()
        for path in crls:
            source.add_path(path)
    checker = None
    if ocsp_url is not None:
        checker = OcspChecker(url=None if ocsp_url == "aia" else ocsp_url, timeout=timeout)
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
              help="The signed content, for a detached signature.")
@click.option("--trust", "trust_paths", multiple=True,
              type=click.Path(exists=True, path_type=Path),
              help="Extra trust anchors: a PEM/DER file or a folder (repeatable). The J-LIS "
                   "roots are always pinned.")
@click.option("--at", "at_text", metavar="TIME",
              help="Validate at this ISO 8601 time instead of now.")
@click.option("--crl", "crls", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="A CRL file or folder (repeatable); makes revocation checking mandatory.")
@click.option("--crl-map", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON mapping of CRL distribution points to files.")
@click.option("--ocsp", "ocsp_url", metavar="URL|aia",
              help="Check revocation by OCSP at URL (or the certificate's AIA URL).")
@click.option("--ocsp-timeout", type=float, default=10.0, show_default=True)
@click.option("--production-only", is_flag=True, help="Refuse the JPKI test-card policies.")
@click.option("--any-policy", is_flag=True,
              help="Accept a signer certificate without a JPKI policy (generic profile).")
@click.option("--holder-details", is_flag=True,
              help="Also print sex and birth date from the signature certificate.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True,
                                                path_type=Path),
              help="Write the verified content here (0600; - for stdout).")
@pass_settings
def verify_command(settings: Settings, signature: Path, content: Path | None,
                   trust_paths: tuple[Path, ...], at_text: str | None, crls: tuple[Path, ...],
                   crl_map: Path | None, ocsp_url: str | None, ocsp_timeout: float,
                   production_only: bool, any_policy: bool, holder_details: bool,
                   output: Path | None) -> None:
    """Verify a CMS signature: content digest, signature, certificate path, revocation."""
    from mynaid import cms
    from mynaid.trust.errors import VerificationError
    from mynaid.trust.path import ValidationOptions

    options = ValidationOptions(at=_parse_time(at_text), production_only=production_only,
                                allow_other_policies=any_policy)
    store = _trust_store(trust_paths)
    checker = _revocation(crls, crl_map, ocsp_url, ocsp_timeout)
    try:
        from mynaid.cli.main import read_input

        result = cms.verify(read_input(signature), store,
                            content=read_input(content) if content else None,
                            options=options, revocation=checker)
    except VerificationError as exc:
        _fail_json(settings, exc)
        raise
    if output is not None:
        from mynaid.cli.main import write_private

        write_private(output, result.content)  # verified content: personal data, 0600
    data = result.as_dict(holder_details=holder_details)
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
    for entry in data["revocation"]:
        lines.append(f"Revocation:  {entry['status']} ({entry['source']})")
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
