"""PDF signatures with the card through pyHanko, and a verifier that checks every signature.

Signing (:func:`sign_pdf`) appends an incremental update with one signature. The default is
what the 登記・供託 online filing accepts: a signature dictionary ``/Type /Sig``,
``/SubFilter /adbe.pkcs7.detached``, ``/Name`` (the signer), ``/M`` (the signing time),
``/ByteRange`` and ``/Contents``; ``pades="b-b"`` / ``"b-t"`` makes a PAdES baseline
signature (``/ETSI.CAdES.detached``, with a signature timestamp for B-T). pyHanko sizes the
signature by a dry run that never reaches the card; the card signs once.

Verifying (:func:`verify_pdf`) gives every signature dictionary its own verdict: that it is
used by a signature field (no hidden ones), a supported /SubFilter, a /ByteRange whose only
gap is its own /Contents, coverage (the last signature covers the whole file; earlier ones
their whole revision), what changed after each signature (pyHanko's difference analysis,
judged against DocMDP when the document is certified), the CMS digest and signature, and the
signer's certificate path with :mod:`mynaid.trust` (J-LIS roots, role, revocation), plus who
signed (name and address from a signature certificate). The file is read through a file
object: pyHanko hashes the /ByteRange in chunks.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from asn1crypto import x509 as a509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from mynaid.docsign.card import DocumentKey
from mynaid.docsign.reasons import DocReason, DocumentError, DocumentInputError
from mynaid.errors import MynaidError
from mynaid.trust.anchors import TrustStore
from mynaid.trust.errors import VerificationError
from mynaid.trust.path import CertificateRole, ValidatedPath, ValidationOptions, validate_path
from mynaid.trust.revocation import RevocationChecker, RevocationResult
from mynaid.trust.san import HolderInfo, parse_holder

__all__ = ["PdfSignOptions", "PdfVerification", "SignatureVerdict", "check_signable",
           "sign_pdf", "verify_pdf"]

_DIGESTS: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}
_SUPPORTED_SUBFILTERS = ("/adbe.pkcs7.detached", "/ETSI.CAdES.detached")
#: Most signature dictionaries looked at in one document (bounds a hostile file's work).
MAX_SIGNATURES = 64


# --- signing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PdfSignOptions:
    """What to put in the signature. ``visible`` is (page from 1, x, y, width, height) in
    points; ``pades`` None is the 登記 format (adbe.pkcs7.detached)."""

    field_name: str | None = None
    reason: str | None = None
    location: str | None = None
    name: str | None = None
    visible: tuple[int, float, float, float, float] | None = None
    pades: str | None = None
    tsa_url: str | None = None
    digest: str = "sha256"


def _load_pyhanko() -> None:
    """Import pyHanko, and make asn1crypto know the OIDs it registers.

    pyHanko (and its certvalidator) add names such as ``signing_certificate_v2`` to
    asn1crypto's OID maps when imported, but do not update the reverse maps asn1crypto
    builds on first use; when anything used asn1crypto first (``mynaid.cms`` does), pyHanko
    then fails with "invalid literal for int()". The reverse maps are rebuilt here.
    """
    import pyhanko.sign  # noqa: F401  (registers its attributes and extensions)
    import pyhanko_certvalidator  # noqa: F401
    from asn1crypto import algos, cms, core
    from asn1crypto import x509 as ax509

    for cls in (cms.CMSAttributeType, cms.ContentType, ax509.ExtensionId,
                algos.SignedDigestAlgorithmId, algos.DigestAlgorithmId):
        if issubclass(cls, core.ObjectIdentifier) and cls._reverse_map is not None:
            cls._reverse_map = {name: dotted for dotted, name in cls._map.items()}


def _reader(stream: IO[bytes]) -> Any:
    _load_pyhanko()
    from pyhanko.pdf_utils import misc
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        return PdfFileReader(stream, strict=False)
    except (misc.PdfError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise DocumentError(DocReason.PDF_MALFORMED,
                            f"not a readable PDF ({type(exc).__name__})",
                            subject="document") from None


def check_signable(stream: IO[bytes], options: PdfSignOptions | None = None) -> None:
    """Refuse, before the card is touched, a PDF that cannot take another signature: not a
    PDF, certified with DocMDP level 1 (no changes), or a named field already signed."""
    from pyhanko.sign.fields import MDPPerm, enumerate_sig_fields
    from pyhanko.sign.validation import read_certification_data

    options = options or PdfSignOptions()
    if options.pades not in (None, "b-b", "b-t"):
        raise DocumentInputError(f"unknown PAdES level {options.pades!r} (b-b or b-t)")
    if options.pades == "b-t" and not options.tsa_url:
        raise DocumentInputError("PAdES B-T needs a timestamp authority (--tsa URL)")
    if options.digest not in _DIGESTS:
        raise DocumentInputError(f"unsupported digest {options.digest!r}")
    reader = _reader(stream)
    try:
        certification = read_certification_data(reader)
    except Exception as exc:  # a broken /Perms entry: pyHanko raises various errors
        raise DocumentError(DocReason.PDF_MALFORMED,
                            f"unreadable certification entry ({type(exc).__name__})",
                            subject="document") from None
    if certification is not None and certification.permission == MDPPerm.NO_CHANGES:
        raise DocumentInputError("the document is certified with DocMDP level 1 (no changes "
                                 "allowed): another signature would break the certification",
                                 reason="pdf-certified-no-changes")
    if options.field_name is not None:
        for name, _value, _ref in enumerate_sig_fields(reader, filled_status=True,
                                                       with_name=options.field_name):
            raise DocumentInputError(f"the signature field {name!r} is already signed",
                                     reason="pdf-field-signed")
    stream.seek(0)


def signer_name(certificate: x509.Certificate) -> str:
    """The /Name of the signature: the holder's name for a signature certificate, else the
    subject's common name."""
    try:
        return parse_holder(certificate).name
    except VerificationError:
        pass
    from cryptography.x509.oid import NameOID

    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else certificate.subject.rfc4514_string()


