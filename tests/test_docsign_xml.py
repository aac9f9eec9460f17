"""XML signatures (mynaid.docsign.xml): signing with the emulated card, interop with xmlsec1
both ways, and the wrapping / reference attacks, each refused with its own reason."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric import utils as asym_utils
from lxml import etree

from mynaid.docsign.card import open_document_key
from mynaid.docsign.reasons import DocumentError
from mynaid.docsign.xml import DS, c14n_subtree, sign_xml, verify_xml
from mynaid.protocol import CardProtocol
from tests.conftest import CliRunner
from tests.docsign_samples import make_file, make_xml, software_signer
from tests.trust_pki import PKI_DIR, trust

SIGN_PASSWORD = "TEST1234"
ROOTS = ("--trust", str(PKI_DIR / "sign-root.pem"), "--trust", str(PKI_DIR / "auth-root.pem"))
needs_xmlsec1 = pytest.mark.skipif(not shutil.which("xmlsec1"), reason="xmlsec1 not installed")


@dataclass
class SoftKey:
    """A software stand-in for an opened card key (to craft validly signed hostile files)."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    ca_certificate: x509.Certificate | None = None
    signatures: int = 0

    def sign_digest(self, algorithm: str, digest: bytes) -> bytes:
        self.signatures += 1
        return self.key.sign(digest, padding.PKCS1v15(),
                             asym_utils.Prehashed(getattr(hashes, algorithm.upper())()))


def soft_key() -> SoftKey:
    key, cert = software_signer()
    return SoftKey(key, cert)  # type: ignore[arg-type]


def card_sign(protocol: CardProtocol, src: Path, dst: Path, **kwargs: object) -> None:
    with open_document_key(protocol, "sign", SIGN_PASSWORD) as opened, dst.open("wb") as out:
        sign_xml(src, out, opened, **kwargs)  # type: ignore[arg-type]


def refused(path: Path, **kwargs: object) -> str:
    with pytest.raises(DocumentError) as info:
        verify_xml(path, trust(), **kwargs)  # type: ignore[arg-type]
    return info.value.reason


def ds(tag: str) -> str:
    return f"{{{DS}}}{tag}"


@pytest.fixture
def form(tmp_path: Path) -> Path:
    return make_xml(tmp_path / "form.xml", 2000)


@pytest.fixture
def attachment(tmp_path: Path) -> Path:
    return make_file(tmp_path / "attachment.pdf", 300_000)


@pytest.fixture
def signed_doc(protocol: CardProtocol, form: Path, attachment: Path, tmp_path: Path) -> Path:
    out = tmp_path / "signed.xml"
    card_sign(protocol, form, out, detached=[attachment])
    return out


@pytest.fixture
def signed_id(protocol: CardProtocol, form: Path, tmp_path: Path) -> Path:
    out = tmp_path / "signed-id.xml"
    card_sign(protocol, form, out, reference_id="app")
    return out


# --- format and round trip ---------------------------------------------------------------------


def test_egov_profile(signed_doc: Path) -> None:
    sig = etree.parse(signed_doc).getroot()[-1]
    assert sig.tag == ds("Signature")
    info = sig.find(ds("SignedInfo"))
    assert info.find(ds("CanonicalizationMethod")).get("Algorithm") == \
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    assert info.find(ds("SignatureMethod")).get("Algorithm") == \
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    assert [r.get("URI") for r in info.findall(ds("Reference"))] == ["", "attachment.pdf"]
    result = verify_xml(signed_doc, trust())
    assert result.references == ["", "attachment.pdf"]
    assert result.holder is not None and result.holder.name == "試験\u3000花子"


def test_id_reference_returns_the_signed_subtree_only(signed_id: Path) -> None:
    result = verify_xml(signed_id, trust())
    assert result.references == ["#app"]
    [element] = result.signed_elements
    assert element.get("Id") == "app" and element.tag == "ApplicationData"


def test_card_signs_once_per_document(protocol: CardProtocol, form: Path, attachment: Path,
                                      tmp_path: Path) -> None:
    with open_document_key(protocol, "sign", SIGN_PASSWORD) as opened, \
            (tmp_path / "o.xml").open("wb") as out:
        summary = sign_xml(form, out, opened, detached=[attachment])
    assert summary["card_signatures"] == 1


# --- interop with xmlsec1 ------------------------------------------------------------------


def xmlsec1_verify(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["xmlsec1", "--verify", "--trusted-pem",
                           str(PKI_DIR / "sign-root.pem"), *extra, path.name],
                          cwd=path.parent, capture_output=True, text=True, timeout=60)


@needs_xmlsec1
def test_xmlsec1_verifies_mynaid_signatures(signed_doc: Path, signed_id: Path) -> None:
    result = xmlsec1_verify(signed_doc)
    assert result.returncode == 0 and "References (ok/all): 2/2" in result.stderr, \
        result.stderr
    result = xmlsec1_verify(signed_id, "--id-attr:Id", "ApplicationData")
    assert result.returncode == 0, result.stderr


