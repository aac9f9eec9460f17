"""Issue 12 acceptance through pcscd + vpcd (tests/pcsc_rig.py): `mynaid visual --scan` and
`mynaid confirm` from a generated photo of the card front, a card whose photo was swapped
failing confirmation with its own reason, and a bad photo refused with no VERIFY sent.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mynaid.emulator import default_profile
from mynaid.emulator.profile import CardProfile
from tests.cardfront_data import bad_photo, front_photo, needs_ocr, write
from tests.pcsc_rig import CardProcess, PcscRig

pytestmark = [pytest.mark.pcsc, needs_ocr]

ISSUER = Path(__file__).resolve().parent.parent / "vectors" / "test-pki" / "visual-issuer.pem"


def _swapped_photo_profile() -> CardProfile:
    """The test card with another photo, re-signed by a forger's key (not the key the CV
    certificate certifies): what a card whose photo was swapped looks like to a reader."""
    import cv2
    import numpy as np
    from cryptography.hazmat.primitives.asymmetric import rsa

    profile = default_profile()
    assert profile.visual is not None
    img = cv2.imdecode(np.frombuffer(profile.visual.photo, np.uint8), cv2.IMREAD_GRAYSCALE)
    other = cv2.imencode(".jp2", cv2.flip(img, 1))[1].tobytes()
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    visual = dataclasses.replace(profile.visual, photo=other, signing_key=forger)
    return dataclasses.replace(profile, visual=visual)


@pytest.fixture(scope="module")
def cards(rig: PcscRig, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[CardProcess, CardProcess]]:
    tampered = tmp_path_factory.mktemp("cf") / "tampered.json"
    _swapped_photo_profile().save(tampered)
    genuine = rig.insert_card()
    try:
        forged = rig.insert_card(port=35964, global_args=("--profile", str(tampered)))
        try:
            yield genuine, forged
        finally:
            rig.remove_card(forged)
    finally:
        rig.remove_card(genuine)


def _mynaid(*argv: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "mynaid", *argv], capture_output=True,
                          timeout=180, stdin=subprocess.DEVNULL)


def test_visual_scan_through_pcscd(cards: tuple[CardProcess, CardProcess],
                                   tmp_path: Path) -> None:
    photo = write(tmp_path / "front.jpg", front_photo(seed=11, kind="camera"))
    r = _mynaid("--reader", "00 00", "visual", "--scan", str(photo), "--issuer-key",
                str(ISSUER), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["birth"] == "19800217" and out["integrity"]["ok"] is True


def test_confirm_through_pcscd(cards: tuple[CardProcess, CardProcess], tmp_path: Path) -> None:
    photo = write(tmp_path / "front.jpg", front_photo(seed=12, kind="scan"))
    record = tmp_path / "records.jsonl"
    r = _mynaid("--reader", "00 00", "confirm", "--scan", str(photo), "--issuer-key",
                str(ISSUER), "--record", str(record), "--photo", str(tmp_path / "p.png"),
                "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["result"] == "confirmed"
    assert {k for k, v in out["checks"].items() if v["passed"]} == {
        "card_face_signature", "cv_certificate", "card_presence", "not_expired",
        "front_matches_chip"}
    assert (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")
    kept = json.loads(record.read_text())
    assert kept["result"] == "confirmed" and kept["expiry_year"] == 2035
    assert "photo" not in kept and "123456789018" not in record.read_text()


def test_swapped_photo_fails_with_its_own_reason(cards: tuple[CardProcess, CardProcess],
                                                 tmp_path: Path) -> None:
    photo = write(tmp_path / "front.jpg", front_photo(seed=13))
    r = _mynaid("--reader", "00 01", "confirm", "--scan", str(photo), "--issuer-key",
                str(ISSUER), "--json")
    assert r.returncode == 6, r.stderr
    out = json.loads(r.stdout)
    assert out["result"] == "failed"
    assert out["checks"]["card_face_signature"]["passed"] is False
    assert out["checks"]["cv_certificate"]["passed"] is True  # the certificate is genuine
    assert b"card_face_signature" in r.stderr


def test_bad_photo_sends_no_verify(cards: tuple[CardProcess, CardProcess], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process, every transport the CLI opens is a RecordingTransport: count VERIFY."""
    import importlib
    import io

    from mynaid.cli.main import main
    from mynaid.connect import connect
    from mynaid.sessions.visual import VisualSession
    from mynaid.transport.recording import RecordingTransport

    # mynaid.connect is the function; the module of the same name, by its full name.
    connect_module = importlib.import_module("mynaid.connect")
    made: list[RecordingTransport] = []
    real = connect_module.open_transport

    def recording(*args: object, **kwargs: object) -> RecordingTransport:
        t = RecordingTransport(real(*args, **kwargs))  # type: ignore[arg-type]
        made.append(t)
        return t

    photo = write(tmp_path / "bad.jpg", bad_photo())
    monkeypatch.setattr(connect_module, "open_transport", recording)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    for argv in (["visual", "--scan", str(photo)], ["confirm", "--scan", str(photo)],
                 ["text", "--with", "pin-b", "--scan", str(photo)]):
        assert main(["--reader", "00 00", *argv]) == 2
    assert sum(t.count(0x20) for t in made) == 0
    # The counter is untouched: the card saw no attempt.
    monkeypatch.undo()
    with connect("Virtual PCD 00 00") as protocol:
        session = VisualSession(protocol)
        ref = session.credential("pin-b")
        assert session.pin_state(ref).tries_left == ref.max_tries
