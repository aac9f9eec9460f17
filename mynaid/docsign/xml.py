"""XML signatures (XML-DSig) with the card, as the e-Gov electronic application API uses them.

One enveloped ``ds:Signature``, last child of the document element, with: inclusive C14N 1.0
(``REC-xml-c14n-20010315``) for SignedInfo, ``rsa-sha256`` (PKCS#1 v1.5), one Reference to
the document (``URI=""`` with the enveloped-signature transform and C14N) or to one element
(``URI="#id"``), one Reference per attachment file by its plain file name (digest of its
bytes, no transform), and the signer's and the CA's certificates in ``KeyInfo/X509Data``.

Canonicalisation is lxml's (libxml2's C14N); digests stream: the document's canonical form
is written to a hash object in chunks, attachments are read in 1 MiB chunks. The card signs
once, over the DigestInfo of the canonical SignedInfo.

Verification resolves references strictly and returns what was signed, never "the document"
(the defence against signature wrapping): exactly one Signature; an ID names exactly one
element; a signed element is the document element or a child of it, outside the Signature;
no unsigned element of the same name sits beside a signed one; attachment URIs are plain
file names in the document's folder (no paths, no schemes). DTDs and entities are refused.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from mynaid.docsign.c14n import AmbiguousPrefix, HashingReader, c14n_digest
from mynaid.docsign.card import DocumentKey
from mynaid.docsign.reasons import DocReason, DocumentError, DocumentInputError
from mynaid.trust.anchors import TrustStore
from mynaid.trust.errors import VerificationError
from mynaid.trust.path import CertificateRole, ValidatedPath, ValidationOptions, validate_path
from mynaid.trust.revocation import RevocationChecker, RevocationResult
from mynaid.trust.san import HolderInfo, parse_holder

__all__ = ["XmlVerification", "sign_xml", "verify_xml"]

DS = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_COMMENTS = C14N + "#WithComments"
ENVELOPED = DS + "enveloped-signature"
DIGEST_URIS = {
    "sha256": "http://www.w3.org/2001/04/xmlenc#sha256",
    "sha384": "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "sha512": "http://www.w3.org/2001/04/xmlenc#sha512",
}
SIGNATURE_URIS = {
    "sha256": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "sha384": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "sha512": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
}
_DIGEST_BY_URI = {v: k for k, v in DIGEST_URIS.items()}
_SIG_BY_URI = {v: k for k, v in SIGNATURE_URIS.items()}
_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}
_ID_ATTRIBUTES = ("Id", "ID", "id")
_CHUNK = 1 << 20
#: Most References and certificates looked at (bounds a hostile file's work).
MAX_REFERENCES = 256
MAX_CERTIFICATES = 8


def _q(tag: str) -> str:
    return f"{{{DS}}}{tag}"


class _HashWriter:
    """A write-only file object that hashes what it is given (C14N output streams here)."""

    def __init__(self, algorithm: str) -> None:
        self.hash = hashlib.new(algorithm)

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        return len(data)


def _parser() -> etree.XMLParser:
    # No DTD, no entities, no network; huge_tree for >10 MB text nodes (big forms).
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=True, remove_comments=False)


def _parse(source: IO[bytes] | Path) -> Any:
    return _parse_hashed(source)[0]


def _parse_hashed(source: IO[bytes] | Path) -> tuple[Any, bytes]:
    """The parsed document and the SHA-256 of the raw bytes it was parsed from."""
    try:
        if isinstance(source, Path):
            with source.open("rb") as f:
                reader = HashingReader(f)
                tree = etree.parse(reader, _parser())
                while reader.read(_CHUNK):
                    pass
        else:
            reader = HashingReader(source)
            tree = etree.parse(reader, _parser())
    except (etree.XMLSyntaxError, OSError, ValueError) as exc:
        raise DocumentError(DocReason.XML_MALFORMED,
                            f"not well-formed XML ({exc.__class__.__name__})",
                            subject="document") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise DocumentError(DocReason.XML_MALFORMED, "documents with a DTD are refused",
                            subject="document")
    return tree, reader.hash.digest()


def _streamed_digest(source: Path, algorithm: str, skip: str | None
                     ) -> tuple[bytes, bytes] | None:
    """(C14N digest, raw SHA-256) by the streaming canonicaliser, or None when it cannot
    tell the attribute prefixes apart (the caller then uses libxml2's C14N on the tree)."""
    try:
        return c14n_digest(source, algorithm, skip=skip)
    except AmbiguousPrefix:
        return None
    except (etree.XMLSyntaxError, OSError, ValueError) as exc:
        raise DocumentError(DocReason.XML_MALFORMED,
                            f"not well-formed XML ({exc.__class__.__name__})",
                            subject="document") from None


def _changed() -> DocumentError:
    return DocumentError(DocReason.XML_MALFORMED,
                         "the file changed between two reads of it", subject="document")


def digest_file(path: Path, algorithm: str) -> bytes:
    """The digest of a file, read in chunks (memory independent of its size)."""
    h = hashlib.new(algorithm)
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.digest()


_XML_NS = "http://www.w3.org/XML/1998/namespace"


def c14n_subtree(element: Any) -> bytes:
    """Inclusive C14N 1.0 of one element as a document subset (XML-DSig's "#id" and SignedInfo).

    lxml's ``tostring(element, method="c14n")`` of an element inside a document writes
    spurious ``xmlns=""`` on descendants (seen with lxml 6 / libxml2 2.14), which no other
    implementation produces; so the element is copied into a document of its own whose root
    declares every namespace in scope and carries the inherited ``xml:*`` attributes, as
    C14N 1.0 section 2.4 asks of an apex element, and that document is canonicalised.
    """
    import copy

    apex = etree.Element(element.tag, nsmap=element.nsmap)
    for ancestor in reversed(list(element.iterancestors())):
        for name, value in ancestor.attrib.items():
            if name.startswith(f"{{{_XML_NS}}}"):
                apex.set(name, value)
    for name, value in element.attrib.items():
        apex.set(name, value)
    apex.text = element.text
    for child in element:
        child_copy = copy.deepcopy(child)
        apex.append(child_copy)
    data: bytes = etree.tostring(etree.ElementTree(apex), method="c14n", exclusive=False,
                                 with_comments=False)
    return data


def _c14n_digest(tree: Any, algorithm: str, element: Any = None) -> bytes:
    """Digest of the inclusive C14N 1.0 (no comments) of the document or one element."""
    if element is None:
        writer = _HashWriter(algorithm)
        tree.write_c14n(writer, exclusive=False, with_comments=False)
        return writer.hash.digest()
    return hashlib.new(algorithm, c14n_subtree(element)).digest()


def _plain_file_name(uri: str) -> bool:
    return (bool(uri) and "/" not in uri and "\\" not in uri and ":" not in uri
            and uri not in (".", "..") and not uri.startswith("#") and "%" not in uri
            and "\x00" not in uri)


# --- signing -----------------------------------------------------------------------------------


def sign_xml(source: Path, output: IO[bytes], opened: DocumentKey, *,
             detached: Sequence[Path] = (), reference_id: str | None = None,
             digest: str = "sha256") -> dict[str, Any]:
    """Sign the XML file ``source`` into ``output`` (enveloped), referencing ``detached``
    files by name (they must sit next to the output for a verifier to find them)."""
    if digest not in _HASHES:
        raise DocumentInputError(f"unsupported digest {digest!r}")
    for path in detached:
        if not _plain_file_name(path.name):
            raise DocumentInputError(f"cannot reference {path.name!r} by a plain file name")
    names = [p.name for p in detached]
    if len(set(names)) != len(names):
        raise DocumentInputError("two attachments have the same file name")
    # The whole document's digest is streamed before the tree is built, so that the two
    # are never in memory together; the raw hashes show both read the same bytes.
    streamed = _streamed_digest(source, digest, None) if reference_id is None else None
    tree, raw = _parse_hashed(source)
    if streamed is not None and streamed[1] != raw:
        raise _changed()
    root = tree.getroot()
    if root.find(f".//{_q('Signature')}") is not None:
        raise DocumentInputError("the document already has an XML signature",
                                 reason="xml-already-signed")
    target = None
    if reference_id is not None:
        target = _element_by_id(root, reference_id)
        if target is not root and target.getparent() is not root:
            raise DocumentInputError("the referenced element must be the document element "
                                     "or a child of it")
    # Digests first: the enveloped transform removes the Signature, which is not there yet.
    doc_digest = streamed[0] if streamed is not None else _c14n_digest(tree, digest, target)
    file_digests = [digest_file(p, digest) for p in detached]

    nsmap = {None: DS}
    sig = etree.SubElement(root, _q("Signature"), nsmap=nsmap)
    signed_info = etree.SubElement(sig, _q("SignedInfo"))
    etree.SubElement(signed_info, _q("CanonicalizationMethod"), Algorithm=C14N)
    etree.SubElement(signed_info, _q("SignatureMethod"), Algorithm=SIGNATURE_URIS[digest])

    def reference(uri: str, value: bytes, transforms: Iterable[str]) -> None:
        ref = etree.SubElement(signed_info, _q("Reference"), URI=uri)
        algorithms = list(transforms)
        if algorithms:
            container = etree.SubElement(ref, _q("Transforms"))
            for algorithm in algorithms:
                etree.SubElement(container, _q("Transform"), Algorithm=algorithm)
        etree.SubElement(ref, _q("DigestMethod"), Algorithm=DIGEST_URIS[digest])
        etree.SubElement(ref, _q("DigestValue")).text = base64.b64encode(value).decode()

    if target is None:
        reference("", doc_digest, [ENVELOPED, C14N])
    else:
        reference(f"#{reference_id}", doc_digest, [C14N])
    for name, value in zip(names, file_digests, strict=True):
        reference(name, value, [])
    signature_value = etree.SubElement(sig, _q("SignatureValue"))
    key_info = etree.SubElement(sig, _q("KeyInfo"))
    x509_data = etree.SubElement(key_info, _q("X509Data"))
    for cert in (opened.certificate, opened.ca_certificate):
        if cert is not None:
            etree.SubElement(x509_data, _q("X509Certificate")).text = base64.b64encode(
                cert.public_bytes(serialization.Encoding.DER)).decode()
    canonical = c14n_subtree(signed_info)
    value = opened.sign_digest(digest, hashlib.new(digest, canonical).digest())
    signature_value.text = base64.b64encode(value).decode()
    if not _insert_into_copy(source, output, root, sig, raw):
        tree.write(output, xml_declaration=True, encoding="UTF-8")
    return {"references": ["" if target is None else f"#{reference_id}", *names],
            "digest": digest, "card_signatures": opened.signatures}


_TAIL_WINDOW = 4096


def _insert_into_copy(source: Path, output: IO[bytes], root: Any, sig: Any,
                      raw: bytes) -> bool:
    """Write ``source`` with the Signature inserted before the document element's end tag,
    copying the file in chunks instead of serialising the tree (libxml2's serialiser copies
    every text node). Only when the file ends with that end tag (plus whitespace) and uses an
    ASCII-compatible encoding (the Signature is ASCII); returns False to let the caller
    serialise the tree instead. The raw bytes must hash as they did when parsed."""
    encoding = (root.getroottree().docinfo.encoding or "UTF-8").upper().replace("_", "-")
    if encoding.startswith(("UTF-16", "UTF-32", "UCS")):
        return False
    qname = (f"{root.prefix}:" if root.prefix else "") + etree.QName(root).localname
    with source.open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - _TAIL_WINDOW))
        tail = f.read()
        end_tag = re.compile(rb"</" + re.escape(qname.encode("utf-8")) + rb"\s*>\s*\Z")
        match = end_tag.search(tail)
        if match is None:
            return False
        cut = size - len(tail) + match.start()
        sig_bytes = etree.tostring(sig)
        if not sig_bytes.isascii():
            return False
        h = hashlib.sha256()
        f.seek(0)
        left = cut
        while left > 0:
            chunk = f.read(min(_CHUNK, left))
            if not chunk:
                raise _changed()
            h.update(chunk)
            output.write(chunk)
            left -= len(chunk)
        output.write(sig_bytes)
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            output.write(chunk)
    if h.digest() != raw:
        raise _changed()
    return True