def _asn1(cert: x509.Certificate) -> a509.Certificate:
    return a509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _card_signer(opened: DocumentKey) -> Any:
    _load_pyhanko()
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    class CardSigner(signers.Signer):
        """A pyHanko signer whose raw signature is the card's (dry runs are zeros)."""

        async def async_sign_raw(self, data: bytes, digest_algorithm: str,
                                 dry_run: bool = False) -> bytes:
            public = opened.certificate.public_key()
            size = (public.key_size + 7) // 8 if isinstance(public, rsa.RSAPublicKey) else 512
            if dry_run:
                return bytes(size)
            digest = hashlib.new(digest_algorithm, data).digest()
            return opened.sign_digest(digest_algorithm, digest)

    registry = SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
        [_asn1(opened.ca_certificate)] if opened.ca_certificate is not None else [])
    from asn1crypto import algos

    return CardSigner(signing_cert=_asn1(opened.certificate), cert_registry=registry,
                      signature_mechanism=algos.SignedDigestAlgorithm(
                          {"algorithm": "rsassa_pkcs1v15"}))


def sign_pdf(infile: IO[bytes], outfile: IO[bytes], opened: DocumentKey,
             options: PdfSignOptions | None = None) -> dict[str, Any]:
    """Sign the PDF read from ``infile`` into ``outfile`` (readable and writable, ``w+b``)
    with the opened card key; return a summary (field, subfilter, signer name)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko.sign.timestamps import HTTPTimeStamper

    options = options or PdfSignOptions()
    check_signable(infile, options)
    name = options.name or signer_name(opened.certificate)
    field_name = options.field_name or _free_field_name(infile)
    infile.seek(0)
    meta = signers.PdfSignatureMetadata(
        field_name=field_name, md_algorithm=options.digest, reason=options.reason,
        location=options.location, name=name,
        subfilter=(SigSeedSubFilter.ADOBE_PKCS7_DETACHED if options.pades is None
                   else SigSeedSubFilter.PADES),
        use_pades_lta=False,
    )
    spec = None
    if options.visible is not None:
        page, x, y, w, h = options.visible
        spec = fields.SigFieldSpec(sig_field_name=field_name, on_page=page - 1,
                                   box=(int(x), int(y), int(x + w), int(y + h)))
    timestamper = HTTPTimeStamper(options.tsa_url) if options.pades == "b-t" else None
    writer = IncrementalPdfFileWriter(infile, strict=False)
    pdf_signer = signers.PdfSigner(meta, _card_signer(opened), timestamper=timestamper,
                                   new_field_spec=spec)
    try:
        pdf_signer.sign_pdf(writer, output=outfile)
    except MynaidError:
        raise
    except Exception as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, MynaidError):  # a card error inside pyHanko's signing
            raise cause from None
        raise DocumentInputError(f"pyHanko could not sign this PDF ({type(exc).__name__}: "
                                 f"{str(exc)[:200]})") from None
    outfile.flush()
    return {"field": field_name, "signer_name": name,
            "subfilter": "adbe.pkcs7.detached" if options.pades is None
            else "ETSI.CAdES.detached", "pades": options.pades,
            "card_signatures": opened.signatures}


def _free_field_name(infile: IO[bytes]) -> str:
    from pyhanko.sign.fields import enumerate_sig_fields

    reader = _reader(infile)
    used = {name for name, _v, _r in enumerate_sig_fields(reader)}
    n = 1
    while f"Signature{n}" in used:
        n += 1
    return f"Signature{n}"


# --- verifying ---------------------------------------------------------------------------------


@dataclass
class SignatureVerdict:
    """One signature dictionary's verdict; ``reason`` is None when it is valid."""

    field_name: str | None
    object_id: int
    reason: str | None = None
    detail: str | None = None
    subfilter: str | None = None
    revision: int | None = None
    byte_range: list[int] | None = None
    coverage: str | None = None
    modification_level: str | None = None
    changed_fields: list[str] = field(default_factory=list)
    certified: int | None = None
    signer: x509.Certificate | None = None
    path: ValidatedPath | None = None
    holder: HolderInfo | None = None
    signing_time: dt.datetime | None = None
    timestamp: bool = False
    revocation: tuple[RevocationResult, ...] = ()

    @property
    def valid(self) -> bool:
        return self.reason is None

    def fail(self, reason: DocReason | str, detail: str) -> None:
        if self.reason is None:  # the first failure is the verdict
            self.reason = reason.value if isinstance(reason, DocReason) else reason
            self.detail = detail

    def as_dict(self) -> dict[str, Any]:
        signer = None
        if self.signer is not None:
            signer = {"subject": self.signer.subject.rfc4514_string(),
                      "serial": format(self.signer.serial_number, "X"),
                      "issuer": self.signer.issuer.rfc4514_string()}
        return {
            "field": self.field_name, "object": self.object_id, "valid": self.valid,
            "reason": self.reason, "detail": self.detail, "subfilter": self.subfilter,
            "revision": self.revision, "byte_range": self.byte_range,
            "coverage": self.coverage, "modification_level": self.modification_level,
            "changed_fields": self.changed_fields, "docmdp": self.certified,
            "signer": signer,
            "role": self.path.role.value if self.path else None,
            "anchor_fingerprint": self.path.anchor_fingerprint if self.path else None,
            "jlis_root": (self.path.jlis_root.label
                          if self.path and self.path.jlis_root else None),
            "holder": self.holder.summary() if self.holder else None,
            "signing_time": self.signing_time.isoformat() if self.signing_time else None,
            "timestamp_token": self.timestamp,
            "revocation": [r.as_dict() for r in self.revocation],
        }


