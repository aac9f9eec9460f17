"""The APDU protocol over a transport: ISO 7816 response rules, file reads, tracing.

This layer turns command APDUs into responses, handling the ISO rules that pyscard and
pcscd leave to the application (``61 xx`` → GET RESPONSE, ``6C xx`` → resend with the exact
Le), reads transparent files with the fewest APDUs, and writes an APDU trace to the
``mynaid.apdu`` logger at DEBUG level with the data of secret-carrying commands redacted.
Status words other than these are returned to the session, which owns their meaning.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mynaid.errors import ParseError, TransportError
from mynaid.iso7816 import status as st
from mynaid.iso7816.apdu import SECRET_INS, SHORT_MAX_LC, CommandApdu, ResponseApdu
from mynaid.iso7816.tlv import MAX_LENGTH, header_length_info
from mynaid.transport.base import Transport

trace_log = logging.getLogger("mynaid.apdu")

#: Bounds that keep a misbehaving card from looping the reader forever.
MAX_GET_RESPONSE_ROUNDS = 300
MAX_RESPONSE_BYTES = 65536 + 256
SHORT_CHUNK = 256
#: Answers to READ BINARY that concern the file, not the APDU's form.
_FILE_STATE_ERRORS = frozenset({
    st.SW_SECURITY_STATUS_NOT_SATISFIED, st.SW_FILE_NOT_FOUND, st.SW_COMMAND_NOT_ALLOWED_NO_EF,
    st.SW_AUTH_METHOD_BLOCKED, st.SW_WRONG_P1P2_OFFSET,
})

#: Answers to a READ BINARY by short EF id that may concern the addressing, not the length.
_SFI_INCONCLUSIVE = frozenset({st.SW_INCORRECT_P1P2, st.SW_FILE_NOT_FOUND,
                               st.SW_INCOMPATIBLE_FILE})


class ExtendedLength(enum.Enum):
    """Whether to read files with one extended-length READ BINARY."""

    AUTO = "auto"  # try once; remember the outcome for this connection
    OFF = "off"  # short 256-byte chunks only


@dataclass
class ApduStats:
    """Counters for benchmarks and diagnostics."""

    commands: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0


def _format_command(command: CommandApdu, raw: bytes) -> str:
    if command.redact or (command.ins in SECRET_INS and command.data):
        header = raw[:4].hex(" ").upper()
        return f"{header} Lc={len(command.data)} <redacted>"
    return raw.hex(" ").upper()


class CardProtocol:
    """Sends APDUs over a :class:`Transport` and applies the ISO response rules."""

    def __init__(self, transport: Transport,
                 extended: ExtendedLength = ExtendedLength.AUTO) -> None:
        self.transport = transport
        self.extended_mode = extended
        #: None until detected; True/False once an extended READ BINARY was tried.
        self.extended_supported: bool | None = None if extended is not ExtendedLength.OFF \
            else False
        self.stats = ApduStats()
        self._sensitive = 0
        #: True once a VERIFY went out on this connection: from then on extended length is
        #: never probed (a reader that resets the card on an extended APDU it cannot carry
        #: would drop the verified state, card-reference §9).
        self.verify_sent = False
        #: Extended READ BINARY APDUs sent while support was unknown. One settles it; only
        #: an answer about the file itself (69 82, 6A 82, ...) leaves it unknown, and such a
        #: read costs no APDU that a short read would not have cost.
        self.extended_probes = 0

    @property
    def may_probe_extended(self) -> bool:
        """True while an extended-length probe is still allowed: support unknown, no VERIFY
        sent yet on this connection."""
        return self.extended_supported is None and not self.verify_sent

    @contextmanager
    def sensitive(self) -> Iterator[None]:
        """Within this context the trace shows response lengths, not response data.

        Sessions wrap reads of personal records in it (the My Number, the card face), so
        that a verbose trace never carries a My Number.
        """
        self._sensitive += 1
        try:
            yield
        finally:
            self._sensitive -= 1

    def _trace_response(self, data: bytes, sw: int) -> None:
        if self._sensitive and data:
            trace_log.debug("< <%d bytes redacted> %04X", len(data), sw)
        else:
            trace_log.debug("< %s%04X", data.hex(" ").upper() + " " if data else "", sw)

    # --- raw exchange ---------------------------------------------------------------------

    def _exchange(self, command: CommandApdu) -> ResponseApdu:
        raw = command.encode()
        if trace_log.isEnabledFor(logging.DEBUG):
            trace_log.debug("> %s", _format_command(command, raw))
        data, sw = self.transport.transmit(raw)
        self.stats.commands += 1
        self.stats.bytes_sent += len(raw)
        self.stats.bytes_received += len(data) + 2
        if trace_log.isEnabledFor(logging.DEBUG):
            self._trace_response(data, sw)
        return ResponseApdu(data, sw)

    def send(self, command: CommandApdu) -> ResponseApdu:
        """Send ``command``; follow ``61 xx`` with GET RESPONSE and ``6C xx`` with a resend.

        The returned status word is the card's final answer; errors are not raised here.
        """
        response = self._exchange(command)
        if response.sw1 == 0x6C and command.le is not None:
            response = self._exchange(command.with_le(response.sw2 or 256))
        if response.sw1 == 0x61:
            response = self._collect_get_response(response)
        return response

    def _collect_get_response(self, first: ResponseApdu) -> ResponseApdu:
        data = bytearray(first.data)
        response = first
        for _ in range(MAX_GET_RESPONSE_ROUNDS):
            if response.sw1 != 0x61:
                return ResponseApdu(bytes(data), response.sw)
            get = CommandApdu(0x00, 0xC0, 0x00, 0x00, le=response.sw2 or 256)
            response = self._exchange(get)
            data += response.data
            if len(data) > MAX_RESPONSE_BYTES:
                raise ParseError(f"card sent more than {MAX_RESPONSE_BYTES} bytes "
                                 "through GET RESPONSE")
        raise ParseError("card kept answering 61 xx; gave up after "
                         f"{MAX_GET_RESPONSE_ROUNDS} GET RESPONSE commands")

    def send_secret(self, header: bytes, secret: bytearray) -> ResponseApdu:
        """Send ``header || Lc || secret`` (VERIFY, CHANGE REFERENCE DATA) and wipe the buffer.

        The APDU is assembled in a mutable buffer that is zeroed after transmission, and
        the trace shows only the header and the length. Python cannot wipe every copy (the
        caller's ``str``, the transport's own buffers), so this limits, not removes, the
        secret's lifetime in memory.
        """
        if len(header) != 4 or not 1 <= len(secret) <= SHORT_MAX_LC:
            raise ValueError("a secret APDU needs a 4-byte header and 1..255 bytes")
        raw = bytearray(header)
        raw.append(len(secret))
        raw += secret
        if header[1] == 0x20:
            self.verify_sent = True
        try:
            if trace_log.isEnabledFor(logging.DEBUG):
                trace_log.debug("> %s Lc=%d <redacted>", header.hex(" ").upper(), len(secret))
            data, sw = self.transport.transmit(raw)  # type: ignore[arg-type]
        finally:
            raw[:] = bytes(len(raw))
        self.stats.commands += 1
        self.stats.bytes_sent += len(raw)
        self.stats.bytes_received += len(data) + 2
        if trace_log.isEnabledFor(logging.DEBUG):
            self._trace_response(data, sw)
        response = ResponseApdu(data, sw)
        if response.sw1 == 0x61:
            response = self._collect_get_response(response)
        return response

    # --- common commands ------------------------------------------------------------------

    def select_application(self, aid: bytes) -> ResponseApdu:
        """SELECT by AID without FCI (``00 A4 04 0C``)."""
        return self.send(CommandApdu(0x00, 0xA4, 0x04, 0x0C, aid))

    def select_file(self, fid: int) -> ResponseApdu:
        """SELECT an EF of the current application by file id (``00 A4 02 0C``)."""
        return self.send(CommandApdu(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))

    def read_binary(self, offset: int, le: int, extended: bool = False) -> ResponseApdu:
        """READ BINARY at a 15-bit offset."""
        if not 0 <= offset <= 0x7FFF:
            raise ParseError(f"offset {offset} beyond the 15-bit READ BINARY range")
        return self.send(CommandApdu(0x00, 0xB0, offset >> 8, offset & 0xFF, le=le,
                                     extended=extended))

    def read_tlv_file(self, max_size: int = MAX_LENGTH) -> tuple[bytes, int]:
        """Read the TLV (e.g. a DER certificate) at the start of the selected EF.

        The size comes from the first read: one extended READ BINARY when supported,
        else a 256-byte short read followed by 256-byte chunks, the last asking only for
        what remains. Filler after the TLV is not read. Returns the TLV bytes and the
        status word of a failed first read (``(b"", sw)``), so the session can map it.
        """
        if self.extended_supported is True or self.may_probe_extended:
            result = self._try_extended_read(max_size)
            if result is not None:
                return result
        first = self.read_binary(0, SHORT_CHUNK)
        if not _read_ok(first):
            return b"", first.sw
        data = bytearray(first.data)
        total = header_length_info(bytes(data))
        if total is None:
            raise ParseError(f"the file's first {len(data)} bytes do not hold a TLV header")
        if total > max_size:
            raise ParseError(f"the file declares {total} bytes, over the bound {max_size}")
        if first.sw == st.SW_EOF_WARNING and len(data) < total:
            raise ParseError(f"the file ends at {len(data)} bytes, inside a TLV of {total} "
                             "bytes")
        while len(data) < total:
            want = min(SHORT_CHUNK, total - len(data))
            chunk = self.read_binary(len(data), want)
            if not _read_ok(chunk):
                return b"", chunk.sw
            if not chunk.data:
                raise ParseError(f"the card returned no data at offset {len(data)}")
            data += chunk.data[:want]
            if chunk.sw == st.SW_EOF_WARNING and len(data) < total:
                # 62 82 ends the file, like 6B 00 would at the next offset.
                raise ParseError(f"the file ends at {len(data)} bytes, inside a TLV of "
                                 f"{total} bytes")
        return bytes(data[:total]), st.SW_OK

    def _try_extended_read(self, max_size: int, sfi: int | None = None
                           ) -> tuple[bytes, int] | None:
        if self.extended_supported is None:
            self.extended_probes += 1
        try:
            if sfi is None:
                response = self.read_binary(0, 65536, extended=True)
            else:
                response = self.send(CommandApdu(0x00, 0xB0, 0x80 | sfi, 0x00, le=65536,
                                                 extended=True))
        except TransportError as exc:
            if type(exc) is not TransportError:
                raise  # removal, reset, no card, no service: about the card, not the APDU
            # A reader or driver that cannot carry extended APDUs fails the transmit with
            # a generic PC/SC error.
            self.extended_supported = False
            return None
        if response.sw in _FILE_STATE_ERRORS or (
                sfi is not None and response.sw in _SFI_INCONCLUSIVE):
            return b"", response.sw  # about the file, not about extended length
        # 62 82 with data: the card read to the end of the EF, shorter than Le (a success).
        total = header_length_info(response.data) if _read_ok(response) else None
        if total is None or total > len(response.data):
            # Refused (67 00, 6A 86, ...) or answered short: use short reads from now on.
            self.extended_supported = False
            return None
        if total > max_size:
            raise ParseError(f"the file declares {total} bytes, over the bound {max_size}")
        self.extended_supported = True
        return response.data[:total], st.SW_OK

    def probe_extended(self, sfi: int | None = None) -> bool | None:
        """Try one extended READ BINARY if support is still unknown and no VERIFY was sent;
        returns what is known afterwards.

        It reads the selected EF, or with ``sfi`` the EF of that short id (``P1 80|SFI``,
        card-reference §9), which costs no SELECT: one APDU in all. An answer about the
        addressing or the file leaves support unknown.
        """
        if self.may_probe_extended:
            self._try_extended_read(MAX_LENGTH, sfi)
        return self.extended_supported

    def read_whole_file(self, size: int) -> ResponseApdu:
        """Read a small EF of known size (token info, availability) in one short READ.

        ``62 82`` with data (the EF is shorter than ``size``) comes back as ``90 00``.
        """
        response = self.read_binary(0, size)
        if response.sw == st.SW_EOF_WARNING and response.data:
            return ResponseApdu(response.data, st.SW_OK)
        return response


def _read_ok(response: ResponseApdu) -> bool:
    """READ BINARY data to use: ``90 00``, or ``62 82`` (end of file reached) with data."""
    return response.sw == st.SW_OK or (response.sw == st.SW_EOF_WARNING
                                       and bool(response.data))
