"""CMS signatures (mynaid.cms): signing with the emulated card, verification, the corpus of
bad signatures (each with its own reason), and interoperability with ``openssl cms``."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from asn1crypto import cms as acms
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from mynaid import cms
from mynaid.cardkey import CardRsaPrivateKey
from mynaid.cli.exitcodes import ExitCode
from mynaid.connect import connect, emulated_card
from mynaid.emulator import EmulatedCard, build_card, default_profile
from mynaid.protocol import CardProtocol
from mynaid.trust.errors import Reason, VerificationError
from mynaid.trust.path import CertificateRole, PolicyKind
from tests.conftest import CliResult, CliRunner
from tests.trust_pki import PKI_DIR, Spec, fresh_key, issue, key_pem, pem, root, trust

# mynaid.connect is the function; the module of the same name, by its full name.
CONNECT_MODULE = importlib.import_module("mynaid.connect")

CONTENT = "契約書 v1: the content to sign\n".encode()
OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")


@pytest.fixture
def card_key(protocol: CardProtocol) -> CardRsaPrivateKey:
    return CardRsaPrivateKey.open(protocol, "sign", "TEST1234")


@pytest.fixture(scope="module")
def software_signer() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A software key with a JPKI-like signature certificate under the test sign root."""
    key = fresh_key("cms-signer")
    return key, issue(root("sign"), key)


# --- round trips with the card ---------------------------------------------------------------


@pytest.mark.parametrize("digest", ["sha256", "sha384", "sha512"])
@pytest.mark.parametrize("detached", [False, True])
def test_card_signature_round_trip(card_key: CardRsaPrivateKey, digest: str,
                                   detached: bool) -> None:
    der = cms.sign(CONTENT, card_key, card_key.certificate, digest=digest, detached=detached)
    result = cms.verify(der, trust(), content=CONTENT if detached else None)
    assert result.role is CertificateRole.SIGN
    assert result.path.policy_kind is PolicyKind.TEST
    assert result.digest_algorithm == digest
    assert result.detached is detached
    assert result.content == CONTENT
    assert result.holder is not None and result.holder.name == "試験\u3000花子"
    assert result.signer == card_key.certificate
    assert result.signing_time is not None
    summary = result.as_dict()
    assert summary["holder"] == result.holder.summary()  # name and address only
    assert "birth_date" not in json.dumps(summary)


def test_pem_and_chain(card_key: CardRsaPrivateKey) -> None:
    from mynaid.cardspec import CertificateSlot

    ca = card_key.session.read_certificate(CertificateSlot.SIGN_CA)
    der = cms.sign(CONTENT, card_key, card_key.certificate, chain=[ca])
    armoured = cms.to_pem(der)
    assert armoured.startswith(b"-----BEGIN CMS-----\n")
    assert cms.verify(armoured, trust()).path.anchor == ca
    # The embedded CA certificate is not trusted by itself being there.
    with pytest.raises(VerificationError) as info:
        cms.verify(der, trust("auth"))
    assert info.value.reason is Reason.UNTRUSTED_ANCHOR


def test_auth_key_signature_has_no_holder(protocol: CardProtocol) -> None:
    key = CardRsaPrivateKey.open(protocol, "auth", "1234")
    result = cms.verify(cms.sign(CONTENT, key, key.certificate), trust())
    assert result.role is CertificateRole.AUTH
    assert result.holder is None


def test_untrusted_by_default(card_key: CardRsaPrivateKey) -> None:
    from mynaid.trust.anchors import TrustStore

    with pytest.raises(VerificationError) as info:
        cms.verify(cms.sign(CONTENT, card_key, card_key.certificate), TrustStore.jpki())
    assert info.value.reason is Reason.UNKNOWN_ISSUER


# --- the corpus of bad signatures ------------------------------------------------------------


def _mutate(der: bytes, change: Callable[[acms.ContentInfo], None]) -> bytes:
    info = acms.ContentInfo.load(der)
    change(info)
    out: bytes = info.dump(force=True)
    return out