@needs_xmlsec1
def test_xmlsec1_rejects_a_changed_attachment(signed_doc: Path, attachment: Path) -> None:
    attachment.write_bytes(b"changed")
    assert xmlsec1_verify(signed_doc).returncode != 0
    assert refused(signed_doc) == "xml-digest-mismatch"


TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<DataRoot xmlns:app="urn:example:app"><app:Form Id="f">申請書</app:Form>
<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>
<CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>
<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
<Reference URI=""><Transforms>
<Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
<Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/></Transforms>
<DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue/></Reference>
<Reference URI="attachment.pdf">
<DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue/></Reference>
</SignedInfo><SignatureValue/><KeyInfo><X509Data/></KeyInfo></Signature>
</DataRoot>
"""


@needs_xmlsec1
def test_mynaid_verifies_xmlsec1_signatures(tmp_path: Path, attachment: Path) -> None:
    key, cert = software_signer()
    (tmp_path / "key.pem").write_bytes(key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM))
    (tmp_path / "tmpl.xml").write_text(TEMPLATE, encoding="utf-8")
    done = subprocess.run(["xmlsec1", "--sign", "--privkey-pem", "key.pem,cert.pem",
                           "--output", "by-xmlsec1.xml", "tmpl.xml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = verify_xml(tmp_path / "by-xmlsec1.xml", trust())
    assert result.references == ["", "attachment.pdf"]
    assert result.path.role.value == "sign"


# --- attacks ---------------------------------------------------------------------------------


def _edit(path: Path, change: object) -> Path:
    tree = etree.parse(path)
    change(tree.getroot())  # type: ignore[operator]
    tree.write(path, xml_declaration=True, encoding="UTF-8")
    return path


def test_changed_content_refused(signed_doc: Path) -> None:
    def change(root: etree._Element) -> None:
        root.find(".//Applicant").text = "攻撃 者"

    assert refused(_edit(signed_doc, change)) == "xml-digest-mismatch"


def test_wrapping_signed_element_moved(signed_id: Path) -> None:
    def move(root: etree._Element) -> None:
        signed = root.find("ApplicationData")
        index = root.index(signed)
        wrapper = etree.Element("Wrapper")
        root.remove(signed)
        wrapper.append(signed)
        evil = etree.fromstring("<ApplicationData><Applicant>攻撃 者</Applicant>"
                                "</ApplicationData>")
        root.insert(index, evil)
        root.append(wrapper)

    assert refused(_edit(signed_id, move)) == "xml-signed-element-misplaced"


def test_wrapping_second_unsigned_copy(signed_id: Path) -> None:
    def copy(root: etree._Element) -> None:
        root.insert(0, etree.fromstring("<ApplicationData><Applicant>攻撃 者</Applicant>"
                                        "</ApplicationData>"))

    assert refused(_edit(signed_id, copy)) == "xml-unsigned-copy"


def test_wrapping_duplicate_id(signed_id: Path) -> None:
    def dup(root: etree._Element) -> None:
        root.insert(0, etree.fromstring('<ApplicationData Id="app"><Applicant>攻撃 者'
                                        "</Applicant></ApplicationData>"))

    assert refused(_edit(signed_id, dup)) == "xml-duplicate-id"


def test_signed_element_hidden_in_the_signature(signed_id: Path) -> None:
    def hide(root: etree._Element) -> None:
        signed = root.find("ApplicationData")
        root.remove(signed)
        obj = etree.SubElement(root.find(ds("Signature")), ds("Object"))
        obj.append(signed)
        root.insert(0, etree.fromstring("<ApplicationData/>"))

    assert refused(_edit(signed_id, hide)) == "xml-signed-element-misplaced"


def _resign(path: Path, key: SoftKey, change: object) -> Path:
    """Apply ``change`` to SignedInfo and sign it again (a hostile but valid signer)."""
    import base64
    import hashlib

    tree = etree.parse(path)
    sig = tree.getroot().find(ds("Signature"))
    change(sig.find(ds("SignedInfo")))  # type: ignore[operator]
    value = key.sign_digest("sha256", hashlib.sha256(c14n_subtree(
        sig.find(ds("SignedInfo")))).digest())
    sig.find(ds("SignatureValue")).text = base64.b64encode(value).decode()
    tree.write(path, xml_declaration=True, encoding="UTF-8")
    return path


@pytest.mark.parametrize("uri", ["../secret.txt", "/etc/passwd", "file:///etc/passwd",
                                 "http://127.0.0.1/x", "sub/dir.bin"])
def test_attachment_uri_must_be_a_plain_name(tmp_path: Path, form: Path, attachment: Path,
                                             uri: str) -> None:
    key = soft_key()
    out = tmp_path / "hostile.xml"
    with out.open("wb") as f:
        sign_xml(form, f, key, detached=[attachment])  # type: ignore[arg-type]

    def retarget(info: etree._Element) -> None:
        info.findall(ds("Reference"))[1].set("URI", uri)

    assert refused(_resign(out, key, retarget)) == "xml-bad-reference-uri"


def test_signature_value_forged(signed_doc: Path) -> None:
    def forge(root: etree._Element) -> None:
        value = root.find(f"{ds('Signature')}/{ds('SignatureValue')}")
        value.text = "A" + value.text[1:]

    assert refused(_edit(signed_doc, forge)) in ("xml-bad-signature",)


def test_missing_attachment(signed_doc: Path, attachment: Path) -> None:
    attachment.unlink()
    assert refused(signed_doc) == "xml-reference-not-found"


def test_dtd_and_entities_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">'
                    '<!ENTITY b "&a;&a;&a;&a;">]><r>&b;</r>')
    assert refused(bomb) == "xml-malformed"


def test_two_signatures_refused(signed_doc: Path) -> None:
    def twice(root: etree._Element) -> None:
        import copy

        root.append(copy.deepcopy(root.find(ds("Signature"))))

    assert refused(_edit(signed_doc, twice)) == "xml-several-signatures"


def test_untrusted_signer_path_code(signed_doc: Path) -> None:
    from mynaid.trust.anchors import TrustStore
    from mynaid.trust.errors import VerificationError

    with pytest.raises(VerificationError) as info:
        verify_xml(signed_doc, TrustStore.jpki())
    assert info.value.reason.value in ("unknown-issuer", "untrusted-anchor")


# --- CLI -------------------------------------------------------------------------------------


def test_cli_sign_verify(cli_run: CliRunner, form: Path, attachment: Path,
                         tmp_path: Path) -> None:
    out = tmp_path / "cli.xml"
    result = cli_run("--emulator", "xml", "sign", str(form), "-o", str(out), "--detached",
                     str(attachment), stdin=SIGN_PASSWORD + "\n")
    assert result.code == 0, result.err
    ok = cli_run("--json", "xml", "verify", str(out), *ROOTS)
    assert ok.code == 0, ok.err
    assert json.loads(ok.out)["references"] == ["", "attachment.pdf"]
    attachment.write_bytes(b"tampered")
    bad = cli_run("--json", "xml", "verify", str(out), *ROOTS)
    assert bad.code == 6 and json.loads(bad.out)["reason"] == "xml-digest-mismatch"
    assert "Traceback" not in bad.err


def test_cli_refuses_a_duplicate_attachment_name_before_the_secret(
        cli_run: CliRunner, form: Path, attachment: Path, tmp_path: Path) -> None:
    other = tmp_path / "sub"
    other.mkdir()
    twin = make_file(other / attachment.name, 10)
    result = cli_run("--emulator", "xml", "sign", str(form), "-o", str(tmp_path / "o.xml"),
                     "--detached", str(attachment), "--detached", str(twin))
    assert result.code == 1 and "same file name" in result.err


@needs_xmlsec1
@pytest.mark.parametrize("doc", [
    # Streamed C14N (namespaces, attributes, comments, PIs, escapes)...
    '<?xml version="1.0"?><?app v1?><Root xmlns="urn:d" xmlns:a="urn:a" a:k="1" b="&amp;">'
    '<a:Form Id="f">申請<!-- note -->書 &lt; &gt;</a:Form><x xmlns=""/></Root>',
    # ...and the fallback to libxml2's when two prefixes name one namespace.
    '<Root xmlns:a="urn:a" xmlns:b="urn:a"><a:x b:y="1" a:z="2">t</a:x></Root>',
    # Output by copying the file with the Signature inserted, and (a comment after the
    # document element) by serialising the tree.
    '<?xml version="1.0" encoding="Shift_JIS"?><p:Root xmlns:p="urn:p">\x82\xa0</p:Root>\n',
    '<Root>text</Root><!-- trailing </Root> -->',
])
def test_whole_document_canonicalisation_interop(protocol: CardProtocol, tmp_path: Path,
                                                 doc: str) -> None:
    src = tmp_path / "doc.xml"
    src.write_bytes(doc.encode("latin-1") if "Shift_JIS" in doc else doc.encode("utf-8"))
    out = tmp_path / "signed.xml"
    card_sign(protocol, src, out)
    assert xmlsec1_verify(out).returncode == 0, xmlsec1_verify(out).stderr
    assert verify_xml(out, trust()).references == [""]


def test_signxml_signs_with_the_card_key_object(protocol: CardProtocol, tmp_path: Path) -> None:
    # The README's reason for not using signxml is not that it cannot use the card: its
    # signer takes the card's key as a cryptography RSAPrivateKey, and mynaid verifies the
    # result. (signxml is a test dependency only, as a peer.)
    signxml = pytest.importorskip("signxml")
    with open_document_key(protocol, "sign", SIGN_PASSWORD) as opened:
        signer = signxml.XMLSigner(
            signature_algorithm=signxml.SignatureMethod.RSA_SHA256,
            digest_algorithm=signxml.DigestAlgorithm.SHA256,
            c14n_algorithm=signxml.CanonicalizationMethod.CANONICAL_XML_1_0)
        signed = signer.sign(etree.fromstring("<r><a>申請</a></r>".encode()),
                             key=opened.private_key(),
                             cert=[opened.certificate.public_bytes(
                                 serialization.Encoding.PEM).decode()])
        assert opened.signatures == 1
    out = tmp_path / "signxml.xml"
    out.write_bytes(etree.tostring(signed))
    assert verify_xml(out, trust()).references == [""]
