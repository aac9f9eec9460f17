"""The exception hierarchy of mynaid.

Every error the library raises derives from :class:`MynaidError`. Errors that come from a card
status word carry it in ``sw``; every error has a plain ``message``. Messages never contain
secrets (PINs, passwords, My Numbers, 照合番号): the code that raises them only ever formats
status words, file ids, lengths and counts.

The CLI maps these classes to exit codes in one place (:mod:`mynaid.cli.exitcodes`).
"""

from __future__ import annotations


class MynaidError(Exception):
    """Base class of every error raised by mynaid."""

    def __init__(self, message: str, sw: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.sw = sw

    def __str__(self) -> str:
        if self.sw is None:
            return self.message
        return f"{self.message} (SW {self.sw:04X})"


# --- input that is malformed (from the card, a file or the caller) -------------------------


class ParseError(MynaidError):
    """Data from the card or a file does not have the expected structure."""


class ApduEncodingError(MynaidError, ValueError):
    """A command APDU cannot be encoded (field too long, bad parameter)."""


class InvalidSecretError(MynaidError, ValueError):
    """A PIN, password or verification code has the wrong format; nothing was sent."""


# --- status words returned by the card --------------------------------------------------------


class CardError(MynaidError):
    """The card answered a command with an error status word."""

    def __init__(self, message: str, sw: int) -> None:
        super().__init__(message, sw)


class SecurityStatusNotSatisfiedError(CardError):
    """``69 82``: the operation needs a PIN or code that has not been verified."""


class FileNotFoundOnCardError(CardError):
    """``6A 82``: the application or file does not exist on this card."""


class WrongPinError(CardError):
    """``63 Cx``: VERIFY failed; ``tries_left`` tries remain."""

    def __init__(self, message: str, sw: int, tries_left: int) -> None:
        super().__init__(message, sw)
        self.tries_left = tries_left


class PinBlockedError(CardError):
    """``69 84`` or ``63 C0``: the key is blocked; only a municipal office can reset it."""


class ConditionsNotSatisfiedError(CardError):
    """``69 85`` (or ``69 86``, no current EF): the command is not allowed in this state."""


class UnsupportedCommandError(CardError):
    """``6D 00`` / ``6E 00`` / ``6A 86``: the card does not support this command or parameter."""


class WrongLengthError(CardError):
    """``67 00``, ``6B 00`` and similar length or offset errors."""


# --- the path between this process and the card ----------------------------------------------


class TransportError(MynaidError):
    """Communication with the reader or card failed."""


class NoServiceError(TransportError):
    """The PC/SC service (pcscd) is not running or not reachable."""


class NoReaderError(TransportError):
    """No reader is attached, or none matches the requested name or index."""


class NoCardError(TransportError):
    """The reader has no card in it."""


class CardRemovedError(TransportError):
    """The card was removed (or the virtual card went away) during an operation."""


class CardResetError(TransportError):
    """Another process reset the card: any verified PIN is gone. Nothing was re-sent."""


class LockoutGuardError(MynaidError):
    """The attempt could block the key (tries left <= reserve); nothing was sent.

    Pass ``force=True`` (CLI ``--force``) to attempt it anyway.
    """

    def __init__(self, message: str, tries_left: int) -> None:
        super().__init__(message)
        self.tries_left = tries_left


class VerificationFailedError(MynaidError):
    """A signature, certificate path, integrity record or face did not verify (exit 6).

    Subclassed by :class:`mynaid.trust.errors.VerificationError` (with a reason code),
    :class:`mynaid.face.errors.FaceVerificationError` and the kiosk's outcome error.
    """


class DependencyMissingError(MynaidError):
    """An optional dependency (an extra such as ``mynaid[pcsc]``) is not installed."""