def _signer_info(info: acms.ContentInfo) -> acms.SignerInfo:
    return info["content"]["signer_infos"][0]


def _replace_attr(info: acms.ContentInfo, name: str, value: object) -> None:
    si = _signer_info(info)
    attrs = [a for a in si["signed_attrs"] if a["type"].native != name]
    attrs.append(acms.CMSAttribute({"type": name, "values": [value]}))
    si["signed_attrs"] = acms.CMSAttributes(attrs)


def _bad_signatures(key: rsa.RSAPrivateKey, cert: x509.Certificate
                    ) -> dict[str, tuple[bytes, bytes | None, Reason]]:
    good = cms.sign(CONTENT, key, cert)
    detached = cms.sign(CONTENT, key, cert, detached=True)
    other_cert = issue(root("sign"), fresh_key("cms-other"))

    def other_signer_cert(info: acms.ContentInfo) -> None:
        info["content"]["certificates"] = [acms.CertificateChoices.load(
            acms.CertificateChoices({"certificate": cms._asn1_cert(other_cert)}).dump())]

    def wrong_serial(info: acms.ContentInfo) -> None:
        sid = _signer_info(info)["sid"].chosen
        sid["serial_number"] = sid["serial_number"].native + 1

    def sha1(info: acms.ContentInfo) -> None:
        _signer_info(info)["digest_algorithm"] = {"algorithm": "sha1"}

    def drop_attrs(info: acms.ContentInfo) -> None:
        del _signer_info(info)["signed_attrs"]

    def change_content(info: acms.ContentInfo) -> None:
        info["content"]["encap_content_info"]["content"] = CONTENT + b"!"

    return {
        "messageDigest mismatch (attached content changed)": (
            _mutate(good, change_content), None, Reason.MESSAGE_DIGEST_MISMATCH),
        "messageDigest mismatch (detached content changed)": (
            detached, CONTENT + b"!", Reason.MESSAGE_DIGEST_MISMATCH),
        "signature over other attributes": (
            _mutate(good, lambda i: _replace_attr(
                i, "signing_time", acms.Time({"utc_time": dt.datetime(
                    2026, 1, 1, tzinfo=dt.timezone.utc)}))), None, Reason.BAD_SIGNATURE),
        "signer certificate does not match the signer id (serial)": (
            _mutate(good, wrong_serial), None, Reason.SIGNER_CERT_MISMATCH),
        "signer certificate does not match the signer id (other cert)": (
            _mutate(good, other_signer_cert), None, Reason.SIGNER_CERT_MISMATCH),
        "no certificates": (
            _mutate(good, lambda i: i["content"].__delitem__("certificates")), None,
            Reason.SIGNER_CERT_MISSING),
        "truncated DER": (good[:-40], None, Reason.MALFORMED),
        "trailing garbage": (good + b"\x00\x00", None, Reason.MALFORMED),
        "not CMS at all": (b"hello", None, Reason.MALFORMED),
        "wrong content type attribute": (
            _mutate(good, lambda i: _replace_attr(i, "content_type", "signed_data")), None,
            Reason.CONTENT_TYPE_MISMATCH),
        "no signed attributes": (_mutate(good, drop_attrs), None,
                                 Reason.SIGNED_ATTRIBUTES_MISSING),
        "SHA-1 digest": (_mutate(good, sha1), None, Reason.UNSUPPORTED_ALGORITHM),
        "detached without content": (detached, None, Reason.CONTENT_MISSING),
        "attached with other content": (good, b"other", Reason.CONTENT_MISMATCH),
    }


def test_bad_signature_corpus(software_signer: tuple[rsa.RSAPrivateKey,
                                                     x509.Certificate]) -> None:
    corpus = _bad_signatures(*software_signer)
    seen = {}
    for case, (data, content, expected) in corpus.items():
        with pytest.raises(VerificationError) as info:
            cms.verify(data, trust(), content=content)
        assert info.value.reason is expected, case
        seen[case] = info.value.reason
    # The checks the issue lists have distinct reasons.
    listed = [seen["messageDigest mismatch (detached content changed)"],
              seen["signature over other attributes"],
              seen["signer certificate does not match the signer id (serial)"],
              seen["truncated DER"]]
    assert len(set(listed)) == len(listed)


