"""A JPKI-like *test* PKI: deterministic keys and certificates for the emulated card.

Everything here is test material. The certificates copy the shape of the real JPKI profiles
(card-reference §7: critical key usages, critical certificate policies, X.500 DirName CRL
distribution points, an OCSP URL, six holder-data otherNames in the signature certificate)
so that parsers and verifiers are exercised on realistic input, but every DN says
``mynaid TEST PKI (not JPKI)`` and the policies are on the JPKI *test-card* arc, so that no
certificate made here can be mistaken for one issued by J-LIS.

Given a seed, the output is byte-identical on every machine and every run:

* :class:`SeededRandom` is an HMAC-SHA256 counter-mode byte stream (specified below, it
  depends only on the seed and the standard library);
* :func:`deterministic_rsa_key` finds primes in pure Python from that stream (OpenSSL's key
  generator cannot be seeded);
* validity dates are fixed constants and serial numbers come from the stream;
* RSASSA-PKCS1-v1_5 signatures (sha256WithRSAEncryption) are deterministic, and
  :mod:`cryptography` emits extensions in the order they are added.

The committed default card (``vectors/default-card.json``) is made from the seed in
``vectors/seed.txt`` by ``vectors/make_vectors.py``. Changing anything that affects the
output here changes those files: run ``python vectors/make_vectors.py`` afterwards.
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime
import hashlib
import hmac
import math
import os
import re
from dataclasses import dataclass, field
from typing import ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    NameOID,
)

from mynaid.emulator.faceprofile import TextProfile, VisualProfile
from mynaid.emulator.profile import CardProfile, JpkiProfile
from mynaid.errors import MynaidError

__all__ = [
    "AUTH_POLICY_OID",
    "AUTH_ROOT_NAME",
    "DEFAULT_CARD_FACE",
    "DEFAULT_HOLDER",
    "DEFAULT_PROFILE_NAME",
    "HOLDER_ADDRESS_FLAGS_OID",
    "HOLDER_ADDRESS_OID",
    "HOLDER_BIRTH_OID",
    "HOLDER_NAME_FLAGS_OID",
    "HOLDER_NAME_OID",
    "HOLDER_SEX_OID",
    "RSA_EXPONENT",
    "SIGN_POLICY_OID",
    "SIGN_ROOT_NAME",
    "TEST_CPS_URL",
    "TEST_OCSP_URL",
    "TEXT_ISSUER_ID",
    "VISUAL_ISSUER_ID",
    "CardFaceData",
    "CardFaceImages",
    "CardFacePki",
    "SeededRandom",
    "TestHolder",
    "TestPki",
    "deterministic_rsa_key",
    "generate_card_face",
    "generate_profile",
    "generate_test_pki",
]

# --- constants -------------------------------------------------------------------------------

#: The public exponent of every key (what J-LIS cards use too).
RSA_EXPONENT = 65537

#: Certificate policies. The real auth policy is ``1.2.392.200149.8.5.1.3.30`` and the real
#: signature policy ``1.2.392.200149.8.5.1.1.20``; J-LIS test cards use ``...1.0.20`` for
#: signatures. We put both on that ``.0`` test arc so a verifier that pins the production
#: policies rejects these certificates.
AUTH_POLICY_OID = x509.ObjectIdentifier("1.2.392.200149.8.5.1.0.30")
SIGN_POLICY_OID = x509.ObjectIdentifier("1.2.392.200149.8.5.1.0.20")

#: CPS qualifier of both policies; ``.invalid`` is reserved (RFC 2606) and never resolves.
TEST_CPS_URL = "http://example.invalid/mynaid-test-cps.html"
#: OCSP responder named in the end-entity certificates (a local test responder, if any).
TEST_OCSP_URL = "http://127.0.0.1:8080/ocsp"

#: The six holder-data otherNames of the signature certificate (card-reference §7).
HOLDER_NAME_OID = x509.ObjectIdentifier("1.2.392.200149.8.5.5.1")
HOLDER_NAME_FLAGS_OID = x509.ObjectIdentifier("1.2.392.200149.8.5.5.2")
HOLDER_SEX_OID = x509.ObjectIdentifier("1.2.392.200149.8.5.5.3")
HOLDER_BIRTH_OID = x509.ObjectIdentifier("1.2.392.200149.8.5.5.4")
HOLDER_ADDRESS_OID = x509.ObjectIdentifier("1.2.392.200149.8.5.5.5")
HOLDER_ADDRESS_FLAGS_OID = x509.ObjectIdentifier("1.2.392.200149.8.5.5.6")

_TEST_ORG = "mynaid TEST PKI (not JPKI)"
_TEST_CA_OU = "mynaid test CA - NOT J-LIS"
_AUTH_SERVICE = "TEST JPKI for user authentication"
_SIGN_SERVICE = "TEST JPKI for digital signature"


def _name(*attrs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    # One attribute per RDN, in the given order: that is how JPKI DNs are built.
    return x509.Name([x509.RelativeDistinguishedName([x509.NameAttribute(o, v)]) for o, v in attrs])


def _root_name(service: str) -> x509.Name:
    return _name(
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.ORGANIZATION_NAME, _TEST_ORG),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, service),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, _TEST_CA_OU),
    )


#: Subject (= issuer) of the test user-authentication root.
AUTH_ROOT_NAME = _root_name(_AUTH_SERVICE)
#: Subject (= issuer) of the test digital-signature root.
SIGN_ROOT_NAME = _root_name(_SIGN_SERVICE)

# Fixed validity windows: with dates taken from the clock the certificates would differ on
# every run. The end-entity window covers the years in which the test suite is expected to run.
_ROOT_NOT_BEFORE = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
_ROOT_NOT_AFTER = datetime.datetime(2044, 1, 1, tzinfo=datetime.timezone.utc)
_EE_NOT_BEFORE = datetime.datetime(2025, 6, 1, tzinfo=datetime.timezone.utc)
_EE_NOT_AFTER = datetime.datetime(2030, 6, 1, tzinfo=datetime.timezone.utc)

#: Alphabet of the 23-character opaque subject CNs.
_CN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_CN_LENGTH = 23

#: Name of the profile made by :func:`generate_profile` unless another is given.
DEFAULT_PROFILE_NAME = "mynaid default test card (TEST ONLY, not a real My Number Card)"


# --- deterministic randomness ----------------------------------------------------------------


class SeededRandom:
    """A deterministic byte stream derived from a seed.

    Block ``i`` (counting from 0) of the stream is::

        HMAC-SHA256(key=seed, msg=b"mynaid-testpki-v1" || len(label) as 4 bytes BE || label
                                  || i as 8 bytes BE)

    and the stream is the concatenation of the blocks. HMAC in counter mode is a standard PRF
    construction (as in NIST SP 800-108 KDFs): it accepts seeds of any length and the output
    depends only on the seed, the label and the position, never on the platform.

    :meth:`fork` derives an independent stream with a longer label. Each artefact (each key,
    each serial number) is drawn from its own fork so that drawing more bytes for one of them
    (e.g. a prime search that changes) does not change all the others.
    """

    _DOMAIN = b"mynaid-testpki-v1"

    def __init__(self, seed: builtins.bytes, label: builtins.bytes = b"") -> None:
        if not isinstance(seed, (builtins.bytes, bytearray)):
            raise TypeError("seed must be bytes")
        self._seed = builtins.bytes(seed)
        self._label = builtins.bytes(label)
        self._counter = 0
        self._buffer = b""

    @classmethod
    def from_os(cls) -> SeededRandom:
        """A stream seeded from the OS random source (not reproducible)."""
        return cls(os.urandom(32))

    def fork(self, label: str | builtins.bytes) -> SeededRandom:
        """An independent stream for ``label`` (the parent's position is not used)."""
        raw = label.encode("utf-8") if isinstance(label, str) else label
        return SeededRandom(self._seed, self._label + b"/" + raw)

    def _block(self) -> builtins.bytes:
        msg = (
            self._DOMAIN
            + len(self._label).to_bytes(4, "big")
            + self._label
            + self._counter.to_bytes(8, "big")
        )
        self._counter += 1
        return hmac.new(self._seed, msg, hashlib.sha256).digest()

    def bytes(self, n: int) -> builtins.bytes:
        """The next ``n`` bytes of the stream."""
        if n < 0:
            raise ValueError("n must be >= 0")
        while len(self._buffer) < n:
            self._buffer += self._block()
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def getrandbits(self, k: int) -> int:
        """A uniform integer in ``[0, 2**k)`` (big-endian bytes, excess high bits dropped)."""
        if k < 0:
            raise ValueError("k must be >= 0")
        if k == 0:
            return 0
        value = int.from_bytes(self.bytes((k + 7) // 8), "big")
        return value >> (-k % 8)

    def randbelow(self, n: int) -> int:
        """A uniform integer in ``[0, n)``, by rejection sampling (no modulo bias)."""
        if n <= 0:
            raise ValueError("n must be > 0")
        k = n.bit_length()
        while True:
            value = self.getrandbits(k)
            if value < n:
                return value


# --- RSA keys --------------------------------------------------------------------------------


def _small_primes(limit: int) -> list[int]:
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\x00\x00"
    for i in range(2, math.isqrt(limit - 1) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(sieve[i * i :: i]))
    return [i for i, is_prime in enumerate(sieve) if is_prime]


_SMALL_PRIMES = _small_primes(1 << 16)
# One big product lets trial division be a single gcd per candidate instead of 6542 mods.
_SMALL_PRIMES_PRODUCT = math.prod(_SMALL_PRIMES)
_MILLER_RABIN_ROUNDS = 40


def _is_probable_prime(n: int, rng: SeededRandom, rounds: int = _MILLER_RABIN_ROUNDS) -> bool:
    """Trial division by the primes below 65536, then Miller-Rabin with bases from ``rng``."""
    if n < 2:
        return False
    if n <= _SMALL_PRIMES[-1]:
        return n in _SMALL_PRIMES
    if math.gcd(_SMALL_PRIMES_PRODUCT % n, n) != 1:
        return False
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        a = 2 + rng.randbelow(n - 3)  # a base in [2, n-2]
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _random_prime(rng: SeededRandom, bits: int, e: int) -> int:
    """A prime of exactly ``bits`` bits, top two bits set, with ``gcd(e, p - 1) = 1``.

    Setting the top two bits makes the product of two such primes exactly ``2 * bits`` long.
    Every candidate is a fresh draw (no incremental search), which keeps the distribution
    uniform over the eligible primes and the algorithm trivially reproducible.
    """
    top = 0b11 << (bits - 2)
    while True:
        candidate = rng.getrandbits(bits) | top | 1
        if math.gcd(e, candidate - 1) != 1:
            continue
        if _is_probable_prime(candidate, rng):
            return candidate


def deterministic_rsa_key(rng: SeededRandom, bits: int = 2048) -> rsa.RSAPrivateKey:
    """An RSA key (``e = 65537``) whose primes come only from ``rng``.

    The same stream gives the same key on every machine. ``p`` and ``q`` have ``bits / 2``
    bits each with the top two bits set, pass trial division and 40 Miller-Rabin rounds, and
    differ in their top 100 bits (FIPS 186-5 A.1.3 asks ``|p - q| > 2**(bits/2 - 100)``).
    ``d`` is the inverse of ``e`` modulo ``lcm(p - 1, q - 1)``, as FIPS 186 and OpenSSL 3 do.
    """
    if bits < 512 or bits % 2:
        raise ValueError("bits must be even and >= 512")
    half = bits // 2
    e = RSA_EXPONENT
    p = _random_prime(rng, half, e)
    while True:
        q = _random_prime(rng, half, e)
        if abs(p - q) >> (half - 100):
            break
    n = p * q
    lam = math.lcm(p - 1, q - 1)
    d = pow(e, -1, lam)
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e, n),
    )
    return numbers.private_key()


# --- holder data -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TestHolder:
    """The holder data of the signature certificate's six otherNames (card-reference §7).

    Values are the strings as stored (UTF-8 in the certificate). ``birth`` is ``EYYYYMMDD``:
    an era code (1 明治, 2 大正, 3 昭和, 4 平成, 5 令和, 0 unknown) then the Gregorian date.
    ``name`` separates family and given name with U+3000 (ideographic space), as on the card.
    """

    __test__ = False  # not a pytest test class, despite the name

    name: str = "試験\u3000花子"
    name_flags: str = "0"
    sex: str = "2"
    birth: str = "319800217"
    address: str = "東京都千代田区試験町１－２－３"
    address_flags: str = "0"
    #: Prefecture and municipality in romaji: the signature subject's ``L`` attributes and
    #: the per-municipality CRL distribution point (``OU=<prefecture>, CN=<city> CRLDP``).
    prefecture: str = "Tokyo-to"
    municipality: str = "Chiyoda-ku"

    def other_names(self) -> list[x509.OtherName]:
        """The six otherNames, in OID order, as they go in the SubjectAltName."""
        values = [
            (HOLDER_NAME_OID, self.name),
            (HOLDER_NAME_FLAGS_OID, self.name_flags),
            (HOLDER_SEX_OID, self.sex),
            (HOLDER_BIRTH_OID, self.birth),
            (HOLDER_ADDRESS_OID, self.address),
            (HOLDER_ADDRESS_FLAGS_OID, self.address_flags),
        ]
        return [x509.OtherName(oid, _der_utf8string(value)) for oid, value in values]


#: The holder of the default test card (a fictitious person at a fictitious address).
DEFAULT_HOLDER = TestHolder()


def _der_length(n: int) -> builtins.bytes:
    if n < 0x80:
        return builtins.bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return builtins.bytes([0x80 | len(raw)]) + raw


def _der_utf8string(value: str) -> builtins.bytes:
    # OtherName takes the DER of its value; cryptography has no public UTF8String encoder.
    raw = value.encode("utf-8")
    return b"\x0c" + _der_length(len(raw)) + raw


# --- certificates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TestPki:
    """A complete test PKI: the two roots and the card's two end-entity certificates."""

    __test__ = False  # not a pytest test class, despite the name

    auth_root_key: rsa.RSAPrivateKey = field(repr=False)
    auth_root_cert: x509.Certificate
    sign_root_key: rsa.RSAPrivateKey = field(repr=False)
    sign_root_cert: x509.Certificate
    auth_key: rsa.RSAPrivateKey = field(repr=False)
    auth_cert: x509.Certificate
    sign_key: rsa.RSAPrivateKey = field(repr=False)
    sign_cert: x509.Certificate
    holder: TestHolder = DEFAULT_HOLDER
    #: The test issuers of the text and visual APs' CV certificates (ids 6000033 and
    #: 6000023), when the profile has those applications.
    text_issuer_key: rsa.RSAPrivateKey | None = field(default=None, repr=False)
    visual_issuer_key: rsa.RSAPrivateKey | None = field(default=None, repr=False)


def _serial(rng: SeededRandom) -> int:
    # RFC 5280: positive, at most 20 octets. Below 2**159 the DER INTEGER never needs a
    # leading zero byte, so it always fits in 20 octets.
    while True:
        serial = rng.getrandbits(159)
        if serial:
            return serial


def _opaque_id(rng: SeededRandom) -> str:
    return "".join(_CN_ALPHABET[rng.randbelow(len(_CN_ALPHABET))] for _ in range(_CN_LENGTH))


def _key_usage(
    *,
    digital_signature: bool = False,
    non_repudiation: bool = False,
    cert_sign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _dirname_crldp(name: x509.Name) -> x509.CRLDistributionPoints:
    # JPKI names CRLs by X.500 DirName (fetched from J-LIS's directory), not by URL.
    return x509.CRLDistributionPoints(
        [x509.DistributionPoint([x509.DirectoryName(name)], None, None, None)]
    )


def _make_root(
    key: rsa.RSAPrivateKey, name: x509.Name, service: str, serial: int
) -> x509.Certificate:
    public = key.public_key()
    ski = x509.SubjectKeyIdentifier.from_public_key(public)
    arl_name = _name(
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.ORGANIZATION_NAME, _TEST_ORG),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, service),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "ARL Distribution Points"),
        (NameOID.COMMON_NAME, "mynaid test ARL"),
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(_ROOT_NOT_BEFORE)
        .not_valid_after(_ROOT_NOT_AFTER)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
            critical=False,
        )
        .add_extension(_dirname_crldp(arl_name), critical=False)
    )
    return builder.sign(key, hashes.SHA256())


