"""Test and benchmark documents written from scratch: a one-page PDF padded to any size (a
stream of filler bytes, written in chunks), and an XML application form."""

from __future__ import annotations

import functools
import os
from pathlib import Path

_CHUNK = 1 << 20


def make_pdf(path: Path, size: int = 0, text: str = "mynaid test document") -> Path:
    """A valid one-page PDF of about ``size`` bytes (at least a few hundred)."""
    content = f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode("ascii")
    pad = max(0, size - 900)
    offsets: list[int] = []
    with path.open("wb") as out:
        def obj(body: bytes) -> None:
            offsets.append(out.tell())
            out.write(f"{len(offsets)} 0 obj\n".encode() + body + b"\nendobj\n")

        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        obj(b"<< /Type /Catalog /Pages 2 0 R >>")
        obj(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
        obj(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> /XObject << /Pad 6 0 R >> >> >>")
        obj(f"<< /Length {len(content)} >>\nstream\n".encode() + content
            + b"\nendstream")
        obj(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
        # Filler: a form XObject the page lists but never paints.
        offsets.append(out.tell())
        out.write(f"6 0 obj\n<< /Type /XObject /Subtype /Form /BBox [0 0 1 1] "
                  f"/Length {pad} >>\nstream\n".encode())
        left = pad
        block = b"%" + b"x" * (_CHUNK - 2) + b"\n"
        while left > 0:
            n = min(left, _CHUNK)
            out.write(block[:n] if n == _CHUNK else b"\n" * n)
            left -= n
        out.write(b"\nendstream\nendobj\n")
        xref = out.tell()
        out.write(f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n".encode())
        for off in offsets:
            out.write(f"{off:010d} 00000 n \n".encode())
        out.write(f"trailer\n<< /Size {len(offsets) + 1} /Root 1 0 R >>\nstartxref\n"
                  f"{xref}\n%%EOF\n".encode())
    return path


def make_xml(path: Path, size: int = 0) -> Path:
    """An application form (申請書) XML, padded with a long text element to ``size``."""
    with path.open("wb") as out:
        out.write(('<?xml version="1.0" encoding="UTF-8"?>\n'
                   '<DataRoot><ApplicationData Id="app">'
                   '<Applicant>山田 太郎</Applicant><Kind>登記</Kind>').encode())
        left = max(0, size - 200)
        block = b"abcdefghij" * (_CHUNK // 10)
        out.write(b"<Note>")
        while left > 0:
            n = min(left, len(block))
            out.write(block[:n])
            left -= n
        out.write(b"</Note></ApplicationData></DataRoot>\n")
    return path


def make_file(path: Path, size: int) -> Path:
    """``size`` bytes of pseudo-random data (an attachment)."""
    with path.open("wb") as out:
        left = size
        block = os.urandom(_CHUNK)
        while left > 0:
            out.write(block[: min(left, _CHUNK)])
            left -= _CHUNK
    return path


# --- software signers chained to the committed test roots (the "other tool" side) -----------


@functools.cache
def software_signer() -> tuple[object, object]:
    """(private key, certificate) of a JPKI-like signature certificate under the test root
    (one per test run)."""
    from tests.trust_pki import Spec, fresh_key, issue, root

    key = fresh_key("docsign software signer")
    return key, issue(root("sign"), key, Spec())


def pyhanko_signer() -> object:
    """A pyHanko SimpleSigner with :func:`software_signer`'s key and certificate."""
    from asn1crypto import keys
    from asn1crypto import x509 as a509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key, cert = software_signer()
    der = key.private_bytes(serialization.Encoding.DER,  # type: ignore[attr-defined]
                            serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return signers.SimpleSigner(
        signing_cert=a509.Certificate.load(
            cert.public_bytes(serialization.Encoding.DER)),  # type: ignore[attr-defined]
        signing_key=keys.PrivateKeyInfo.load(der),
        cert_registry=SimpleCertificateStore())


def pyhanko_sign(src: Path, dst: Path, *, field: str = "Other", certify: bool = False,
                 docmdp: int = 2) -> Path:
    """Sign (or certify with DocMDP ``docmdp``) ``src`` into ``dst`` with pyHanko itself."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import MDPPerm

    with src.open("rb") as inf, dst.open("w+b") as out:
        writer = IncrementalPdfFileWriter(inf, strict=False)
        meta = signers.PdfSignatureMetadata(field_name=field, certify=certify,
                                            docmdp_permissions=MDPPerm(docmdp))
        signers.PdfSigner(meta, pyhanko_signer()).sign_pdf(writer, output=out)
    return dst


def change_page(src: Path, dst: Path, text: str = "changed after signing") -> Path:
    """An incremental update that replaces the first page's content stream."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    with src.open("rb") as inf, dst.open("wb") as out:
        writer = IncrementalPdfFileWriter(inf, strict=False)
        page_ref = writer.root["/Pages"]["/Kids"].raw_get(0)
        page = page_ref.get_object()
        stream = generic.StreamObject(
            stream_data=f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode())
        page["/Contents"] = writer.add_object(stream)
        writer.mark_update(page_ref)
        writer.write(out)
    return dst