def test_semantically_malformed_san_is_rejected_in_a_signature() -> None:
    from mynaid.emulator.testpki import TestHolder

    key = fresh_key("cms-bad-san")
    cert = issue(root("sign"), key, Spec(san=x509.SubjectAlternativeName(
        TestHolder(birth="3198A0217").other_names())))
    with pytest.raises(VerificationError) as info:
        cms.verify(cms.sign(CONTENT, key, cert), trust())
    assert info.value.reason is Reason.MALFORMED_SAN


def test_bad_path_is_reported_through_cms() -> None:
    key = fresh_key("cms-expired")
    now = dt.datetime.now(dt.timezone.utc)
    cert = issue(root("sign"), key, Spec(not_before=now - dt.timedelta(days=10),
                                         not_after=now - dt.timedelta(days=1)))
    with pytest.raises(VerificationError) as info:
        cms.verify(cms.sign(CONTENT, key, cert), trust())
    assert info.value.reason is Reason.EXPIRED


# --- CLI -------------------------------------------------------------------------------------


Result = CliResult


@pytest.fixture
def run(cli_run: CliRunner, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The CLI with one emulated card kept across runs (so a signature's card is the one
    whose certificate the next run reads)."""
    card = build_card(default_profile())
    monkeypatch.setattr(CONNECT_MODULE, "emulated_card",
                        lambda profile=None, options=None: card)
    return cli_run


@pytest.fixture
def files(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "doc.txt").write_bytes(CONTENT)
    yield tmp_path


def test_cli_sign_and_verify(run: Callable[..., Result], files: Path) -> None:
    out = files / "doc.p7s"
    result = run("--emulator", "sign", str(files / "doc.txt"), "-o", str(out), "--pem",
                 "--include-chain", stdin="TEST1234\n")
    assert result.code == 0, result.err
    assert "TEST1234" not in result.out + result.err
    assert out.read_bytes().startswith(b"-----BEGIN CMS-----")
    verified = run("verify", str(out), "--trust", str(PKI_DIR / "sign-root.pem"))
    assert verified.code == 0, verified.err
    assert "試験\u3000花子" in verified.out
    assert "東京都千代田区試験町１－２－３" in verified.out
    assert "1980" not in verified.out  # no birth date unless asked
    as_json = json.loads(run("--json", "verify", str(out), "--trust",
                             str(PKI_DIR)).out)
    assert as_json["valid"] is True and as_json["policy_kind"] == "test"
    assert as_json["holder"]["address"] == "東京都千代田区試験町１－２－３"
    detailed = run("verify", str(out), "--trust", str(PKI_DIR), "--holder-details")
    assert "1980-02-17" in detailed.out


def test_cli_verify_failure_exit_code(run: Callable[..., Result], files: Path) -> None:
    out = files / "doc.p7s"
    assert run("--emulator", "sign", str(files / "doc.txt"), "-o", str(out), "--detached",
               stdin="TEST1234\n").code == 0
    (files / "tampered.txt").write_bytes(CONTENT + b"x")
    result = run("--json", "verify", str(out), "--content", str(files / "tampered.txt"),
                 "--trust", str(PKI_DIR))
    assert result.code == ExitCode.VERIFICATION_FAILED == 6
    assert json.loads(result.out)["reason"] == "message-digest-mismatch"
    assert "message-digest-mismatch" in result.err
    untrusted = run("verify", str(out), "--content", str(files / "doc.txt"))
    assert untrusted.code == 6 and "unknown-issuer" in untrusted.err
    later = run("verify", str(out), "--content", str(files / "doc.txt"), "--trust",
                str(PKI_DIR), "--at", "2031-01-01T00:00:00Z")
    assert later.code == 6 and "expired" in later.err


def test_cli_sign_wrong_password_uses_pin_exit_code(run: Callable[..., Result],
                                                    files: Path) -> None:
    result = run("--emulator", "sign", str(files / "doc.txt"), "-o", str(files / "x.p7s"),
                 stdin="WRONG123\n")
    assert result.code == ExitCode.WRONG_PIN
    assert not (files / "x.p7s").exists()


# --- interop with openssl cms ----------------------------------------------------------------


def _openssl(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *args], input=stdin, capture_output=True, timeout=60,
                          check=False)


@needs_openssl
@pytest.mark.parametrize("detached", [False, True])
def test_openssl_verifies_what_mynaid_signs(run: Callable[..., Result], files: Path,
                                            detached: bool) -> None:
    out = files / "doc.p7s"
    args = ["--emulator", "sign", str(files / "doc.txt"), "-o", str(out)]
    result = run(*args, *(["--detached"] if detached else []), stdin="TEST1234\n")
    assert result.code == 0, result.err
    verify = ["cms", "-verify", "-inform", "DER", "-in", str(out), "-binary",
              "-CAfile", str(PKI_DIR / "sign-root.pem"), "-out", str(files / "out.bin")]
    if detached:
        verify += ["-content", str(files / "doc.txt")]
    done = _openssl(*verify)
    assert done.returncode == 0, done.stderr.decode()
    assert b"Verification successful" in done.stderr
    assert (files / "out.bin").read_bytes() == CONTENT


@needs_openssl
def test_openssl_verifies_auth_key_signature_and_pem(run: Callable[..., Result],
                                                      files: Path) -> None:
    out = files / "doc.pem"
    assert run("--emulator", "sign", "--key", "auth", "--pem", str(files / "doc.txt"), "-o",
               str(out), stdin="1234\n").code == 0
    # The auth certificate's ExtKeyUsage is clientAuth only, not S/MIME: say so to openssl.
    done = _openssl("cms", "-verify", "-inform", "PEM", "-in", str(out), "-binary",
                    "-purpose", "any", "-CAfile", str(PKI_DIR / "auth-root.pem"),
                    "-out", str(files / "out.bin"))
    assert done.returncode == 0, done.stderr.decode()


@needs_openssl
@pytest.mark.parametrize("detached", [False, True])
def test_mynaid_verifies_what_openssl_signs(run: Callable[..., Result], files: Path,
                                            detached: bool) -> None:
    key = fresh_key("openssl-signer")
    cert = issue(root("sign"), key)  # a fresh EE chained to the test root
    (files / "ee.pem").write_bytes(pem(cert))
    (files / "ee.key").write_bytes(key_pem(key))
    out = files / "openssl.p7s"
    sign = ["cms", "-sign", "-binary", "-in", str(files / "doc.txt"), "-signer",
            str(files / "ee.pem"), "-inkey", str(files / "ee.key"), "-outform", "DER",
            "-out", str(out), "-md", "sha256"]
    if not detached:
        sign.append("-nodetach")
    done = _openssl(*sign)
    assert done.returncode == 0, done.stderr.decode()
    result = cms.verify(out.read_bytes(), trust(), content=CONTENT if detached else None)
    assert result.signer == cert
    assert result.holder is not None
    cli_args = ["verify", str(out), "--trust", str(PKI_DIR / "sign-root.pem")]
    if detached:
        cli_args += ["--content", str(files / "doc.txt")]
    verified = run(*cli_args)
    assert verified.code == 0, verified.err
    assert "試験\u3000花子" in verified.out


def test_emulated_card_from_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    # cms.sign works with any RSAPrivateKey: here, the card's key over a fresh connection.
    with connect(card=emulated_card()) as protocol:
        key = CardRsaPrivateKey.open(protocol, "sign", "TEST1234")
        der = cms.sign(CONTENT, key, key.certificate)
    assert cms.verify(der, trust()).signer == key.certificate
    assert isinstance(build_card(default_profile()), EmulatedCard)
