"""Revocation (mynaid.trust.revocation): CRL files mapped from X.500 distribution points,
and OCSP against a responder on 127.0.0.1 - good, revoked, unknown, stale, wrong responder,
unreachable, each with its own result."""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509 import ocsp

from mynaid import cms
from mynaid.trust.errors import Reason, VerificationError
from mynaid.trust.revocation import (
    CrlSource,
    OcspChecker,
    RevocationChecker,
    RevocationStatus,
)
from tests.trust_pki import (
    NOW,
    Authority,
    OcspResponder,
    Spec,
    crl_der,
    fresh_key,
    issue,
    make_crl,
    make_root,
    name,
    ocsp_signer_spec,
    root,
    serve_ocsp,
    trust,
)

DP = x509.Name([
    x509.NameAttribute(x509.NameOID.COUNTRY_NAME, "JP"),
    x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, "mynaid trust tests"),
    x509.NameAttribute(x509.NameOID.ORGANIZATIONAL_UNIT_NAME, "CRL Distribution Points"),
    x509.NameAttribute(x509.NameOID.ORGANIZATIONAL_UNIT_NAME, "Tokyo-to"),
    x509.NameAttribute(x509.NameOID.COMMON_NAME, "Chiyoda-ku CRLDP"),
])


@pytest.fixture(scope="module")
def signer() -> tuple[Authority, x509.Certificate]:
    """The test sign root and a certificate it issued with a DirName CRL DP."""
    key = fresh_key("revocation-ee")
    return root("sign"), issue(root("sign"), key, Spec(crl_dp=DP))


# --- CRLs ------------------------------------------------------------------------------------


def _mapped(tmp_path: Path, crl: x509.CertificateRevocationList) -> CrlSource:
    """A source built from a JSON mapping file, as the CLI's --crl-map reads it."""
    (tmp_path / "crls").mkdir(exist_ok=True)
    (tmp_path / "crls" / "chiyoda.crl").write_bytes(crl_der(crl))
    config = {"distribution_points": [{"name": DP.rfc4514_string(),
                                       "file": "crls/chiyoda.crl"}]}
    (tmp_path / "crl-map.json").write_text(json.dumps(config), encoding="utf-8")
    return CrlSource.load_config(tmp_path / "crl-map.json")


def test_crl_good_via_distribution_point_mapping(tmp_path: Path, signer: tuple[
        Authority, x509.Certificate]) -> None:
    ca, cert = signer
    result = _mapped(tmp_path, make_crl(ca)).check(cert, ca.cert)
    assert result.status is RevocationStatus.GOOD
    assert result.source == "crl" and result.reason is None


def test_crl_revoked(tmp_path: Path, signer: tuple[Authority, x509.Certificate]) -> None:
    ca, cert = signer
    result = _mapped(tmp_path, make_crl(ca, [cert.serial_number])).check(cert, ca.cert)
    assert result.status is RevocationStatus.REVOKED
    assert result.reason is Reason.REVOKED
    assert result.revocation_reason == "keyCompromise"
    # Revoked after the time of interest: good at that time.
    earlier = NOW - dt.timedelta(days=5)
    result = _mapped(tmp_path, make_crl(ca, [cert.serial_number], last_update=earlier
                                        - dt.timedelta(hours=1), next_update=NOW
                                        + dt.timedelta(days=1))).check(cert, ca.cert, earlier)
    assert result.status is RevocationStatus.GOOD


def test_crl_stale(tmp_path: Path, signer: tuple[Authority, x509.Certificate]) -> None:
    ca, cert = signer
    old = make_crl(ca, last_update=NOW - dt.timedelta(days=10),
                   next_update=NOW - dt.timedelta(days=3))
    result = _mapped(tmp_path, old).check(cert, ca.cert)
    assert result.status is RevocationStatus.INDETERMINATE
    assert result.reason is Reason.REVOCATION_STALE
    # A stale CRL that lists the certificate still proves the revocation.
    old_revoked = make_crl(ca, [cert.serial_number], last_update=NOW - dt.timedelta(days=1),
                           next_update=NOW - dt.timedelta(hours=1),
                           revocation_date=NOW - dt.timedelta(days=2))
    assert _mapped(tmp_path, old_revoked).check(cert, ca.cert).status is \
        RevocationStatus.REVOKED


def test_crl_signed_by_another_key_of_the_same_name(tmp_path: Path, signer: tuple[
        Authority, x509.Certificate]) -> None:
    ca, cert = signer
    impostor = make_root("crl-impostor", ca.cert.subject)
    result = _mapped(tmp_path, make_crl(impostor)).check(cert, ca.cert)
    assert result.status is RevocationStatus.INDETERMINATE
    assert result.reason is Reason.REVOCATION_BAD_SIGNATURE