# --- verifying ---------------------------------------------------------------------------------


@dataclass
class XmlVerification:
    """A verified XML signature. ``signed_elements`` are the only parts of the document the
    signature vouches for (the document element for ``URI=""``); read those, not the file."""

    signer: x509.Certificate
    path: ValidatedPath
    holder: HolderInfo | None
    references: list[str]
    signed_elements: list[Any] = field(repr=False)
    digest_algorithm: str = "sha256"
    revocation: tuple[RevocationResult, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": True,
            "references": self.references,
            "signed_elements": [etree.QName(e).localname for e in self.signed_elements],
            "role": self.path.role.value,
            "subject": self.signer.subject.rfc4514_string(),
            "serial": format(self.signer.serial_number, "X"),
            "issuer": self.signer.issuer.rfc4514_string(),
            "anchor_fingerprint": self.path.anchor_fingerprint,
            "jlis_root": self.path.jlis_root.label if self.path.jlis_root else None,
            "holder": self.holder.summary() if self.holder else None,
            "digest_algorithm": self.digest_algorithm,
            "revocation": [r.as_dict() for r in self.revocation],
        }


def _fail(reason: DocReason, message: str) -> DocumentError:
    return DocumentError(reason, message, subject="signature")


def _ids(root: Any, value: str) -> list[Any]:
    found = []
    for element in root.iter(tag=etree.Element):
        if any(element.get(name) == value for name in _ID_ATTRIBUTES):
            found.append(element)
    return found


