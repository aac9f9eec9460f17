"""A stateful software My Number Card that answers APDUs as card-reference.md describes.

:class:`EmulatedCard` is transport-agnostic: ``process(apdu) -> response`` plus power control.
It is driven in-process by :class:`mynaid.transport.emulated.EmulatorTransport` and, through
the real pcscd, by the vpcd bridge (:mod:`mynaid.emulator.vpcd`).

Volatile state (selected application and EF, verified keys, a pending GET RESPONSE buffer)
is cleared on power-on, reset and SELECT of an application, as on the real card. Retry
counters and secrets are persistent.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field, replace

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from mynaid.cardspec import DIGEST_INFO_PREFIXES
from mynaid.emulator.filesystem import EF, Application, BinaryFile, KeyFile, PrivateKeyFile
from mynaid.errors import ParseError
from mynaid.iso7816 import status as st
from mynaid.iso7816.apdu import CommandApdu, decode_command

#: The contact ATR that OpenSC's jpki driver matches (card-reference §1).
DEFAULT_ATR = bytes.fromhex("3BE000FF8131FE4514")
#: Another real card's ATR, for the "other ATR" variant.
ALTERNATE_ATR = bytes.fromhex("3BC5FF8131FB458073C6010000")
#: The contact ATR of a card issued in 2024 (card-reference §9).
ATR_2024 = bytes.fromhex("3BDA13FF8131FB468012392F31C173C601C03B")
#: Named ATR variants (``mynaid emulator serve --atr-variant``, profile key ``"atr"``).
ATR_VARIANTS = {"default": DEFAULT_ATR, "alternate": ALTERNATE_ATR, "2024": ATR_2024}

SW_EOF_WARNING = 0x6282  # end of file reached before Le bytes (data follows)
SW_SM_NOT_SUPPORTED = 0x6882
SW_INCOMPATIBLE_FILE = 0x6981  # command incompatible with the file (READ BINARY of a key)
SW_REFERENCE_NOT_FOUND = 0x6A88
#: The card's proprietary answer to READ BINARY / VERIFY with secure-messaging CLA bits.
SW_SM_REFUSED = 0x69FC
SW_INCORRECT_DATA = 0x6A80
INS_MANAGE_CHANNEL = 0x70
#: COMPUTE DIGITAL SIGNATURE P1: 00 DigestInfo as given, 01 bare SHA-256 digest, 02 digest
#: (the card adds the DigestInfo), 03 data (the card hashes), 04/05 PSS (digest/data).
SIGN_DIGEST_INFO, SIGN_BARE_SHA256, SIGN_ADD_DIGEST_INFO, SIGN_HASH_DATA = 0, 1, 2, 3
SIGN_PSS_DIGEST, SIGN_PSS_DATA = 4, 5
#: The smallest AID prefix SELECT accepts (the 5-byte registered application provider id).
MIN_AID_PREFIX = 5


@dataclass(frozen=True)
class EmulatorOptions:
    """Variant behaviour, to prove that readers cope with cards unlike the default.

    * ``atr``: the answer to reset (:data:`ATR_VARIANTS` names the known ones). A profile's
      ``"atr"`` key applies when this is left at :data:`DEFAULT_ATR`.
    * ``cert_filler``: extra ``FF`` bytes after each certificate's DER in its EF.
    * ``use_get_response``: answer data-bearing commands with ``61 xx`` and hand the data
      out through GET RESPONSE.
    * ``strict_le``: a READ BINARY whose Le exceeds what remains answers ``6C xx`` (xx = the
      exact count) instead of returning fewer bytes.
    * ``verified_query_ok``: the empty VERIFY (retry query) answers ``90 00`` when the key is
      already verified in this session (single-source behaviour of some cards).
    * ``extended_length``: accept extended-length APDUs (refused with ``67 00`` otherwise).
    * ``record_lengths``: how the text and visual records write lengths: ``card`` (as real
      cards: ``82 LL LL`` for 128 bytes or more), ``minimal`` (DER, ``81 LL``) or ``long``
      (``82 LL LL`` everywhere).
    * ``pinless``: the PIN-less face-authentication card (顔認証マイナンバーカード): no
      signature certificate (EF 0008 ``00 8F 00``), the auth PIN, the signature password and
      the text PIN locked by design (they answer as blocked keys). Also profile key
      ``jpki.pinless``; either one makes the card PIN-less.
    * ``token_label``: the JPKI token label, overriding the profile's ``jpki.token_label``.
      ``JPKIAPGPSETOKEN`` (Android) and ``JPKIAPIOSTOKEN`` (iPhone) are smartphone tokens:
      their auth certificate (EF 000A) needs the auth PIN before it can be read.
    * ``eof_warning``: a READ BINARY whose Le exceeds what remains answers the rest with
      ``62 82`` (end of file reached) instead of ``90 00``.
    * ``pss``: COMPUTE DIGITAL SIGNATURE offers the PSS schemes (P1 ``04``/``05``); without
      it they answer ``6A 86`` like any unknown P1.
    """

    atr: bytes = DEFAULT_ATR
    cert_filler: int = 0
    use_get_response: bool = False
    strict_le: bool = False
    verified_query_ok: bool = False
    extended_length: bool = True
    record_lengths: str = "card"
    pinless: bool = False
    token_label: str | None = None
    eof_warning: bool = False
    pss: bool = True


@dataclass
class _Volatile:
    application: Application | None = None
    ef: EF | None = None
    verified: set[int] = field(default_factory=set)
    pending: bytes = b""


def _sw(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


class EmulatedCard:
    """A card made of applications; thread-safe (one APDU at a time)."""

    def __init__(self, applications: list[Application], options: EmulatorOptions | None = None
                 ) -> None:
        self.options = options or EmulatorOptions()
        self.applications = {app.aid: app for app in applications}
        self._state = _Volatile()
        self._powered = False
        self._lock = threading.RLock()
        #: Held by transports for PC/SC-like transactions between in-process clients.
        self.transaction_lock = threading.RLock()
        #: Count of APDUs processed, for tests and benchmarks.
        self.apdu_count = 0

    # --- power --------------------------------------------------------------------------

    @property
    def atr(self) -> bytes:
        return self.options.atr

    def power_on(self) -> bytes:
        """Cold start: clears volatile state, returns the ATR."""
        with self._lock:
            self._state = _Volatile()
            self._powered = True
            return self.atr

    def reset(self) -> bytes:
        """Warm reset: clears volatile state, returns the ATR."""
        return self.power_on()

    def power_off(self) -> None:
        with self._lock:
            self._state = _Volatile()
            self._powered = False

    @property
    def powered(self) -> bool:
        return self._powered

    # --- inspection helpers for tests -----------------------------------------------------

    def key_file(self, aid: bytes, fid: int) -> KeyFile:
        ef = self.applications[aid].files[fid]
        if not isinstance(ef, KeyFile):
            raise TypeError(f"EF {fid:04X} is not a key")
        return ef

    # --- APDU processing ----------------------------------------------------------------

    def process(self, raw: bytes) -> bytes:
        """Answer one command APDU with ``data || SW1 SW2``."""
        with self._lock:
            self.apdu_count += 1
            if not self._powered:
                self.power_on()
            try:
                command = decode_command(raw)
            except ParseError:
                return _sw(st.SW_WRONG_LENGTH)
            if command.extended and not self.options.extended_length:
                return _sw(st.SW_WRONG_LENGTH)
            if command.ins == 0xC0 and command.cla == 0x00:
                return self._get_response(command)
            self._state.pending = b""
            data, sw = self._dispatch(command)
            if data and sw == st.SW_OK and self.options.use_get_response:
                self._state.pending = data
                return _sw(0x6100 | (min(len(data), 256) & 0xFF))
            return data + _sw(sw)

    def _dispatch(self, c: CommandApdu) -> tuple[bytes, int]:
        if 0x40 <= c.cla < 0x80:
            # Further interindustry class: logical channels 4..19, none of which exists.
            return b"", st.SW_LOGICAL_CHANNEL_NOT_SUPPORTED
        if c.cla & 0x70 == 0:  # 0X and 8X: channel and secure-messaging bits as in ISO
            if c.cla & 0x03 or c.ins == INS_MANAGE_CHANNEL:
                return b"", st.SW_LOGICAL_CHANNEL_NOT_SUPPORTED  # only the basic channel 0
            if c.cla & 0x0C:
                # Secure messaging is not offered (card-reference §9): READ BINARY and
                # VERIFY answer the card's own 69 FC, everything else 68 82.
                if c.ins in (0xB0, 0x20):
                    return b"", SW_SM_REFUSED
                return b"", SW_SM_NOT_SUPPORTED
        if c.cla == 0x80:
            if c.ins == 0x2A:
                return self._compute_signature(c)
            return b"", st.SW_INS_NOT_SUPPORTED
        if c.cla != 0x00:
            return b"", st.SW_CLA_NOT_SUPPORTED
        handler = {
            0xA4: self._select,
            0xB0: self._read_binary,
            0x20: self._verify,
            0x24: self._change_reference_data,
            0x84: self._get_challenge,
        }.get(c.ins)
        if handler is None:
            return b"", st.SW_INS_NOT_SUPPORTED
        return handler(c)

    def _get_response(self, c: CommandApdu) -> bytes:
        pending = self._state.pending
        if not pending:
            return _sw(st.SW_CONDITIONS_NOT_SATISFIED)
        n = min(c.le or 256, len(pending))
        chunk, rest = pending[:n], pending[n:]
        self._state.pending = rest
        if rest:
            return chunk + _sw(0x6100 | (min(len(rest), 256) & 0xFF))
        return chunk + _sw(st.SW_OK)

    def _find_application(self, aid: bytes) -> Application | None:
        """The application with this AID, or the first whose AID starts with it (JICSAP
        selection by prefix, card-reference §9); at least the 5-byte RID must be given."""
        app = self.applications.get(aid)
        if app is not None or len(aid) < MIN_AID_PREFIX:
            return app
        return next((a for known, a in self.applications.items() if known.startswith(aid)),
                    None)

    def _select(self, c: CommandApdu) -> tuple[bytes, int]:
        if c.p2 not in (0x00, 0x0C):
            return b"", st.SW_INCORRECT_P1P2
        if c.p1 == 0x04:
            app = self._find_application(c.data)
            if app is None:
                return b"", st.SW_FILE_NOT_FOUND
            # Selecting an application clears the security state of the previous one.
            self._state = _Volatile(application=app)
            return b"", st.SW_OK
        if c.p1 in (0x00, 0x02):
            if len(c.data) != 2:
                return b"", st.SW_FILE_NOT_FOUND if c.p1 == 0x00 else st.SW_WRONG_LENGTH
            app = self._state.application
            fid = int.from_bytes(c.data, "big")
            if app is None or fid not in app.files:
                return b"", st.SW_FILE_NOT_FOUND
            self._state.ef = app.files[fid]
            return b"", st.SW_OK
        return b"", st.SW_INCORRECT_P1P2

    def _allowed(self, keys: frozenset[int] | None) -> bool:
        return keys is None or bool(keys & self._state.verified)

    def _by_sfi(self, sfi: int) -> EF | None:
        app = self._state.application
        return app.by_sfi(sfi) if app is not None else None

    def _read_binary(self, c: CommandApdu) -> tuple[bytes, int]:
        if c.p1 & 0x80:
            # Short EF id in P1 (80 | SFI), 8-bit offset in P2; the EF becomes current.
            if c.p1 & 0x60:
                return b"", st.SW_INCORRECT_P1P2
            found = self._by_sfi(c.p1 & 0x1F)
            if found is None:
                return b"", st.SW_FILE_NOT_FOUND
            self._state.ef = found
            offset = c.p2
        else:
            offset = (c.p1 << 8) | c.p2
        ef = self._state.ef
        if isinstance(ef, KeyFile | PrivateKeyFile) or (isinstance(ef, BinaryFile)
                                                        and ef.internal):
            return b"", SW_INCOMPATIBLE_FILE  # an internal (key) EF is never readable
        if not isinstance(ef, BinaryFile):
            return b"", st.SW_COMMAND_NOT_ALLOWED_NO_EF
        if not self._allowed(ef.read_keys):
            return b"", st.SW_SECURITY_STATUS_NOT_SATISFIED
        if c.le is None:
            return b"", st.SW_WRONG_LENGTH
        size = len(ef.content)
        if offset >= size:
            return b"", st.SW_WRONG_P1P2_OFFSET
        available = size - offset
        if c.le > available and self.options.strict_le and not c.extended:
            # Short Le is at most 256, so here fewer than 256 bytes remain.
            return b"", 0x6C00 | available
        if c.le > available and self.options.eof_warning:
            return ef.content[offset:], SW_EOF_WARNING
        return ef.content[offset : offset + c.le], st.SW_OK

    def _current_key(self) -> KeyFile | None:
        ef = self._state.ef
        return ef if isinstance(ef, KeyFile) else None

    def _verify(self, c: CommandApdu) -> tuple[bytes, int]:
        if c.p1 != 0x00 or not c.p2 & 0x80 or c.p2 & 0x60:
            return b"", st.SW_INCORRECT_P1P2
        if c.p2 & 0x1F:
            # 80 | SFI names the key without SELECT (card-reference §9).
            found = self._by_sfi(c.p2 & 0x1F)
            if not isinstance(found, KeyFile):
                return b"", SW_REFERENCE_NOT_FOUND
            key: KeyFile | None = found
        else:
            key = self._current_key()
        if key is None:
            return b"", st.SW_COMMAND_NOT_ALLOWED_NO_EF
        if not c.data:  # the retry query: uses no try
            if key.blocked:
                return b"", 0x63C0
            if self.options.verified_query_ok and key.fid in self._state.verified:
                return b"", st.SW_OK
            if key.unlimited:
                return b"", 0x6300
            return b"", 0x63C0 | key.tries_left
        if key.blocked:
            return b"", 0x6984 if key.issued_blocked else st.SW_AUTH_METHOD_BLOCKED
        if c.data == key.secret:
            key.tries_left = key.max_tries
            self._state.verified.add(key.fid)
            return b"", st.SW_OK
        self._state.verified.discard(key.fid)
        if key.unlimited:
            return b"", 0x6300
        key.tries_left -= 1
        return b"", 0x63C0 | key.tries_left

    def _change_reference_data(self, c: CommandApdu) -> tuple[bytes, int]:
        if c.p1 != 0x01 or c.p2 != 0x80:
            return b"", st.SW_INCORRECT_P1P2
        key = self._current_key()
        if key is None:
            return b"", st.SW_COMMAND_NOT_ALLOWED_NO_EF
        if key.blocked:
            return b"", st.SW_AUTH_METHOD_BLOCKED
        if key.fid not in self._state.verified:
            return b"", st.SW_SECURITY_STATUS_NOT_SATISFIED
        if not key.pattern.fullmatch(c.data):
            return b"", SW_INCORRECT_DATA
        key.secret = bytes(c.data)
        return b"", st.SW_OK

    def _compute_signature(self, c: CommandApdu) -> tuple[bytes, int]:
        if c.p2 == 0x80:
            ef: EF | None = self._state.ef  # the key EF selected before
        elif c.p2 == 0x00:
            ef = self._state.ef
            if not isinstance(ef, PrivateKeyFile):
                # P2 00 names no key: the text and visual APs sign with their card-presence
                # key (the one needing no secret) whatever EF is current (card-reference §6).
                ef = self._presence_key()
        elif c.p2 & 0x80 and not c.p2 & 0x60:
            # 80 | SFI names the key without SELECT: 97 the auth key, 9A the signature key.
            ef = self._by_sfi(c.p2 & 0x1F)
            if not isinstance(ef, PrivateKeyFile):
                return b"", SW_REFERENCE_NOT_FOUND
        else:
            return b"", st.SW_INCORRECT_P1P2
        schemes = {SIGN_DIGEST_INFO, SIGN_BARE_SHA256, SIGN_ADD_DIGEST_INFO, SIGN_HASH_DATA}
        if self.options.pss:
            schemes |= {SIGN_PSS_DIGEST, SIGN_PSS_DATA}
        if c.p1 not in schemes:
            return b"", st.SW_INCORRECT_P1P2
        if not isinstance(ef, PrivateKeyFile):
            return b"", st.SW_COMMAND_NOT_ALLOWED_NO_EF
        if ef.use_keys and not (ef.use_keys & self._state.verified):
            return b"", st.SW_SECURITY_STATUS_NOT_SATISFIED
        try:
            return sign_with_scheme(ef, c.p1, c.data), st.SW_OK
        except ValueError:
            return b"", st.SW_WRONG_LENGTH

    def _presence_key(self) -> PrivateKeyFile | None:
        """The current application's only key usable without a secret, if it has one."""
        app = self._state.application
        if app is None:
            return None
        keys = [ef for ef in app.files.values()
                if isinstance(ef, PrivateKeyFile) and not ef.use_keys]
        return keys[0] if len(keys) == 1 else None

    def _get_challenge(self, c: CommandApdu) -> tuple[bytes, int]:
        if c.p1 or c.p2:
            return b"", st.SW_INCORRECT_P1P2
        if c.extended:
            return b"", st.SW_CONDITIONS_NOT_SATISFIED  # 1..256 bytes, short form only
        if c.le is None:
            return b"", st.SW_WRONG_LENGTH
        return os.urandom(c.le), st.SW_OK

    def with_options(self, **changes: object) -> None:
        """Change variant options on a live card (tests use it between scenarios)."""
        self.options = replace(self.options, **changes)  # type: ignore[arg-type]


