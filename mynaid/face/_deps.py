"""Lazy imports of the ``face`` extra and the location of dlib's model files.

Nothing here runs at import time: ``import mynaid.face`` works without the extra, and only a
call that needs OpenCV, numpy or dlib imports them (``import dlib`` alone costs ~0.5 s and
~100 MB). A missing piece raises :class:`~mynaid.errors.DependencyMissingError` with the
install hint.

The model files come from the ``face_recognition_models`` distribution (CC0, a data-only
sdist). Its ``__init__`` imports ``pkg_resources``, which setuptools 82 removed, and the
package is never imported here: ``importlib.util.find_spec`` gives its folder without
executing it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from mynaid.errors import DependencyMissingError

INSTALL_HINT = "pip install 'mynaid[face]'"
#: Environment variable naming a folder that holds the dlib model files (overrides the
#: ``face_recognition_models`` package).
MODELS_ENV = "MYNAID_FACE_MODELS"
MODELS_PACKAGE = "face_recognition_models"

#: dlib's 5-point landmark model (public domain, trained on dlib's own data set).
SHAPE5_FILE = "shape_predictor_5_face_landmarks.dat"
#: dlib's ResNet face encoder (public domain), 128-d embeddings.
RESNET_FILE = "dlib_face_recognition_resnet_model_v1.dat"
#: dlib's 68-point landmark model. Trained on iBUG 300-W, whose licence excludes commercial
#: use: mynaid loads it only for the optional liveness checks, on explicit opt-in.
SHAPE68_FILE = "shape_predictor_68_face_landmarks.dat"


def _import(name: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise DependencyMissingError(
            f"{what} needs {name!r}, part of the face extra: {INSTALL_HINT}") from exc


def load_cv2() -> ModuleType:
    """OpenCV (``opencv-python-headless``)."""
    return _import("cv2", "face verification")


def load_numpy() -> ModuleType:
    """numpy (comes with OpenCV)."""
    return _import("numpy", "face verification")


def load_dlib() -> ModuleType:
    """dlib (the ``dlib-bin`` wheel provides the ``dlib`` module)."""
    return _import("dlib", "the dlib face backend")


@dataclass(frozen=True)
class DlibModelFiles:
    """Paths of dlib's model files (``shape68`` is None when absent)."""

    shape5: Path
    resnet: Path
    shape68: Path | None


def _package_models_dir() -> Path | None:
    """``face_recognition_models/models`` located without importing the package."""
    try:
        spec = importlib.util.find_spec(MODELS_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "models"
        if candidate.is_dir():
            return candidate
    return None


def locate_dlib_models(models_dir: str | Path | None = None) -> DlibModelFiles:
    """Find the model files: ``models_dir``, else ``$MYNAID_FACE_MODELS``, else the package.

    Raises :class:`DependencyMissingError` when the 5-point or ResNet file is missing.
    """
    if models_dir is None and os.environ.get(MODELS_ENV):
        models_dir = os.environ[MODELS_ENV]
    folder = Path(models_dir) if models_dir is not None else _package_models_dir()
    if folder is None:
        raise DependencyMissingError(
            f"dlib's face models were not found (package {MODELS_PACKAGE!r}): {INSTALL_HINT}"
            f", or set {MODELS_ENV} to a folder holding {SHAPE5_FILE} and {RESNET_FILE}")
    missing = [name for name in (SHAPE5_FILE, RESNET_FILE) if not (folder / name).is_file()]
    if missing:
        raise DependencyMissingError(
            f"{folder} lacks {', '.join(missing)}: {INSTALL_HINT}, or set {MODELS_ENV}")
    shape68 = folder / SHAPE68_FILE
    return DlibModelFiles(folder / SHAPE5_FILE, folder / RESNET_FILE,
                          shape68 if shape68.is_file() else None)
