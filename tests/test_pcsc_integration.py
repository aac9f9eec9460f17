"""The core features end to end through the real PC/SC stack.

Every test talks to pcscd, which talks to vpcd's virtual reader, behind which a
``mynaid emulator serve`` process is the card (see tests/pcsc_rig.py). Each test inserts
its own card (with the variant options it needs) and removes it on teardown.
"""

from __future__ import annotations

import hashlib
import json
import math
import select
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mynaid.cardspec import AUTH_PIN, Aid, CertificateSlot, JpkiFile
from mynaid.connect import connect
from mynaid.emulator import default_profile
from mynaid.emulator.card import ALTERNATE_ATR, DEFAULT_ATR
from mynaid.errors import (
    CardRemovedError,
    CardResetError,
    LockoutGuardError,
    NoCardError,
    NoReaderError,
    WrongPinError,
)
from mynaid.iso7816 import status as st
from mynaid.iso7816.apdu import CommandApdu
from mynaid.protocol import CardProtocol, ExtendedLength
from mynaid.sessions.jpki import JpkiSession, digest_info
from mynaid.transport.recording import RecordingTransport
from tests.pcsc_rig import CardProcess, PcscRig

pytestmark = pytest.mark.pcsc

READER = "Virtual PCD 00 00"
OTHER_READER = "Virtual PCD 00 01"
SIGN_PASSWORD = "TEST1234"
INS_READ_BINARY = 0xB0
INS_GET_RESPONSE = 0xC0
#: Upper bound on waits for another process; a guard against hangs, not a synchronisation.
DEADLINE = 30.0

JPKI = default_profile().jpki
assert JPKI.sign_cert is not None
PROFILE_DER: dict[CertificateSlot, bytes] = {
    CertificateSlot.AUTH: JPKI.auth_cert,
    CertificateSlot.AUTH_CA: JPKI.auth_ca_cert,
    CertificateSlot.SIGN: JPKI.sign_cert,
    CertificateSlot.SIGN_CA: JPKI.sign_ca_cert,
}


# --- helpers ---------------------------------------------------------------------------------


class CountingTransport(RecordingTransport):
    """The library's recording wrapper; ``after`` (optional) is called with each command
    after its response arrived, before the response goes back to the protocol: tests use it
    to act at a precise point of an exchange."""

    def reads(self) -> list[bytes]:
        return self.of(INS_READ_BINARY)


def is_extended(command: bytes) -> bool:
    """A case-2 command in extended form: ``CLA INS P1 P2 00 Le1 Le2``."""
    return len(command) == 7 and command[4] == 0x00


def counted(protocol: CardProtocol,
            after: Callable[[bytes], None] | None = None) -> CountingTransport:
    """Put a counting wrapper between ``protocol`` and its transport."""
    wrapper = CountingTransport(protocol.transport, after)
    protocol.transport = wrapper
    return wrapper


def read_all(session: JpkiSession, counter: CountingTransport
             ) -> dict[CertificateSlot, tuple[bytes, list[bytes]]]:
    """Every certificate's DER with the READ BINARY commands its read sent."""
    result = {}
    for slot in CertificateSlot:
        before = len(counter.commands)
        password = SIGN_PASSWORD if slot.needs_sign_password else None
        der = session.read_certificate_der(slot, password)
        reads = [c for c in counter.commands[before:] if c[1] == INS_READ_BINARY]
        result[slot] = (der, reads)
    return result


def verify_signature(signature: bytes, data: bytes) -> None:
    key = x509.load_der_x509_certificate(JPKI.auth_cert).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())


def raw_sign(protocol: CardProtocol, data: bytes) -> tuple[bytes, int]:
    """SELECT the auth key EF and COMPUTE DIGITAL SIGNATURE, with no SELECT/VERIFY before."""
    assert protocol.select_file(JpkiFile.AUTH_KEY).sw == st.SW_OK
    response = protocol.send(CommandApdu(
        0x80, 0x2A, 0x00, 0x80, digest_info("sha256", hashlib.sha256(data).digest()), le=256))
    return response.data, response.sw


