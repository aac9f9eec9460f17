"""The CLI's exit codes, and the one place that maps errors to them (documented in README)."""

from __future__ import annotations

import enum

from mynaid import errors


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    WRONG_PIN = 3
    PIN_BLOCKED = 4
    NO_CARD = 5
    VERIFICATION_FAILED = 6
    LOCKOUT_GUARD = 7
    #: Ctrl-C (SIGINT), as shells report it: 128 + 2.
    INTERRUPTED = 130


_MAPPING: tuple[tuple[type[BaseException], ExitCode], ...] = (
    (errors.WrongPinError, ExitCode.WRONG_PIN),
    (errors.PinBlockedError, ExitCode.PIN_BLOCKED),
    (errors.LockoutGuardError, ExitCode.LOCKOUT_GUARD),
    (errors.NoServiceError, ExitCode.NO_CARD),  # no PC/SC service: no reader reachable
    (errors.NoReaderError, ExitCode.NO_CARD),
    (errors.NoCardError, ExitCode.NO_CARD),
    (errors.CardRemovedError, ExitCode.NO_CARD),
    (errors.InvalidSecretError, ExitCode.USAGE),
    (errors.VerificationFailedError, ExitCode.VERIFICATION_FAILED),
)


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit code for an exception (first matching class wins)."""
    for cls, code in _MAPPING:
        if isinstance(error, cls):
            return code
    return ExitCode.ERROR