def sign_pkcs1_type1(ef: PrivateKeyFile, message: bytes) -> bytes:
    """RSA signature over ``message`` (a DigestInfo) with PKCS#1 v1.5 type-1 padding.

    This is what the card does: it pads whatever DigestInfo it is given, so the hash
    algorithm is the caller's choice. Uses the CRT form of the private key.
    """
    numbers = ef.key.private_numbers()
    n = numbers.public_numbers.n
    k = (n.bit_length() + 7) // 8
    if not message or len(message) > k - 11:
        raise ValueError("message does not fit PKCS#1 v1.5 padding")
    encoded = b"\x00\x01" + b"\xff" * (k - 3 - len(message)) + b"\x00" + message
    m = int.from_bytes(encoded, "big")
    p, q = numbers.p, numbers.q
    s1 = pow(m, numbers.dmp1, p)
    s2 = pow(m, numbers.dmq1, q)
    h = (numbers.iqmp * (s1 - s2)) % p
    return (s2 + h * q).to_bytes(k, "big")


#: Digest lengths the card recognises for P1 02 (it adds the matching DigestInfo).
_PREFIX_BY_DIGEST_LENGTH = {prefix[-1]: prefix for prefix in DIGEST_INFO_PREFIXES.values()}
SHA256_SIZE = 32


