"""The card's keys as ``cryptography`` RSAPrivateKey objects (mynaid.cardkey): standard APIs
sign with the card; what a card cannot do fails clearly."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric import utils as asym_utils
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from mynaid import cms
from mynaid.cardkey import CardKeyError, CardRsaPrivateKey
from mynaid.emulator import EmulatedCard
from mynaid.errors import LockoutGuardError, WrongPinError
from mynaid.protocol import CardProtocol
from mynaid.sessions.jpki import digest_info
from tests.trust_pki import trust

DATA = b"data to sign"


@pytest.fixture
def auth_key(protocol: CardProtocol) -> CardRsaPrivateKey:
    return CardRsaPrivateKey.open(protocol, "auth", "1234")


def test_is_an_rsa_private_key(auth_key: CardRsaPrivateKey) -> None:
    assert isinstance(auth_key, rsa.RSAPrivateKey)
    assert auth_key.key_size == 2048
    assert auth_key.public_key() == auth_key.certificate.public_key()
    assert "1234" not in repr(auth_key)
    assert copy.copy(auth_key) is auth_key and copy.deepcopy(auth_key) is auth_key


# SHA-1 too: the card takes its DigestInfo (legacy verifiers still ask for it).
@pytest.mark.parametrize("algorithm", [hashes.SHA1(), hashes.SHA256(),  # noqa: S303
                                       hashes.SHA384(), hashes.SHA512()], ids=lambda a: a.name)
def test_sign_verifies_with_the_certificate(auth_key: CardRsaPrivateKey,
                                            algorithm: hashes.HashAlgorithm) -> None:
    signature = auth_key.sign(DATA, padding.PKCS1v15(), algorithm)
    auth_key.public_key().verify(signature, DATA, padding.PKCS1v15(), algorithm)


def test_prehashed_and_no_digest_info(auth_key: CardRsaPrivateKey) -> None:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(DATA)
    value = digest.finalize()
    signature = auth_key.sign(value, padding.PKCS1v15(), asym_utils.Prehashed(hashes.SHA256()))
    auth_key.public_key().verify(signature, DATA, padding.PKCS1v15(), hashes.SHA256())
    no_digest_info = getattr(asym_utils, "NoDigestInfo", None)
    if no_digest_info is None:
        pytest.skip("cryptography < 47 has no NoDigestInfo")
    raw = auth_key.sign(digest_info("sha256", value), padding.PKCS1v15(), no_digest_info())
    assert raw == signature


def test_unsupported_operations(auth_key: CardRsaPrivateKey) -> None:
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    with pytest.raises(CardKeyError):
        auth_key.sign(DATA, pss, hashes.SHA256())
    with pytest.raises(CardKeyError):
        auth_key.sign(DATA, padding.PKCS1v15(), hashes.SHA3_256())
    with pytest.raises(CardKeyError):
        auth_key.decrypt(b"\x00" * 256, padding.PKCS1v15())
    with pytest.raises(CardKeyError):
        auth_key.private_numbers()
    with pytest.raises(CardKeyError):
        auth_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    with pytest.raises(NotImplementedError):  # CardKeyError is also a NotImplementedError
        auth_key.decrypt(b"", padding.PKCS1v15())


def test_cryptography_builders_sign_with_the_card(auth_key: CardRsaPrivateKey) -> None:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "card-signed CSR")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(
        auth_key, hashes.SHA256())
    assert csr.is_signature_valid
    assert csr.public_key() == auth_key.public_key()


def test_cryptography_pkcs7_builder_output_verifies(protocol: CardProtocol) -> None:
    key = CardRsaPrivateKey.open(protocol, "sign", "TEST1234")
    der = (pkcs7.PKCS7SignatureBuilder().set_data(DATA)
           .add_signer(key.certificate, key, hashes.SHA256())
           .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary]))
    result = cms.verify(der, trust())
    assert result.signer == key.certificate
    assert result.content == DATA


def test_secret_callable_and_guard(protocol: CardProtocol, card: EmulatedCard) -> None:
    asked: list[int] = []

    def pin() -> str:
        asked.append(1)
        return "1234"

    key = CardRsaPrivateKey.open(protocol, "auth", pin)
    assert asked == []  # the auth certificate is read without the PIN
    key.sign(DATA, padding.PKCS1v15(), hashes.SHA256())
    assert asked == [1]
    wrong = CardRsaPrivateKey(key.session, "auth", key.certificate, "0000")
    with pytest.raises(WrongPinError):
        wrong.sign(DATA, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(WrongPinError):
        wrong.sign(DATA, padding.PKCS1v15(), hashes.SHA256())
    # One try left: the lockout guard refuses before sending anything.
    with pytest.raises(LockoutGuardError):
        wrong.sign(DATA, padding.PKCS1v15(), hashes.SHA256())


def test_open_rejects_unknown_key(protocol: CardProtocol) -> None:
    with pytest.raises(ValueError):
        CardRsaPrivateKey.open(protocol, "text", "1234")


def test_time_is_not_needed_for_signing(auth_key: CardRsaPrivateKey) -> None:
    # A self-signed certificate made by the card key: cryptography calls key.sign once.
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "self")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(auth_key.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(auth_key, hashes.SHA256()))
    cert.verify_directly_issued_by(cert)
