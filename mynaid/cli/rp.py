"""``mynaid rp``: the relying-party service and its card-side client.

    mynaid rp serve --config rp.json --workers 4          # the ASGI service (service extra)
    mynaid rp migrate --config rp.json                    # apply the SQL migrations
    mynaid --emulator rp register --server URL            # sign password + auth PIN (stdin)
    mynaid --emulator rp login --server URL               # auth PIN
    mynaid --emulator rp face --server URL --kiosk-id K --device-key K.pem --issuer-key ...
    mynaid rp recheck --config rp.json                    # 現況確認 of due certificates
    mynaid rp records --config rp.json                    # confirmation records (JSON)

Secrets are read from the terminal (hidden) or one line each from stdin, never argv.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from mynaid.cli.main import Settings, emit, pass_settings

DEFAULT_SERVER = "http://127.0.0.1:8080"


def _answer(settings: Settings, status: int, answer: dict[str, Any]) -> None:
    text = (f"{answer.get('operation', 'request')}: accepted (person {answer.get('person_id')},"
            f" record {answer.get('record_id')})" if answer.get("ok") else
            f"refused: {answer.get('reason')} ({answer.get('message')})")
    emit(settings, {"status": status, **answer}, text)
    if not answer.get("ok"):
        from mynaid.rp.reasons import RpError

        raise RpError(str(answer.get("reason")), str(answer.get("message")))


@click.group("rp")
def rp_group() -> None:
    """Relying-party service: registration, login, the face route, re-checks."""


@rp_group.command("serve")
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False),
              help="The service configuration (JSON; see README).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind (TLS belongs to a reverse proxy in front).")
@click.option("--port", default=8080, show_default=True, type=int, help="0: any free port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--port-file", type=click.Path(dir_okay=False),
              help="Write the bound port here (with --port 0).")
def serve_command(config: str, host: str, port: int, workers: int,
                  port_file: str | None) -> None:
    """Serve the relying-party API until interrupted."""
    from mynaid.service.server import serve

    serve(config, host=host, port=port, workers=workers, port_file=port_file)


def serve_main() -> int:
    """``python -m mynaid.service``."""
    serve_command.main(standalone_mode=True)
    return 0


def _rp(config: str) -> Any:
    from mynaid.rp.core import RelyingParty
    from mynaid.rp.store import open_store
    from mynaid.service.config import ServiceSettings

    settings = ServiceSettings.from_file(config)
    store = open_store(settings.store_url)
    store.migrate()
    return RelyingParty(store, settings.rp)


@rp_group.command("migrate")
@click.option("--config", required=True, type=click.Path(dir_okay=False))
@pass_settings
def migrate_command(settings: Settings, config: str) -> None:
    """Apply the migrations not yet applied."""
    from mynaid.rp.store import open_store
    from mynaid.service.config import ServiceSettings

    store = open_store(ServiceSettings.from_file(config).store_url)
    applied = store.migrate()
    emit(settings, {"applied": applied, "version": store.schema_version()},
         f"applied {applied or 'nothing'}; schema version {store.schema_version()}")


@rp_group.command("register")
@click.option("--server", default=DEFAULT_SERVER, show_default=True)
@click.option("--context", default="mynaid-rp", show_default=True)
@pass_settings
def register_command(settings: Settings, server: str, context: str) -> None:
    """Register the card's holder (asks for the signature password, then the auth PIN)."""
    from mynaid.cli.secrets import read_secret
    from mynaid.rp.client import RpClient

    password = read_secret("signature password (署名用パスワード)")
    pin = read_secret("auth PIN (利用者証明用暗証番号)")
    with settings.protocol() as protocol:
        status, answer = RpClient(server, context=context).register(
            protocol, sign_password=password, auth_pin=pin)
    _answer(settings, status, answer)


@rp_group.command("login")
@click.option("--server", default=DEFAULT_SERVER, show_default=True)
@click.option("--context", default="mynaid-rp", show_default=True)
@pass_settings
def login_command(settings: Settings, server: str, context: str) -> None:
    """Log in with the auth key (asks for the auth PIN)."""
    from mynaid.cli.secrets import read_secret
    from mynaid.rp.client import RpClient

    pin = read_secret("auth PIN (利用者証明用暗証番号)")
    with settings.protocol() as protocol:
        status, answer = RpClient(server, context=context).login(protocol, auth_pin=pin)
    _answer(settings, status, answer)


@rp_group.command("face")
@click.option("--server", default=DEFAULT_SERVER, show_default=True)
@click.option("--context", default="mynaid-rp", show_default=True)
@click.option("--kiosk-id", required=True)
@click.option("--device-key", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--issuer-key", "issuer_keys", multiple=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Trusted text/visual CV issuer key, PEM (repeatable).")
@click.option("--method", type=click.Choice(["face", "visual"]), default="visual",
              show_default=True, help="How the kiosk identified the holder.")
@pass_settings
def face_command(settings: Settings, server: str, context: str, kiosk_id: str,
                 device_key: Path, issuer_keys: tuple[Path, ...], method: str) -> None:
    """The device-signed route, after the kiosk's own face match or staff check (asks for
    照合番号B: the card face is read, verified and bound to the registered person)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from mynaid.cli.secrets import read_secret
    from mynaid.errors import ParseError
    from mynaid.integrity import load_issuer_keys
    from mynaid.rp.client import RpClient

    key = serialization.load_pem_private_key(device_key.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ParseError(f"{device_key} is not an Ed25519 private key")
    collation_b = read_secret("照合番号B (birth date YYMMDD, expiry year, security code)")
    with settings.protocol() as protocol:
        status, answer = RpClient(server, context=context).face(
            protocol, collation_b=collation_b, issuer_keys=load_issuer_keys(issuer_keys),
            kiosk_id=kiosk_id, device_key=key, method=method)
    _answer(settings, status, answer)


@rp_group.command("recheck")
@click.option("--config", required=True, type=click.Path(dir_okay=False))
@click.option("--person", help="Re-check this person's certificates now.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@pass_settings
def recheck_command(settings: Settings, config: str, person: str | None, limit: int) -> None:
    """現況確認: ask the revocation sources about active certificates that are due."""
    results = _rp(config).recheck(person_id=person, limit=limit)
    emit(settings, results, "\n".join(
        f"{r['person_id']} {r['kind']}: {r['status']} ({r['source']}) -> {r['reason']}"
        for r in results) or "nothing is due")


@rp_group.command("records")
@click.option("--config", required=True, type=click.Path(dir_okay=False))
@click.option("--person", help="Only this person's records.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
def records_command(config: str, person: str | None, limit: int) -> None:
    """Confirmation records (確認記録), newest first, one JSON object per line."""
    for record in _rp(config).records(person_id=person, limit=limit):
        sys.stdout.write(json.dumps(record.as_dict(), ensure_ascii=False) + "\n")


def register(cli: click.Group) -> None:
    cli.add_command(rp_group)