def test_crl_unavailable_and_folder_fallback(tmp_path: Path, signer: tuple[
        Authority, x509.Certificate]) -> None:
    ca, cert = signer
    empty = CrlSource()
    assert empty.check(cert, ca.cert).reason is Reason.REVOCATION_UNAVAILABLE
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "root.crl").write_bytes(crl_der(make_crl(ca, [cert.serial_number])))
    (folder / "README").write_text("not a CRL")
    loose = CrlSource()
    loose.add_path(folder)
    assert loose.check(cert, ca.cert).status is RevocationStatus.REVOKED
    # A CRL of another issuer does not count.
    other = CrlSource()
    other.add_crl(make_crl(root("auth")))
    assert other.check(cert, ca.cert).reason is Reason.REVOCATION_UNAVAILABLE


def test_crl_pem_file_and_uri_mapping(tmp_path: Path, signer: tuple[
        Authority, x509.Certificate]) -> None:
    from cryptography.hazmat.primitives import serialization

    ca, _ = signer
    uri = "http://crl.example.invalid/root.crl"
    cert = issue(ca, fresh_key("revocation-ee"), Spec(extra=[(x509.CRLDistributionPoints([
        x509.DistributionPoint([x509.UniformResourceIdentifier(uri)], None, None, None)]),
        False)]))
    crl = make_crl(ca, [cert.serial_number])
    path = tmp_path / "root.pem"
    path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    source = CrlSource()
    source.map_distribution_point(uri, path)
    assert source.check(cert, ca.cert).status is RevocationStatus.REVOKED


def test_cms_with_crl_revocation(tmp_path: Path) -> None:
    ca = root("sign")
    key = fresh_key("revocation-cms")
    cert = issue(ca, key, Spec(crl_dp=DP))
    signed = cms.sign(b"data", key, cert)
    good = RevocationChecker(crls=_mapped(tmp_path, make_crl(ca)))
    result = cms.verify(signed, trust(), revocation=good)
    assert [r.status for r in result.revocation] == [RevocationStatus.GOOD]
    revoked = RevocationChecker(crls=_mapped(tmp_path, make_crl(ca, [cert.serial_number])))
    with pytest.raises(VerificationError) as info:
        cms.verify(signed, trust(), revocation=revoked)
    assert info.value.reason is Reason.REVOKED