@dataclass
class PdfVerification:
    """Every signature's verdict; the document is valid only if all are and none is hidden."""

    signatures: list[SignatureVerdict]
    size: int

    @property
    def valid(self) -> bool:
        return bool(self.signatures) and all(s.valid for s in self.signatures)

    @property
    def first_failure(self) -> SignatureVerdict | None:
        return next((s for s in self.signatures if not s.valid), None)

    def as_dict(self) -> dict[str, Any]:
        failure = self.first_failure
        return {"valid": self.valid, "reason": failure.reason if failure else None,
                "size": self.size, "signatures": [s.as_dict() for s in self.signatures]}

    def raise_for_failure(self) -> None:
        """Raise :class:`DocumentError` (or the path's VerificationError code) if invalid."""
        if not self.signatures:
            raise DocumentError(DocReason.PDF_NO_SIGNATURE, "the document has no signature",
                                subject="document")
        failure = self.first_failure
        if failure is not None:
            assert failure.reason is not None
            try:
                code = DocReason(failure.reason)
            except ValueError:
                code = None
            where = f"signature {failure.field_name or failure.object_id}"
            if code is None:
                err = DocumentError(DocReason.PDF_BAD_SIGNATURE, failure.detail or "",
                                    subject=where)
                err.reason = failure.reason  # a certificate-path code from mynaid.trust
                raise err
            raise DocumentError(code, failure.detail or "", subject=where)


