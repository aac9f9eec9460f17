"""The composite-card attack through the real PC/SC stack (pcscd + vpcd, tests/pcsc_rig.py).

A composite card (mynaid/emulator/composite.py) answers the JPKI application from the
victim's card and the text and visual applications from the attacker's own genuine card.
Through pcscd it is one card in one reader. The victim is registered with the relying
party; the kiosk then reads the card (auth certificate without a PIN, card face with the
attacker's 照合番号B, whose face matches the attacker) and the face route is refused with
``card-face-mismatch``. The genuine card passes the same route.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mynaid.connect import connect
from mynaid.emulator import default_profile
from mynaid.emulator.profile import CardProfile
from mynaid.emulator.testpki import TestHolder, TestPki, generate_profile
from mynaid.integrity import IssuerKey, load_issuer_key
from mynaid.rp.client import face_body, registration_body
from mynaid.rp.core import RelyingParty, RpConfig
from mynaid.rp.reasons import RpError
from mynaid.rp.store import SqliteStore
from mynaid.trust.anchors import TrustStore
from tests.pcsc_rig import READER_PORTS, PcscRig
from tests.rp_helpers import CONTEXT, DEMO_COLLATION_B, PKI

pytestmark = pytest.mark.pcsc

READER = READER_PORTS[35963]
KIOSK = "kiosk-pcsc"
DEVICE = Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def attacker() -> tuple[CardProfile, TestPki]:
    holder = TestHolder(name="攻撃\u3000太郎", sex="1", birth="319900505",
                        address="大阪府大阪市試験区４－５－６")
    return generate_profile(None, holder=holder)


@pytest.fixture
def rp(tmp_path: Path) -> RelyingParty:
    trust = TrustStore.empty()
    trust.add_file(PKI / "auth-root.pem")
    trust.add_file(PKI / "sign-root.pem")
    store = SqliteStore(tmp_path / "rp.sqlite3")
    store.migrate()
    return RelyingParty(store, RpConfig(trust=trust, context=CONTEXT,
                                        devices={KIOSK: DEVICE.public_key()}))


def _issuer_keys(pki: TestPki) -> list[IssuerKey]:
    assert pki.text_issuer_key is not None and pki.visual_issuer_key is not None
    # The attacker's card face is genuine: its issuer is trusted like the victim's.
    return [load_issuer_key(PKI / "text-issuer.pem"), load_issuer_key(PKI / "visual-issuer.pem"),
            IssuerKey("attacker text issuer", pki.text_issuer_key.public_key()),
            IssuerKey("attacker visual issuer", pki.visual_issuer_key.public_key())]


def _face(rp: RelyingParty, collation_b: str, keys: list[IssuerKey]) -> dict[str, Any]:
    nonce = bytes.fromhex(rp.issue("face")["nonce"])
    with connect(READER) as protocol:
        body = face_body(protocol, nonce, CONTEXT, collation_b=collation_b,
                         issuer_keys=keys, kiosk_id=KIOSK, device_key=DEVICE)
    return rp.face(body)


@pytest.fixture
def genuine(rig: PcscRig) -> Iterator[None]:
    card = rig.insert_card()
    try:
        yield
    finally:
        rig.remove_card(card)


def test_genuine_card_registers_and_passes_the_face_route(
        rp: RelyingParty, genuine: None, attacker: tuple[CardProfile, TestPki]) -> None:
    nonce = bytes.fromhex(rp.issue("register")["nonce"])
    with connect(READER) as protocol:
        person = rp.register(registration_body(protocol, nonce, CONTEXT,
                                               sign_password="TEST1234", auth_pin="1234"))
    answer = _face(rp, DEMO_COLLATION_B, _issuer_keys(attacker[1]))
    assert answer["person_id"] == person["person_id"]


def test_composite_card_is_refused_through_pcscd(
        rp: RelyingParty, rig: PcscRig, tmp_path: Path,
        attacker: tuple[CardProfile, TestPki]) -> None:
    victim_profile = tmp_path / "victim.json"
    attacker_profile = tmp_path / "attacker.json"
    default_profile().save(victim_profile)
    attacker[0].save(attacker_profile)
    # The victim registered once, with their own card (in-process here: same profile).
    from mynaid.connect import emulated_card

    nonce = bytes.fromhex(rp.issue("register")["nonce"])
    with connect(card=emulated_card(victim_profile)) as protocol:
        rp.register(registration_body(protocol, nonce, CONTEXT, sign_password="TEST1234",
                                      auth_pin="1234"))
    composite = rig.insert_program("-m", "mynaid.emulator.composite", "--jpki",
                                   str(victim_profile), "--face", str(attacker_profile),
                                   "--port", "35963")
    try:
        assert attacker[0].text is not None
        with pytest.raises(RpError) as info:
            _face(rp, attacker[0].text.pin_b, _issuer_keys(attacker[1]))
    finally:
        rig.remove_card(composite)
    assert info.value.reason == "card-face-mismatch"
    record = rp.records()[0]
    assert (record.operation, record.result, record.reason) == (
        "face", "refused", "card-face-mismatch")
    # Every integrity and presence check passed (the text AP's too: the attacker's text
    # application is genuine and present): only the binding caught it.
    checks = record.details["card_face_checks"]
    assert checks["text-presence"] is True
    assert all(v is True for v in checks.values())