def test_cli_verify_with_crl_map(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mynaid.cli.main import main
    from tests.trust_pki import PKI_DIR

    ca = root("sign")
    key = fresh_key("revocation-cms")
    cert = issue(ca, key, Spec(crl_dp=DP))
    (tmp_path / "sig.p7s").write_bytes(cms.sign(b"data", key, cert))
    _mapped(tmp_path, make_crl(ca, [cert.serial_number]))
    argv = ["--json", "verify", str(tmp_path / "sig.p7s"), "--trust",
            str(PKI_DIR / "sign-root.pem"), "--crl-map", str(tmp_path / "crl-map.json")]
    assert main(argv) == 6
    assert json.loads(capsys.readouterr().out)["reason"] == "revoked"
    _mapped(tmp_path, make_crl(ca))
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["revocation"][0]["status"] == "good"


# --- OCSP ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def responder(signer: tuple[Authority, x509.Certificate]) -> OcspResponder:
    ca, cert = signer
    return OcspResponder(ca, [cert])


@pytest.fixture
def ocsp_url(responder: OcspResponder) -> Iterator[str]:
    from tests.trust_pki import OcspAnswer

    responder.answer = OcspAnswer()
    with serve_ocsp(responder.respond) as url:
        yield url


def _check(url: str, signer: tuple[Authority, x509.Certificate], **options: object
           ) -> tuple[RevocationStatus, Reason | None]:
    ca, cert = signer
    result = OcspChecker(url=url, timeout=5, **options).check(  # type: ignore[arg-type]
        cert, ca.cert)
    return result.status, result.reason


def test_ocsp_good(ocsp_url: str, responder: OcspResponder,
                   signer: tuple[Authority, x509.Certificate]) -> None:
    before = responder.requests
    assert _check(ocsp_url, signer) == (RevocationStatus.GOOD, None)
    assert responder.requests == before + 1


def test_ocsp_revoked(ocsp_url: str, responder: OcspResponder,
                      signer: tuple[Authority, x509.Certificate]) -> None:
    responder.answer.status = ocsp.OCSPCertStatus.REVOKED
    assert _check(ocsp_url, signer) == (RevocationStatus.REVOKED, Reason.REVOKED)


def test_ocsp_unknown(ocsp_url: str, responder: OcspResponder,
                      signer: tuple[Authority, x509.Certificate]) -> None:
    ca, _ = signer
    stranger = issue(ca, fresh_key("revocation-ee"))  # not in the responder's database
    result = OcspChecker(url=ocsp_url, timeout=5).check(stranger, ca.cert)
    assert (result.status, result.reason) == (RevocationStatus.UNKNOWN,
                                              Reason.REVOCATION_UNKNOWN)


def test_ocsp_stale(ocsp_url: str, responder: OcspResponder,
                    signer: tuple[Authority, x509.Certificate]) -> None:
    responder.answer.this_update = NOW - dt.timedelta(days=3)
    responder.answer.next_update = NOW - dt.timedelta(days=2)
    assert _check(ocsp_url, signer) == (RevocationStatus.INDETERMINATE,
                                        Reason.REVOCATION_STALE)


def test_ocsp_wrong_responder(ocsp_url: str, responder: OcspResponder,
                              signer: tuple[Authority, x509.Certificate]) -> None:
    # Signed by another CA (which includes its certificate): a valid signature without
    # authority over this issuer.
    responder.answer.signer_cert = root("auth").cert
    responder.answer.signer_key = root("auth").key
    responder.answer.include_certs = True
    assert _check(ocsp_url, signer) == (RevocationStatus.INDETERMINATE,
                                        Reason.OCSP_UNAUTHORIZED_RESPONDER)
    # A responder certificate from the right issuer but without id-kp-OCSPSigning.
    ca, _ = signer
    key = fresh_key("ocsp-responder")
    responder.answer.signer_cert = issue(ca, key, ocsp_signer_spec(eku=None))
    responder.answer.signer_key = key
    assert _check(ocsp_url, signer)[1] is Reason.OCSP_UNAUTHORIZED_RESPONDER
    # Named by key but not included: nobody known signed it.
    responder.answer.include_certs = False
    assert _check(ocsp_url, signer)[1] is Reason.OCSP_UNAUTHORIZED_RESPONDER


def test_ocsp_delegated_and_locally_trusted_responders(
        ocsp_url: str, responder: OcspResponder,
        signer: tuple[Authority, x509.Certificate]) -> None:
    ca, _ = signer
    key = fresh_key("ocsp-responder")
    delegated = issue(ca, key, ocsp_signer_spec())
    responder.answer.signer_cert = delegated
    responder.answer.signer_key = key
    responder.answer.include_certs = True
    assert _check(ocsp_url, signer) == (RevocationStatus.GOOD, None)
    local = make_root("local-responder", name("local OCSP"))
    responder.answer.signer_cert = local.cert
    responder.answer.signer_key = local.key
    responder.answer.include_certs = False
    assert _check(ocsp_url, signer)[1] is Reason.OCSP_UNAUTHORIZED_RESPONDER
    assert _check(ocsp_url, signer, trusted_responders=[local.cert]) == (
        RevocationStatus.GOOD, None)


def test_ocsp_nonce_and_error_status(ocsp_url: str, responder: OcspResponder,
                                     signer: tuple[Authority, x509.Certificate]) -> None:
    responder.answer.nonce_override = b"\x01" * 16
    assert _check(ocsp_url, signer)[1] is Reason.OCSP_NONCE_MISMATCH
    responder.answer.nonce_override = None
    responder.answer.echo_nonce = False
    assert _check(ocsp_url, signer) == (RevocationStatus.GOOD, None)
    assert _check(ocsp_url, signer, require_nonce=True)[1] is Reason.OCSP_NONCE_MISMATCH
    responder.answer.error = ocsp.OCSPResponseStatus.TRY_LATER
    assert _check(ocsp_url, signer)[1] is Reason.OCSP_ERROR_RESPONSE


def test_ocsp_bad_signature(signer: tuple[Authority, x509.Certificate],
                            responder: OcspResponder) -> None:
    from tests.trust_pki import OcspAnswer

    responder.answer = OcspAnswer()

    def corrupt(request: bytes) -> bytes:
        raw = bytearray(responder.respond(request))
        raw[-5] ^= 0xFF  # inside the signature BIT STRING, the last field
        return bytes(raw)

    with serve_ocsp(corrupt) as url:
        assert _check(url, signer)[1] is Reason.REVOCATION_BAD_SIGNATURE


def test_ocsp_unreachable(signer: tuple[Authority, x509.Certificate]) -> None:
    # A loopback port that was free a moment ago: the connection is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert _check(f"http://127.0.0.1:{port}/ocsp", signer) == (
        RevocationStatus.INDETERMINATE, Reason.REVOCATION_UNREACHABLE)
    assert _check("ftp://127.0.0.1/ocsp", signer)[1] is Reason.REVOCATION_UNREACHABLE