_SIG_MARKER = re.compile(rb"/ByteRange\b|/Type\s*/(?:Sig|DocTimeStamp)\b")
_STREAM_KEYWORD = re.compile(rb"\bstream\r?\n|\bendobj\b")
_SCAN_CHUNK = 1 << 20
#: How far into an object its dictionary may reach before the ``stream`` keyword.
_MAX_DICT_BYTES = 1 << 16


def _marker_offsets(stream: IO[bytes]) -> list[int]:
    """Offsets of every /ByteRange or /Type /Sig token in the raw file, scanned in chunks
    (memory independent of the file size)."""
    found: list[int] = []
    stream.seek(0)
    base = 0
    carry = b""
    while chunk := stream.read(_SCAN_CHUNK):
        data = carry + chunk
        for match in _SIG_MARKER.finditer(data):
            at = base - len(carry) + match.start()
            if not found or found[-1] != at:
                found.append(at)
            if len(found) > 4 * MAX_SIGNATURES:
                raise DocumentError(DocReason.PDF_MALFORMED,
                                    "too many signature markers", subject="document")
        carry = data[-32:]
        base += len(chunk)
    return sorted(set(found))


def _all_signature_dicts(reader: Any, stream: IO[bytes]) -> dict[int, Any]:
    """Every object (latest version) that is a signature dictionary, used or not.

    Resolving every object would read every stream's data (a 200 MB image at once), so
    objects at a file offset are looked at only where the raw bytes of their dictionary hold
    a signature marker; objects inside object streams (which hold no streams) are resolved.
    """
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.xref import ObjStreamRef

    refs: set[Any] = set()
    for revision in range(reader.xrefs.total_revisions):
        refs |= set(reader.xrefs.explicit_refs_in_revision(revision))
    direct: list[tuple[int, Any]] = []
    compressed: list[Any] = []
    for ref in refs:
        location = reader.xrefs[ref]
        if isinstance(location, ObjStreamRef):
            compressed.append(ref)
        elif isinstance(location, int):
            direct.append((location, ref))
    direct.sort(key=lambda item: item[0])
    candidates: set[Any] = set(compressed)
    offsets = [o for o, _r in direct]
    for at in _marker_offsets(stream):
        i = bisect.bisect_right(offsets, at) - 1
        if i < 0:
            continue
        start, ref = direct[i]
        # Is the marker in the object's dictionary, or inside its stream data?
        stream.seek(start)
        head = stream.read(min(_MAX_DICT_BYTES, max(0, at - start) + 64))
        keyword = _STREAM_KEYWORD.search(head)
        if keyword is None or start + keyword.start() > at:
            candidates.add(ref)
    found: dict[int, Any] = {}
    for ref in sorted(candidates, key=lambda r: (r.idnum, r.generation)):
        try:
            obj = reader.get_object(ref)
        except Exception:  # noqa: S112 - a broken object cannot be a usable signature
            continue
        if isinstance(obj, generic.DictionaryObject) and not isinstance(
                obj, generic.StreamObject) and (
                obj.get("/Type") in ("/Sig", "/DocTimeStamp") or "/ByteRange" in obj):
            found[ref.idnum] = obj
            if len(found) > MAX_SIGNATURES:
                raise DocumentError(DocReason.PDF_MALFORMED,
                                    f"more than {MAX_SIGNATURES} signature dictionaries",
                                    subject="document")
    return found


def _check_byte_range(verdict: SignatureVerdict, sig_obj: Any, stream: IO[bytes],
                      size: int) -> bool:
    from pyhanko.pdf_utils import generic

    br = sig_obj.get("/ByteRange")
    contents = sig_obj.get("/Contents")
    if (not isinstance(br, generic.ArrayObject) or len(br) != 4
            or not all(isinstance(v, int) and v >= 0 for v in br)
            or not isinstance(contents, (bytes, generic.ByteStringObject,
                                         generic.TextStringObject))):
        verdict.fail(DocReason.PDF_BYTERANGE_MALFORMED,
                     "/ByteRange is not four non-negative integers, or /Contents is missing")
        return False
    start1, len1, start2, len2 = (int(v) for v in br)
    verdict.byte_range = [start1, len1, start2, len2]
    if start1 != 0 or start2 < len1 or start2 + len2 > size:
        verdict.fail(DocReason.PDF_BYTERANGE_MALFORMED,
                     f"/ByteRange {verdict.byte_range} does not start at 0 or leaves the "
                     f"{size}-byte file")
        return False
    raw_len = len(bytes(contents)) if not isinstance(contents, str) else len(contents)
    stream.seek(len1)
    first = stream.read(1)
    stream.seek(start2 - 1)
    last = stream.read(1)
    if start2 - len1 != 2 * raw_len + 2 or first != b"<" or last != b">":
        verdict.fail(DocReason.PDF_BYTERANGE_GAP,
                     f"the unsigned gap {len1}..{start2} is not exactly the /Contents string")
        return False
    return True


