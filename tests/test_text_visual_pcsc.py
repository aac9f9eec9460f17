"""The text and visual applications end to end through pcscd + vpcd (tests/pcsc_rig.py).

One default card is inserted for the module and removed after it; only correct secrets are
sent, so its counters stay at their maximum and the tests do not depend on their order.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mynaid.cardspec import TEXT_READ_ACCESS, VISUAL_READ_ACCESS, TextFile, VisualFile
from mynaid.connect import connect
from mynaid.emulator import build_card, default_profile
from mynaid.emulator.card import EmulatedCard
from mynaid.errors import SecurityStatusNotSatisfiedError
from mynaid.integrity import load_issuer_key
from mynaid.iso7816.tlv import parse_first
from mynaid.protocol import ExtendedLength
from mynaid.sessions.text import TextSession
from mynaid.sessions.visual import VisualSession
from tests.cardface_checks import check_all
from tests.pcsc_rig import CardProcess, PcscRig

pytestmark = pytest.mark.pcsc

READER = "Virtual PCD 00 00"
PKI = Path(__file__).resolve().parent.parent / "vectors" / "test-pki"
TEXT_SECRETS = {"pin": "5678", "pin-a": "123456789018", "pin-b": "55021720352285"}
VISUAL_SECRETS = {"pin-a": "123456789018", "pin-b": "55021720352285", "birth": "550217"}
TEXT_KEYS = {"pin": TextFile.PIN, "pin-a": TextFile.PIN_A, "pin-b": TextFile.PIN_B}
VISUAL_KEYS = {"pin-a": VisualFile.PIN_A, "pin-b": VisualFile.PIN_B,
               "birth": VisualFile.BIRTH_KEY}
PROFILE = default_profile()


@pytest.fixture(scope="module")
def vcard(rig: PcscRig) -> Iterator[CardProcess]:
    card = rig.insert_card()
    try:
        yield card
    finally:
        rig.remove_card(card)


@pytest.fixture(scope="module")
def reference() -> EmulatedCard:
    """An in-process card built from the same profile: the bytes every read must return."""
    return build_card(PROFILE)


def expected(reference: EmulatedCard, aid: bytes, fid: int) -> bytes:
    node = reference.applications[aid].files[fid]
    assert hasattr(node, "content")
    return parse_first(node.content).raw


@pytest.mark.parametrize("extended", [ExtendedLength.AUTO, ExtendedLength.OFF])
def test_every_file_with_every_credential(vcard: CardProcess, reference: EmulatedCard,
                                          extended: ExtendedLength) -> None:
    with connect(READER, extended=extended) as protocol:
        for session, access, secrets, keys in (
            (TextSession(protocol), TEXT_READ_ACCESS, TEXT_SECRETS, TEXT_KEYS),
            (VisualSession(protocol), VISUAL_READ_ACCESS, VISUAL_SECRETS, VISUAL_KEYS),
        ):
            aid = session.aid.value
            for fid, open_with in access.items():
                what = f"EF {fid:04X}"
                for credential in [None, *secrets]:
                    secret = secrets[credential] if credential else None
                    opens = open_with is None or (credential is not None
                                                  and keys[credential] in open_with)
                    # Text 0008 and visual 0006 hold 16 x FF, no TLV (card-reference §9).
                    filler = fid in ((TextFile.EXTRA,) if session.name == "text"
                                     else (VisualFile.EXTRA,))

                    def read(fid: int = fid, what: str = what, filler: bool = filler,
                             credential: str | None = credential,
                             secret: str | None = secret,
                             session: TextSession | VisualSession = session) -> bytes:
                        if filler:
                            return session.read_bytes(fid, 16, what, credential, secret)
                        return session.read_raw(fid, what, 0x7FFF, credential, secret)
                    if opens:
                        data = read()
                        want = b"\xff" * 16 if filler else expected(reference, aid, fid)
                        assert data == want, (what, credential)
                    else:
                        with pytest.raises(SecurityStatusNotSatisfiedError) as info:
                            read()
                        assert info.value.sw == 0x6982 and what in str(info.value)
            for name in keys:  # only correct secrets were sent: no try was spent
                ref = session.credential(name)
                assert session.pin_state(ref).tries_left == ref.max_tries


def test_fields_and_integrity(vcard: CardProcess) -> None:
    assert PROFILE.text is not None and PROFILE.visual is not None
    keys = [load_issuer_key(PKI / "text-issuer.pem"), load_issuer_key(PKI / "visual-issuer.pem")]
    with connect(READER) as protocol:
        data = TextSession(protocol).read(TEXT_SECRETS["pin"])
        assert data.my_number is not None
        assert data.my_number.value == PROFILE.text.my_number
        assert data.attributes is not None and data.attributes.name == PROFILE.text.name
        assert data.integrity(keys).ok
        visual = VisualSession(protocol)
        face = visual.read(VISUAL_SECRETS["pin-b"], "pin-b")
        assert face.face.photo == PROFILE.visual.photo
        assert face.face.name_image == PROFILE.visual.name_image
        assert face.integrity(keys).ok
        assert visual.prove_presence(VISUAL_SECRETS["pin-a"], "pin-a", keys).ok
        for session, refs in ((TextSession(protocol), TEXT_KEYS),
                              (visual, VISUAL_KEYS)):
            for name in refs:
                ref = session.credential(name)
                assert session.pin_state(ref).tries_left == ref.max_tries


def test_cli_through_pcscd(vcard: CardProcess, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mynaid", "--reader", "00 00", "-v", "text", "--with", "pin-a"],
        input=b"123456789018\n", capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert b"My Number:   123456789018" in result.stdout
    assert b"123456789018" not in result.stderr
    assert b"31 32 33 34 35 36 37 38 39 30 31 38" not in result.stderr
    photo = tmp_path / "photo.jp2"
    result = subprocess.run(
        [sys.executable, "-m", "mynaid", "--reader", "00 00", "visual", "photo", "-o",
         str(photo), "--with", "pin-b"], input=b"55021720352285\n", capture_output=True,
        timeout=60)
    assert result.returncode == 0, result.stderr
    assert PROFILE.visual is not None and photo.read_bytes() == PROFILE.visual.photo


def test_every_record_signature_through_pcscd(vcard: CardProcess) -> None:
    # Each signature with the key that signs it on a real card: the EF 0004 key for the
    # records (text DF33, DF52; visual DF28, DF13, DF43), the card key for presence.
    keys = [load_issuer_key(PKI / "text-issuer.pem"), load_issuer_key(PKI / "visual-issuer.pem")]
    secrets = {**TEXT_SECRETS, "birth": VISUAL_SECRETS["birth"]}
    with connect(READER) as protocol:
        results = check_all(protocol, secrets)
        assert all(results.values()), {k: v for k, v in results.items() if not v}
        text, visual = TextSession(protocol), VisualSession(protocol)
        report = text.prove_presence(TEXT_SECRETS["pin-b"], "pin-b", keys)
        assert report.ok and report.cv_certificate.hierarchy == "test"
        assert visual.checked_age_record(VISUAL_SECRETS["birth"], keys)[1].ok
        assert visual.checked_my_number_image(VISUAL_SECRETS["pin-a"], keys)[1].ok
        for session, refs in ((text, TEXT_KEYS), (visual, VISUAL_KEYS)):
            for name in refs:
                ref = session.credential(name)
                assert session.pin_state(ref).tries_left == ref.max_tries