def _make_end_entity(
    *,
    key: rsa.RSAPrivateKey,
    subject: x509.Name,
    serial: int,
    issuer_key: rsa.RSAPrivateKey,
    issuer_cert: x509.Certificate,
    key_usage: x509.KeyUsage,
    policy: x509.ObjectIdentifier,
    service: str,
    issuer_alt_ou: str,
    holder: TestHolder,
    extra: list[x509.ExtensionType],
) -> x509.Certificate:
    issuer_ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    issuer_alt = _name(
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.ORGANIZATION_NAME, "mynaid テスト公的個人認証 (TEST)"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, issuer_alt_ou),
    )
    crldp_name = _name(
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.ORGANIZATION_NAME, _TEST_ORG),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, service),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "CRL Distribution Points"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, holder.prefecture),
        (NameOID.COMMON_NAME, f"{holder.municipality} CRLDP"),
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(_EE_NOT_BEFORE)
        .not_valid_after(_EE_NOT_AFTER)
        .add_extension(key_usage, critical=True)
    )
    for ext in extra:
        builder = builder.add_extension(ext, critical=False)
    builder = (
        builder.add_extension(
            # Critical, as in JPKI: a verifier that does not know the policy must reject.
            x509.CertificatePolicies([x509.PolicyInformation(policy, [TEST_CPS_URL])]),
            critical=True,
        )
        .add_extension(x509.IssuerAlternativeName([x509.DirectoryName(issuer_alt)]), critical=False)
        .add_extension(_dirname_crldp(crldp_name), critical=False)
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(TEST_OCSP_URL),
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
            critical=False,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())


