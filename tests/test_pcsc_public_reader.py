"""A client written the way public readers talk to the card, through pcscd, with raw APDUs.

No mynaid library code on the client side: pyscard's own connection and hand-written APDUs
(card-reference §9): SELECT by AID prefix, VERIFY by short EF id, READ BINARY by short EF id
with extended Le 65536, COMPUTE DIGITAL SIGNATURE with P2 97 / 9A. The card is
``mynaid emulator serve`` behind vpcd (tests/pcsc_rig.py); the variants are started with the
serve options other PC/SC programs would use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mynaid.emulator import ATR_2024, default_profile
from tests.pcsc_rig import CardProcess, PcscRig

pytestmark = pytest.mark.pcsc

READER = "Virtual PCD 00 00"
JPKI = default_profile().jpki
SHA256_INFO = bytes.fromhex("3031300D060960864801650304020105000420")
OK = (0x90, 0x00)


class RawClient:
    """pyscard and bytes, as a public reader would write it (T=1, shared, leave powered)."""

    def __init__(self, reader_name: str) -> None:
        from smartcard.CardConnection import CardConnection
        from smartcard.System import readers

        reader = next(r for r in readers() if str(r) == reader_name)
        self.connection = reader.createConnection()
        self.connection.connect(CardConnection.T1_protocol)

    def send(self, apdu: str | bytes) -> tuple[bytes, tuple[int, int]]:
        raw = bytes.fromhex(apdu) if isinstance(apdu, str) else apdu
        data, sw1, sw2 = self.connection.transmit(list(raw))
        return bytes(data), (sw1, sw2)

    @property
    def atr(self) -> bytes:
        return bytes(self.connection.getATR())

    def close(self) -> None:
        self.connection.disconnect()


def compute(client: RawClient, p2: int, digest_info: bytes) -> tuple[bytes, tuple[int, int]]:
    return client.send(bytes((0x80, 0x2A, 0x00, p2, len(digest_info))) + digest_info
                       + b"\x00")


def public_key(der: bytes) -> rsa.RSAPublicKey:
    key = x509.load_der_x509_certificate(der).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


@pytest.fixture
def card(rig: PcscRig) -> Iterator[CardProcess]:
    inserted = rig.insert_card()
    yield inserted
    rig.remove_card(inserted)


@pytest.fixture
def client(card: CardProcess) -> Iterator[RawClient]:
    raw = RawClient(READER)
    yield raw
    raw.close()


def test_public_reader_style_client_reads_and_signs(client: RawClient) -> None:
    # SELECT the JPKI AP by a prefix of its AID (JICSAP).
    assert client.send("00 A4 04 0C 08 D3 92 F0 00 26 01 00 00")[1] == OK
    # READ BINARY by short EF id, extended Le 65536: whole certificates in one APDU each.
    assert client.send("00 B0 8A 00 00 00 00") == (JPKI.auth_cert, OK)
    assert client.send("00 B0 8B 00 00 00 00") == (JPKI.auth_ca_cert, OK)
    assert client.send("00 B0 82 00 00 00 00") == (JPKI.sign_ca_cert, OK)
    # Token info by short EF id 06, short Le: the label of a physical card.
    token, sw = client.send("00 B0 86 00 20")
    assert sw == OK and token.rstrip(b" ") == b"JPKIAPICCTOKEN2"
    # The signature certificate is closed until the password is verified by SFI 1B.
    assert client.send("00 B0 81 00 00 00 00")[1] == (0x69, 0x82)
    assert client.send("00 20 00 9B") == (b"", (0x63, 0xC5))  # query by SFI, no try used
    assert client.send(b"\x00\x20\x00\x9b\x08TEST1234")[1] == OK
    assert client.send("00 B0 81 00 00 00 00") == (JPKI.sign_cert, OK)
    # VERIFY the auth PIN by SFI 18, then COMPUTE with P2 97 (the auth key, no SELECT).
    assert client.send("00 20 00 98") == (b"", (0x63, 0xC3))
    assert client.send("00 20 00 98 04 31 32 33 34")[1] == OK
    data = b"challenge from a relying party"
    info = SHA256_INFO + hashlib.sha256(data).digest()
    signature, sw = compute(client, 0x97, info)
    assert sw == OK and len(signature) == 256
    public_key(JPKI.auth_cert).verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    # P2 9A: the signature key, opened by the password verified above.
    assert JPKI.sign_cert is not None
    signature, sw = compute(client, 0x9A, info)
    assert sw == OK
    public_key(JPKI.sign_cert).verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    # READ BINARY by SFI with an 8-bit offset in P2, short Le.
    assert client.send("00 B0 8A 10 08") == (JPKI.auth_cert[16:24], OK)
    # The key EFs are internal: 69 81, by SFI as after SELECT.
    assert client.send("00 B0 97 00 00")[1] == (0x69, 0x81)
    # GET CHALLENGE, and its extended form refused.
    challenge, sw = client.send("00 84 00 00 08")
    assert sw == OK and len(challenge) == 8
    assert client.send("00 84 00 00 00 00 08")[1] == (0x69, 0x85)
    # The two more applications answer SELECT.
    assert client.send("00 A4 04 0C 0A D3 92 10 00 31 00 01 01 01 00")[1] == OK
    assert client.send("00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 01")[1] == OK


def test_serve_variants_through_pcscd(rig: PcscRig) -> None:
    """``mynaid emulator serve --atr-variant 2024 --pinless --token-label ...`` as seen by a
    raw client: the 2024 ATR, no signature certificate, locked PINs, a smartphone label
    whose auth certificate needs the PIN (and stays unreadable: the PIN is locked)."""
    card = rig.insert_card("--atr-variant", "2024", "--pinless",
                           "--token-label", "JPKIAPIOSTOKEN")
    try:
        client = RawClient(READER)
        try:
            assert client.atr == ATR_2024
            assert client.send("00 A4 04 0C 05 D3 92 F0 00 26")[1] == OK
            assert client.send("00 B0 88 00 03") == (bytes.fromhex("008F00"), OK)
            token, sw = client.send("00 B0 86 00 20")
            assert sw == OK and token.rstrip(b" ") == b"JPKIAPIOSTOKEN"
            assert client.send("00 B0 8A 00 00 00 00")[1] == (0x69, 0x82)
            assert client.send("00 20 00 98") == (b"", (0x63, 0xC0))
            assert client.send("00 20 00 98 04 31 32 33 34")[1] == (0x69, 0x84)
            assert client.send("00 A4 02 0C 02 00 01")[1] == (0x6A, 0x82)
        finally:
            client.close()
    finally:
        rig.remove_card(card)