def sign_with_scheme(ef: PrivateKeyFile, scheme: int, data: bytes) -> bytes:
    """The signature COMPUTE DIGITAL SIGNATURE returns for P1 ``scheme`` over ``data``.

    ValueError when the data does not fit the scheme (the card answers ``67 00``).
    """
    if scheme == SIGN_DIGEST_INFO:
        return sign_pkcs1_type1(ef, data)
    if scheme == SIGN_BARE_SHA256:
        if len(data) != SHA256_SIZE:
            raise ValueError("P1 01 takes a 32-byte SHA-256 digest")
        return sign_pkcs1_type1(ef, data)
    if scheme == SIGN_ADD_DIGEST_INFO:
        prefix = _PREFIX_BY_DIGEST_LENGTH.get(len(data))
        if prefix is None:
            raise ValueError("P1 02 takes a SHA-1/256/384/512 digest")
        return sign_pkcs1_type1(ef, prefix + data)
    if scheme == SIGN_HASH_DATA:
        return sign_pkcs1_type1(ef, DIGEST_INFO_PREFIXES["sha256"]
                                + hashlib.sha256(data).digest())
    # PSS with SHA-256 and MGF1-SHA-256, salt as long as the digest.
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=SHA256_SIZE)
    if scheme == SIGN_PSS_DIGEST:
        if len(data) != SHA256_SIZE:
            raise ValueError("P1 04 takes a 32-byte SHA-256 digest")
        return ef.key.sign(data, pss, utils.Prehashed(hashes.SHA256()))
    if scheme == SIGN_PSS_DATA:
        return ef.key.sign(data, pss, hashes.SHA256())
    raise ValueError(f"unknown signature scheme {scheme:02X}")