def _element_by_id(root: Any, value: str) -> Any:
    found = _ids(root, value)
    if not found:
        raise _fail(DocReason.XML_REFERENCE_NOT_FOUND, f"no element has the ID {value!r}")
    if len(found) > 1:
        raise _fail(DocReason.XML_DUPLICATE_ID,
                    f"{len(found)} elements carry the ID {value!r}: the signed one is ambiguous")
    return found[0]


def _one(parent: Any, tag: str) -> Any:
    found = parent.findall(_q(tag))
    if len(found) != 1:
        raise _fail(DocReason.XML_MALFORMED, f"{etree.QName(parent).localname} needs exactly "
                                             f"one {tag}, has {len(found)}")
    return found[0]


def _b64(element: Any, what: str) -> bytes:
    try:
        return base64.b64decode("".join((element.text or "").split()), validate=True)
    except (ValueError, TypeError):
        raise _fail(DocReason.XML_MALFORMED, f"{what} is not base64") from None


def _with_signature_removed(sig: Any) -> tuple[Any, Any, int, str | None]:
    """Detach the Signature (the enveloped transform) keeping its tail text in place."""
    parent = sig.getparent()
    index = parent.index(sig)
    tail = sig.tail
    previous = sig.getprevious()
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    sig.tail = None
    parent.remove(sig)
    return parent, previous, index, tail