def _signer_cert(signed_data: Any, signer_info: Any) -> tuple[x509.Certificate,
                                                              list[x509.Certificate]]:
    sid = signer_info["sid"]
    certs = [c.chosen for c in signed_data["certificates"] or []
             if c.name == "certificate"]
    others: list[x509.Certificate] = []
    chosen: x509.Certificate | None = None
    for cert in certs:
        crypto = x509.load_der_x509_certificate(cert.dump())
        # cryptography parses names lazily: a malformed one must fail here, typed.
        crypto.subject.rfc4514_string()
        crypto.issuer.rfc4514_string()
        match = False
        if sid.name == "issuer_and_serial_number":
            want = sid.chosen
            match = (cert.serial_number == want["serial_number"].native
                     and cert.issuer == want["issuer"])
        elif cert.key_identifier is not None:
            match = cert.key_identifier == sid.chosen.native
        if match and chosen is None:
            chosen = crypto
        else:
            others.append(crypto)
    if chosen is None:
        raise DocumentError(DocReason.PDF_SIGNER_CERT_MISSING,
                            "no embedded certificate matches the SignerInfo")
    return chosen, others


def _check_cms(verdict: SignatureVerdict, embedded: Any) -> tuple[x509.Certificate,
                                                                   list[x509.Certificate]]:
    """Digest and signature of the CMS; returns the signer's and the other certificates."""
    signed_data = embedded.signed_data
    try:
        infos = list(signed_data["signer_infos"])
        if len(infos) != 1:
            raise DocumentError(DocReason.PDF_CMS_MALFORMED,
                                f"{len(infos)} SignerInfos (one is expected)")
        si = infos[0]
        md_name = si["digest_algorithm"]["algorithm"].native
        algorithm = _DIGESTS.get(md_name)
        if algorithm is None:
            raise DocumentError(DocReason.PDF_UNSUPPORTED_ALGORITHM,
                                f"digest algorithm {md_name} is not accepted")
        if si["signed_attrs"].native is None or not len(si["signed_attrs"]):
            raise DocumentError(DocReason.PDF_CMS_MALFORMED, "no signed attributes")
        attrs: dict[str, list[Any]] = {}
        for attr in si["signed_attrs"]:
            attrs.setdefault(attr["type"].native, []).extend(attr["values"])
        if len(attrs.get("message_digest", [])) != 1:
            raise DocumentError(DocReason.PDF_CMS_MALFORMED,
                                "messageDigest must be signed exactly once")
        message_digest = attrs["message_digest"][0].native
        signing_times = attrs.get("signing_time", [])
        if signing_times:
            verdict.signing_time = signing_times[0].native
        signed_attrs_der = b"\x31" + si["signed_attrs"].dump()[1:]
        sig_algo = si["signature_algorithm"].signature_algo
        signature = si["signature"].native
        unsigned = si["unsigned_attrs"].native or []
        verdict.timestamp = any(a["type"] == "signature_time_stamp_token" for a in unsigned)
        signer, others = _signer_cert(signed_data, si)
    except DocumentError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise DocumentError(DocReason.PDF_CMS_MALFORMED,
                            f"/Contents is not a DER CMS SignedData ({type(exc).__name__})"
                            ) from None
    verdict.signer = signer
    actual = embedded.compute_digest(md_name)  # streamed over /ByteRange by pyHanko
    if actual != message_digest:
        raise DocumentError(DocReason.PDF_DIGEST_MISMATCH,
                            "the CMS messageDigest is not the digest of the signed bytes "
                            "(the /Contents belong to another document?)")
    key = signer.public_key()
    try:
        if sig_algo == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed_attrs_der, padding.PKCS1v15(), algorithm)
        elif sig_algo == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed_attrs_der, ec.ECDSA(algorithm))
        else:
            raise DocumentError(DocReason.PDF_UNSUPPORTED_ALGORITHM,
                                f"signature algorithm {sig_algo} with {type(key).__name__}")
    except InvalidSignature:
        raise DocumentError(DocReason.PDF_BAD_SIGNATURE,
                            "the signature over the signed attributes does not verify"
                            ) from None
    return signer, others


