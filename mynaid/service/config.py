"""The service's configuration: one JSON file, read by every worker at start.

Workers are stateless: they share nothing but this file and the database, so N processes
on M machines run from the same file (see README.md, "Relying-party service")::

    {
      "store": "postgresql://rp@/rp?host=/run/postgresql",   # or "sqlite:///rp.sqlite3"
      "context": "mynaid-rp",
      "trust_anchors": ["jpki"],                  # or PEM files / folders
      "production_only": true,
      "nonce_lifetime_seconds": 120,
      "devices": {"kiosk-1": "<base64 raw Ed25519 public key>"},
      "revocation": {"ocsp_url": "...", "crl_files": ["crls/"], "crl_config": "map.json",
                     "platform_url": "https://...", "platform_token_file": "token",
                     "order": ["ocsp", "platform", "crl"]},
      "limits": {"max_body": 65536, "max_depth": 10, "header_timeout": 10,
                 "body_timeout": 10, "rate_per_client": 20, "burst_per_client": 40,
                 "trusted_proxies": ["127.0.0.1"]},
      "admin_token_file": "admin-token"
    }

Relative paths are relative to the file.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mynaid.rp.core import RpConfig
from mynaid.rp.revocation import CrlFiles, Ocsp, PlatformOperator, RevocationChain
from mynaid.trust.anchors import TrustStore
from mynaid.trust.revocation import CrlSource, OcspChecker

__all__ = ["CONFIG_ENV", "ConfigError", "Limits", "ServiceSettings"]

#: Where workers find the configuration file (set by ``mynaid rp serve`` for its workers).
CONFIG_ENV = "MYNAID_RP_CONFIG"


class ConfigError(ValueError):
    """The configuration cannot be used."""


@dataclass(frozen=True)
class Limits:
    """Per-request and per-client limits."""

    #: Largest request body (a registration with four certificates is about 8 KB).
    max_body: int = 64 * 1024
    #: Deepest JSON nesting accepted (the bodies need 4).
    max_depth: int = 10
    #: Seconds from connection (or the previous response) to the end of the headers.
    header_timeout: float = 10.0
    #: Seconds to receive the whole body once the headers are in.
    body_timeout: float = 10.0
    #: Requests per second and burst per client address, per worker (0: no limit).
    rate_per_client: float = 20.0
    burst_per_client: float = 40.0
    #: Reverse proxies whose X-Forwarded-For names the client.
    trusted_proxies: tuple[str, ...] = ()


def _public_key(text: Any) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(str(text), validate=True))
    except (ValueError, binascii.Error) as exc:
        raise ConfigError("a device public key must be 32 bytes of base64") from exc


@dataclass
class ServiceSettings:
    """What a worker builds at start."""

    store_url: str
    rp: RpConfig
    limits: Limits = field(default_factory=Limits)
    admin_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls) -> ServiceSettings:
        path = os.environ.get(CONFIG_ENV)
        if not path:
            raise ConfigError(f"${CONFIG_ENV} names no configuration file")
        return cls.from_file(path)

    @classmethod
    def from_file(cls, path: str | Path) -> ServiceSettings:
        config_path = Path(path)
        try:
            data = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{config_path}: {exc}") from exc
        return cls.from_dict(data, base=config_path.parent)

    @classmethod
    def from_dict(cls, data: Any, *, base: Path = Path()) -> ServiceSettings:
        if not isinstance(data, dict):
            raise ConfigError("the configuration must be a JSON object")
        store = str(data.get("store", "sqlite:///rp.sqlite3"))
        if store.startswith("sqlite:///") and not store.startswith("sqlite:////"):
            store = "sqlite:///" + str((base / store[len("sqlite:///"):]).resolve())
        trust = TrustStore.empty()
        for anchor in data.get("trust_anchors", ["jpki"]):
            if anchor == "jpki":
                trust.pinned |= TrustStore.jpki().pinned
            else:
                try:
                    trust.add_path(base / str(anchor))
                except (OSError, ValueError) as exc:
                    raise ConfigError(f"trust anchor {anchor}: {exc}") from exc
        devices = {str(k): _public_key(v) for k, v in dict(data.get("devices", {})).items()}
        try:
            lifetime = dt.timedelta(seconds=float(data.get("nonce_lifetime_seconds", 120)))
            given: dict[str, Any] = dict(data.get("limits", {}))
            if "trusted_proxies" in given:
                given["trusted_proxies"] = tuple(str(p) for p in given["trusted_proxies"])
            limits = Limits(**given)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"limits / nonce_lifetime_seconds: {exc}") from exc
        admin = None
        if data.get("admin_token_file"):
            try:
                admin = (base / str(data["admin_token_file"])).read_text().strip() or None
            except OSError as exc:
                raise ConfigError(f"admin_token_file: {exc}") from exc
        rp = RpConfig(trust=trust, context=str(data.get("context", "mynaid-rp")),
                      nonce_lifetime=lifetime,
                      production_only=bool(data.get("production_only", False)),
                      revocation=_revocation(data.get("revocation"), base), devices=devices)
        return cls(store_url=store, rp=rp, limits=limits, admin_token=admin)


def _revocation(data: Any, base: Path) -> RevocationChain | None:
    if not data:
        return None
    if not isinstance(data, dict):
        raise ConfigError("revocation must be a JSON object")
    sources: dict[str, Any] = {}
    try:
        if data.get("ocsp_url"):
            sources["ocsp"] = Ocsp(OcspChecker(url=str(data["ocsp_url"]),
                                               timeout=float(data.get("ocsp_timeout", 5))))
        if data.get("platform_url"):
            token = None
            if data.get("platform_token_file"):
                token = (base / str(data["platform_token_file"])).read_text().strip()
            sources["platform"] = PlatformOperator(str(data["platform_url"]), token=token,
                                                   timeout=float(data.get("platform_timeout",
                                                                          5)))
        crls: CrlSource | None = None
        if data.get("crl_config"):
            crls = CrlSource.load_config(base / str(data["crl_config"]))
        for item in data.get("crl_files", []):
            crls = crls or CrlSource()
            crls.add_path(base / str(item))
        if crls is not None:
            sources["crl"] = CrlFiles(crls)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"revocation: {exc}") from exc
    order = list(data.get("order", ["ocsp", "platform", "crl"]))
    chain = [sources[name] for name in order if name in sources]
    return RevocationChain(chain) if chain else None