def _restore_signature(sig: Any, parent: Any, previous: Any, index: int,
                       tail: str | None) -> None:
    if tail:
        if previous is not None:
            previous.tail = previous.tail[: len(previous.tail) - len(tail)]
        else:
            parent.text = parent.text[: len(parent.text) - len(tail)]
    parent.insert(index, sig)
    sig.tail = tail


def _transforms(ref: Any) -> list[str]:
    container = ref.findall(_q("Transforms"))
    if len(container) > 1:
        raise _fail(DocReason.XML_MALFORMED, "a Reference has two Transforms elements")
    if not container:
        return []
    out = []
    for t in container[0]:
        if not isinstance(t.tag, str):
            continue
        if t.tag != _q("Transform") or len(t):
            raise _fail(DocReason.XML_UNSUPPORTED_TRANSFORM,
                        "a Transform with parameters or of an unknown kind")
        out.append(t.get("Algorithm") or "")
    return out


def verify_xml(source: Path, trust: TrustStore, *, base_dir: Path | None = None,
               options: ValidationOptions | None = None,
               revocation: RevocationChecker | None = None) -> XmlVerification:
    """Verify the one enveloped XML signature of ``source``; raise :class:`DocumentError` (or
    the path's :class:`VerificationError`) if anything fails. Attachments referenced by name
    are read from ``base_dir`` (default: the document's folder) in chunks."""
    options = options or ValidationOptions()
    base = base_dir or source.resolve().parent
    try:
        checked = _verify_tree(source, base)
    except (DocumentError, VerificationError):
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise DocumentError(DocReason.XML_MALFORMED,
                            f"unexpected structure ({type(exc).__name__})",
                            subject="document") from None
    # The whole document's digest streams over the file (libxml2's C14N would copy every
    # text node); the raw hashes show that the stream read the bytes the tree was built from.
    for algorithm, expected in checked.pending:
        streamed = _streamed_digest(source, algorithm, _q("Signature"))
        if streamed is None:
            tree, raw = _parse_hashed(source)
            sig = tree.getroot().find(_q("Signature"))
            holder = _with_signature_removed(sig)
            actual = _c14n_digest(tree, algorithm)
            _restore_signature(sig, *holder)
            del tree, sig
        else:
            actual, raw = streamed
        if raw != checked.raw:
            raise _changed()
        if actual != expected:
            raise _fail(DocReason.XML_DIGEST_MISMATCH,
                        "the digest of the document ('') does not match")
    signed_elements = [checked.root] if checked.pending else checked.elements
    signer, others = checked.signer, checked.others
    try:
        path = validate_path(signer, trust, intermediates=others, options=options)
    except VerificationError:
        raise
    holder_info = parse_holder(signer) if path.role is CertificateRole.SIGN else None
    results: tuple[RevocationResult, ...] = ()
    if revocation is not None:
        results = tuple(revocation.enforce(path.certificates, options.at))
    return XmlVerification(signer=signer, path=path, holder=holder_info,
                           references=checked.uris, signed_elements=signed_elements,
                           digest_algorithm=checked.sig_hash, revocation=results)


