"""Errors of face verification (light: the CLI's exit-code table imports this module)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mynaid.errors import MynaidError, ParseError, VerificationFailedError

if TYPE_CHECKING:
    from mynaid.face.models import MatchResult


class FaceVerificationError(VerificationFailedError):
    """The face did not match the card photo, or could not be checked (CLI exit code 6).

    ``result`` is the full :class:`~mynaid.face.models.MatchResult` (no image data).
    """

    def __init__(self, result: MatchResult) -> None:
        super().__init__(f"face not verified: {result.summary()}")
        self.result = result


class PairsFileError(ParseError):
    """A pairs CSV for ``face eval`` is malformed; ``line`` is its 1-based line (or None)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message if line is None else f"line {line}: {message}")
        self.line = line


class CameraError(MynaidError):
    """A camera, video file or image sequence could not be opened or read."""