def test_ocsp_falls_back_to_crl(tmp_path: Path,
                                signer: tuple[Authority, x509.Certificate]) -> None:
    ca, cert = signer
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    checker = RevocationChecker(ocsp=OcspChecker(url=f"http://127.0.0.1:{port}/", timeout=5),
                                crls=_mapped(tmp_path, make_crl(ca)))
    result = checker.check(cert, ca.cert)
    assert (result.status, result.source) == (RevocationStatus.GOOD, "crl")
    assert RevocationChecker().check(cert, ca.cert).reason is Reason.REVOCATION_UNAVAILABLE


def test_cli_verify_with_ocsp(ocsp_url: str, responder: OcspResponder, tmp_path: Path,
                              signer: tuple[Authority, x509.Certificate],
                              capsys: pytest.CaptureFixture[str]) -> None:
    from mynaid.cli.main import main
    from tests.trust_pki import PKI_DIR

    _, cert = signer
    key = fresh_key("revocation-ee")  # the key `signer` was issued for (cached per label)
    (tmp_path / "sig.p7s").write_bytes(cms.sign(b"data", key, cert))
    argv = ["verify", str(tmp_path / "sig.p7s"), "--trust", str(PKI_DIR / "sign-root.pem"),
            "--ocsp", ocsp_url]
    assert main(argv) == 0
    assert "Revocation:  good (ocsp)" in capsys.readouterr().out
    responder.answer.status = ocsp.OCSPCertStatus.REVOKED
    assert main(argv) == 6
    assert "revoked" in capsys.readouterr().err


# --- found in review ---------------------------------------------------------------------------


def test_revocation_listed_only_in_a_later_crl_is_still_found() -> None:
    """Validating at a past time: an older CRL that was current then does not list the
    certificate, but a later one lists it as revoked before that time: revoked."""
    from mynaid.trust.revocation import CrlSource, RevocationStatus

    r = root("sign")
    ee = issue(r, fresh_key("ee-later-crl"))
    at = NOW - dt.timedelta(days=10)
    old = make_crl(r, [], last_update=at - dt.timedelta(days=3),
                   next_update=at + dt.timedelta(days=1))
    new = make_crl(r, [ee.serial_number], last_update=NOW - dt.timedelta(hours=1),
                   revocation_date=at - dt.timedelta(days=1))
    source = CrlSource()
    source.add_crl(old)
    source.add_crl(new)
    assert source.check(ee, r.cert, at).status is RevocationStatus.REVOKED


def test_partitioned_crl_named_relative_to_its_issuer_covers_only_its_partition() -> None:
    from cryptography.hazmat.primitives import hashes

    from mynaid.trust.revocation import CrlSource, RevocationStatus

    r = root("auth")

    def partition(cn: str) -> x509.RelativeDistinguishedName:
        return x509.RelativeDistinguishedName([x509.NameAttribute(x509.NameOID.COMMON_NAME,
                                                                  cn)])

    mine = x509.Name([*r.cert.subject.rdns, partition("Tsukuba-shi CRLDP")])
    ee = issue(r, fresh_key("ee-partition"), Spec(crl_dp=mine))

    def crl_for(cn: str) -> x509.CertificateRevocationList:
        idp = x509.IssuingDistributionPoint(
            full_name=None, relative_name=partition(cn), only_contains_user_certs=False,
            only_contains_ca_certs=False, only_some_reasons=None, indirect_crl=False,
            only_contains_attribute_certs=False)
        return (x509.CertificateRevocationListBuilder().issuer_name(r.cert.subject)
                .last_update(NOW - dt.timedelta(hours=1))
                .next_update(NOW + dt.timedelta(days=1))
                .add_extension(x509.CRLNumber(1), False).add_extension(idp, True)
                .sign(r.key, hashes.SHA256()))

    other = CrlSource()
    other.add_crl(crl_for("Chiyoda-ku CRLDP"))
    assert other.check(ee, r.cert).status is not RevocationStatus.GOOD
    own = CrlSource()
    own.add_crl(crl_for("Tsukuba-shi CRLDP"))
    assert own.check(ee, r.cert).status is RevocationStatus.GOOD
