"""Test-only PKI helpers for the trust tests: issuing certificates, CRLs and OCSP answers
from the committed test roots, and a loopback OCSP responder.

Everything here is test material built at run time from ``vectors/test-pki`` (the roots and
their published test keys) plus a few fresh keys; nothing touches the network beyond
127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mynaid.emulator.testpki import DEFAULT_HOLDER, SIGN_POLICY_OID
from mynaid.trust.anchors import TrustStore

REPO = Path(__file__).resolve().parent.parent
PKI_DIR = REPO / "vectors" / "test-pki"
UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC)


@dataclass(frozen=True)
class Authority:
    """A CA certificate with its private key."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey


def _load_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@functools.cache
def root(which: str) -> Authority:
    """The committed test root ``auth`` or ``sign`` with its key."""
    cert = x509.load_pem_x509_certificate((PKI_DIR / f"{which}-root.pem").read_bytes())
    return Authority(cert, _load_key(PKI_DIR / f"{which}-root.key.pem"))


@functools.cache
def fresh_key(label: str) -> rsa.RSAPrivateKey:
    """A new RSA-2048 key per label, made once per test run (OpenSSL keygen is quick)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def trust(*which: str) -> TrustStore:
    """A store trusting the given test roots (default: both)."""
    store = TrustStore.empty()
    for name in which or ("auth", "sign"):
        store.add_certificate(root(name).cert)
    return store


def name(cn: str, *, org: str = "mynaid trust tests") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def key_usage(*, digital_signature: bool = False, non_repudiation: bool = False,
              cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=digital_signature,
                         content_commitment=non_repudiation, key_encipherment=False,
                         data_encipherment=False, key_agreement=False,
                         key_cert_sign=cert_sign, crl_sign=cert_sign, encipher_only=False,
                         decipher_only=False)


SIGN_KU = key_usage(digital_signature=True, non_repudiation=True)
AUTH_KU = key_usage(digital_signature=True)
CA_KU = key_usage(cert_sign=True)


@dataclass
class Spec:
    """What :func:`issue` puts in a certificate (defaults: a valid JPKI-like sign EE)."""

    subject: x509.Name | None = None
    key_usage: x509.KeyUsage | None = SIGN_KU
    basic_constraints: x509.BasicConstraints | None = None
    eku: Sequence[x509.ObjectIdentifier] | None = None
    policies: Sequence[x509.ObjectIdentifier] = (SIGN_POLICY_OID,)
    san: x509.ExtensionType | None = None
    holder: bool = True
    not_before: dt.datetime = NOW - dt.timedelta(days=30)
    not_after: dt.datetime = NOW + dt.timedelta(days=365)
    extra: Sequence[tuple[x509.ExtensionType, bool]] = ()
    aki: bytes | None = None  # override the AuthorityKeyIdentifier
    crl_dp: x509.Name | None = None
    hash_algorithm: hashes.HashAlgorithm | None = None
    serial: int | None = None


def issue(issuer: Authority, key: rsa.RSAPrivateKey, spec: Spec | None = None,
          *, signing_key: rsa.RSAPrivateKey | None = None) -> x509.Certificate:
    """A certificate for ``key`` issued by ``issuer`` (or signed by ``signing_key`` while
    naming ``issuer``: the "wrong issuer" case)."""
    spec = spec or Spec()
    builder = (
        x509.CertificateBuilder()
        .subject_name(spec.subject or name("end entity"))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(spec.serial or x509.random_serial_number())
        .not_valid_before(spec.not_before)
        .not_valid_after(spec.not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    aki = spec.aki
    if aki is None:
        aki = x509.SubjectKeyIdentifier.from_public_key(issuer.cert.public_key()).digest
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier(aki, None, None), False)
    if spec.key_usage is not None:
        builder = builder.add_extension(spec.key_usage, True)
    if spec.basic_constraints is not None:
        builder = builder.add_extension(spec.basic_constraints, True)
    if spec.eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(spec.eku)), False)
    if spec.policies:
        builder = builder.add_extension(x509.CertificatePolicies(
            [x509.PolicyInformation(p, None) for p in spec.policies]), True)
    if spec.san is not None:
        builder = builder.add_extension(spec.san, False)
    elif spec.holder:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(DEFAULT_HOLDER.other_names()), False)
    if spec.crl_dp is not None:
        builder = builder.add_extension(x509.CRLDistributionPoints(
            [x509.DistributionPoint([x509.DirectoryName(spec.crl_dp)], None, None, None)]),
            False)
    for ext, critical in spec.extra:
        builder = builder.add_extension(ext, critical)
    return builder.sign(signing_key or issuer.key, spec.hash_algorithm or hashes.SHA256())


def make_root(label: str, subject: x509.Name | None = None, *,
              key: rsa.RSAPrivateKey | None = None,
              not_before: dt.datetime = NOW - dt.timedelta(days=365),
              not_after: dt.datetime = NOW + dt.timedelta(days=3650)) -> Authority:
    """A self-signed CA (KeyUsage keyCertSign, BasicConstraints CA)."""
    key = key or fresh_key(label)
    subject = subject or name(f"{label} root")
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(CA_KU, True)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .add_extension(ski, False)
        .sign(key, hashes.SHA256())
    )
    return Authority(cert, key)


def ca_spec(**changes: object) -> Spec:
    """A Spec for an intermediate CA."""
    spec = Spec(key_usage=CA_KU, basic_constraints=x509.BasicConstraints(ca=True,
                                                                         path_length=None),
                policies=(), holder=False, subject=name("intermediate CA"))
    for key, value in changes.items():
        setattr(spec, key, value)
    return spec


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


# --- CRLs ------------------------------------------------------------------------------------


def make_crl(issuer: Authority, revoked: Sequence[int] = (), *,
             last_update: dt.datetime | None = None, next_update: dt.datetime | None = None,
             signing_key: rsa.RSAPrivateKey | None = None,
             revocation_date: dt.datetime | None = None) -> x509.CertificateRevocationList:
    last = last_update or NOW - dt.timedelta(hours=1)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(last)
        .next_update(next_update or NOW + dt.timedelta(days=1))
        .add_extension(x509.CRLNumber(1), False)
    )
    for serial in revoked:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(revocation_date or NOW - dt.timedelta(days=2))
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), False)
            .build()
        )
        builder = builder.add_revoked_certificate(entry)
    return builder.sign(signing_key or issuer.key, hashes.SHA256())


def crl_der(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.DER)


# --- OCSP ------------------------------------------------------------------------------------


@dataclass
class OcspAnswer:
    """How the test responder answers (changed by tests between requests)."""

    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD
    signer_cert: x509.Certificate | None = None  # default: the issuer itself
    signer_key: rsa.RSAPrivateKey | None = None
    include_certs: bool = False
    this_update: dt.datetime | None = None
    next_update: dt.datetime | None = None
    echo_nonce: bool = True
    nonce_override: bytes | None = None
    error: ocsp.OCSPResponseStatus | None = None
    revocation_time: dt.datetime | None = None


class OcspResponder:
    """An OCSP responder for certificates issued by ``issuer``, answering per ``answer``."""

    def __init__(self, issuer: Authority, certs: Sequence[x509.Certificate]) -> None:
        self.issuer = issuer
        self.certs = {c.serial_number: c for c in certs}
        self.answer = OcspAnswer()
        self.requests = 0

    def respond(self, request_der: bytes) -> bytes:
        self.requests += 1
        answer = self.answer
        if answer.error is not None:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(answer.error).public_bytes(
                serialization.Encoding.DER)
        request = ocsp.load_der_ocsp_request(request_der)
        cert = self.certs.get(request.serial_number)
        this_update = answer.this_update or NOW - dt.timedelta(minutes=1)
        next_update = answer.next_update or NOW + dt.timedelta(hours=1)
        signer_cert = answer.signer_cert or self.issuer.cert
        signer_key = answer.signer_key or self.issuer.key
        if cert is None:
            # Answer by hash so that an unknown serial still gets a well-formed answer.
            builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
                request.issuer_name_hash, request.issuer_key_hash, request.serial_number,
                request.hash_algorithm, ocsp.OCSPCertStatus.UNKNOWN, this_update,
                next_update, None, None)
        else:
            status = answer.status
            revoked = status is ocsp.OCSPCertStatus.REVOKED
            builder = ocsp.OCSPResponseBuilder().add_response(
                cert, self.issuer.cert, request.hash_algorithm, status, this_update,
                next_update,
                (answer.revocation_time or NOW - dt.timedelta(days=1)) if revoked else None,
                x509.ReasonFlags.key_compromise if revoked else None)
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, signer_cert)
        if answer.include_certs:
            builder = builder.certificates([signer_cert])
        if answer.echo_nonce:
            try:
                nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
            except x509.ExtensionNotFound:
                nonce = None
            if answer.nonce_override is not None:
                nonce = answer.nonce_override
            if nonce is not None:
                builder = builder.add_extension(x509.OCSPNonce(nonce), False)
        response = builder.sign(signer_key, hashes.SHA256())
        return response.public_bytes(serialization.Encoding.DER)


@contextmanager
def serve_ocsp(responder: Callable[[bytes], bytes]) -> Iterator[str]:
    """Serve ``responder`` over HTTP on 127.0.0.1 (a free port); yields the URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = responder(self.rfile.read(length))
            self.send_response(200)
            self.send_header("Content-Type", "application/ocsp-response")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A short poll interval makes shutdown() return quickly at the end of each test.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/ocsp"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def ocsp_signer_spec(**changes: object) -> Spec:
    """A delegated OCSP responder certificate (EKU OCSPSigning)."""
    spec = Spec(key_usage=AUTH_KU, eku=[ExtendedKeyUsageOID.OCSP_SIGNING], policies=(),
                holder=False, subject=name("OCSP responder"))
    for key, value in changes.items():
        setattr(spec, key, value)
    return spec