def generate_test_pki(seed: bytes | None = None, *, holder: TestHolder = DEFAULT_HOLDER) -> TestPki:
    """Make the two test roots and the card's authentication and signature certificates.

    With a ``seed`` everything (keys, serials, subject ids, hence every certificate byte) is
    a function of the seed; this takes a second or two of pure-Python prime search. With
    ``seed=None`` the keys come from OpenSSL and the serials and ids from ``os.urandom``:
    quick, but different every time. Validity dates are fixed in both cases.
    """
    rng = SeededRandom(seed) if seed is not None else SeededRandom.from_os()

    def key(label: str) -> rsa.RSAPrivateKey:
        if seed is None:
            return rsa.generate_private_key(public_exponent=RSA_EXPONENT, key_size=2048)
        return deterministic_rsa_key(rng.fork(f"key/{label}"))

    auth_root_key = key("auth-root")
    sign_root_key = key("sign-root")
    auth_key = key("auth")
    sign_key = key("sign")

    auth_root = _make_root(
        auth_root_key,
        AUTH_ROOT_NAME,
        _AUTH_SERVICE,
        _serial(rng.fork("serial/auth-root")),
    )
    sign_root = _make_root(
        sign_root_key,
        SIGN_ROOT_NAME,
        _SIGN_SERVICE,
        _serial(rng.fork("serial/sign-root")),
    )

    auth_cert = _make_end_entity(
        key=auth_key,
        subject=_name(
            (NameOID.COUNTRY_NAME, "JP"),
            (NameOID.COMMON_NAME, _opaque_id(rng.fork("cn/auth"))),
        ),
        serial=_serial(rng.fork("serial/auth")),
        issuer_key=auth_root_key,
        issuer_cert=auth_root,
        key_usage=_key_usage(digital_signature=True),
        policy=AUTH_POLICY_OID,
        service=_AUTH_SERVICE,
        issuer_alt_ou="mynaid テスト利用者証明用 (TEST)",
        holder=holder,
        # The auth certificate carries no holder data, only the clientAuth purpose.
        extra=[x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])],
    )
    sign_cert = _make_end_entity(
        key=sign_key,
        subject=_name(
            (NameOID.COUNTRY_NAME, "JP"),
            (NameOID.LOCALITY_NAME, holder.prefecture),
            (NameOID.LOCALITY_NAME, holder.municipality),
            (NameOID.COMMON_NAME, _opaque_id(rng.fork("cn/sign"))),
        ),
        serial=_serial(rng.fork("serial/sign")),
        issuer_key=sign_root_key,
        issuer_cert=sign_root,
        key_usage=_key_usage(digital_signature=True, non_repudiation=True),
        policy=SIGN_POLICY_OID,
        service=_SIGN_SERVICE,
        issuer_alt_ou="mynaid テスト署名用 (TEST)",
        holder=holder,
        extra=[x509.SubjectAlternativeName(holder.other_names())],
    )
    return TestPki(
        auth_root_key=auth_root_key,
        auth_root_cert=auth_root,
        sign_root_key=sign_root_key,
        sign_root_cert=sign_root,
        auth_key=auth_key,
        auth_cert=auth_cert,
        sign_key=sign_key,
        sign_cert=sign_cert,
        holder=holder,
    )