@dataclass
class _Checked:
    signer: x509.Certificate
    others: list[x509.Certificate]
    sig_hash: str
    uris: list[str]
    raw: bytes
    pending: list[tuple[str, bytes]]
    ids: list[str]
    elements: list[Any]
    root: Any


def _verify_tree(source: Path, base: Path) -> _Checked:
    """Everything but the whole document's digest, on the parsed tree."""
    tree, raw = _parse_hashed(source)
    root = tree.getroot()
    signatures = list(root.iter(_q("Signature")))
    if not signatures:
        raise _fail(DocReason.XML_NO_SIGNATURE, "the document has no ds:Signature")
    if len(signatures) > 1:
        raise _fail(DocReason.XML_SEVERAL_SIGNATURES,
                    f"{len(signatures)} ds:Signature elements (one is expected)")
    sig = signatures[0]
    if sig.getparent() is not root:
        raise _fail(DocReason.XML_SIGNED_ELEMENT_MISPLACED,
                    "the Signature is not a child of the document element")
    signed_info = _one(sig, "SignedInfo")
    if sig.index(signed_info) != 0 and sig[0].tag != _q("SignedInfo"):
        raise _fail(DocReason.XML_MALFORMED, "SignedInfo must come first")
    c14n = _one(signed_info, "CanonicalizationMethod").get("Algorithm")
    if c14n != C14N:
        raise _fail(DocReason.XML_UNSUPPORTED_ALGORITHM,
                    f"SignedInfo canonicalisation {c14n} (inclusive C14N 1.0 is expected)")
    sig_method = _one(signed_info, "SignatureMethod")
    sig_hash = _SIG_BY_URI.get(sig_method.get("Algorithm") or "")
    if sig_hash is None or len(sig_method):
        raise _fail(DocReason.XML_UNSUPPORTED_ALGORITHM,
                    f"signature method {sig_method.get('Algorithm')}")
    references = signed_info.findall(_q("Reference"))
    if not references or len(references) > MAX_REFERENCES:
        raise _fail(DocReason.XML_MALFORMED, f"{len(references)} References")
    signature_value = _b64(_one(sig, "SignatureValue"), "SignatureValue")

    # Certificates: the one whose key verifies the canonical SignedInfo is the signer.
    certs_b64 = sig.findall(f"{_q('KeyInfo')}/{_q('X509Data')}/{_q('X509Certificate')}")
    if not certs_b64:
        raise _fail(DocReason.XML_SIGNER_CERT_MISSING, "KeyInfo carries no X509Certificate")
    certs = []
    for element in certs_b64[:MAX_CERTIFICATES]:
        try:
            cert = x509.load_der_x509_certificate(_b64(element, "X509Certificate"))
            # cryptography parses names lazily: a malformed one must fail here, typed.
            cert.subject.rfc4514_string()
            cert.issuer.rfc4514_string()
            certs.append(cert)
        except ValueError:
            raise _fail(DocReason.XML_MALFORMED, "an X509Certificate does not parse") from None
    canonical = c14n_subtree(signed_info)
    signer = None
    for cert in certs:
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            continue
        try:
            key.verify(signature_value, canonical, padding.PKCS1v15(), _HASHES[sig_hash])
        except InvalidSignature:
            continue
        signer = cert
        break
    if signer is None:
        raise _fail(DocReason.XML_BAD_SIGNATURE,
                    "SignatureValue does not verify over SignedInfo with any KeyInfo "
                    "certificate's key")

    # References: signature first, then digests (a forged reference costs no hashing).
    signed: list[Any] = []
    uris: list[str] = []
    ids: list[str] = []
    pending: list[tuple[str, bytes]] = []
    for ref in references:
        uri = ref.get("URI")
        if uri is None:
            raise _fail(DocReason.XML_BAD_REFERENCE_URI, "a Reference without URI")
        method = _one(ref, "DigestMethod").get("Algorithm") or ""
        algorithm = _DIGEST_BY_URI.get(method)
        if algorithm is None:
            raise _fail(DocReason.XML_UNSUPPORTED_ALGORITHM, f"digest method {method}")
        expected = _b64(_one(ref, "DigestValue"), "DigestValue")
        transforms = _transforms(ref)
        if uri == "" or uri.startswith("#"):
            if uri == "":
                if transforms not in ([ENVELOPED], [ENVELOPED, C14N]):
                    raise _fail(DocReason.XML_UNSUPPORTED_TRANSFORM,
                                f"URI=\"\" needs the enveloped-signature transform, got "
                                f"{transforms}")
                pending.append((algorithm, expected))
                uris.append(uri)
                continue
            else:
                if transforms not in ([], [C14N], [ENVELOPED, C14N], [ENVELOPED]):
                    raise _fail(DocReason.XML_UNSUPPORTED_TRANSFORM, f"transforms {transforms}")
                element = _element_by_id(root, uri[1:])
                if element is sig or any(a is sig for a in element.iterancestors()):
                    raise _fail(DocReason.XML_SIGNED_ELEMENT_MISPLACED,
                                f"{uri} lies inside the Signature itself")
                if element is not root and element.getparent() is not root:
                    raise _fail(DocReason.XML_SIGNED_ELEMENT_MISPLACED,
                                f"{uri} is not the document element or a child of it")
                target = element
            holder = _with_signature_removed(sig) if ENVELOPED in transforms else None
            try:
                actual = _c14n_digest(tree, algorithm, target)
            finally:
                if holder is not None:
                    _restore_signature(sig, *holder)
            signed.append(element)
            ids.append(uri[1:])
        else:
            if not _plain_file_name(uri) or transforms:
                raise _fail(DocReason.XML_BAD_REFERENCE_URI,
                            f"attachment URI {uri!r} must be a plain file name, no transforms")
            path = base / uri
            if not path.is_file():
                raise _fail(DocReason.XML_REFERENCE_NOT_FOUND, f"attachment {uri!r} not found")
            actual = digest_file(path, algorithm)
        if actual != expected:
            raise _fail(DocReason.XML_DIGEST_MISMATCH,
                        f"the digest of {uri or 'the document'!r} does not match")
        uris.append(uri)
    # Wrapping: an unsigned element named like a signed child of the root, beside it.
    for element in signed:
        if element is root:
            continue
        for sibling in root:
            if (sibling is not element and sibling.tag == element.tag
                    and not any(sibling is e for e in signed)):
                raise _fail(DocReason.XML_UNSIGNED_COPY,
                            f"an unsigned <{etree.QName(element).localname}> sits beside "
                            "the signed one")

    others = [c for c in certs if c is not signer]
    return _Checked(signer=signer, others=others, sig_hash=sig_hash, uris=uris, raw=raw,
                    pending=pending, ids=ids, elements=signed, root=root)
