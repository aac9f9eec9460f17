"""Reading secrets for the CLI: a hidden prompt on a terminal, else one line from stdin.

Secrets are never taken from argv (visible in ``ps`` and shell history) nor echoed. Every
command that sends a secret asks for it through :func:`guarded_prompt`, which reads the
card's counter first (a query that uses no try) and refuses before the prompt when the
attempt could block the key: nobody is asked for a secret the card would not be sent.

照合番号B is acquired in one place, :func:`read_pin_b` (a prompt today; a photo of the card
face can stand in for it), which returns the checked 14-digit value.
"""

from __future__ import annotations

import datetime as dt
import getpass
import sys
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING

from mynaid.errors import InvalidSecretError, LockoutGuardError, PinBlockedError

if TYPE_CHECKING:
    from mynaid.cardspec import SecretRef
    from mynaid.protocol import CardProtocol

#: A secret line longer than this is refused (the longest secret is 16 characters).
MAX_SECRET_LINE = 256

#: The first My Number Cards were issued in January 2016; none expires before that.
FIRST_EXPIRY_YEAR = 2016
#: A card is valid for at most 10 years and runs to the holder's birthday after: a card
#: issued this year cannot expire more than 11 years from now.
MAX_VALIDITY_YEARS = 11

PIN_B_PROMPT = "照合番号B (14 digits: era birth YYMMDD, expiry year, security code)"


def normalize(text: str) -> str:
    """NFKC: the full-width digits and letters of a Japanese IME become ASCII."""
    return unicodedata.normalize("NFKC", text)


def read_secret(label: str) -> str:
    """Prompt for ``label`` on the terminal, or read one line from a non-terminal stdin.

    The answer is NFKC-normalised, so ``１２３４`` typed with an IME is ``1234``.
    """
    if sys.stdin.isatty():
        return normalize(getpass.getpass(f"{label}: ", stream=sys.stderr))
    line = sys.stdin.readline(MAX_SECRET_LINE + 1)
    if not line:
        raise InvalidSecretError(f"no line on standard input for the {label}")
    if len(line) > MAX_SECRET_LINE:
        raise InvalidSecretError(f"the line given for the {label} is too long")
    return normalize(line.rstrip("\r\n"))


def tries_text(count: int) -> str:
    return f"{count} {'try' if count == 1 else 'tries'}"


def guard(protocol: CardProtocol, ref: SecretRef, *, force: bool = False,
          reserve: int | None = None) -> None:
    """Read ``ref``'s counter (no try used) and refuse as the session's guard would.

    Raises :class:`PinBlockedError` (exit 4) for a blocked key and
    :class:`LockoutGuardError` (exit 7) when the tries left are at or below the reserve
    and ``force`` is not given. Nothing is asked or sent in either case.
    """
    from mynaid.pins import pin_status
    from mynaid.sessions.base import DEFAULT_RESERVE

    state = pin_status(protocol, [ref])[0]
    if not state.present or state.verified or state.tries_left is None:
        return  # the session reports a missing key; a verified one costs no try
    if state.locked_by_design:
        from mynaid.errors import PinLockedByDesignError
        from mynaid.sessions.base import LOCKED_BY_DESIGN_ADVICE

        raise PinLockedByDesignError(
            f"{ref.name}: {LOCKED_BY_DESIGN_ADVICE}; it was not asked for and nothing was "
            "sent", 0x6984)
    if state.blocked:
        from mynaid.pins import reset_advice  # the one wording of where to reset it

        raise PinBlockedError(
            f"{ref.name} is blocked ({reset_advice(ref.name)}): it was not asked for and "
            "nothing was sent", 0x6984)
    keep = DEFAULT_RESERVE if reserve is None else reserve
    if state.tries_left <= keep and not force:
        raise LockoutGuardError(
            f"{ref.name} has {tries_text(state.tries_left)} left and the guard keeps "
            f"{tries_text(keep)} in reserve so that a wrong value cannot block it: it was not "
            "asked for and nothing was sent (use --force to try anyway)", state.tries_left)


def guarded_prompt(protocol: CardProtocol, ref: SecretRef, *, force: bool = False,
                   reserve: int | None = None, label: str | None = None,
                   read: Callable[[], str] | None = None) -> str:
    """The lockout guard, then the prompt: the secret for ``ref`` once the card would take it.

    ``read`` replaces the plain prompt (照合番号B by parts, a scan of the card face).
    """
    guard(protocol, ref, force=force, reserve=reserve)
    return read() if read is not None else read_secret(label or ref.label)


# --- 照合番号B -----------------------------------------------------------------------------------


def check_expiry_year(year: int, birth: dt.date | None = None,
                      today: dt.date | None = None) -> None:
    """An expiry year a My Number Card can have, after the holder's birth."""
    today = today or dt.date.today()
    if not FIRST_EXPIRY_YEAR <= year <= today.year + MAX_VALIDITY_YEARS:
        raise InvalidSecretError(
            f"the expiry year must be {FIRST_EXPIRY_YEAR}..{today.year + MAX_VALIDITY_YEARS} "
            "(no card expires outside that range)")
    if birth is not None and year <= birth.year:
        raise InvalidSecretError("the expiry year is not after the birth date")


def check_pin_b(value: str, today: dt.date | None = None) -> str:
    """A 14-digit 照合番号B that could be right: digits, an era date, a possible expiry year.

    The era of the birth date is not part of the value, so only the expiry year's range
    and the date's shape can be checked here; :func:`read_pin_b` by parts checks more.
    """
    from mynaid.cardspec import SecretFormat, _check_era_date

    value = normalize(value).strip()
    SecretFormat.DIGITS14.normalize(value)
    _check_era_date(value[:6])
    check_expiry_year(int(value[6:10]), today=today)
    return value


def pin_b_from_parts(birth_text: str, expiry_text: str, code: str,
                     today: dt.date | None = None) -> str:
    """照合番号B from a birth date (Gregorian or era), the expiry year and the security code."""
    from mynaid.era import build_pin_b, parse_date, parse_year

    birth = parse_date(birth_text)
    today = today or dt.date.today()
    if birth > today:
        raise InvalidSecretError("the birth date is in the future")
    year = parse_year(expiry_text)
    check_expiry_year(year, birth, today)
    return check_pin_b(build_pin_b(birth, year, normalize(code).strip()), today)


def read_pin_b(parts: bool = False) -> str:
    """THE acquisition of 照合番号B: the checked 14-digit value, before any VERIFY.

    ``parts``: ask for the birth date (era or Gregorian), the expiry year and the security
    code, one prompt (or stdin line) each, instead of the 14 digits.
    """
    if not parts:
        return check_pin_b(read_secret(PIN_B_PROMPT))
    birth = read_secret("Birth date (1980-02-17, 昭和55年2月17日 or S55.02.17)")
    expiry = read_secret("Expiry year printed on the card (2035 or 令和17)")
    code = read_secret("Security code printed on the card (4 digits)")
    return pin_b_from_parts(birth, expiry, code)
