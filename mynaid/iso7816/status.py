"""Status words of ISO/IEC 7816-4 as the My Number Card uses them (pure, no I/O)."""

from __future__ import annotations

from mynaid.errors import (
    CardError,
    ConditionsNotSatisfiedError,
    FileNotFoundOnCardError,
    PinBlockedError,
    SecurityStatusNotSatisfiedError,
    UnsupportedCommandError,
    WrongLengthError,
    WrongPinError,
)

SW_OK = 0x9000
#: VERIFY / retry query of a key without a retry limit (card-reference §9): not a count.
SW_NO_RETRY_LIMIT = 0x6300
#: End of file reached before Le bytes were read; the data read so far comes with it.
SW_EOF_WARNING = 0x6282
SW_SM_NOT_SUPPORTED = 0x6882
SW_INCOMPATIBLE_FILE = 0x6981
SW_SM_REFUSED = 0x69FC
SW_REFERENCE_NOT_FOUND = 0x6A88
SW_WRONG_LENGTH = 0x6700
SW_LOGICAL_CHANNEL_NOT_SUPPORTED = 0x6881
SW_SECURITY_STATUS_NOT_SATISFIED = 0x6982
SW_AUTH_METHOD_BLOCKED = 0x6984
SW_CONDITIONS_NOT_SATISFIED = 0x6985
SW_COMMAND_NOT_ALLOWED_NO_EF = 0x6986
SW_FILE_NOT_FOUND = 0x6A82
SW_INCORRECT_P1P2 = 0x6A86
SW_WRONG_P1P2_OFFSET = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_UNKNOWN = 0x6F00

_DESCRIPTIONS = {
    SW_OK: "success",
    SW_NO_RETRY_LIMIT: "verification failed (the key has no retry limit)",
    SW_EOF_WARNING: "end of file reached before the requested length",
    SW_SM_NOT_SUPPORTED: "secure messaging not supported",
    SW_INCOMPATIBLE_FILE: "command incompatible with the file (an internal key file)",
    SW_SM_REFUSED: "secure messaging refused",
    SW_REFERENCE_NOT_FOUND: "referenced key not found",
    SW_WRONG_LENGTH: "wrong length",
    SW_LOGICAL_CHANNEL_NOT_SUPPORTED: "logical channel not supported",
    SW_SECURITY_STATUS_NOT_SATISFIED: "security status not satisfied (PIN not verified)",
    SW_AUTH_METHOD_BLOCKED: "authentication method blocked",
    SW_CONDITIONS_NOT_SATISFIED: "conditions of use not satisfied",
    SW_COMMAND_NOT_ALLOWED_NO_EF: "command not allowed: no current EF",
    SW_FILE_NOT_FOUND: "file or application not found",
    SW_INCORRECT_P1P2: "incorrect P1/P2",
    SW_WRONG_P1P2_OFFSET: "offset beyond the end of the file",
    SW_INS_NOT_SUPPORTED: "instruction not supported",
    SW_CLA_NOT_SUPPORTED: "class not supported",
}


def is_retry_counter(sw: int) -> bool:
    """True for ``63 Cx`` (VERIFY failed / retry query answer)."""
    return sw & 0xFFF0 == 0x63C0


def retries_from_sw(sw: int) -> int | None:
    """The x of ``63 Cx``, or None for any other status word."""
    return sw & 0x0F if is_retry_counter(sw) else None


def describe(sw: int) -> str:
    """A plain English description of a status word."""
    if sw in _DESCRIPTIONS:
        return _DESCRIPTIONS[sw]
    if is_retry_counter(sw):
        return f"verification failed, {sw & 0x0F} tries left"
    if sw >> 8 == 0x61:
        return f"{sw & 0xFF or 256} more bytes available (GET RESPONSE)"
    if sw >> 8 == 0x6C:
        return f"wrong Le; exactly {sw & 0xFF or 256} bytes available"
    return "unknown status"


def error_for_sw(sw: int, context: str) -> CardError:
    """The typed exception for an error status word, with ``context`` leading the message.

    ``context`` says what was attempted (e.g. "reading EF 0001"); it must not contain secrets.
    """
    message = f"{context}: {describe(sw)}"
    if sw == SW_NO_RETRY_LIMIT:
        return WrongPinError(message, sw, None)
    if is_retry_counter(sw):
        tries = sw & 0x0F
        if tries == 0:
            return PinBlockedError(f"{context}: the key is now blocked", sw)
        return WrongPinError(message, sw, tries)
    if sw == SW_AUTH_METHOD_BLOCKED:
        return PinBlockedError(f"{context}: the key is blocked", sw)
    if sw == SW_SECURITY_STATUS_NOT_SATISFIED:
        return SecurityStatusNotSatisfiedError(message, sw)
    if sw == SW_FILE_NOT_FOUND:
        return FileNotFoundOnCardError(message, sw)
    if sw in (SW_CONDITIONS_NOT_SATISFIED, SW_COMMAND_NOT_ALLOWED_NO_EF):
        return ConditionsNotSatisfiedError(message, sw)
    if sw in (SW_INS_NOT_SUPPORTED, SW_CLA_NOT_SUPPORTED, SW_INCORRECT_P1P2,
              SW_LOGICAL_CHANNEL_NOT_SUPPORTED, SW_SM_NOT_SUPPORTED, SW_SM_REFUSED):
        return UnsupportedCommandError(message, sw)
    if sw == SW_WRONG_LENGTH or sw == SW_WRONG_P1P2_OFFSET or sw >> 8 == 0x6C:
        return WrongLengthError(message, sw)
    return CardError(message, sw)
