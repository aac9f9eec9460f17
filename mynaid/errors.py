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

    #: A stable, machine-readable code (``--json`` prints it; tests match on it).
    #: Subclasses set their own; an instance may carry a more specific one.
    reason: str = "error"

    def __init__(self, message: str, sw: int | None = None, *,
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.sw = sw
        if reason is not None:
            self.reason = reason

    def __str__(self) -> str:
        if self.sw is None:
            return self.message
        return f"{self.message} (SW {self.sw:04X})"


# --- input that is malformed (from the card, a file or the caller) -------------------------


class ParseError(MynaidError):
    """Data from the card or a file does not have the expected structure."""

    reason: str = "malformed-data"


class ApduEncodingError(MynaidError, ValueError):
    """A command APDU cannot be encoded (field too long, bad parameter)."""

    reason: str = "apdu-encoding"


class InvalidSecretError(MynaidError, ValueError):
    """A PIN, password or verification code has the wrong format; nothing was sent."""

    reason: str = "invalid-secret"


# --- status words returned by the card --------------------------------------------------------


class CardError(MynaidError):
    """The card answered a command with an error status word."""

    reason: str = "card-error"

    def __init__(self, message: str, sw: int) -> None:
        super().__init__(message, sw)


class SecurityStatusNotSatisfiedError(CardError):
    """``69 82``: the operation needs a PIN or code that has not been verified."""

    reason: str = "security-status-not-satisfied"


class FileNotFoundOnCardError(CardError):
    """``6A 82``: the application or file does not exist on this card."""

    reason: str = "file-not-found"


class WrongPinError(CardError):
    """``63 Cx``: VERIFY failed; ``tries_left`` tries remain (None after ``63 00``: the key
    has no retry limit)."""

    reason: str = "wrong-pin"

    def __init__(self, message: str, sw: int, tries_left: int | None) -> None:
        super().__init__(message, sw)
        self.tries_left = tries_left


class PinBlockedError(CardError):
    """``69 84`` or ``63 C0``: the key is blocked.

    A municipal office resets any blocked secret. A blocked auth PIN or signature password can
    also be reset at some convenience-store kiosks by a holder who still knows the other JPKI
    secret; the text PIN only at the municipal office. On the PIN-less face-authentication
    card the PINs are locked by design (:class:`PinLockedByDesignError`).
    """

    reason: str = "pin-blocked"


class ConditionsNotSatisfiedError(CardError):
    """``69 85`` (or ``69 86``, no current EF): the command is not allowed in this state."""

    reason: str = "conditions-not-satisfied"


class UnsupportedCommandError(CardError):
    """``6D 00`` / ``6E 00`` / ``6A 86``: the card does not support this command or parameter."""

    reason: str = "unsupported-command"


class WrongLengthError(CardError):
    """``67 00``, ``6B 00`` and similar length or offset errors."""

    reason: str = "wrong-length"


# --- the path between this process and the card ----------------------------------------------


class TransportError(MynaidError):
    """Communication with the reader or card failed."""

    reason: str = "transport-error"


class NoServiceError(TransportError):
    """The PC/SC service (pcscd) is not running or not reachable."""

    reason: str = "no-service"


class NoReaderError(TransportError):
    """No reader is attached, or none matches the requested name or index."""

    reason: str = "no-reader"


class NoCardError(TransportError):
    """The reader has no card in it."""

    reason: str = "no-card"


class CardRemovedError(TransportError):
    """The card was removed (or the virtual card went away) during an operation."""

    reason: str = "card-removed"


class CardResetError(TransportError):
    """Another process reset the card: any verified PIN is gone. Nothing was re-sent."""

    reason: str = "card-reset"


class LockoutGuardError(MynaidError):
    """The attempt could block the key (tries left <= reserve); nothing was sent.

    Pass ``force=True`` (CLI ``--force``) to attempt it anyway.
    """

    reason: str = "lockout-guard"

    def __init__(self, message: str, tries_left: int) -> None:
        super().__init__(message)
        self.tries_left = tries_left


class VerificationFailedError(MynaidError):
    """A signature, certificate path, integrity record or face did not verify (exit 6).

    Subclassed by :class:`mynaid.trust.errors.VerificationError` (with a reason code),
    :class:`mynaid.face.errors.FaceVerificationError` and the kiosk's outcome error.
    """

    reason: str = "verification-failed"


class DependencyMissingError(MynaidError):
    """An optional dependency (an extra such as ``mynaid[pcsc]``) is not installed."""

    reason: str = "dependency-missing"


class PinLockedByDesignError(PinBlockedError):
    """The PIN-less face-authentication card (顔認証マイナンバーカード): its PINs are locked
    by design, not by wrong entries. Nothing was sent; there is nothing to reset. Use face
    matching or visual confirmation instead (exit 4, like any blocked key)."""

    reason: str = "pin-locked-by-design"


class InputFileError(MynaidError):
    """A file named on the command line cannot be used as input (unreadable, empty, too
    large, not the expected kind): an input error (exit 1), never a failed verification."""

    reason: str = "bad-input-file"


class OutputPathError(MynaidError):
    """An output path that cannot be written (missing folder, a folder, a symbolic link);
    checked before any secret is asked for or spent (exit 1)."""

    reason: str = "bad-output-path"


class CardFrontError(InvalidSecretError):
    """A photo of the card front could not be read well enough to build 照合番号B; nothing
    was sent to the card (:mod:`mynaid.cardfront`). ``field`` says which part failed
    (``image``, ``card``, ``birth``, ``expiry``, ``security_code``) and the message why, so
    the caller can ask for a better photo or fall back to typed entry. Messages never repeat
    what was read (the fields are parts of a secret)."""

    reason: str = "card-front-unreadable"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"card front: {field}: {message}")
        self.field = field
        self.why = message