def next_line(process: subprocess.Popen[str]) -> str:
    """The next line another process writes, failing (not hanging) if it never comes."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], DEADLINE)
    assert ready, "the other process wrote nothing"
    return process.stdout.readline().strip()


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "mynaid", *args], input=stdin,
                          capture_output=True, timeout=60)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def insert(rig: PcscRig) -> Iterator[Callable[..., CardProcess]]:
    """Factory: insert a card (serve options as arguments); every card is removed after."""
    inserted: list[CardProcess] = []

    def _insert(*serve_args: str, port: int = 35963) -> CardProcess:
        card = rig.insert_card(*serve_args, port=port)
        inserted.append(card)
        return card

    yield _insert
    for card in inserted:
        if card in rig.cards:
            rig.remove_card(card)


@pytest.fixture
def vcard(insert: Callable[..., CardProcess]) -> CardProcess:
    """The default test card in "Virtual PCD 00 00"."""
    return insert()


# --- certificates, both read strategies ------------------------------------------------------


def test_certificates_extended_auto(vcard: CardProcess) -> None:
    with connect(READER, extended=ExtendedLength.AUTO) as protocol:
        counter = counted(protocol)
        assert protocol.transport.atr == DEFAULT_ATR
        results = read_all(JpkiSession(protocol), counter)
        assert protocol.extended_supported is True
    for slot, (der, reads) in results.items():
        assert der == PROFILE_DER[slot], slot
        assert len(reads) == 1, slot
        assert is_extended(reads[0]), slot


def test_certificates_short_chunks(vcard: CardProcess) -> None:
    with connect(READER, extended=ExtendedLength.OFF) as protocol:
        counter = counted(protocol)
        results = read_all(JpkiSession(protocol), counter)
    for slot, (der, reads) in results.items():
        assert der == PROFILE_DER[slot], slot
        assert len(reads) == math.ceil(len(PROFILE_DER[slot]) / 256), slot
        assert not any(is_extended(r) for r in reads), slot


# --- card variants ---------------------------------------------------------------------------


def test_alternate_atr(insert: Callable[..., CardProcess]) -> None:
    insert("--alternate-atr")
    with connect(READER) as protocol:
        assert protocol.transport.atr == ALTERNATE_ATR
        assert ALTERNATE_ATR == bytes.fromhex("3BC5FF8131FB458073C6010000")
        session = JpkiSession(protocol)
        assert session.token_info().label == "JPKIAPICCTOKEN2"
        assert session.read_certificate_der(CertificateSlot.AUTH) == JPKI.auth_cert


@pytest.mark.parametrize("extended", [ExtendedLength.AUTO, ExtendedLength.OFF])
def test_cert_filler(insert: Callable[..., CardProcess], extended: ExtendedLength) -> None:
    insert("--cert-filler", "300")
    with connect(READER, extended=extended) as protocol:
        counter = counted(protocol)
        results = read_all(JpkiSession(protocol), counter)
    for slot, (der, reads) in results.items():
        assert der == PROFILE_DER[slot], slot  # exactly the DER: no FF filler
        if extended is ExtendedLength.OFF:
            # The filler is not even read: the size comes from the DER header.
            assert len(reads) == math.ceil(len(PROFILE_DER[slot]) / 256), slot


@pytest.mark.parametrize("extended", [ExtendedLength.AUTO, ExtendedLength.OFF])
def test_get_response(insert: Callable[..., CardProcess], extended: ExtendedLength) -> None:
    insert("--get-response")
    with connect(READER, extended=extended) as protocol:
        counter = counted(protocol)
        session = JpkiSession(protocol)
        assert session.token_info().label == "JPKIAPICCTOKEN2"
        results = read_all(session, counter)
        data = b"signed through GET RESPONSE"
        signature = session.sign_digest("auth", "sha256", hashlib.sha256(data).digest(), "1234")
    for slot, (der, _reads) in results.items():
        assert der == PROFILE_DER[slot], slot
    assert INS_GET_RESPONSE in counter.ins
    verify_signature(signature, data)


def test_strict_le(insert: Callable[..., CardProcess]) -> None:
    insert("--strict-le")
    with connect(READER, extended=ExtendedLength.OFF) as protocol:
        counter = counted(protocol)
        session = JpkiSession(protocol)
        results = read_all(session, counter)
        for slot, (der, _reads) in results.items():
            assert der == PROFILE_DER[slot], slot
        # Ask for more than remains: the card answers 6C xx and the protocol resends.
        tail = 100
        with session.transaction():
            session.select_file(JpkiFile.AUTH_CERT)
            before = len(counter.commands)
            response = protocol.read_binary(len(JPKI.auth_cert) - tail, 256)
        sent = counter.commands[before:]
    assert response.sw == st.SW_OK
    assert response.data == JPKI.auth_cert[-tail:]
    assert [c[1] for c in sent] == [INS_READ_BINARY, INS_READ_BINARY]
    assert sent[0][-1] == 0x00  # Le 256
    assert sent[1][-1] == tail  # the exact count from 6C xx


def test_verified_query_ok(insert: Callable[..., CardProcess]) -> None:
    insert("--verified-query-ok")
    with connect(READER) as protocol:
        counter = counted(protocol)
        session = JpkiSession(protocol)
        with session.transaction():
            assert session.pin_state(AUTH_PIN).tries_left == 3
            session.verify(AUTH_PIN, "1234")
            state = session.pin_state(AUTH_PIN)
            assert state.verified is True
            assert state.tries_left is None
            assert not state.blocked
            # Verifying again: the query answers 90 00; the value is still checked by the
            # card (the counter was reset by the success, so the guard lets it through).
            before = len(counter.commands)
            session.verify(AUTH_PIN, "1234")
            verifies = [c for c in counter.commands[before:] if c[1] == 0x20]
            assert verifies[0] == bytes.fromhex("00200080")
            assert len(verifies) == 2 and verifies[1][:4] == bytes.fromhex("00200080")
            data = b"signed after a 90 00 query"
            signature, sw = raw_sign(protocol, data)
            assert sw == st.SW_OK
        verify_signature(signature, data)
        # The lockout guard still works: with one try left nothing is sent...
        for left in (2, 1):
            with pytest.raises(WrongPinError) as wrong:
                session.verify(AUTH_PIN, "0000")
            assert wrong.value.tries_left == left
        with pytest.raises(LockoutGuardError) as guarded:
            session.verify(AUTH_PIN, "1234")
        assert guarded.value.tries_left == 1
        assert session.pin_state(AUTH_PIN).tries_left == 1
        # ...unless forced; the right PIN restores the counter.
        session.verify(AUTH_PIN, "1234", force=True)
        assert session.pin_state(AUTH_PIN).tries_left == 3


def test_no_extended_falls_back(insert: Callable[..., CardProcess]) -> None:
    insert("--no-extended")
    with connect(READER, extended=ExtendedLength.AUTO) as protocol:
        counter = counted(protocol)
        results = read_all(JpkiSession(protocol), counter)
        assert protocol.extended_supported is False
    for index, (slot, (der, reads)) in enumerate(results.items()):
        assert der == PROFILE_DER[slot], slot
        chunks = math.ceil(len(PROFILE_DER[slot]) / 256)
        if index == 0:  # the one refused extended attempt, then short reads
            assert is_extended(reads[0])
            assert len(reads) == 1 + chunks
            assert not any(is_extended(r) for r in reads[1:])
        else:
            assert len(reads) == chunks, slot
            assert not any(is_extended(r) for r in reads), slot


# --- removal, transactions, reset ------------------------------------------------------------


def test_card_killed_mid_read(rig: PcscRig, vcard: CardProcess) -> None:
    reads_seen = []

    def kill_after_first_read(apdu: bytes) -> None:
        if apdu[1] == INS_READ_BINARY:
            reads_seen.append(apdu)
            if len(reads_seen) == 1:
                rig.remove_card(vcard, abrupt=True)  # returns once PC/SC saw the removal

    with connect(READER, extended=ExtendedLength.OFF) as protocol:
        counter = counted(protocol, kill_after_first_read)
        result = None
        with pytest.raises(CardRemovedError):
            result = JpkiSession(protocol).read_certificate_der(CertificateSlot.AUTH)
        assert result is None
    assert vcard.proc.poll() is not None
    # The first chunk arrived, the second was attempted and failed: nothing partial returned.
    assert len(counter.reads()) == 2


def test_transaction_excludes_other_process(vcard: CardProcess) -> None:
    # B connects first (pcsc-lite makes SCardConnect itself wait while another handle holds
    # a transaction), then sends its SELECT when told to, while A holds the transaction.
    other = textwrap.dedent(f"""
        import sys
        from mynaid.transport.pcsc import PcscTransport
        t = PcscTransport({READER!r})
        print("connected", flush=True)
        assert sys.stdin.readline().strip() == "go"
        print("sending", flush=True)
        data, sw = t.transmit(bytes.fromhex("00A4040C0A{Aid.JPKI.value.hex()}"))
        print(f"done {{sw:04X}}", flush=True)
        t.close()
    """)
    data = b"signed inside one transaction"
    b = subprocess.Popen([sys.executable, "-c", other], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    assert b.stdin is not None and b.stdout is not None
    try:
        assert next_line(b) == "connected"
        with connect(READER) as protocol:
            session = JpkiSession(protocol)
            # The session's transaction (which clears the verified state when it ends)
            # inside an explicit PC/SC transaction of the transport.
            with protocol.transport.transaction(), session.transaction():
                session.verify(AUTH_PIN, "1234")
                b.stdin.write("go\n")
                b.stdin.flush()
                assert next_line(b) == "sending"
                # B's SELECT of an application (which would clear the verified PIN) waits
                # for A's transaction: the PIN is still verified, signing without a new
                # VERIFY succeeds, and B has not got its answer yet.
                signature, sw = raw_sign(protocol, data)
                assert sw == st.SW_OK
                ready, _, _ = select.select([b.stdout], [], [], 0)
                assert not ready, "process B's APDU got through during A's transaction"
            assert next_line(b) == "done 9000"
        assert b.wait(timeout=DEADLINE) == 0
    finally:
        if b.poll() is None:
            b.kill()
            b.wait()
    verify_signature(signature, data)


def test_reset_by_another_client(vcard: CardProcess) -> None:
    from mynaid.transport.pcsc import PcscTransport

    data = b"before the reset"
    with connect(READER) as protocol:
        session = JpkiSession(protocol)
        # Verify with raw APDUs, outside any transaction, so that the PIN stays verified
        # (the session itself clears the state when its transaction ends).
        assert protocol.select_application(Aid.JPKI.value).sw == st.SW_OK
        assert protocol.select_file(JpkiFile.AUTH_PIN).sw == st.SW_OK
        pin = bytearray(b"1234")
        assert protocol.send_secret(bytes.fromhex("00200080"), pin).sw == st.SW_OK
        signature, sw = raw_sign(protocol, data)
        assert sw == st.SW_OK
        verify_signature(signature, data)

        other = PcscTransport(READER)
        try:
            other.reset()
        finally:
            other.close()

        with pytest.raises(CardResetError):
            protocol.select_file(JpkiFile.AUTH_KEY)
        # The handle recovered: the next call goes through, to a card that was reset.
        assert protocol.select_file(JpkiFile.AUTH_KEY).sw == st.SW_FILE_NOT_FOUND
        state = session.pin_state(AUTH_PIN)
        assert state.tries_left == 3
        assert state.verified is False
        with session.transaction():
            _sig, sw = raw_sign(protocol, data)
        assert sw == st.SW_SECURITY_STATUS_NOT_SATISFIED


def test_reset_before_extended_read_is_reported(vcard: CardProcess) -> None:
    from mynaid.transport.pcsc import PcscTransport

    with connect(READER, extended=ExtendedLength.AUTO) as protocol:
        assert protocol.select_application(Aid.JPKI.value).sw == st.SW_OK
        assert protocol.select_file(JpkiFile.AUTH_CERT).sw == st.SW_OK
        other = PcscTransport(READER)
        try:
            other.reset()
        finally:
            other.close()
        # The first APDU after the reset is the extended READ BINARY probe: the reset must
        # reach the caller, and says nothing about extended-length support.
        with pytest.raises(CardResetError):
            protocol.read_tlv_file()
        assert protocol.extended_supported is None


# --- errors ----------------------------------------------------------------------------------


def test_reader_without_card(rig: PcscRig) -> None:
    from mynaid.transport.pcsc import PcscTransport

    assert not any(card.port == 35964 for card in rig.cards)
    with pytest.raises(NoCardError):
        PcscTransport.open("00 01")
    with pytest.raises(NoCardError):
        with connect(OTHER_READER):
            pass


def test_unknown_reader(rig: PcscRig) -> None:
    from mynaid.transport.pcsc import PcscTransport

    with pytest.raises(NoReaderError):
        PcscTransport.open("no such reader anywhere")


# --- the CLI through pcscd -------------------------------------------------------------------


def test_cli_info_and_export(vcard: CardProcess) -> None:
    info = run_cli("--reader", "00 00", "--json", "info")
    assert info.returncode == 0, info.stderr.decode()
    data = json.loads(info.stdout)
    assert data["reader"] == READER
    assert data["token"]["label"] == "JPKIAPICCTOKEN2"
    tries = {p["name"]: (p["tries_left"], p["max_tries"]) for p in data["secrets"]}
    assert tries == {"auth-pin": (3, 3), "sign-password": (5, 5)}

    exported = run_cli("--reader", "00 00", "cert", "export", "auth", "--format", "der")
    assert exported.returncode == 0, exported.stderr.decode()
    assert exported.stdout == JPKI.auth_cert
