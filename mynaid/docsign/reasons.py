"""Why a document signature was refused: one stable code per attack or defect.

The codes are the contract (``--json`` prints them, tests match on them); the messages
name structure only (object numbers, offsets, reference URIs), never holder data.
Certificate-path failures keep the codes of :class:`mynaid.trust.errors.Reason`.
"""

from __future__ import annotations

import enum

from mynaid.errors import MynaidError, VerificationFailedError

__all__ = ["DocReason", "DocumentError", "DocumentInputError"]


class DocReason(str, enum.Enum):
    """A reason code for a refused PDF or XML signature (the value is what ``--json`` prints)."""

    # --- PDF structure ------------------------------------------------------------------
    PDF_MALFORMED = "pdf-malformed"
    """The file does not parse as PDF, or a signature dictionary lacks a required entry."""
    PDF_NO_SIGNATURE = "pdf-no-signature"
    """The document carries no signature at all."""
    PDF_UNSUPPORTED_SUBFILTER = "pdf-unsupported-subfilter"
    """A signature dictionary with a /SubFilter we do not verify (it is not silently skipped)."""
    PDF_UNREFERENCED_SIGNATURE = "pdf-unreferenced-signature"
    """A signature dictionary that no signature field uses (hidden in an unused object)."""
    PDF_BYTERANGE_MALFORMED = "pdf-byterange-malformed"
    """/ByteRange is not four non-negative integers starting at 0, or leaves the file."""
    PDF_BYTERANGE_GAP = "pdf-byterange-gap"
    """The excluded part of /ByteRange is not exactly the /Contents hex string."""
    PDF_BYTERANGE_INCOMPLETE = "pdf-byterange-incomplete"
    """The signed bytes stop before the end of the revision the signature belongs to."""
    PDF_UNSIGNED_UPDATE = "pdf-unsigned-update"
    """Bytes after the last signature's revision: an incremental update nobody signed."""
    PDF_MODIFIED_AFTER_SIGNING = "pdf-modified-after-signing"
    """A later revision changes what an earlier signature signed (difference analysis)."""
    PDF_DOCMDP_VIOLATION = "pdf-docmdp-violation"
    """A certified document was changed beyond its DocMDP permissions."""
    PDF_DIGEST_MISMATCH = "pdf-digest-mismatch"
    """The CMS messageDigest is not the digest of the bytes /ByteRange names."""
    PDF_BAD_SIGNATURE = "pdf-bad-signature"
    """The CMS signature over the signed attributes does not verify."""
    PDF_CMS_MALFORMED = "pdf-cms-malformed"
    """/Contents is not one DER CMS SignedData with one signer and signed attributes."""
    PDF_UNSUPPORTED_ALGORITHM = "pdf-unsupported-algorithm"
    """A digest or signature algorithm outside the accepted set (SHA-1, MD5, ...)."""
    PDF_SIGNER_CERT_MISSING = "pdf-signer-certificate-missing"
    """No embedded certificate matches the SignerInfo."""

    # --- XML ----------------------------------------------------------------------------
    XML_MALFORMED = "xml-malformed"
    """Not well-formed XML, a DTD or entity declaration, or a Signature lacking parts."""
    XML_NO_SIGNATURE = "xml-no-signature"
    XML_SEVERAL_SIGNATURES = "xml-several-signatures"
    XML_UNSUPPORTED_ALGORITHM = "xml-unsupported-algorithm"
    """Only inclusive C14N 1.0, rsa-sha256/384/512 and SHA-256/384/512 digests are accepted."""
    XML_UNSUPPORTED_TRANSFORM = "xml-unsupported-transform"
    XML_BAD_REFERENCE_URI = "xml-bad-reference-uri"
    """A URI that is not "", "#id" or a plain file name next to the document (no paths)."""
    XML_REFERENCE_NOT_FOUND = "xml-reference-not-found"
    XML_DUPLICATE_ID = "xml-duplicate-id"
    """Two elements carry the referenced ID: which one was signed is ambiguous (wrapping)."""
    XML_SIGNED_ELEMENT_MISPLACED = "xml-signed-element-misplaced"
    """A signed element is not where the application reads it (moved: wrapping)."""
    XML_UNSIGNED_COPY = "xml-unsigned-copy"
    """An unsigned element of the same name sits beside a signed one (wrapping)."""
    XML_DIGEST_MISMATCH = "xml-digest-mismatch"
    XML_BAD_SIGNATURE = "xml-bad-signature"
    XML_SIGNER_CERT_MISSING = "xml-signer-certificate-missing"


class DocumentError(VerificationFailedError):
    """A PDF or XML signature was refused (CLI exit code 6), with a :class:`DocReason`."""

    def __init__(self, reason: DocReason, message: str, *, subject: str | None = None) -> None:
        super().__init__(f"{reason.value}: {message}", reason=reason.value)
        self.code = reason
        self.detail = message
        self.subject = subject


class DocumentInputError(MynaidError, ValueError):
    """A document cannot be signed as asked (certified against changes, unreadable output
    path, a bad option); raised before the card is touched."""

    reason: str = "document-input"
