"""Hostile input to the verifier (issue 11): each mutation the issue found leaking a foreign
exception, the hostile OCSP peers (garbled status line, byte drip, redirect) on 127.0.0.1,
and the trust details a careful verifier enforces. Every case expects a typed
:class:`~mynaid.errors.MynaidError` with its reason."""

from __future__ import annotations

import base64
import datetime as dt
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from asn1crypto import x509 as a509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mynaid import cms
from mynaid.challenge import ChallengeResponse
from mynaid.errors import MynaidError, ParseError
from mynaid.trust.anchors import PinnedRoot, fingerprint
from mynaid.trust.der import check_der
from mynaid.trust.errors import Reason, VerificationError
from mynaid.trust.path import CertificateRole, ValidationOptions, validate_path
from mynaid.trust.revocation import CrlSource, OcspChecker, RevocationChecker, RevocationStatus
from tests.trust_pki import (
    AUTH_KU,
    NOW,
    Authority,
    OcspResponder,
    Spec,
    ca_spec,
    fresh_key,
    issue,
    make_crl,
    ocsp_signer_spec,
    root,
    trust,
)

CONTENT = b"hostile input tests\n"


@pytest.fixture(scope="module")
def signer() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = fresh_key("hostile-ee")
    return key, issue(root("sign"), key)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _typed(call: Callable[[], object]) -> MynaidError:
    """Run ``call``; it must fail with a mynaid error (anything else fails the test)."""
    try:
        call()
    except MynaidError as exc:
        return exc
    raise AssertionError("accepted hostile input")


def _patch(data: bytes, old: bytes, new: bytes, *, last: bool = False) -> bytes:
    at = data.rfind(old) if last else data.find(old)
    assert at >= 0, old
    return data[:at] + new + data[at + len(old):]


# --- the mutations of issue 11 -----------------------------------------------------------------


def test_signer_identifier_issuer_byte_ff(signer: tuple[rsa.RSAPrivateKey,
                                                        x509.Certificate]) -> None:
    der = cms.sign(CONTENT, *signer)
    # The last copy of the issuer's DN is the one in the SignerInfo's sid (unsigned); its
    # last byte is inside the CommonName string.
    issuer = signer[1].issuer.public_bytes()
    mutated = _patch(der, issuer, issuer[:-1] + b"\xff", last=True)
    error = _typed(lambda: cms.verify(mutated, trust()))
    assert error.reason == Reason.SIGNER_CERT_MISMATCH.value
    # The same byte in the embedded certificate's subject: refused while parsing.
    subject = signer[1].subject.public_bytes()
    mutated = _patch(der, subject, subject[:-1] + b"\xff")
    assert _typed(lambda: cms.verify(mutated, trust())).reason == "malformed-certificate"


