"""``FaceMatcher``: is the person in the camera frame the one on the card photo?

Usage (the kiosk flow does the same with frames from :mod:`mynaid.face.camera`)::

    from mynaid.face import FaceMatcher

    matcher = FaceMatcher()                      # dlib backend, default threshold
    reference = matcher.reference(photo_bytes)   # the card's JPEG 2000 photo, once
    result = matcher.compare(reference, frame)   # frame: RGB array (order="bgr" for OpenCV)
    if result.match: ...
    else: print(result.summary())                # distance, or the quality reasons

Steps: decode and convert to RGB; scale images larger than ``max_side`` down; detect faces;
check quality (:mod:`mynaid.face.quality`: exactly one face, size, sharpness, brightness);
encode the face; distance; ``match`` when ``distance < threshold``. A result with any
quality issue is never a match, whatever the distance.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mynaid.errors import MynaidError, ParseError
from mynaid.face.imaging import ChannelOrder, as_rgb, decode_image, limit_size, load_image
from mynaid.face.models import (
    Face,
    FaceSample,
    MatchResult,
    QualityCode,
    QualityIssue,
    QualityReport,
)
from mynaid.face.quality import CARD_PHOTO_POLICY, FRAME_POLICY, QualityPolicy, assess

if TYPE_CHECKING:
    from mynaid.face._typing import ImageArray
    from mynaid.face.backend import FaceBackend

CARD = "card"
FRAME = "frame"
#: Larger inputs are scaled down first (detection time grows with the pixel count).
DEFAULT_MAX_SIDE = 1280


class UnsafeThresholdError(MynaidError, ValueError):
    """A distance threshold looser than the backend's calibrated value was asked for without
    ``allow_unsafe_threshold``: it would accept more impostors than the calibration allows."""

    reason = "unsafe-threshold"


def check_threshold(threshold: float, calibrated: float, *, allow_unsafe: bool = False) -> bool:
    """Validate a distance threshold; True when it is looser than ``calibrated`` (unsafe).

    Raises :class:`UnsafeThresholdError` for a looser one unless ``allow_unsafe``, and
    ``ValueError`` for a value that is not a positive finite number.
    """
    if not (math.isfinite(threshold) and threshold > 0):
        raise ValueError("the threshold must be a positive number")
    unsafe = threshold > calibrated
    if unsafe and not allow_unsafe:
        raise UnsafeThresholdError(
            f"threshold {threshold:g} is looser than the calibrated {calibrated:g} and would "
            "accept other people; refused (an explicit unsafe option allows it)")
    return unsafe


class FaceMatcher:
    """Compare a card photo with camera frames through a :class:`FaceBackend`."""

    def __init__(self, backend: FaceBackend | None = None, *, threshold: float | None = None,
                 card_policy: QualityPolicy = CARD_PHOTO_POLICY,
                 frame_policy: QualityPolicy = FRAME_POLICY,
                 max_side: int = DEFAULT_MAX_SIDE,
                 allow_unsafe_threshold: bool = False) -> None:
        """``backend`` defaults to a new :class:`~mynaid.face.dlib_backend.DlibBackend`;
        ``threshold`` to the backend's ``default_threshold``.

        A ``threshold`` above the backend's calibrated ``default_threshold`` (looser: more
        impostors accepted) raises :class:`UnsafeThresholdError` unless
        ``allow_unsafe_threshold``; :attr:`unsafe_threshold` then says so, for the screen.
        """
        if backend is None:
            from mynaid.face.dlib_backend import DlibBackend

            backend = DlibBackend()
        self.backend: FaceBackend = backend
        self.threshold = float(backend.default_threshold if threshold is None else threshold)
        #: True when the threshold is looser than the calibrated value (explicitly allowed).
        self.unsafe_threshold = check_threshold(self.threshold,
                                                float(backend.default_threshold),
                                                allow_unsafe=allow_unsafe_threshold)
        self.card_policy = card_policy
        self.frame_policy = frame_policy
        self.max_side = max_side

    # --- input -----------------------------------------------------------------------------

    def prepare(self, image: Any, *, order: ChannelOrder = "rgb") -> ImageArray:
        """``image`` as the backend's RGB array: encoded ``bytes``, a file path, or an array
        (``order="bgr"`` for OpenCV frames); scaled down to ``max_side``.

        Raises :class:`~mynaid.errors.ParseError` for undecodable data or a missing file.
        """
        if isinstance(image, (bytes, bytearray, memoryview)):
            rgb = decode_image(bytes(image))
        elif isinstance(image, (str, Path)):
            rgb = load_image(image)
        else:
            rgb = as_rgb(image, order)
        return limit_size(rgb, self.max_side)

    # --- analysis --------------------------------------------------------------------------

    def analyze(self, image: Any, *, subject: str = FRAME, policy: QualityPolicy | None = None,
                order: ChannelOrder = "rgb", encode: bool = True) -> FaceSample:
        """Find the face in one image, check its quality and (if usable) encode it.

        Never raises for bad image content: an undecodable image gives an ``unreadable``
        issue. ``encode=False`` skips the embedding (for ranking a burst cheaply).
        """
        if policy is None:
            policy = self.card_policy if subject == CARD else self.frame_policy
        try:
            rgb = self.prepare(image, order=order)
        except ParseError as exc:
            issue = QualityIssue(subject, QualityCode.UNREADABLE, exc.message)
            return FaceSample(QualityReport(subject, (issue,), 0), backend=self.backend.name)
        return self.analyze_rgb(rgb, subject=subject, policy=policy, encode=encode)

    def analyze_rgb(self, rgb: ImageArray, *, subject: str, policy: QualityPolicy,
                    encode: bool = True) -> FaceSample:
        """:meth:`analyze` for an image already in the backend's RGB format."""
        faces = self.backend.detect(rgb)
        report = assess(rgb, faces, policy, subject)
        face = faces[0] if faces else None
        if not encode or not report.ok or face is None:
            return FaceSample(report, face, backend=self.backend.name)
        return self.encode(rgb, report, face)

    def encode(self, rgb: ImageArray, report: QualityReport, face: Face) -> FaceSample:
        """Add the embedding of ``face`` to an analysed image."""
        try:
            vector = self.backend.embedding(rgb, face)
        except (RuntimeError, ValueError) as exc:
            issue = QualityIssue(report.subject, QualityCode.NO_EMBEDDING,
                                 f"the face could not be encoded ({type(exc).__name__})")
            report = QualityReport(report.subject, (*report.issues, issue), report.face_count,
                                   report.face, report.sharpness, report.brightness)
            return FaceSample(report, face, backend=self.backend.name)
        return FaceSample(report, face, vector, backend=self.backend.name)

    def reference(self, card_photo: Any, *, order: ChannelOrder = "rgb") -> FaceSample:
        """Analyse the card photo (JPEG 2000 bytes, a path, or an array) under the card
        policy. Make it once per card and compare many frames with it."""
        return self.analyze(card_photo, subject=CARD, order=order)

    # --- decision --------------------------------------------------------------------------

    def decide(self, distance: float) -> bool:
        """The decision rule: same person when ``distance < threshold``."""
        return distance < self.threshold

    def compare_samples(self, card: FaceSample, frame: FaceSample) -> MatchResult:
        """The decision for two analysed images (the card's first)."""
        reasons = (*card.report.issues, *frame.report.issues)
        distance: float | None = None
        if card.embedding is not None and frame.embedding is not None:
            if card.backend != frame.backend:
                raise ValueError(f"samples from different backends ({card.backend!r} and "
                                 f"{frame.backend!r}) cannot be compared")
            distance = self.backend.distance(card.embedding, frame.embedding)
        match = distance is not None and not reasons and self.decide(distance)
        return MatchResult(match, distance, self.threshold, reasons, card.report, frame.report,
                           self.backend.name)

    def compare(self, reference: FaceSample, frame: Any, *,
                order: ChannelOrder = "rgb") -> MatchResult:
        """Compare the card's reference sample with one frame."""
        return self.compare_samples(reference, self.analyze(frame, subject=FRAME, order=order))

    def verify(self, card_photo: Any, frame: Any, *, order: ChannelOrder = "rgb") -> MatchResult:
        """Analyse both images and decide (``order`` applies to array inputs)."""
        return self.compare(self.reference(card_photo, order=order), frame, order=order)
