"""The OCR engine adapter: one small line image in, its text with per-character confidences out.

Tesseract (LSTM engine, the Japanese script model from Debian's tesseract-ocr-script-jpan,
else ``jpn`` from tesseract-ocr-jpn) reads every field. Two bindings are supported:

* **tesserocr** (preferred): a C++ binding whose manylinux wheel bundles libtesseract; the
  model is loaded once per process and each small line then takes ~10-40 ms here.
* **pytesseract**: runs the ``tesseract`` program per call, which reloads the Japanese model
  every time (~0.6 s per call here): kept as a fallback only.

The traineddata directory is found in ``$MYNAID_TESSDATA``, ``$TESSDATA_PREFIX`` or the Debian
locations.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mynaid.errors import DependencyMissingError

TESSDATA_DIRS = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
                 "/usr/share/tessdata")
#: Tesseract models in order of preference: the Japanese *script* model (Debian
#: tesseract-ocr-script-jpan), trained on many more fonts, reads the digits of the dates far
#: more reliably than the language model ``jpn`` (tesseract-ocr-jpn), the fallback.
LANGS = ("Japanese", "jpn")


@dataclass(frozen=True)
class LineText:
    """What the engine read on one line: the characters and a confidence (0..1) for each."""

    text: str
    confidences: tuple[float, ...]

    @property
    def min_confidence(self) -> float:
        return min(self.confidences, default=0.0)

    @property
    def mean_confidence(self) -> float:
        """The mean character confidence. Tesseract gives the first character after a space
        a low confidence however clear it is, so a line's mean is the steadier measure."""
        return sum(self.confidences) / len(self.confidences) if self.confidences else 0.0


class OcrEngine(Protocol):
    """Reads one line of text (psm 7) restricted to ``whitelist``."""

    name: str

    def read_line(self, image: Any, whitelist: str) -> LineText:
        """``image``: a greyscale uint8 array, dark text on a light background."""
        ...

    def read_digits(self, image: Any) -> LineText:
        """A line of digits read by a second model (English), for a second opinion."""
        ...


def tessdata_dir() -> tuple[str, str]:
    """The directory holding a Japanese model, and the model's name;
    :class:`DependencyMissingError` if there is none."""
    for lang in LANGS:
        for candidate in (os.environ.get("MYNAID_TESSDATA"), os.environ.get("TESSDATA_PREFIX"),
                          *TESSDATA_DIRS):
            if candidate and (Path(candidate) / f"{lang}.traineddata").is_file():
                return candidate, lang
    raise DependencyMissingError(
        "no Japanese Tesseract model: install the Debian package tesseract-ocr-script-jpan "
        "(or set $MYNAID_TESSDATA to a directory with Japanese.traineddata)")


class TesserocrEngine:
    """Tesseract through tesserocr: one loaded model, calls serialised by a lock."""

    name = "tesserocr"

    def __init__(self) -> None:
        import tesserocr

        self._tesserocr = tesserocr
        self._lock = threading.Lock()
        path, self.lang = tessdata_dir()
        self._api = tesserocr.PyTessBaseAPI(path=path, lang=self.lang,
                                            psm=tesserocr.PSM.SINGLE_LINE,
                                            oem=tesserocr.OEM.LSTM_ONLY)
        self._whitelist: str | None = None
        self._digits: Any = None
        self._path = path

    def read_line(self, image: Any, whitelist: str) -> LineText:
        with self._lock:
            if whitelist != self._whitelist:
                self._api.SetVariable("tessedit_char_whitelist", whitelist)
                self._whitelist = whitelist
            return self._read(self._api, image)

    def read_digits(self, image: Any) -> LineText:
        tr = self._tesserocr
        with self._lock:
            if self._digits is None:
                if not (Path(self._path) / "eng.traineddata").is_file():
                    return LineText("", ())  # no second model: an abstaining read
                self._digits = tr.PyTessBaseAPI(path=self._path, lang="eng",
                                                psm=tr.PSM.SINGLE_LINE, oem=tr.OEM.LSTM_ONLY)
                self._digits.SetVariable("tessedit_char_whitelist", "0123456789")
            return self._read(self._digits, image)

    def _read(self, api: Any, image: Any) -> LineText:
        from PIL import Image

        tr = self._tesserocr
        api.SetImage(Image.fromarray(image))
        api.Recognize()
        chars: list[str] = []
        confs: list[float] = []
        it = api.GetIterator()
        level = tr.RIL.SYMBOL
        if it is None:  # nothing recognised
            return LineText("", ())
        for sym in tr.iterate_level(it, level):
            try:
                text = sym.GetUTF8Text(level)
            except RuntimeError:  # an empty result ("No text returned")
                continue
            if text and text.strip():
                chars.append(text.strip())
                confs.append(max(0.0, min(1.0, sym.Confidence(level) / 100.0)))
        return LineText("".join(chars), tuple(confs))

    def close(self) -> None:
        self._api.End()
        if self._digits is not None:
            self._digits.End()


class PytesseractEngine:
    """Tesseract through pytesseract (one ``tesseract`` process per call; slow, but works
    wherever the Debian program is installed). Confidences are per word, given to each of
    the word's characters."""

    name = "pytesseract"

    def __init__(self) -> None:
        import pytesseract

        self._pt = pytesseract
        self._dir, self.lang = tessdata_dir()

    def read_line(self, image: Any, whitelist: str) -> LineText:
        from PIL import Image

        data = self._pt.image_to_data(
            Image.fromarray(image), lang=self.lang, output_type=self._pt.Output.DICT,
            config=f'--psm 7 --oem 1 --tessdata-dir "{self._dir}" '
                   f"-c tessedit_char_whitelist={whitelist}")
        chars: list[str] = []
        confs: list[float] = []
        for word, conf in zip(data["text"], data["conf"], strict=False):
            word = str(word).strip()
            if word:
                chars.append(word)
                confs += [max(0.0, float(conf) / 100.0)] * len(word)
        return LineText("".join(chars), tuple(confs))

    def read_digits(self, image: Any) -> LineText:
        return LineText("", ())  # one tesseract run per read is slow already: abstain


_default: OcrEngine | None = None
_default_lock = threading.Lock()


def default_engine() -> OcrEngine:
    """The process-wide engine: tesserocr if importable, else pytesseract."""
    global _default
    with _default_lock:
        if _default is None:
            try:
                _default = TesserocrEngine()
            except ImportError:
                try:
                    _default = PytesseractEngine()
                except ImportError as exc:
                    raise DependencyMissingError(
                        "card-front OCR needs tesserocr or pytesseract: "
                        "pip install 'mynaid[ocr]'") from exc
        return _default