# --- card profile ----------------------------------------------------------------------------

_AUTH_PIN_RE = re.compile(r"[0-9]{4}")
_SIGN_PASSWORD_RE = re.compile(r"[A-Z0-9]{6,16}")


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def generate_profile(
    seed: bytes | None = None,
    name: str = DEFAULT_PROFILE_NAME,
    # Published defaults of a test card (documented in vectors/README.md), not real secrets.
    auth_pin: str = "1234",
    sign_password: str = "TEST1234",  # noqa: S107
    *,
    holder: TestHolder = DEFAULT_HOLDER,
    card_face: CardFaceData | None = None,
    images: CardFaceImages | None = None,
) -> tuple[CardProfile, TestPki]:
    """A JPKI card profile (token ``JPKIAPICCTOKEN2``, a physical card) on a new test PKI.

    The text and visual applications are added from ``card_face`` (default
    :data:`DEFAULT_CARD_FACE`) and ``images``; without ``images`` they come from the
    packaged default card, and when that has none the profile has only JPKI.

    The PIN and password must be ones a real card accepts (card-reference §3/§4: a 4-digit
    auth PIN; a 6-16 character ``A-Z 0-9`` signature password, which clients upper-case
    before sending, so a lower-case one could never be verified).
    """
    if not _AUTH_PIN_RE.fullmatch(auth_pin):
        raise ValueError("auth_pin must be 4 digits")
    if not _SIGN_PASSWORD_RE.fullmatch(sign_password):
        raise ValueError("sign_password must be 6-16 characters A-Z 0-9")
    pki = generate_test_pki(seed, holder=holder)
    jpki = JpkiProfile(
        token_label="JPKIAPICCTOKEN2",  # noqa: S106 (a token label, not a password)
        auth_pin=auth_pin,
        sign_password=sign_password,
        auth_cert=_der(pki.auth_cert),
        auth_key=pki.auth_key,
        auth_ca_cert=_der(pki.auth_root_cert),
        sign_ca_cert=_der(pki.sign_root_cert),
        sign_cert=_der(pki.sign_cert),
        sign_key=pki.sign_key,
    )
    if images is None:
        images = _packaged_images()
    if images is None:
        return CardProfile(name=name, jpki=jpki), pki
    face = generate_card_face(seed, holder=holder, data=card_face or DEFAULT_CARD_FACE,
                              images=images)
    pki = dataclasses.replace(pki, text_issuer_key=face.text_issuer_key,
                              visual_issuer_key=face.visual_issuer_key)
    return CardProfile(name=name, jpki=jpki, text=face.text, visual=face.visual), pki


