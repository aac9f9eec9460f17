"""Acceptance through the real PC/SC stack: ``mynaid pdf sign`` and ``mynaid xml sign`` with the
emulated card behind pcscd + vpcd, checked by poppler's pdfsig, pyHanko's validator and
xmlsec1 (run as root with MYNAID_REQUIRE_PCSC=1 so these cannot silently skip)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docsign_samples import make_file, make_pdf, make_xml
from tests.pcsc_rig import CardProcess, PcscRig
from tests.trust_pki import PKI_DIR

pytestmark = pytest.mark.pcsc
pytest.importorskip("pyhanko")

READER = "00 00"
ROOTS = ["--trust", str(PKI_DIR / "sign-root.pem"), "--trust", str(PKI_DIR / "auth-root.pem")]


@pytest.fixture(scope="module")
def vcard(rig: PcscRig) -> Iterator[CardProcess]:
    card = rig.insert_card(port=35963)
    yield card
    if card in rig.cards:
        rig.remove_card(card)


def mynaid(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mynaid", *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_pdf_signed_through_pcscd(vcard: CardProcess, tmp_path: Path) -> None:
    from asn1crypto import x509 as a509
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    src = make_pdf(tmp_path / "in.pdf", 50_000)
    first = tmp_path / "signed.pdf"
    done = mynaid("--reader", READER, "pdf", "sign", str(src), "-o", str(first),
                  "--reason", "登記申請", stdin="TEST1234\n")
    assert done.returncode == 0, done.stderr
    both = tmp_path / "cosigned.pdf"
    done = mynaid("--reader", READER, "pdf", "sign", str(first), "-o", str(both),
                  "--key", "auth", "--field", "Second", stdin="1234\n")
    assert done.returncode == 0, done.stderr

    if shutil.which("pdfsig"):
        out = subprocess.run(["pdfsig", str(both)], capture_output=True, text=True,
                             timeout=60).stdout
        assert out.count("Signature is Valid.") == 2, out
    root = a509.Certificate.load(x509.load_pem_x509_certificate(
        (PKI_DIR / "sign-root.pem").read_bytes()).public_bytes(serialization.Encoding.DER))
    with first.open("rb") as f:
        status = validate_pdf_signature(PdfFileReader(f).embedded_signatures[0],
                                        ValidationContext(trust_roots=[root]))
    assert status.bottom_line, status.pretty_print_details()
    verified = mynaid("pdf", "verify", str(both), *ROOTS)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.count(": valid") == 2


@pytest.mark.skipif(not shutil.which("xmlsec1"), reason="xmlsec1 not installed")
def test_xml_signed_through_pcscd(vcard: CardProcess, tmp_path: Path) -> None:
    src = make_xml(tmp_path / "form.xml", 5_000)
    attachment = make_file(tmp_path / "attachment.bin", 100_000)
    out = tmp_path / "signed.xml"
    done = mynaid("--reader", READER, "xml", "sign", str(src), "-o", str(out),
                  "--detached", str(attachment), stdin="TEST1234\n")
    assert done.returncode == 0, done.stderr
    checked = subprocess.run(["xmlsec1", "--verify", "--trusted-pem",
                              str(PKI_DIR / "sign-root.pem"), out.name], cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    verified = mynaid("xml", "verify", str(out), *ROOTS)
    assert verified.returncode == 0, verified.stderr
