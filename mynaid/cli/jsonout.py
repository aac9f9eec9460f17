"""The one JSON schema of ``mynaid --json`` (docs/json-schema.md): shared shape builders.

Every command's JSON output is one object with ``schema_version``; certificates, secrets,
applications and errors have the same shape wherever they appear (``info``, ``pin status``,
``diag``, ``verify``, ``cert show``). Rules: dates are ISO 8601 strings; a raw code (a status
word, a sex code) has its decoded value beside it; every key has one type (or null), so
consumers never test what kind of value they got.

This module imports nothing heavy at import time: ``cryptography`` objects are only
inspected when given.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography import x509

    from mynaid.diag import ApplicationProbe, CertificateCheck
    from mynaid.errors import MynaidError
    from mynaid.models import PinState

#: Bumped when a key changes meaning or type; new keys do not bump it.
SCHEMA_VERSION = 1

#: Certificate statuses (also ``diag``'s): one vocabulary everywhere.
CERT_STATUSES = ("valid", "expiring", "expired", "not-yet-valid", "absent", "not-read",
                 "protected", "error")

_SEX_NAMES = {"0": "unknown", "1": "male", "2": "female", "9": "not applicable"}


def document(data: dict[str, Any]) -> dict[str, Any]:
    """A top-level output object: ``schema_version`` first, then ``data``."""
    return {"schema_version": SCHEMA_VERSION, **{k: v for k, v in data.items()
                                                 if k != "schema_version"}}


def iso(value: dt.date | dt.datetime | None) -> str | None:
    """ISO 8601, or None."""
    return value.isoformat() if value is not None else None


def hex_bytes(data: bytes | None) -> str | None:
    """Bytes as spaced upper-case hex (ATRs, AIDs), or None."""
    return data.hex(" ").upper() if data else None


def sw_text(sw: int | None) -> str | None:
    return None if sw is None else f"{sw:04X}"


def sex(code: str) -> dict[str, str]:
    """The ISO 5218 sex code with its meaning beside it."""
    return {"sex": code, "sex_name": _SEX_NAMES.get(code, "unknown code")}


# --- certificates ------------------------------------------------------------------------------


def _empty_certificate(slot: str | None, status: str, note: str) -> dict[str, Any]:
    return {"slot": slot, "status": status, "subject": None, "issuer": None, "serial": None,
            "not_before": None, "not_after": None, "days_to_expiry": None,
            "sha256_fingerprint": None, "key_usage": [], "extended_key_usage": [],
            "policies": [], "note": note}


def _key_usage(cert: x509.Certificate) -> list[str]:
    from cryptography import x509

    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return []
    except ValueError:  # a malformed extension: reported as none, the verifier decides
        return []
    names = ["digital_signature", "content_commitment", "key_encipherment",
             "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign"]
    used = [name for name in names if getattr(ku, name)]
    if ku.key_agreement:
        used += [name for name in ("encipher_only", "decipher_only") if getattr(ku, name)]
    return used


def _extended_key_usage(cert: x509.Certificate) -> list[str]:
    from cryptography import x509

    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [oid.dotted_string for oid in eku]


def _policies(cert: x509.Certificate) -> list[str]:
    from cryptography import x509

    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [p.policy_identifier.dotted_string for p in policies]


def certificate(cert: x509.Certificate, *, slot: str | None = None,
                now: dt.datetime | None = None, warn_days: int = 90,
                note: str = "") -> dict[str, Any]:
    """The certificate shape, from a parsed certificate."""
    from cryptography.hazmat.primitives import hashes

    now = now or dt.datetime.now(dt.timezone.utc)
    from mynaid.models import validity_status

    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    status, days = validity_status(not_before, not_after, now, warn_days)
    out = _empty_certificate(slot, status, note)
    out.update(
        subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "X"), not_before=iso(not_before),
        not_after=iso(not_after), days_to_expiry=days,
        sha256_fingerprint=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        key_usage=_key_usage(cert), extended_key_usage=_extended_key_usage(cert),
        policies=_policies(cert))
    return out


def certificate_absent(slot: str | None, status: str, note: str) -> dict[str, Any]:
    """The certificate shape for a slot that was not read (``absent``, ``not-read``...)."""
    if status not in CERT_STATUSES:
        raise ValueError(f"unknown certificate status {status!r}")
    return _empty_certificate(slot, status, note)


def certificate_check(check: CertificateCheck) -> dict[str, Any]:
    """The certificate shape from ``diag``'s :class:`CertificateCheck`."""
    out = _empty_certificate(check.slot, check.status, check.note)
    out.update(subject=check.subject, issuer=check.issuer, serial=check.serial,
               not_before=iso(check.not_before), not_after=iso(check.not_after),
               days_to_expiry=check.days_to_expiry)
    for key in ("sha256_fingerprint", "key_usage", "extended_key_usage", "policies"):
        value = getattr(check, key, None)
        if value is not None:
            out[key] = list(value) if isinstance(value, (list, tuple)) else value
    return out