# --- text and visual applications ------------------------------------------------------------

#: Issuer ids of the test CV certificates (the real ones are 5000033 and 5000023).
TEXT_ISSUER_ID = "6000033"
VISUAL_ISSUER_ID = "6000023"


@dataclass(frozen=True)
class CardFaceData:
    """What the text and visual applications hold beyond :class:`TestHolder`.

    Published test values (vectors/README.md), not anyone's: ``123456789018`` is the
    widely printed sample My Number (valid check digit). With the holder's birth date
    1980-02-17, expiry year 2035 and code 2285, 照合番号B is ``55021720352285``, the
    example of card-reference §4.
    """

    my_number: str = "123456789018"
    expiry: str = "20350217"
    security_code: str = "2285"
    text_pin: str = "5678"
    municipality_code: str = "131016"


DEFAULT_CARD_FACE = CardFaceData()


@dataclass(frozen=True)
class CardFaceImages:
    """The card-face images: 1-bit PNGs and the JPEG 2000 photo."""

    name: bytes = field(repr=False)
    address: bytes = field(repr=False)
    photo: bytes = field(repr=False)
    security_code: bytes = field(repr=False)
    my_number: bytes = field(repr=False)

    #: File names in ``vectors/card-face/`` (made by vectors/make_card_face_images.py).
    FILES: ClassVar[dict[str, str]] = {
        "name": "name.png", "address": "address.png", "photo": "photo.jp2",
        "security_code": "security-code.png", "my_number": "my-number.png",
    }

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> CardFaceImages:
        from pathlib import Path

        base = Path(directory)
        return cls(**{attr: (base / name).read_bytes() for attr, name in cls.FILES.items()})