def test_certificate_version_6(signer: tuple[rsa.RSAPrivateKey, x509.Certificate]) -> None:
    der = cms.sign(CONTENT, *signer)
    mutated = _patch(der, b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x05")
    assert _typed(lambda: cms.verify(mutated, trust())).reason == "malformed-certificate"
    bad_cert = _patch(_der(signer[1]), b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x05")
    from mynaid.trust.certs import load_certificate

    with pytest.raises(VerificationError) as info:
        load_certificate(bad_cert)
    assert info.value.reason is Reason.MALFORMED_CERTIFICATE


def test_spki_algorithm_changed(signer: tuple[rsa.RSAPrivateKey, x509.Certificate]) -> None:
    rsa_oid = bytes.fromhex("06092A864886F70D010101")
    der = cms.sign(CONTENT, *signer)
    mutated = _patch(der, rsa_oid, rsa_oid[:-1] + b"\x7f")
    assert _typed(lambda: cms.verify(mutated, trust())).reason == "malformed-certificate"
    cert = x509.load_der_x509_certificate(_patch(_der(signer[1]), rsa_oid,
                                                 rsa_oid[:-1] + b"\x7f"))
    assert _typed(lambda: validate_path(cert, trust())).reason == "malformed-certificate"


def test_duplicated_extension(signer: tuple[rsa.RSAPrivateKey, x509.Certificate]) -> None:
    parsed = a509.Certificate.load(_der(signer[1]))
    extensions = parsed["tbs_certificate"]["extensions"]
    parsed["tbs_certificate"]["extensions"] = a509.Extensions([*extensions, extensions[0]])
    cert = x509.load_der_x509_certificate(parsed.dump(force=True))
    assert _typed(lambda: validate_path(cert, trust())).reason == "malformed-certificate"


def test_subject_attribute_tag_0c_to_4c(signer: tuple[rsa.RSAPrivateKey,
                                                      x509.Certificate]) -> None:
    raw = _der(signer[1])
    mutated = _patch(raw, b"\x0c\x0aend entity", b"\x4c\x0aend entity")
    try:
        cert = x509.load_der_x509_certificate(mutated)
    except ValueError:
        return  # refused at load: nothing lazy left to leak
    assert isinstance(_typed(lambda: validate_path(cert, trust())), VerificationError)
    response = ChallengeResponse(nonce=b"\x00" * 16, context="c", signature=b"",
                                 certificate=signer[1]).as_dict()
    response["certificate"] = base64.b64encode(mutated).decode()
    assert isinstance(_typed(lambda: ChallengeResponse.from_dict(response)),
                      VerificationError)


def test_challenge_response_from_dict_garbage() -> None:
    for data in ({"nonce": "zz"}, {"nonce": "00", "context": "c", "signature": "!",
                                   "certificate": "AA=="}, [], {"nonce": None}):
        assert _typed(lambda d=data: ChallengeResponse.from_dict(d)).reason == "malformed"  # type: ignore[misc]


def test_card_certificate_is_parsed_completely(signer: tuple[rsa.RSAPrivateKey,
                                                             x509.Certificate]) -> None:
    from mynaid.trust.certs import load_certificate

    bad = _patch(_der(signer[1]), b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x05")
    assert _typed(lambda: load_certificate(bad)).reason == "malformed-certificate"
    assert load_certificate(_der(signer[1])) == signer[1]


# --- DER discipline, several matching certificates, role -------------------------------------


def test_indefinite_and_non_minimal_lengths_are_not_der(signer: tuple[
        rsa.RSAPrivateKey, x509.Certificate]) -> None:
    der = cms.sign(CONTENT, *signer)
    # Non-minimal: the outer length re-encoded with one more octet.
    header = der[1]
    assert header & 0x80
    count = header & 0x7F
    longer = der[:1] + bytes([0x80 | (count + 1), 0]) + der[2:]
    assert _typed(lambda: cms.verify(longer, trust())).reason == "not-der"
    # Indefinite: 30 80 ... 00 00.
    body = der[2 + count:]
    indefinite = b"\x30\x80" + body + b"\x00\x00"
    assert _typed(lambda: cms.verify(indefinite, trust())).reason == "not-der"
    check_der(der)


def test_each_matching_certificate_is_tried(signer: tuple[rsa.RSAPrivateKey,
                                                          x509.Certificate]) -> None:
    key, cert = signer
    # A planted certificate with the same issuer and serial but another key comes first.
    planted = issue(root("sign"), fresh_key("hostile-planted"), Spec(serial=cert.serial_number))
    der = cms.sign(CONTENT, key, cert, chain=[])
    from asn1crypto import cms as acms

    info = acms.ContentInfo.load(der)
    info["content"]["certificates"] = [
        acms.CertificateChoices({"certificate": a509.Certificate.load(_der(planted))}),
        acms.CertificateChoices({"certificate": a509.Certificate.load(_der(cert))})]
    result = cms.verify(info.dump(force=True), trust())
    assert result.signer == cert


def test_role_is_checked(signer: tuple[rsa.RSAPrivateKey, x509.Certificate]) -> None:
    key = fresh_key("hostile-auth")
    from mynaid.emulator.testpki import AUTH_POLICY_OID

    auth_cert = issue(root("auth"), key, Spec(key_usage=AUTH_KU, policies=(AUTH_POLICY_OID,),
                                              eku=[x509.ExtendedKeyUsageOID.CLIENT_AUTH],
                                              holder=False))
    der = cms.sign(CONTENT, key, auth_cert)
    with pytest.raises(VerificationError) as info:
        cms.verify(der, trust(), required_role=CertificateRole.SIGN)
    assert info.value.reason is Reason.ROLE_MISMATCH
    assert cms.verify(der, trust(), required_role=CertificateRole.AUTH).role \
        is CertificateRole.AUTH
    assert cms.verify(cms.sign(CONTENT, *signer), trust(),
                      required_role=CertificateRole.SIGN).role is CertificateRole.SIGN


def test_root_purpose_must_match_role(monkeypatch: pytest.MonkeyPatch) -> None:
    from mynaid.emulator.testpki import AUTH_POLICY_OID

    # Pretend the test sign root is the pinned J-LIS signature root.
    sign_root = root("sign").cert
    pinned = (PinnedRoot("sign_test", "sign", "", "", fingerprint(sign_root)),)
    monkeypatch.setattr("mynaid.trust.anchors.JLIS_ROOTS", pinned)
    key = fresh_key("hostile-auth-under-sign")
    cert = issue(root("sign"), key, Spec(key_usage=AUTH_KU, policies=(AUTH_POLICY_OID,),
                                         eku=[x509.ExtendedKeyUsageOID.CLIENT_AUTH],
                                         holder=False))
    with pytest.raises(VerificationError) as info:
        validate_path(cert, trust("sign"))
    assert info.value.reason is Reason.ROOT_PURPOSE_MISMATCH
    good = issue(root("sign"), fresh_key("hostile-ee"))
    assert validate_path(good, trust("sign")).jlis_root == pinned[0]


def test_non_critical_name_constraints_are_refused() -> None:
    constraints = x509.NameConstraints(
        permitted_subtrees=[x509.DirectoryName(x509.Name([
            x509.NameAttribute(x509.NameOID.COUNTRY_NAME, "US")]))], excluded_subtrees=None)
    ca_key = fresh_key("hostile-nc-ca")
    ca_cert = issue(root("sign"), ca_key, ca_spec(extra=[(constraints, False)]))
    ca = Authority(ca_cert, ca_key)
    leaf = issue(ca, fresh_key("hostile-ee"))
    with pytest.raises(VerificationError) as info:
        validate_path(leaf, trust("sign"), intermediates=[ca_cert])
    assert info.value.reason is Reason.NAME_CONSTRAINTS_UNSUPPORTED


# --- CRL and OCSP trust details ----------------------------------------------------------------


def _crl_without_next_update(issuer: Authority, last: dt.datetime
                             ) -> x509.CertificateRevocationList:
    from asn1crypto import crl as acrl

    crl = make_crl(issuer)
    parsed = acrl.CertificateList.load(crl.public_bytes(serialization.Encoding.DER))
    tbs = parsed["tbs_cert_list"]
    tbs["this_update"] = acrl.Time({"utc_time": last})
    tbs["next_update"] = acrl.Time({"utc_time": last})
    del tbs["next_update"]
    from cryptography.hazmat.primitives.asymmetric import padding

    tbs_der = tbs.dump(force=True)
    signature = issuer.key.sign(tbs_der, padding.PKCS1v15(), hashes.SHA256())
    parsed["signature"] = signature
    return x509.load_der_x509_crl(parsed.dump(force=True))


def test_crl_without_next_update_goes_stale() -> None:
    ca = root("sign")
    cert = issue(ca, fresh_key("hostile-ee"))
    old = _crl_without_next_update(ca, (NOW - dt.timedelta(days=30)).replace(microsecond=0))
    assert old.next_update_utc is None
    source = CrlSource()
    source.add_crl(old)
    result = source.check(cert, ca.cert)
    assert (result.status, result.reason) == (RevocationStatus.INDETERMINATE,
                                              Reason.REVOCATION_STALE)
    source.max_age = dt.timedelta(days=60)
    assert source.check(cert, ca.cert).status is RevocationStatus.GOOD


def test_crl_issuer_needs_crl_sign() -> None:
    ca_key = fresh_key("hostile-nocrlsign")
    ku = x509.KeyUsage(digital_signature=False, content_commitment=False,
                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                       key_cert_sign=True, crl_sign=False, encipher_only=False,
                       decipher_only=False)
    ca = Authority(issue(root("sign"), ca_key, ca_spec(key_usage=ku)), ca_key)
    cert = issue(ca, fresh_key("hostile-ee"))
    source = CrlSource()
    source.add_crl(make_crl(ca))
    result = source.check(cert, ca.cert)
    assert result.reason is Reason.CRL_ISSUER_NOT_ALLOWED


def test_delegated_responder_checked_at_the_validation_time() -> None:
    ca = root("sign")
    cert = issue(ca, fresh_key("hostile-ee"))
    key = fresh_key("ocsp-responder")
    # Expired before the validation time: refused even though the wall clock is irrelevant.
    expired = issue(ca, key, ocsp_signer_spec(not_before=NOW - dt.timedelta(days=20),
                                              not_after=NOW - dt.timedelta(days=10)))
    responder = OcspResponder(ca, [cert])
    responder.answer.signer_cert = expired
    responder.answer.signer_key = key
    responder.answer.include_certs = True
    checker = OcspChecker(url="http://127.0.0.1/", fetch=lambda u, b, t: responder.respond(b))
    assert checker.check(cert, ca.cert).reason is Reason.OCSP_UNAUTHORIZED_RESPONDER
    # Valid at a past validation time: accepted then (now= for freshness of the answer).
    at = NOW - dt.timedelta(days=15)
    result = checker.check(cert, ca.cert, at, now=NOW)
    assert result.status is RevocationStatus.GOOD
    # A delegated responder with a KeyUsage lacking digitalSignature is refused.
    ku = x509.KeyUsage(digital_signature=False, content_commitment=True,
                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                       key_cert_sign=False, crl_sign=False, encipher_only=False,
                       decipher_only=False)
    responder.answer.signer_cert = issue(ca, key, ocsp_signer_spec(key_usage=ku))
    assert checker.check(cert, ca.cert).reason is Reason.OCSP_UNAUTHORIZED_RESPONDER
    # An unknown critical extension in the responder certificate is refused.
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    responder.answer.signer_cert = issue(ca, key, ocsp_signer_spec(extra=[(odd, True)]))
    assert checker.check(cert, ca.cert).reason is Reason.OCSP_UNAUTHORIZED_RESPONDER


# --- hostile OCSP peers on 127.0.0.1 ----------------------------------------------------------


@contextmanager
def _raw_server(handler: Callable[[socket.socket], None]) -> Iterator[tuple[str, list[int]]]:
    """A one-thread TCP server on 127.0.0.1 running ``handler`` per connection; yields the
    URL and a list the handler can append counts to. Stopped (and joined) by the test."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.1)
    stop = threading.Event()
    notes: list[int] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(65536)
                    handler(conn)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/ocsp", notes
    finally:
        stop.set()
        thread.join(timeout=10)
        listener.close()


def _crl_fallback() -> tuple[x509.Certificate, Authority, CrlSource]:
    ca = root("sign")
    cert = issue(ca, fresh_key("hostile-ee"))
    source = CrlSource()
    source.add_crl(make_crl(ca))
    return cert, ca, source


def test_garbled_status_line_falls_back_to_crl() -> None:
    cert, ca, source = _crl_fallback()
    with _raw_server(lambda c: c.sendall(b"HTXP/9 banana\r\n\r\n")) as (url, _):
        ocsp_result = OcspChecker(url=url, timeout=5).check(cert, ca.cert)
        assert ocsp_result.reason is Reason.REVOCATION_UNREACHABLE
        result = RevocationChecker(ocsp=OcspChecker(url=url, timeout=5),
                                   crls=source).check(cert, ca.cert)
    assert (result.status, result.source) == (RevocationStatus.GOOD, "crl")


def test_one_deadline_for_the_whole_exchange() -> None:
    cert, ca, _ = _crl_fallback()
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 4000\r\n\r\n" + b"\x00" * 4000
    stopped = threading.Event()

    def drip(conn: socket.socket) -> None:
        sent = 0
        # A byte every 20 ms: each read is far within a 0.3 s per-read timeout, the whole
        # answer would take 80 s.
        for byte in answer:
            if stopped.wait(0.02):
                break
            conn.sendall(bytes([byte]))
            sent += 1
        notes.append(sent)

    with _raw_server(drip) as (url, notes):
        result = OcspChecker(url=url, timeout=0.3).check(cert, ca.cert)
        stopped.set()
    assert result.reason is Reason.REVOCATION_UNREACHABLE
    assert "longer than" in result.message
    assert notes and notes[0] < len(answer)  # the client hung up, not the server


def test_redirects_are_not_followed() -> None:
    cert, ca, _ = _crl_fallback()
    good = []

    def elsewhere(conn: socket.socket) -> None:
        good.append(1)
        body = b"\x30\x03\x0a\x01\x00"
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    with _raw_server(elsewhere) as (target, _), _raw_server(
            lambda c: c.sendall(b"HTTP/1.1 302 Found\r\nLocation: " + target.encode()
                                + b"\r\nContent-Length: 0\r\n\r\n")) as (url, _):
        result = OcspChecker(url=url, timeout=5).check(cert, ca.cert)
    assert result.reason is Reason.REVOCATION_UNREACHABLE
    assert "302" in result.message
    assert not good


def test_garbage_crl_file_is_an_input_error(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    bad = tmp_path / "bad.crl"
    bad.write_bytes(b"\x30\x03\x02\x01\x01")
    with pytest.raises(ParseError):
        CrlSource(loose=[bad])._candidates(issue(root("sign"), fresh_key("hostile-ee")))
        from mynaid.trust.revocation import _load_crls

        _load_crls(bad.read_bytes(), str(bad))


def test_options_default_role_unchanged() -> None:
    assert ValidationOptions().role is None
