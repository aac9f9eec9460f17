"""Face verification: is the person at the camera the one on the card's photo?

Optional extra: ``pip install 'mynaid[face]'`` (dlib-bin, opencv-python-headless,
face_recognition_models; wheels only, no compiler). Importing this package needs none of
them; the first call that does raises :class:`~mynaid.errors.DependencyMissingError` with
the install hint when they are missing.

* :class:`FaceMatcher` — card photo vs frame: detection, quality checks with plain
  reasons, embeddings, distance, decision at a threshold (``distance < threshold``).
* :class:`FaceBackend` — the engine interface; :class:`DlibBackend` (default, public
  domain models) and :class:`SFaceBackend` (OpenCV YuNet/SFace, user-supplied ONNX files).
* :mod:`mynaid.face.camera` — frames from a camera, video or image sequence, best frame of
  a burst. :mod:`mynaid.face.liveness` — optional blink/head-turn challenges and a
  stillness signal, each documented with what it does and does not stop.
* :mod:`mynaid.face.evaluate` — pairs files, FNMR/FMR, DET curve, failure to acquire
  (``mynaid face eval``); :mod:`mynaid.face.cardstyle` — card-style test images.

Results (:class:`MatchResult`) hold no image and no embedding.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mynaid.face.backend import DenseLandmarkBackend, FaceBackend
    from mynaid.face.camera import (
        BestFrame,
        Frame,
        FrameSource,
        ImageSequenceSource,
        VideoCaptureSource,
        open_frame_source,
        select_best_frame,
    )
    from mynaid.face.dlib_backend import DEFAULT_THRESHOLD, DlibBackend
    from mynaid.face.errors import CameraError, FaceVerificationError, PairsFileError
    from mynaid.face.evaluate import EvalReport, evaluate_pairs, read_pairs
    from mynaid.face.imaging import as_rgb, decode_image, load_image
    from mynaid.face.matcher import FaceMatcher
    from mynaid.face.models import (
        Face,
        FaceBox,
        FaceSample,
        MatchResult,
        QualityCode,
        QualityIssue,
        QualityReport,
    )
    from mynaid.face.quality import CARD_PHOTO_POLICY, FRAME_POLICY, QualityPolicy
    from mynaid.face.sface_backend import SFaceBackend

#: Public name -> module. Imported on first use (PEP 562), so that importing
#: ``mynaid.face.errors`` (the CLI's exit-code table does) stays cheap.
_EXPORTS = {
    "BestFrame": "mynaid.face.camera",
    "CARD_PHOTO_POLICY": "mynaid.face.quality",
    "CameraError": "mynaid.face.errors",
    "DEFAULT_THRESHOLD": "mynaid.face.dlib_backend",
    "DenseLandmarkBackend": "mynaid.face.backend",
    "DlibBackend": "mynaid.face.dlib_backend",
    "EvalReport": "mynaid.face.evaluate",
    "FRAME_POLICY": "mynaid.face.quality",
    "Face": "mynaid.face.models",
    "FaceBackend": "mynaid.face.backend",
    "FaceBox": "mynaid.face.models",
    "FaceMatcher": "mynaid.face.matcher",
    "FaceSample": "mynaid.face.models",
    "FaceVerificationError": "mynaid.face.errors",
    "Frame": "mynaid.face.camera",
    "FrameSource": "mynaid.face.camera",
    "ImageSequenceSource": "mynaid.face.camera",
    "MatchResult": "mynaid.face.models",
    "PairsFileError": "mynaid.face.errors",
    "QualityCode": "mynaid.face.models",
    "QualityIssue": "mynaid.face.models",
    "QualityPolicy": "mynaid.face.quality",
    "QualityReport": "mynaid.face.models",
    "SFaceBackend": "mynaid.face.sface_backend",
    "VideoCaptureSource": "mynaid.face.camera",
    "as_rgb": "mynaid.face.imaging",
    "decode_image": "mynaid.face.imaging",
    "evaluate_pairs": "mynaid.face.evaluate",
    "load_image": "mynaid.face.imaging",
    "open_frame_source": "mynaid.face.camera",
    "read_pairs": "mynaid.face.evaluate",
    "select_best_frame": "mynaid.face.camera",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "CARD_PHOTO_POLICY",
    "DEFAULT_THRESHOLD",
    "FRAME_POLICY",
    "BestFrame",
    "CameraError",
    "DenseLandmarkBackend",
    "DlibBackend",
    "EvalReport",
    "Face",
    "FaceBackend",
    "FaceBox",
    "FaceMatcher",
    "FaceSample",
    "FaceVerificationError",
    "Frame",
    "FrameSource",
    "ImageSequenceSource",
    "MatchResult",
    "PairsFileError",
    "QualityCode",
    "QualityIssue",
    "QualityPolicy",
    "QualityReport",
    "SFaceBackend",
    "VideoCaptureSource",
    "as_rgb",
    "decode_image",
    "evaluate_pairs",
    "load_image",
    "open_frame_source",
    "read_pairs",
    "select_best_frame",
]


def __dir__() -> list[str]:
    return sorted(__all__)