def _packaged_images() -> CardFaceImages | None:
    from mynaid.emulator.profile import default_profile

    try:
        visual = default_profile().visual
    except (OSError, ValueError, MynaidError):
        return None
    if visual is None:
        return None
    return CardFaceImages(visual.name_image, visual.address_image, visual.photo,
                          visual.security_code_image, visual.my_number_image)


@dataclass(frozen=True)
class CardFacePki:
    """The two applications' profile sections and the issuer keys that certified them."""

    text: TextProfile
    visual: VisualProfile
    text_issuer_key: rsa.RSAPrivateKey = field(repr=False)
    visual_issuer_key: rsa.RSAPrivateKey = field(repr=False)


def generate_card_face(seed: bytes | None = None, *, holder: TestHolder = DEFAULT_HOLDER,
                       data: CardFaceData = DEFAULT_CARD_FACE,
                       images: CardFaceImages) -> CardFacePki:
    """Text and visual profile sections with their keys and CV certificates.

    Six keys, each from its own fork of the seed's stream (labels ``key/text-*`` and
    ``key/visual-*``), so adding them left the JPKI keys and certificates unchanged:
    per AP an issuer key (signs the CV certificate), a signing key (the key the CV
    certificate certifies; signs the records) and the card's presence key.
    """
    from mynaid.emulator.textvisual import make_cv_certificate, make_key_id
    from mynaid.era import birth_date_key, build_pin_b

    rng = SeededRandom(seed) if seed is not None else SeededRandom.from_os()

    def key(label: str) -> rsa.RSAPrivateKey:
        if seed is None:
            return rsa.generate_private_key(public_exponent=RSA_EXPONENT, key_size=2048)
        return deterministic_rsa_key(rng.fork(f"key/{label}"))

    birth = holder.birth[1:]  # EYYYYMMDD → YYYYMMDD
    birth_date = datetime.date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
    pin_b = build_pin_b(birth_date, int(data.expiry[:4]), data.security_code)
    certs = {}
    keys = {}
    for ap, issuer_id in (("text", TEXT_ISSUER_ID), ("visual", VISUAL_ISSUER_ID)):
        issuer, signer, card = key(f"{ap}-issuer"), key(f"{ap}-signer"), key(f"{ap}-card")
        certs[ap] = make_cv_certificate(issuer, make_key_id(issuer_id, "001"),
                                        make_key_id(issuer_id, "002"), signer.public_key())
        keys[ap] = (issuer, signer, card)
    text = TextProfile(
        my_number=data.my_number, name=holder.name, address=holder.address, birth=birth,
        sex=holder.sex, pin=data.text_pin, pin_b=pin_b, signing_key=keys["text"][1],
        card_key=keys["text"][2], cv_certificate=certs["text"],
        # Text EF 0006's key (a seventh fork: the other keys stay as they were).
        session_key=key("text-session"),
    )
    visual = VisualProfile(
        my_number=data.my_number, birth=birth, sex=holder.sex, expiry=data.expiry,
        security_code=data.security_code, pin_b=pin_b, birth_key=birth_date_key(birth_date),
        name_image=images.name, address_image=images.address, photo=images.photo,
        security_code_image=images.security_code, my_number_image=images.my_number,
        municipality_code=data.municipality_code, signing_key=keys["visual"][1],
        card_key=keys["visual"][2], cv_certificate=certs["visual"],
    )
    return CardFacePki(text, visual, keys["text"][0], keys["visual"][0])