_MDP_ALLOWED = {1: "LTA_UPDATES", 2: "FORM_FILLING", 3: "ANNOTATIONS"}


def _check_changes(verdict: SignatureVerdict, embedded: Any, is_last: bool,
                   certification: int | None) -> None:
    from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    try:
        coverage = embedded.evaluate_signature_coverage()
    except Exception as exc:
        verdict.fail(DocReason.PDF_MALFORMED, f"coverage unreadable ({type(exc).__name__})")
        return
    embedded.coverage = coverage
    verdict.coverage = coverage.name.lower().replace("_", "-")
    if coverage == SignatureCoverageLevel.UNCLEAR:
        verdict.fail(DocReason.PDF_BYTERANGE_GAP, "the /ByteRange leaves an unexplained gap")
        return
    if coverage == SignatureCoverageLevel.CONTIGUOUS_BLOCK_FROM_START:
        verdict.fail(DocReason.PDF_BYTERANGE_INCOMPLETE,
                     "the signed bytes stop before the end of the signature's revision")
        return
    if coverage == SignatureCoverageLevel.ENTIRE_FILE:
        verdict.modification_level = "none"
        return
    diff: Any
    try:
        diff = DEFAULT_DIFF_POLICY.review_file(embedded.reader, embedded.signed_revision,
                                               field_mdp_spec=embedded.fieldmdp,
                                               doc_mdp=embedded.docmdp_level)
    except Exception as exc:  # pyHanko's analysis gave up on the file
        diff = exc
    level = getattr(diff, "modification_level", None)
    if level is None:
        verdict.modification_level = "suspicious"
        verdict.detail = str(diff)[:200] or None
    else:
        verdict.modification_level = level.name.lower()
        verdict.changed_fields = sorted(getattr(diff, "changed_form_fields", ()))
    if is_last:
        verdict.fail(DocReason.PDF_UNSIGNED_UPDATE,
                     "bytes follow the last signature's revision: an incremental update "
                     f"that nobody signed (changes: {verdict.modification_level})")
        return
    if certification is not None:
        allowed = ModificationLevel[_MDP_ALLOWED.get(certification, "ANNOTATIONS")]
        if level is None or level > allowed:
            verdict.fail(DocReason.PDF_DOCMDP_VIOLATION,
                         f"the document is certified with DocMDP level {certification}; a "
                         f"later revision makes {verdict.modification_level} changes")
            return
    if level is None or level == ModificationLevel.OTHER:
        verdict.fail(DocReason.PDF_MODIFIED_AFTER_SIGNING,
                     "a later revision changes what this signature signed "
                     f"({verdict.modification_level})")


def verify_pdf(stream: IO[bytes], trust: TrustStore, *,
               options: ValidationOptions | None = None,
               revocation: RevocationChecker | None = None,
               extra_certificates: Sequence[x509.Certificate] = ()) -> PdfVerification:
    """Verify every signature in the PDF read from ``stream`` (a seekable binary file).

    Returns the verdicts; call :meth:`PdfVerification.raise_for_failure` to turn a refusal
    into a :class:`DocumentError`. A file that is not a PDF raises at once.
    """
    try:
        return _verify_pdf(stream, trust, options=options, revocation=revocation,
                           extra_certificates=extra_certificates)
    except MynaidError:
        raise
    except (RecursionError, Exception) as exc:
        # A hostile file reached a pyHanko parser error outside the per-signature checks.
        raise DocumentError(DocReason.PDF_MALFORMED,
                            f"unreadable PDF structure ({type(exc).__name__})",
                            subject="document") from None


