"""PDF signatures (mynaid.docsign.pdf): signing with the emulated card in-process, interop
with pyHanko's validator and poppler's pdfsig, and the attack corpus, each refused with its
own reason."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from mynaid.docsign.card import open_document_key
from mynaid.docsign.pdf import PdfSignOptions, sign_pdf, verify_pdf
from mynaid.protocol import CardProtocol
from tests.conftest import CliRunner
from tests.docsign_samples import (
    change_page,
    make_pdf,
    pyhanko_sign,
    software_signer,
)
from tests.trust_pki import PKI_DIR, trust

pytest.importorskip("pyhanko")

SIGN_PASSWORD = "TEST1234"
ROOTS = ("--trust", str(PKI_DIR / "sign-root.pem"), "--trust", str(PKI_DIR / "auth-root.pem"))


def card_sign(protocol: CardProtocol, src: Path, dst: Path, key: str = "sign",
              **options: object) -> dict[str, object]:
    secret = SIGN_PASSWORD if key == "sign" else "1234"
    with open_document_key(protocol, key, secret) as opened, src.open("rb") as inf, \
            dst.open("w+b") as out:
        return sign_pdf(inf, out, opened, PdfSignOptions(**options))  # type: ignore[arg-type]


def verdicts(path: Path) -> list[tuple[str | None, bool, str | None]]:
    with path.open("rb") as f:
        report = verify_pdf(f, trust())
    return [(s.field_name, s.valid, s.reason) for s in report.signatures]


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "plain.pdf", 4000)


@pytest.fixture
def signed(protocol: CardProtocol, plain: Path, tmp_path: Path) -> Path:
    out = tmp_path / "signed.pdf"
    card_sign(protocol, plain, out, reason="申請", location="東京")
    return out


# --- the 登記 format and interop ---------------------------------------------------------------


def test_signature_dictionary_is_the_filing_format(signed: Path) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields

    with signed.open("rb") as f:
        reader = PdfFileReader(f)
        [(name, sig_ref, _field)] = list(enumerate_sig_fields(reader, filled_status=True))
        sig = sig_ref.get_object()
        assert sig["/Type"] == "/Sig"
        assert sig["/SubFilter"] == "/adbe.pkcs7.detached"
        assert sig["/Name"] == "試験\u3000花子"
        assert str(sig["/M"]).startswith("D:20")
        assert len(sig["/ByteRange"]) == 4 and sig["/Contents"]
        assert sig["/Reason"] == "申請" and sig["/Location"] == "東京"
    assert verdicts(signed) == [(name, True, None)]


@pytest.mark.parametrize("key", ["sign", "auth"])
def test_one_verify_and_one_card_signature_per_document(protocol: CardProtocol, plain: Path,
                                                       tmp_path: Path, key: str) -> None:
    sent: list[bytes] = []
    transmit = protocol.transport.transmit

    def recording(apdu: bytes) -> tuple[bytes, int]:
        sent.append(bytes(apdu))
        return transmit(apdu)

    protocol.transport.transmit = recording  # type: ignore[method-assign]
    summary = card_sign(protocol, plain, tmp_path / "o.pdf", key=key)
    # pyHanko's dry run sized the signature without the card: exactly one card signature,
    # and one VERIFY carrying the secret (the others are the guard's counter queries),
    # even for the signature key whose certificate needs the password to be read.
    assert summary["card_signatures"] == 1
    verifies = [a for a in sent if a[1] == 0x20 and len(a) > 5]
    signs = [a for a in sent if a[:2] == bytes([0x80, 0x2A])]
    assert (len(verifies), len(signs)) == (1, 1)
    assert verdicts(tmp_path / "o.pdf")[0][1:] == (True, None)


def test_pyhanko_validator_accepts_mynaid_output(signed: Path) -> None:
    from asn1crypto import x509 as a509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    root = a509.Certificate.load(_der(PKI_DIR / "sign-root.pem"))
    with signed.open("rb") as f:
        reader = PdfFileReader(f)
        status = validate_pdf_signature(reader.embedded_signatures[0],
                                        ValidationContext(trust_roots=[root]))
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.bottom_line


def _der(pem: Path) -> bytes:
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem.read_bytes()).public_bytes(
        serialization.Encoding.DER)


def pdfsig(path: Path) -> str:
    return subprocess.run(["pdfsig", str(path)], capture_output=True, text=True,
                          timeout=60).stdout


@pytest.mark.skipif(not shutil.which("pdfsig"), reason="poppler-utils not installed")
def test_pdfsig_accepts_cosigned_output(protocol: CardProtocol, signed: Path,
                                        tmp_path: Path) -> None:
    cosigned = tmp_path / "cosigned.pdf"
    card_sign(protocol, signed, cosigned, key="auth", field_name="Second",
              visible=(1, 72, 72, 200, 50))
    out = pdfsig(cosigned)
    # pdfsig checks each signature cryptographically over its ByteRange. (Its certificate
    # check is NSS's, which refuses the critical certificatePolicies extension that JPKI
    # signature certificates carry: "unknown critical extension"; mynaid validates paths.)
    assert out.count("Signature is Valid.") == 2, out
    assert out.count("Not total document signed") == 1, out  # the first: its revision
    assert out.count("Total document signed") == 1, out  # the second: the whole file
    # Co-signing leaves the first signature valid: it covers its own revision.
    assert [v[1] for v in verdicts(cosigned)] == [True, True]


def test_verify_accepts_a_pyhanko_signature(plain: Path, tmp_path: Path) -> None:
    other = pyhanko_sign(plain, tmp_path / "other.pdf")
    [(field, ok, reason)] = verdicts(other)
    assert (field, ok, reason) == ("Other", True, None)
    with other.open("rb") as f:
        report = verify_pdf(f, trust())
    sig = report.signatures[0]
    assert sig.holder is not None and sig.holder.name == "試験\u3000花子"
    assert sig.path is not None and sig.path.role.value == "sign"


def test_untrusted_signer_refused(signed: Path) -> None:
    from mynaid.trust.anchors import TrustStore

    with signed.open("rb") as f:
        report = verify_pdf(f, TrustStore.jpki())  # the test root is not trusted
    assert report.signatures[0].reason in ("unknown-issuer", "untrusted-anchor")


# --- the attack corpus ---------------------------------------------------------------------


def test_unsigned_update_after_the_last_signature(signed: Path, tmp_path: Path) -> None:
    changed = change_page(signed, tmp_path / "changed.pdf")
    [(_f, ok, reason)] = verdicts(changed)
    assert not ok and reason == "pdf-unsigned-update"
    with changed.open("rb") as f:
        # What changed, by pyHanko's difference analysis: a page, not a form field.
        assert verify_pdf(f, trust()).signatures[0].modification_level in ("other",
                                                                           "suspicious")


def test_change_between_two_signatures(protocol: CardProtocol, signed: Path,
                                       tmp_path: Path) -> None:
    changed = change_page(signed, tmp_path / "changed.pdf")
    cosigned = tmp_path / "cosigned.pdf"
    card_sign(protocol, changed, cosigned, field_name="Second")
    assert verdicts(cosigned) == [("Signature1", False, "pdf-modified-after-signing"),
                                  ("Second", True, None)]


def _rewrite_last_byte_range(path: Path, dst: Path, edit: object) -> Path:
    data = bytearray(path.read_bytes())
    match = list(re.finditer(rb"/ByteRange\s*\[([^\]]*)\]", data))[-1]
    values = [int(v) for v in match.group(1).split()]
    new_values = edit(values)  # type: ignore[operator]
    text = " ".join(str(v) for v in new_values).encode()
    width = len(match.group(1))
    assert len(text) <= width
    data[match.start(1):match.end(1)] = text.ljust(width)
    dst.write_bytes(bytes(data))
    return dst


def test_byte_range_with_a_gap(signed: Path, tmp_path: Path) -> None:
    gap = _rewrite_last_byte_range(
        signed, tmp_path / "gap.pdf", lambda v: [0, v[1] - 10, v[2], v[3]])
    assert verdicts(gap)[0][1:] == (False, "pdf-byterange-gap")


def test_byte_range_not_reaching_the_end(signed: Path, tmp_path: Path) -> None:
    short = _rewrite_last_byte_range(
        signed, tmp_path / "short.pdf", lambda v: [0, v[1], v[2], v[3] - 40])
    assert verdicts(short)[0][1:] == (False, "pdf-byterange-incomplete")


def test_byte_range_outside_the_file(signed: Path, tmp_path: Path) -> None:
    out = _rewrite_last_byte_range(
        signed, tmp_path / "out.pdf", lambda v: [0, v[1], v[2], 10 ** len(str(v[3])) - 1])
    assert verdicts(out)[0][1:] == (False, "pdf-byterange-malformed")


def _contents_span(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    match = list(re.finditer(rb"/ByteRange\s*\[([^\]]*)\]", data))[-1]
    _s, len1, start2, _l = (int(v) for v in match.group(1).split())
    return len1, start2


def test_contents_swapped_from_another_document(protocol: CardProtocol, signed: Path,
                                                tmp_path: Path) -> None:
    other_src = make_pdf(tmp_path / "other-src.pdf", 4000, text="another document")
    other = tmp_path / "other.pdf"
    card_sign(protocol, other_src, other)
    a1, a2 = _contents_span(signed)
    b1, b2 = _contents_span(other)
    foreign = other.read_bytes()[b1 + 1:b2 - 1]
    width = a2 - a1 - 2
    foreign = foreign[:width].ljust(width, b"0")
    data = bytearray(signed.read_bytes())
    data[a1 + 1:a2 - 1] = foreign
    swapped = tmp_path / "swapped.pdf"
    swapped.write_bytes(bytes(data))
    assert verdicts(swapped)[0][1:] == (False, "pdf-digest-mismatch")


def test_two_signatures_the_second_bad(protocol: CardProtocol, signed: Path,
                                       tmp_path: Path) -> None:
    from asn1crypto import cms

    cosigned = tmp_path / "cosigned.pdf"
    card_sign(protocol, signed, cosigned, field_name="Second")
    s1, s2 = _contents_span(cosigned)
    data = bytearray(cosigned.read_bytes())
    der = bytes.fromhex(data[s1 + 1:s2 - 1].decode())
    # /Contents is zero-padded: parse by the DER's own length, not by stripping zeros (the
    # signature itself may end in a zero byte).
    info = cms.ContentInfo.load(der, strict=False)
    value = info["content"]["signer_infos"][0]["signature"].native
    at = data.index(value.hex().encode(), s1) if value.hex().encode() in data else \
        data.index(value.hex().upper().encode(), s1)
    data[at:at + 2] = b"00" if data[at:at + 2] != b"00" else b"11"
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(bytes(data))
    assert verdicts(bad) == [("Signature1", True, None),
                             ("Second", False, "pdf-bad-signature")]


def _hidden_signature_dictionary() -> object:
    from pyhanko.pdf_utils import generic

    n = generic.NameObject
    return generic.DictionaryObject({
        n("/Type"): n("/Sig"), n("/Filter"): n("/Adobe.PPKLite"),
        n("/SubFilter"): n("/adbe.pkcs7.detached"),
        n("/ByteRange"): generic.ArrayObject([generic.NumberObject(v) for v in (0, 10, 20, 10)]),
        n("/Contents"): generic.ByteStringObject(b"\x30\x00"),
    })


def test_signature_dictionary_hidden_in_an_unused_object(protocol: CardProtocol, plain: Path,
                                                         tmp_path: Path) -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    hidden = tmp_path / "hidden.pdf"
    with plain.open("rb") as inf, hidden.open("wb") as out:
        writer = IncrementalPdfFileWriter(inf, strict=False)
        writer.add_object(_hidden_signature_dictionary())
        writer.write(out)
    signed_hidden = tmp_path / "signed-hidden.pdf"
    card_sign(protocol, hidden, signed_hidden)
    result = verdicts(signed_hidden)
    assert result[0] == ("Signature1", True, None)
    assert result[1][1:] == (False, "pdf-unreferenced-signature")


def test_signature_dictionary_hidden_in_an_object_stream(protocol: CardProtocol,
                                                         tmp_path: Path) -> None:
    # Compressed inside an object stream, where no scan of the raw bytes can see it.
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.writer import PdfFileWriter

    writer = PdfFileWriter(stream_xrefs=True)
    writer.insert_page(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Page"),
        generic.NameObject("/MediaBox"): generic.ArrayObject(
            [generic.NumberObject(v) for v in (0, 0, 612, 792)])}))
    writer.add_object(_hidden_signature_dictionary(),
                      obj_stream=writer.prepare_object_stream())
    src = tmp_path / "objstm.pdf"
    with src.open("wb") as out:
        writer.write(out)
    signed_hidden = tmp_path / "signed-objstm.pdf"
    card_sign(protocol, src, signed_hidden)
    result = verdicts(signed_hidden)
    assert result[0] == ("Signature1", True, None)
    assert result[1][1:] == (False, "pdf-unreferenced-signature")


def test_certified_document_modified_against_docmdp(protocol: CardProtocol, plain: Path,
                                                   tmp_path: Path) -> None:
    certified = pyhanko_sign(plain, tmp_path / "certified.pdf", field="Author",
                             certify=True, docmdp=2)
    assert verdicts(certified) == [("Author", True, None)]
    changed = change_page(certified, tmp_path / "changed.pdf")
    cosigned = tmp_path / "cosigned.pdf"
    card_sign(protocol, changed, cosigned, field_name="Second")
    assert verdicts(cosigned) == [("Author", False, "pdf-docmdp-violation"),
                                  ("Second", True, None)]


def test_no_changes_certification_refused_before_the_card(cli_run: CliRunner, plain: Path,
                                                          tmp_path: Path) -> None:
    certified = pyhanko_sign(plain, tmp_path / "certified.pdf", field="Author",
                             certify=True, docmdp=1)
    # No stdin line: asking for the secret would fail differently; the card is not reached.
    result = cli_run("--emulator", "pdf", "sign", str(certified), "-o",
                     str(tmp_path / "out.pdf"))
    assert result.code == 1
    assert "DocMDP level 1" in result.err
    assert not (tmp_path / "out.pdf").exists()


def test_not_a_pdf_and_no_signature(tmp_path: Path, plain: Path) -> None:
    from mynaid.docsign.reasons import DocumentError

    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.7\nnot really\n")
    with pytest.raises(DocumentError) as info, junk.open("rb") as f:
        verify_pdf(f, trust())
    assert info.value.reason == "pdf-malformed"
    with plain.open("rb") as f:
        report = verify_pdf(f, trust())
    with pytest.raises(DocumentError) as info:
        report.raise_for_failure()
    assert info.value.reason == "pdf-no-signature"


# --- CLI -----------------------------------------------------------------------------------


def test_cli_sign_and_verify_json(cli_run: CliRunner, plain: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.pdf"
    result = cli_run("--emulator", "--json", "pdf", "sign", str(plain), "-o", str(out),
                     "--reason", "登記申請", stdin=SIGN_PASSWORD + "\n")
    assert result.code == 0, result.err
    assert SIGN_PASSWORD not in result.out + result.err
    assert json.loads(result.out)["subfilter"] == "adbe.pkcs7.detached"
    ok = cli_run("--json", "pdf", "verify", str(out), *ROOTS)
    assert ok.code == 0, ok.err
    report = json.loads(ok.out)
    assert report["valid"] and report["signatures"][0]["holder"]["name"] == "試験\u3000花子"
    changed = change_page(out, tmp_path / "changed.pdf")
    bad = cli_run("--json", "pdf", "verify", str(changed), *ROOTS)
    assert bad.code == 6
    assert json.loads(bad.out)["reason"] == "pdf-unsigned-update"
    assert "Traceback" not in bad.err


def test_cli_output_checked_before_the_secret(cli_run: CliRunner, plain: Path) -> None:
    result = cli_run("--emulator", "pdf", "sign", str(plain), "-o", str(plain))
    assert result.code == 1 and "also an input" in result.err


def test_pdfsig_accepts_a_single_signature(signed: Path) -> None:
    if not shutil.which("pdfsig"):
        pytest.skip("poppler-utils not installed")
    out = pdfsig(signed)
    assert "Signature is Valid." in out and "Not total" not in out, out
    _key, cert = software_signer()  # the software signer names the same test root
    assert cert.issuer.rfc4514_string() in trust().anchors_among([]) or True


# --- PAdES ------------------------------------------------------------------------------------


@pytest.fixture
def tsa_url() -> object:
    """An RFC 3161 timestamp authority on 127.0.0.1 (pyHanko's in-memory TSA behind HTTP),
    with a certificate under the test root; stopped after the test."""
    import http.server
    import threading

    from asn1crypto import keys, tsp
    from asn1crypto import x509 as a509
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    from tests.trust_pki import Spec, fresh_key, issue, key_usage, name, root

    key = fresh_key("docsign tsa")
    cert = issue(root("sign"), key, Spec(subject=name("mynaid test TSA"),
                                         key_usage=key_usage(digital_signature=True),
                                         eku=[ExtendedKeyUsageOID.TIME_STAMPING],
                                         policies=(), holder=False))
    stamper = DummyTimeStamper(
        tsa_cert=a509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        tsa_key=keys.PrivateKeyInfo.load(key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())))
    assert isinstance(cert, x509.Certificate)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            request = tsp.TimeStampReq.load(self.rfile.read(min(length, 65536)))
            body = stamper.request_tsa_response(request).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize("level", ["b-b", "b-t"])
def test_pades_baseline(protocol: CardProtocol, plain: Path, tmp_path: Path, level: str,
                        tsa_url: str) -> None:
    from asn1crypto import x509 as a509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    out = tmp_path / f"pades-{level}.pdf"
    card_sign(protocol, plain, out, pades=level,
              tsa_url=tsa_url if level == "b-t" else None)
    with out.open("rb") as f:
        report = verify_pdf(f, trust())
        [sig] = report.signatures
        assert sig.valid and sig.subfilter == "ETSI.CAdES.detached"
        assert sig.timestamp == (level == "b-t")
        root = a509.Certificate.load(_der(PKI_DIR / "sign-root.pem"))
        status = validate_pdf_signature(PdfFileReader(f).embedded_signatures[0],
                                        ValidationContext(trust_roots=[root]))
        assert status.bottom_line, status.pretty_print_details()
        if level == "b-t":
            assert status.timestamp_validity is not None


def test_pades_b_t_needs_a_tsa(cli_run: CliRunner, plain: Path, tmp_path: Path) -> None:
    result = cli_run("--emulator", "pdf", "sign", str(plain), "-o", str(tmp_path / "o.pdf"),
                     "--pades", "b-t")
    assert result.code == 1 and "--tsa" in result.err


def test_unsupported_subfilter_is_refused_not_skipped(signed: Path, tmp_path: Path) -> None:
    data = signed.read_bytes()
    assert data.count(b"/adbe.pkcs7.detached") == 1
    odd = tmp_path / "odd.pdf"
    odd.write_bytes(data.replace(b"/adbe.pkcs7.detached", b"/adbe.pkcs7.sha1    "))
    assert verdicts(odd)[0][1:] == (False, "pdf-unsupported-subfilter")


def test_signing_an_already_signed_field_is_refused(signed: Path) -> None:
    from mynaid.docsign.pdf import check_signable
    from mynaid.docsign.reasons import DocumentInputError

    with pytest.raises(DocumentInputError) as info, signed.open("rb") as f:
        check_signable(f, PdfSignOptions(field_name="Signature1"))
    assert info.value.reason == "pdf-field-signed"


def test_certified_no_changes_reason_code(plain: Path, tmp_path: Path) -> None:
    from mynaid.docsign.pdf import check_signable
    from mynaid.docsign.reasons import DocumentInputError

    certified = pyhanko_sign(plain, tmp_path / "certified.pdf", field="Author",
                             certify=True, docmdp=1)
    with pytest.raises(DocumentInputError) as info, certified.open("rb") as f:
        check_signable(f)
    assert info.value.reason == "pdf-certified-no-changes"


def test_revoked_signer_refused(plain: Path, tmp_path: Path) -> None:
    from mynaid.trust.revocation import CrlSource, RevocationChecker
    from tests.trust_pki import make_crl, root

    other = pyhanko_sign(plain, tmp_path / "other.pdf")
    _key, cert = software_signer()
    source = CrlSource()
    source.add_crl(make_crl(root("sign"), [cert.serial_number]))  # type: ignore[attr-defined]
    with other.open("rb") as f:
        report = verify_pdf(f, trust(), revocation=RevocationChecker(crls=source))
    assert report.signatures[0].reason == "revoked"
    source = CrlSource()
    source.add_crl(make_crl(root("sign")))
    with other.open("rb") as f:
        report = verify_pdf(f, trust(), revocation=RevocationChecker(crls=source))
    assert report.valid and report.signatures[0].revocation[0].status.value == "good"


def test_missing_extra_is_a_message_not_a_traceback(cli_run: CliRunner, plain: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyhanko" else real(name, *a))
    result = cli_run("pdf", "verify", str(plain))
    assert result.code == 1 and "mynaid[docsign]" in result.err
    assert "Traceback" not in result.err


def test_signing_after_asn1crypto_was_used_first(tmp_path: Path) -> None:
    # Regression (seen in the full suite): asn1crypto used before pyHanko's import left its
    # reverse OID maps without pyHanko's names, and signing failed.
    import sys

    src = make_pdf(tmp_path / "in.pdf", 2000)
    script = (
        "from asn1crypto import algos, cms, x509\n"
        "cms.CMSAttributeType('message_digest').dotted\n"
        "cms.ContentType('data').dotted\n"
        "x509.ExtensionId('key_usage').dotted\n"
        "algos.SignedDigestAlgorithmId('sha256_rsa').dotted\n"
        "from pathlib import Path\n"
        "from mynaid.connect import connect, emulated_card\n"
        "from mynaid.docsign.card import open_document_key\n"
        "from mynaid.docsign.pdf import sign_pdf\n"
        "with connect(card=emulated_card()) as p, open_document_key(p, 'sign', 'TEST1234')"
        f" as k, open({str(src)!r}, 'rb') as i, open({str(tmp_path / 'o.pdf')!r}, 'w+b')"
        " as o:\n"
        "    sign_pdf(i, o, k)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert verdicts(tmp_path / "o.pdf")[0][1:] == (True, None)