# --- secrets and applications ------------------------------------------------------------------


def secret_state(state: PinState) -> dict[str, Any]:
    """The secret shape: a PIN, password or 照合番号 and its counter."""
    if not state.present:
        summary = "absent"
    elif state.verified:
        summary = "verified"
    elif state.locked_by_design:
        summary = "locked-by-design"
    elif state.blocked:
        summary = "blocked"
    elif state.no_retry_limit:
        summary = "no-retry-limit"
    elif state.tries_left is not None and state.tries_left <= 1:
        summary = "last-try"
    else:
        summary = "ok"
    return {"name": state.name, "label": state.label, "present": state.present,
            "tries_left": state.tries_left, "max_tries": state.max_tries,
            "blocked": state.blocked, "verified": state.verified,
            "locked_by_design": state.locked_by_design,
            "no_retry_limit": state.no_retry_limit, "state": summary}


def application(name: str, aid: bytes, sw: int) -> dict[str, Any]:
    """The application shape: SELECT by AID and what its status word means."""
    return {"name": name.lower(), "aid": aid.hex().upper(), "present": sw == 0x9000,
            "sw": sw_text(sw), "sw_meaning": _sw_meaning(sw)}


def application_probe(probe: ApplicationProbe) -> dict[str, Any]:
    return application(probe.name, probe.aid, probe.sw)


def _sw_meaning(sw: int) -> str:
    return {0x9000: "ok", 0x6A82: "not found", 0x6A86: "incorrect parameters",
            0x6D00: "instruction not supported", 0x6E00: "class not supported"}.get(
                sw, "error")


# --- errors ------------------------------------------------------------------------------------


def error(exc: BaseException | None, *, reason: str, message: str,
          exit_code: int) -> dict[str, Any]:
    """The error shape (``--json`` prints it on stdout when a command fails)."""
    raw = getattr(exc, "reason", None) if exc is not None else None
    if raw is not None and not isinstance(raw, str):
        raw = getattr(raw, "value", str(raw))  # trust's Reason enum
    sw = getattr(exc, "sw", None)
    return document({"ok": False, "error": {
        "reason": raw if isinstance(raw, str) and raw else reason,
        "message": message,
        "exit_code": int(exit_code),
        "sw": sw_text(sw) if isinstance(sw, int) else None,
        "tries_left": getattr(exc, "tries_left", None)
        if isinstance(getattr(exc, "tries_left", None), int) else None,
    }})


def mynaid_error(exc: MynaidError, exit_code: int) -> dict[str, Any]:
    return error(exc, reason="error", message=str(exc), exit_code=exit_code)


def verification_failure(exc: Any) -> dict[str, Any]:
    """``verify``'s failure object: the error shape plus ``valid: false`` and the detail."""
    out = error(exc, reason="verification-failed", message=str(exc), exit_code=6)
    detail = getattr(exc, "detail", None)
    subject = getattr(exc, "subject", None)
    out.update(valid=False, reason=out["error"]["reason"],
               detail=detail if isinstance(detail, str) else None,
               subject=subject if isinstance(subject, str) else None)
    return out