def _verify_pdf(stream: IO[bytes], trust: TrustStore, *,
                options: ValidationOptions | None,
                revocation: RevocationChecker | None,
                extra_certificates: Sequence[x509.Certificate]) -> PdfVerification:
    from pyhanko.sign.fields import enumerate_sig_fields
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

    options = options or ValidationOptions()
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    reader = _reader(stream)
    try:
        fields_found = list(enumerate_sig_fields(reader, filled_status=True))
        dicts = _all_signature_dicts(reader, stream)
    except DocumentError:
        raise
    except Exception as exc:
        raise DocumentError(DocReason.PDF_MALFORMED,
                            f"signature fields unreadable ({type(exc).__name__})",
                            subject="document") from None
    used: set[int] = set()
    items: list[tuple[SignatureVerdict, Any]] = []
    for name, sig_ref, sig_field in fields_found[:MAX_SIGNATURES]:
        found: Any = getattr(sig_ref, "idnum", None)
        if found is None:
            found = getattr(getattr(sig_ref, "reference", None), "idnum", -1)
        idnum = int(found)
        used.add(idnum)
        verdict = SignatureVerdict(field_name=name, object_id=idnum)
        embedded = None
        try:
            sig_obj = sig_ref.get_object()
            subfilter = sig_obj.get("/SubFilter")
        except Exception as exc:
            verdict.fail(DocReason.PDF_MALFORMED,
                         f"unreadable signature dictionary ({type(exc).__name__})")
            items.append((verdict, None))
            continue
        verdict.subfilter = str(subfilter or "").lstrip("/") or None
        if subfilter not in _SUPPORTED_SUBFILTERS:
            verdict.fail(DocReason.PDF_UNSUPPORTED_SUBFILTER,
                         f"/SubFilter {verdict.subfilter} is not verified by mynaid")
        elif _check_byte_range(verdict, sig_obj, stream, size):
            try:
                embedded = EmbeddedPdfSignature(reader, sig_field, name)
                verdict.revision = embedded.signed_revision
            except Exception as exc:
                verdict.fail(DocReason.PDF_CMS_MALFORMED,
                             f"/Contents is not a CMS SignedData ({type(exc).__name__})")
        items.append((verdict, embedded))
    for idnum in sorted(set(dicts) - used):
        verdict = SignatureVerdict(field_name=None, object_id=idnum)
        verdict.fail(DocReason.PDF_UNREFERENCED_SIGNATURE,
                     f"object {idnum} is a signature dictionary that no signature field uses")
        items.append((verdict, None))

    certification = None
    try:
        from pyhanko.sign.validation import read_certification_data

        info = read_certification_data(reader)
        if info is not None:
            certification = int(info.permission.value)
    except Exception:
        items.append((SignatureVerdict(field_name=None, object_id=-1), None))
        items[-1][0].fail(DocReason.PDF_MALFORMED, "unreadable /Perms /DocMDP entry")

    revisions = [v.revision for v, e in items if e is not None and v.revision is not None]
    last_revision = max(revisions) if revisions else None
    for verdict, embedded in items:
        if embedded is None:
            continue
        try:
            if embedded.docmdp_level is not None:
                verdict.certified = int(embedded.docmdp_level.value)
        except Exception:
            verdict.fail(DocReason.PDF_MALFORMED, "unreadable /Reference DocMDP entry")
            continue
        try:
            # Coverage and later changes first: they are about the file's structure, and
            # an unsigned update is the verdict even when the CMS itself is intact.
            _check_changes(verdict, embedded, verdict.revision == last_revision,
                           verdict.certified if verdict.certified is not None
                           else certification)
            signer, others = _check_cms(verdict, embedded)
        except DocumentError as exc:
            verdict.fail(exc.code, exc.detail)
            continue
        except Exception as exc:  # pyHanko's parsers on a hostile signature
            verdict.fail(DocReason.PDF_MALFORMED,
                         f"unreadable signature structure ({type(exc).__name__})")
            continue
        try:
            path = validate_path(signer, trust, intermediates=[*others, *extra_certificates],
                                 options=options)
            verdict.path = path
            if path.role is CertificateRole.SIGN:
                verdict.holder = parse_holder(signer)
            if revocation is not None:
                verdict.revocation = tuple(revocation.enforce(path.certificates,
                                                              options.at))
        except VerificationError as exc:
            verdict.fail(exc.reason.value, exc.detail)
    # Signatures in file order (by revision; hidden ones last).
    items.sort(key=lambda it: (it[0].revision is None, it[0].revision or 0))
    return PdfVerification([v for v, _e in items], size)
