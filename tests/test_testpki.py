"""Tests of the deterministic test PKI (mynaid.emulator.testpki) and the committed vectors."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from mynaid.emulator import testpki
from mynaid.emulator.profile import CardProfile, default_profile
from mynaid.emulator.testpki import SeededRandom, deterministic_rsa_key

REPO = Path(__file__).resolve().parent.parent
VECTORS = REPO / "vectors"
SEED = (VECTORS / "seed.txt").read_text(encoding="ascii").strip().encode("ascii")
UTC = datetime.timezone.utc
IN_2026 = datetime.datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def generated() -> tuple[CardProfile, testpki.TestPki]:
    """The default card, regenerated in this process from the committed seed (~2 s)."""
    return testpki.generate_profile(SEED)


@pytest.fixture(scope="module")
def pki(generated: tuple[CardProfile, testpki.TestPki]) -> testpki.TestPki:
    return generated[1]


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _ext(
    cert: x509.Certificate, cls: type[x509.ExtensionType]
) -> x509.Extension[x509.ExtensionType]:
    return cert.extensions.get_extension_for_class(cls)


# --- SeededRandom ----------------------------------------------------------------------------


def test_seeded_random_matches_its_documented_construction() -> None:
    # Pin the stream definition: a change here silently changes every committed vector.
    rng = SeededRandom(b"seed")
    block0 = hmac.new(b"seed", b"mynaid-testpki-v1" + bytes(4) + bytes(8), hashlib.sha256)
    block1 = hmac.new(b"seed", b"mynaid-testpki-v1" + bytes(4) + (1).to_bytes(8, "big"), "sha256")
    assert rng.bytes(64) == block0.digest() + block1.digest()
    forked = SeededRandom(b"seed").fork("x")
    label = b"/x"
    msg = b"mynaid-testpki-v1" + len(label).to_bytes(4, "big") + label + bytes(8)
    assert forked.bytes(32) == hmac.new(b"seed", msg, hashlib.sha256).digest()


def test_seeded_random_is_a_stream() -> None:
    whole = SeededRandom(b"s").bytes(100)
    rng = SeededRandom(b"s")
    assert rng.bytes(3) + rng.bytes(0) + rng.bytes(40) + rng.bytes(57) == whole
    assert SeededRandom(b"t").bytes(100) != whole
    assert SeededRandom(b"s").fork("a").bytes(32) != SeededRandom(b"s").fork("b").bytes(32)
    with pytest.raises(TypeError):
        SeededRandom("not bytes")  # type: ignore[arg-type]


@settings(max_examples=50, deadline=None)
@given(seed=st.binary(max_size=16), n=st.integers(min_value=1, max_value=2**300))
def test_randbelow_range(seed: bytes, n: int) -> None:
    rng = SeededRandom(seed)
    for _ in range(5):
        assert 0 <= rng.randbelow(n) < n
    assert 0 <= rng.getrandbits(13) < 2**13


def test_randbelow_rejects_nonpositive() -> None:
    with pytest.raises(ValueError):
        SeededRandom(b"s").randbelow(0)


# --- RSA keys --------------------------------------------------------------------------------


def _numbers(key: rsa.RSAPrivateKey) -> tuple[int, ...]:
    n = key.private_numbers()
    return (n.p, n.q, n.d, n.dmp1, n.dmq1, n.iqmp, n.public_numbers.n, n.public_numbers.e)


def test_rsa_key_determinism_small() -> None:
    # 1024-bit keys keep this fast; the 2048-bit path is the same code (checked below).
    a = deterministic_rsa_key(SeededRandom(b"k1"), bits=1024)
    b = deterministic_rsa_key(SeededRandom(b"k1"), bits=1024)
    c = deterministic_rsa_key(SeededRandom(b"k2"), bits=1024)
    assert _numbers(a) == _numbers(b)
    assert _numbers(a) != _numbers(c)
    assert a.key_size == 1024
    nums = a.private_numbers()
    assert nums.public_numbers.e == 65537
    assert nums.p != nums.q
    for prime in (nums.p, nums.q):
        assert prime.bit_length() == 512 and prime >> 510 == 0b11 and prime % 2 == 1
        assert pow(2, prime - 1, prime) == 1  # an independent Fermat check
        assert (prime - 1) % 65537 != 0


def test_rsa_key_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError):
        deterministic_rsa_key(SeededRandom(b"x"), bits=1023)


def test_generated_keys_are_valid_rsa_2048(pki: testpki.TestPki) -> None:
    message = b"mynaid test message"
    for key in (pki.auth_root_key, pki.sign_root_key, pki.auth_key, pki.sign_key):
        assert key.key_size == 2048
        assert key.private_numbers().public_numbers.e == 65537
        signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        key.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        with pytest.raises(InvalidSignature):
            key.public_key().verify(signature, message + b"!", padding.PKCS1v15(), hashes.SHA256())
    keys = {_numbers(k) for k in (pki.auth_root_key, pki.sign_root_key, pki.auth_key, pki.sign_key)}
    assert len(keys) == 4


# --- determinism of the whole PKI and the committed vectors -----------------------------------


def test_same_seed_gives_committed_bytes(generated: tuple[CardProfile, testpki.TestPki]) -> None:
    # The committed files were written by another process (and maybe another machine): equal
    # bytes here show that the same seed gives the same keys and certificate DER everywhere.
    profile, pki = generated
    committed = (VECTORS / "default-card.json").read_text(encoding="utf-8")
    assert profile.dumps() == committed
    assert (REPO / "mynaid/emulator/data/default-card.json").read_text("utf-8") == committed
    loaded = default_profile().jpki
    assert loaded.auth_cert == _der(pki.auth_cert)
    assert loaded.sign_cert == _der(pki.sign_cert)
    assert loaded.auth_ca_cert == _der(pki.auth_root_cert)
    assert loaded.sign_ca_cert == _der(pki.sign_root_cert)
    assert loaded.sign_key is not None
    assert _numbers(loaded.auth_key) == _numbers(pki.auth_key)
    assert _numbers(loaded.sign_key) == _numbers(pki.sign_key)
    for name, cert, key in (
        ("auth-root", pki.auth_root_cert, pki.auth_root_key),
        ("sign-root", pki.sign_root_cert, pki.sign_root_key),
    ):
        pem = (VECTORS / "test-pki" / f"{name}.pem").read_bytes()
        assert x509.load_pem_x509_certificate(pem) == cert
        key_pem = (VECTORS / "test-pki" / f"{name}.key.pem").read_bytes()
        root_key = serialization.load_pem_private_key(key_pem, password=None)
        assert isinstance(root_key, rsa.RSAPrivateKey)
        assert _numbers(root_key) == _numbers(key)


def test_make_vectors_check() -> None:
    result = subprocess.run(
        [sys.executable, str(VECTORS / "make_vectors.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_unseeded_pki_is_random_and_valid(pki: testpki.TestPki) -> None:
    other = testpki.generate_test_pki(None)
    assert _der(other.auth_cert) != _der(pki.auth_cert)
    assert _numbers(other.auth_key) != _numbers(pki.auth_key)
    other.auth_cert.verify_directly_issued_by(other.auth_root_cert)
    other.sign_cert.verify_directly_issued_by(other.sign_root_cert)
    assert other.auth_cert.subject.rfc4514_string() != pki.auth_cert.subject.rfc4514_string()


# --- certificate contents --------------------------------------------------------------------


def test_roots(pki: testpki.TestPki) -> None:
    for cert, key, service in (
        (pki.auth_root_cert, pki.auth_root_key, "TEST JPKI for user authentication"),
        (pki.sign_root_cert, pki.sign_root_key, "TEST JPKI for digital signature"),
    ):
        assert cert.subject == cert.issuer
        assert "mynaid TEST PKI (not JPKI)" in cert.subject.rfc4514_string()
        assert service in cert.subject.rfc4514_string()
        assert "J-LIS" in cert.subject.rfc4514_string()  # the "NOT J-LIS" OU
        assert cert.version is x509.Version.v3
        assert cert.signature_hash_algorithm is not None
        assert cert.signature_hash_algorithm.name == "sha256"
        public = cert.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        assert public.public_numbers() == key.public_key().public_numbers()
        cert.verify_directly_issued_by(cert)
        assert cert.not_valid_before_utc == datetime.datetime(2024, 1, 1, tzinfo=UTC)
        assert cert.not_valid_after_utc == datetime.datetime(2044, 1, 1, tzinfo=UTC)
        assert 0 < cert.serial_number < 2**159

        ku = _ext(cert, x509.KeyUsage)
        assert ku.critical
        assert isinstance(ku.value, x509.KeyUsage)
        assert ku.value.key_cert_sign and ku.value.crl_sign
        assert not ku.value.digital_signature
        bc = _ext(cert, x509.BasicConstraints)
        assert bc.critical and isinstance(bc.value, x509.BasicConstraints) and bc.value.ca
        ski = _ext(cert, x509.SubjectKeyIdentifier).value
        aki = _ext(cert, x509.AuthorityKeyIdentifier).value
        assert isinstance(ski, x509.SubjectKeyIdentifier)
        assert isinstance(aki, x509.AuthorityKeyIdentifier)
        assert aki.key_identifier == ski.digest
        crldp = _ext(cert, x509.CRLDistributionPoints).value
        assert isinstance(crldp, x509.CRLDistributionPoints)
        assert crldp[0].full_name is not None
        assert isinstance(crldp[0].full_name[0], x509.DirectoryName)


def _check_common_end_entity(cert: x509.Certificate, root: x509.Certificate, policy: str) -> None:
    assert cert.issuer == root.subject
    cert.verify_directly_issued_by(root)
    assert cert.not_valid_before_utc <= IN_2026 <= cert.not_valid_after_utc
    assert cert.not_valid_after_utc <= root.not_valid_after_utc
    assert 0 < cert.serial_number < 2**159
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert len(cns) == 1
    cn = cns[0].value
    assert isinstance(cn, str) and len(cn) == 23 and cn.isalnum() and cn == cn.upper()
    assert cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "JP"

    pol = _ext(cert, x509.CertificatePolicies)
    assert pol.critical
    assert isinstance(pol.value, x509.CertificatePolicies)
    assert [p.policy_identifier.dotted_string for p in pol.value] == [policy]
    assert pol.value[0].policy_qualifiers == [testpki.TEST_CPS_URL]

    ian = _ext(cert, x509.IssuerAlternativeName)
    assert not ian.critical and isinstance(ian.value, x509.IssuerAlternativeName)
    (dirname,) = ian.value.get_values_for_type(x509.DirectoryName)
    assert "テスト公的個人認証 (TEST)" in dirname.rfc4514_string()

    crldp = _ext(cert, x509.CRLDistributionPoints).value
    assert isinstance(crldp, x509.CRLDistributionPoints)
    assert crldp[0].full_name is not None
    (crl_name,) = crldp[0].full_name
    assert isinstance(crl_name, x509.DirectoryName)
    text = crl_name.value.rfc4514_string()
    assert "OU=CRL Distribution Points" in text and "CRLDP" in text

    aia = _ext(cert, x509.AuthorityInformationAccess).value
    assert isinstance(aia, x509.AuthorityInformationAccess)
    assert [(d.access_method, d.access_location.value) for d in aia] == [
        (AuthorityInformationAccessOID.OCSP, "http://127.0.0.1:8080/ocsp")
    ]

    ski = _ext(cert, x509.SubjectKeyIdentifier).value
    aki = _ext(cert, x509.AuthorityKeyIdentifier).value
    root_ski = _ext(root, x509.SubjectKeyIdentifier).value
    assert isinstance(ski, x509.SubjectKeyIdentifier)
    assert isinstance(aki, x509.AuthorityKeyIdentifier)
    assert isinstance(root_ski, x509.SubjectKeyIdentifier)
    assert ski.digest == x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    assert aki.key_identifier == root_ski.digest
    bcs = [e for e in cert.extensions if isinstance(e.value, x509.BasicConstraints)]
    assert not bcs or not bcs[0].value.ca


def test_auth_certificate(pki: testpki.TestPki) -> None:
    cert = pki.auth_cert
    _check_common_end_entity(cert, pki.auth_root_cert, "1.2.392.200149.8.5.1.0.30")
    assert [a.oid for a in cert.subject] == [NameOID.COUNTRY_NAME, NameOID.COMMON_NAME]
    ku = _ext(cert, x509.KeyUsage)
    assert ku.critical and isinstance(ku.value, x509.KeyUsage)
    assert ku.value.digital_signature
    assert not (ku.value.content_commitment or ku.value.key_cert_sign or ku.value.crl_sign)
    eku = _ext(cert, x509.ExtendedKeyUsage).value
    assert isinstance(eku, x509.ExtendedKeyUsage)
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(x509.ExtensionNotFound):
        _ext(cert, x509.SubjectAlternativeName)  # no holder data in the auth certificate
    with pytest.raises(ValueError, match="subject does not match"):
        cert.verify_directly_issued_by(pki.sign_root_cert)  # the other root


def test_sign_certificate(pki: testpki.TestPki) -> None:
    cert = pki.sign_cert
    _check_common_end_entity(cert, pki.sign_root_cert, "1.2.392.200149.8.5.1.0.20")
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)] == [
        "Tokyo-to",
        "Chiyoda-ku",
    ]
    ku = _ext(cert, x509.KeyUsage)
    assert ku.critical and isinstance(ku.value, x509.KeyUsage)
    assert ku.value.digital_signature and ku.value.content_commitment
    assert not (ku.value.key_cert_sign or ku.value.crl_sign)

    san = _ext(cert, x509.SubjectAlternativeName).value
    assert isinstance(san, x509.SubjectAlternativeName)
    others = san.get_values_for_type(x509.OtherName)
    got = {o.type_id.dotted_string: o.value for o in others}
    expected = {
        "1.2.392.200149.8.5.5.1": "試験\u3000花子",
        "1.2.392.200149.8.5.5.2": "0",
        "1.2.392.200149.8.5.5.3": "2",
        "1.2.392.200149.8.5.5.4": "319800217",
        "1.2.392.200149.8.5.5.5": "東京都千代田区試験町１－２－３",
        "1.2.392.200149.8.5.5.6": "0",
    }
    assert [o.type_id.dotted_string for o in others] == list(expected)
    for oid, value in expected.items():
        raw = value.encode("utf-8")
        assert len(raw) < 0x80
        assert got[oid] == b"\x0c" + bytes([len(raw)]) + raw  # DER UTF8String
    with pytest.raises(ValueError, match="subject does not match"):
        cert.verify_directly_issued_by(pki.auth_root_cert)  # the other root


def test_der_utf8string_long_form() -> None:
    value = "あ" * 100  # 300 bytes: needs the 82 LL LL length form
    assert testpki._der_utf8string(value) == b"\x0c\x82\x01\x2c" + value.encode("utf-8")
    assert testpki._der_utf8string("") == b"\x0c\x00"


# --- the card profile ------------------------------------------------------------------------


def test_profile(generated: tuple[CardProfile, testpki.TestPki]) -> None:
    profile, pki = generated
    jpki = profile.jpki
    assert jpki.token_label == "JPKIAPICCTOKEN2"
    assert (jpki.auth_pin, jpki.sign_password) == ("1234", "TEST1234")
    assert (jpki.auth_pin_tries, jpki.sign_password_tries) == (3, 5)
    assert jpki.auth_cert == _der(pki.auth_cert)
    assert jpki.sign_cert == _der(pki.sign_cert)
    assert jpki.auth_ca_cert == _der(pki.auth_root_cert)
    assert jpki.sign_ca_cert == _der(pki.sign_root_cert)
    again = CardProfile.loads(profile.dumps())
    assert again.dumps() == profile.dumps()
    assert "TEST" in profile.name


@pytest.mark.parametrize(
    ("pin", "password"),
    [
        ("123", "TEST1234"),
        ("12345", "TEST1234"),
        ("abcd", "TEST1234"),
        ("1234", "test1234"),
        ("1234", "ABC12"),
        ("1234", "A" * 17),
    ],
)
def test_profile_rejects_secrets_a_card_would_not_accept(pin: str, password: str) -> None:
    with pytest.raises(ValueError):
        testpki.generate_profile(None, auth_pin=pin, sign_password=password)


# --- cross-check with the OpenSSL CLI --------------------------------------------------------


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_openssl_parses_the_certificates(pki: testpki.TestPki, tmp_path: Path) -> None:
    texts = {}
    for name, cert in (("auth", pki.auth_cert), ("sign", pki.sign_cert)):
        path = tmp_path / f"{name}.pem"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        result = subprocess.run(
            ["openssl", "x509", "-in", str(path), "-noout", "-text"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        texts[name] = result.stdout.decode("utf-8", "replace")
    auth = texts["auth"]
    assert "sha256WithRSAEncryption" in auth
    assert "Public-Key: (2048 bit)" in auth
    assert "X509v3 Key Usage: critical" in auth
    assert "X509v3 Certificate Policies: critical" in auth
    assert "1.2.392.200149.8.5.1.0.30" in auth
    assert "OCSP - URI:http://127.0.0.1:8080/ocsp" in auth
    assert "TLS Web Client Authentication" in auth
    assert "1.2.392.200149.8.5.5.1" in texts["sign"]
