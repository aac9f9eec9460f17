"""The emulated card's persistent state (retry counters, changed secrets) between processes.

A real card keeps its counters and a changed PIN across commands; the in-process emulator is
rebuilt by every ``mynaid --emulator`` run, so ``--state FILE`` keeps them in a JSON file::

    {"format": "mynaid-card-state", "version": 1, "card": "<SHA-256 of the auth certificate>",
     "keys": {"auth-pin": {"tries_left": 2}, "sign-password": {"tries_left": 5,
              "secret": "NEWPASS1"}}}

``secret`` is present only once the holder changed it (test material, like the profile's
secrets). The file is written atomically (a temporary file renamed over it) and readable by
its owner only; a symbolic link at its place is refused. A state made for another card (a
different profile) is refused rather than applied.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mynaid.errors import ParseError

if TYPE_CHECKING:
    from mynaid.emulator.card import EmulatedCard
    from mynaid.emulator.filesystem import KeyFile

STATE_FORMAT = "mynaid-card-state"
STATE_VERSION = 1
MAX_STATE_BYTES = 64 * 1024


def _keys(card: EmulatedCard) -> dict[str, KeyFile]:
    """The card's key files by secret name (cardspec)."""
    from mynaid.cardspec import ALL_SECRETS
    from mynaid.emulator.filesystem import KeyFile

    out: dict[str, KeyFile] = {}
    for ref in ALL_SECRETS:
        app = card.applications.get(ref.aid.value)
        ef = app.files.get(ref.fid) if app is not None else None
        if isinstance(ef, KeyFile):
            out[ref.name] = ef
    return out


def card_id(card: EmulatedCard) -> str:
    """What ties a state file to its card: the SHA-256 of the auth certificate's EF."""
    from mynaid.cardspec import Aid, JpkiFile

    app = card.applications.get(Aid.JPKI.value)
    ef = app.files.get(int(JpkiFile.AUTH_CERT)) if app is not None else None
    content = getattr(ef, "content", b"") or getattr(ef, "data", b"") or b""
    return hashlib.sha256(bytes(content)).hexdigest()


def apply_tries_left(card: EmulatedCard, tries_left: dict[str, int]) -> None:
    """Set counters by secret name (a profile's ``tries_left``): rehearse exits 4 and 7."""
    keys = _keys(card)
    for name, value in tries_left.items():
        key = keys.get(name)
        if key is None:
            raise ParseError(f"tries_left names {name!r}, which this card does not have")
        if not 0 <= value <= key.max_tries:
            raise ParseError(f"tries_left.{name} must be 0..{key.max_tries}")
        key.tries_left = value


def snapshot(card: EmulatedCard, original: dict[str, bytes] | None = None) -> dict[str, Any]:
    """The state of ``card``; a secret is included only when it differs from ``original``."""
    keys: dict[str, Any] = {}
    for name, key in _keys(card).items():
        entry: dict[str, Any] = {"tries_left": key.tries_left}
        if original is not None and original.get(name) != key.secret:
            entry["secret"] = key.secret.decode("ascii")
        keys[name] = entry
    return {"format": STATE_FORMAT, "version": STATE_VERSION, "card": card_id(card),
            "keys": keys}


def secrets_of(card: EmulatedCard) -> dict[str, bytes]:
    return {name: key.secret for name, key in _keys(card).items()}


def load(card: EmulatedCard, path: Path) -> bool:
    """Apply the state in ``path`` to ``card``; False when there is no file yet."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise ParseError(f"cannot read the state file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        raw = handle.read(MAX_STATE_BYTES + 1)
    if len(raw) > MAX_STATE_BYTES:
        raise ParseError(f"state file {path} is over {MAX_STATE_BYTES} bytes")
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ParseError(f"state file {path} is not JSON") from None
    if not isinstance(obj, dict) or obj.get("format") != STATE_FORMAT \
            or obj.get("version") != STATE_VERSION:
        raise ParseError(f"{path} is not a {STATE_FORMAT} file (version {STATE_VERSION})")
    if obj.get("card") != card_id(card):
        raise ParseError(f"state file {path} belongs to another card (another profile)")
    entries = obj.get("keys")
    if not isinstance(entries, dict):
        raise ParseError(f"state file {path} has no keys object")
    keys = _keys(card)
    for name, entry in entries.items():
        key = keys.get(name)
        if key is None or not isinstance(entry, dict):
            raise ParseError(f"state file {path}: unknown or malformed key {name!r}")
        tries = entry.get("tries_left")
        if not isinstance(tries, int) or isinstance(tries, bool) \
                or not 0 <= tries <= key.max_tries:
            raise ParseError(f"state file {path}: {name}.tries_left must be 0..{key.max_tries}")
        secret = entry.get("secret")
        if secret is not None:
            if not isinstance(secret, str) or not secret.isascii() \
                    or not key.pattern.fullmatch(secret.encode("ascii")):
                raise ParseError(f"state file {path}: {name}.secret is malformed")
            key.secret = secret.encode("ascii")
        key.tries_left = tries
    return True


def save(card: EmulatedCard, path: Path, original: dict[str, bytes] | None = None) -> None:
    """Write the state atomically, 0600, never through a symbolic link."""
    if path.is_symlink():
        raise ParseError(f"refusing to write the state through the symbolic link {path}")
    data = (json.dumps(snapshot(card, original), indent=1, sort_keys=True) + "\n").encode()
    directory = path.parent if str(path.parent) else Path(".")
    tmp = directory / f".{path.name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
