"""CMS (PKCS#7) SignedData: signing with the card and verifying with a trusted path.

Signing (:func:`sign`) produces what ``openssl cms -verify`` accepts: SignedData v1 with
the content attached or detached, one SignerInfo identified by issuer and serial number,
signed attributes contentType, signingTime and messageDigest, signature algorithm
rsaEncryption (PKCS#1 v1.5) over the DER SET OF the signed attributes, and the signer
certificate embedded (plus its CA certificate when asked). Any ``RSAPrivateKey`` signs,
in particular :class:`mynaid.cardkey.CardRsaPrivateKey`.

Verifying (:func:`verify`) checks, each failure with its own
:class:`~mynaid.trust.errors.Reason`: the structure (DER, one signer), the algorithms
(SHA-256/384/512; RSA PKCS#1 v1.5 or ECDSA), the certificate that matches the signer
identifier, the content type and message digest attributes against the content, the
signature over the signed attributes, the certificate path (:mod:`mynaid.trust.path`), the
holder data of a signature certificate (:mod:`mynaid.trust.san`) and, when configured,
revocation. The structures are handled with asn1crypto; the cryptography with
``cryptography``. Input must be DER (:mod:`mynaid.trust.der`): indefinite or non-minimal
lengths are refused with ``not-der``. When several certificates match the signer
identifier, each is tried.

Large content streams: :func:`sign_file` hashes the content in chunks and writes the
attached SignedData by copying the content into the output behind precomputed lengths (the
bytes are those :func:`sign` returns); :func:`verify_file` hashes a detached content file in
chunks, and for an attached signature locates the eContent OCTET STRING inside the file and
hashes it in place, so neither holds the content in memory.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from asn1crypto import algos, cms, core
from asn1crypto import x509 as a509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from mynaid.errors import ParseError
from mynaid.trust.anchors import TrustStore
from mynaid.trust.certs import ASN1_ERRORS, FOREIGN_ERRORS, load_certificate
from mynaid.trust.der import CMS_OPAQUE, check_der, encode_header, read_header
from mynaid.trust.errors import Reason, VerificationError
from mynaid.trust.path import CertificateRole, ValidatedPath, ValidationOptions, validate_path
from mynaid.trust.revocation import RevocationChecker, RevocationResult
from mynaid.trust.san import HolderInfo, parse_holder

__all__ = [
    "DIGESTS",
    "CmsVerification",
    "copy_content",
    "sign",
    "sign_file",
    "to_pem",
    "verify",
    "verify_file",
]

#: Digest algorithms for signing and verifying (SHA-1 is refused: collisions are practical).
DIGESTS: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}
#: Largest signature file read (a CMS with a few certificates and 100 MB attached content
#: is the practical bound of an in-memory verifier).
MAX_INPUT = 256 * 1024 * 1024

_PEM_RE = re.compile(rb"-----BEGIN (CMS|PKCS7)-----(.*?)-----END \1-----", re.DOTALL)
#: Read size when hashing or copying content.
CHUNK = 1 << 20
#: An attached signature file larger than this is verified in place (:func:`verify_file`);
#: smaller ones are read whole.
INPLACE_THRESHOLD = 1 << 20
#: Bound on the non-content part (certificates, SignerInfo) of a signature verified in place.
MAX_STRUCTURE = 1 << 20
_OID_SIGNED_DATA = bytes.fromhex("06092A864886F70D010702")


# --- signing -----------------------------------------------------------------------------------


def _asn1_cert(cert: x509.Certificate) -> a509.Certificate:
    return a509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _utc_time(t: dt.datetime) -> cms.Time:
    # RFC 5652 11.3: UTCTime for 1950-2049, GeneralizedTime otherwise.
    t = t.astimezone(dt.timezone.utc).replace(microsecond=0)
    if 1950 <= t.year <= 2049:
        return cms.Time({"utc_time": t})
    return cms.Time({"general_time": t})


def _signed_data_parts(message_digest: bytes, key: rsa.RSAPrivateKey,
                       certificate: x509.Certificate, digest: str,
                       chain: Iterable[x509.Certificate],
                       signing_time: dt.datetime | None) -> tuple[bytes, bytes, bytes]:
    """The DER pieces of SignedData around the encapsulated content: (version and
    digestAlgorithms, eContentType, certificates and signerInfos). ``key.sign`` is called
    once, over the signed attributes."""
    if digest not in DIGESTS:
        raise ValueError(f"digest must be one of {', '.join(DIGESTS)}")
    algorithm = DIGESTS[digest]
    when = signing_time or dt.datetime.now(dt.timezone.utc)
    signed_attrs = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute({"type": "signing_time", "values": [_utc_time(when)]}),
        cms.CMSAttribute({"type": "message_digest", "values": [message_digest]}),
    ])
    # RFC 5652 5.4: the signature covers the DER of the attributes as a SET OF (tag 0x31),
    # not the [0] IMPLICIT form they take inside SignerInfo. asn1crypto sorts the SET.
    signature = key.sign(signed_attrs.dump(), padding.PKCS1v15(), algorithm)
    signer = _asn1_cert(certificate)
    digest_algorithm = algos.DigestAlgorithm({"algorithm": digest})
    signer_info = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber({
            "issuer": signer.issuer, "serial_number": signer.serial_number})}),
        "digest_algorithm": digest_algorithm,
        "signed_attrs": signed_attrs,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}),
        "signature": signature,
    })
    signed_data = cms.SignedData({
        "version": "v1",
        "digest_algorithms": [digest_algorithm],
        "encap_content_info": {"content_type": "data"},
        "certificates": [signer, *(_asn1_cert(c) for c in chain)],
        "signer_infos": [signer_info],
    })
    head = signed_data["version"].dump() + signed_data["digest_algorithms"].dump()
    content_type = signed_data["encap_content_info"]["content_type"].dump()
    tail = signed_data["certificates"].dump() + signed_data["signer_infos"].dump()
    return head, content_type, tail


def _envelope(head: bytes, content_type: bytes, tail: bytes,
              content_length: int | None) -> tuple[bytes, bytes]:
    """(prefix, suffix) of the ContentInfo DER: the content (``content_length`` bytes, or
    none for a detached signature) goes between them. Lengths are computed up front, so
    the content can be streamed into the output."""
    if content_length is None:
        encap_body = content_type
        inner = b""
    else:
        octet = encode_header(0x04, content_length)
        inner = encode_header(0xA0, len(octet) + content_length) + octet
        encap_body = content_type + inner
    encap_length = len(content_type) + len(inner) + (content_length or 0)
    encap_header = encode_header(0x30, encap_length)
    sd_length = len(head) + len(encap_header) + encap_length + len(tail)
    sd_header = encode_header(0x30, sd_length)
    explicit = encode_header(0xA0, len(sd_header) + sd_length)
    ci_length = len(_OID_SIGNED_DATA) + len(explicit) + len(sd_header) + sd_length
    prefix = (encode_header(0x30, ci_length) + _OID_SIGNED_DATA + explicit + sd_header + head
              + encap_header + encap_body)
    return prefix, tail


def sign(content: bytes, key: rsa.RSAPrivateKey, certificate: x509.Certificate, *,
         digest: str = "sha256", detached: bool = False,
         chain: Iterable[x509.Certificate] = (),
         signing_time: dt.datetime | None = None) -> bytes:
    """A DER ContentInfo(SignedData) over ``content``, signed by ``key``.

    ``certificate`` is the signer's (embedded, and named by issuer and serial); ``chain``
    adds CA certificates. ``key.sign`` is called once, over the signed attributes.
    """
    if digest not in DIGESTS:
        raise ValueError(f"digest must be one of {', '.join(DIGESTS)}")
    parts = _signed_data_parts(hashlib.new(digest, content).digest(), key, certificate,
                               digest, chain, signing_time)
    prefix, suffix = _envelope(*parts, None if detached else len(content))
    return prefix + (b"" if detached else content) + suffix


def _hash_stream(stream: IO[bytes], digest: str, length: int | None = None) -> bytes:
    hasher = hashlib.new(digest)
    remaining = length
    while remaining is None or remaining > 0:
        want = CHUNK if remaining is None else min(CHUNK, remaining)
        chunk = stream.read(want)
        if not chunk:
            if remaining:
                raise ParseError("the content ended early (file truncated while read)",
                                 reason="content-truncated")
            break
        hasher.update(chunk)
        if remaining is not None:
            remaining -= len(chunk)
    return hasher.digest()


def _copy(source: IO[bytes], output: IO[bytes], length: int) -> None:
    remaining = length
    while remaining > 0:
        chunk = source.read(min(CHUNK, remaining))
        if not chunk:
            raise ParseError("the content changed size while it was signed",
                             reason="content-truncated")
        output.write(chunk)
        remaining -= len(chunk)


def _write_pem(output: IO[bytes], prefix: bytes, source: IO[bytes] | None, length: int,
               suffix: bytes) -> int:
    """Write PEM armour of prefix + content + suffix, base64 in 64-character lines, in
    chunks (48 input bytes make one line)."""
    written = 0
    pending = b""

    def lines(data: bytes, final: bool) -> bytes:
        whole = len(data) - len(data) % 48 if not final else len(data)
        encoded = base64.b64encode(data[:whole])
        body = b"\n".join(encoded[i:i + 64] for i in range(0, len(encoded), 64))
        return body + b"\n" if body else b""

    def feed(data: bytes, final: bool = False) -> None:
        nonlocal pending, written
        pending += data
        cut = len(pending) if final else len(pending) - len(pending) % 48
        chunk = lines(pending[:cut], final)
        pending = pending[cut:]
        output.write(chunk)
        written += len(chunk)

    head = b"-----BEGIN CMS-----\n"
    output.write(head)
    written += len(head)
    feed(prefix)
    remaining = length
    while source is not None and remaining > 0:
        chunk = source.read(min(CHUNK, remaining))
        if not chunk:
            raise ParseError("the content changed size while it was signed",
                             reason="content-truncated")
        feed(chunk)
        remaining -= len(chunk)
    feed(suffix, final=True)
    tail = b"-----END CMS-----\n"
    output.write(tail)
    return written + len(tail)


def sign_file(source: IO[bytes], output: IO[bytes], key: rsa.RSAPrivateKey,
              certificate: x509.Certificate, *, digest: str = "sha256",
              detached: bool = False, chain: Iterable[x509.Certificate] = (),
              signing_time: dt.datetime | None = None, pem: bool = False) -> int:
    """Sign the content read from ``source`` into ``output``; returns the bytes written.

    The content is hashed in chunks; an attached signature copies it into ``output`` in a
    second pass (``source`` must then be seekable), so memory does not grow with the content.
    ``pem`` armours the output (streamed too). The output equals :func:`sign`'s (or
    :func:`to_pem` of it) for the same input.
    """
    if digest not in DIGESTS:
        raise ValueError(f"digest must be one of {', '.join(DIGESTS)}")
    start = source.tell() if not detached else 0
    if not detached and not source.seekable():
        raise ValueError("an attached signature needs a seekable content stream")
    message_digest = _hash_stream(source, digest)
    length = (source.tell() - start) if not detached else None
    parts = _signed_data_parts(message_digest, key, certificate, digest, chain, signing_time)
    prefix, suffix = _envelope(*parts, length)
    if pem:
        if length is not None:
            source.seek(start)
        return _write_pem(output, prefix, source if length is not None else None,
                          length or 0, suffix)
    output.write(prefix)
    if length is not None:
        source.seek(start)
        _copy(source, output, length)
    output.write(suffix)
    return len(prefix) + (length or 0) + len(suffix)


def to_pem(der: bytes) -> bytes:
    """PEM armour with the ``CMS`` label (what ``openssl cms -outform PEM`` writes)."""
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return b"-----BEGIN CMS-----\n" + b"\n".join(lines) + b"\n-----END CMS-----\n"


# --- parsing -----------------------------------------------------------------------------------


def _malformed(message: str) -> VerificationError:
    return VerificationError(Reason.MALFORMED, message, subject="signature")


def _unarmour(data: bytes) -> bytes:
    if b"-----BEGIN" not in data[:1024]:
        return data
    match = _PEM_RE.search(data)
    if match is None:
        raise _malformed("PEM input without a CMS or PKCS7 block")
    try:
        return base64.b64decode(b"".join(match.group(2).split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _malformed("the PEM block is not valid base64") from exc


@dataclass
class _SignerData:
    content_type: str
    content: bytes | None
    certificates: list[x509.Certificate]
    sid: tuple[str, Any, Any]  # ("issuer", Name, serial) or ("ski", bytes, None)
    digest_algorithm: str
    signature_algorithm: str
    signature_hash: str | None
    signature: bytes
    signed_attrs_der: bytes | None
    attributes: dict[str, list[Any]] = field(default_factory=dict)


def _tlv(der: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    """The (start, end) of the contents of the TLV at ``pos`` that must carry ``tag``."""
    header = read_header(der, pos, end)
    if header.tag != tag:
        if tag == 0x04 and header.tag == 0x24:
            raise VerificationError(Reason.NOT_DER, f"the {what} is a constructed OCTET "
                                    "STRING (BER, not DER)", subject="signature")
        raise _malformed(f"unexpected tag {header.tag:02X} for the {what} "
                         f"({tag:02X} belongs there)")
    start = pos + header.header_length
    return start, start + header.length


def _children(der: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """(tag, TLV start, TLV end) of each element inside ``der[start:end]``."""
    out = []
    pos = start
    while pos < end:
        header = read_header(der, pos, end)
        stop = pos + header.header_length + header.length
        out.append((header.tag, pos, stop))
        pos = stop
    return out


def _oid(der: bytes) -> core.ObjectIdentifier:
    return core.ObjectIdentifier.load(der, strict=True)


def _parse(data: bytes) -> _SignerData:
    """Split a DER ContentInfo(SignedData) into what verification uses.

    The frame (ContentInfo, SignedData, EncapsulatedContentInfo, SignerInfo) is walked with
    the DER header reader, each element's tag checked; the small leaves (algorithm
    identifiers, the signer's issuer name, the signed attributes) are parsed with asn1crypto
    and the certificates with ``cryptography``. A full asn1crypto parse of the whole
    structure (certificates included, which are parsed again by ``cryptography``) cost
    several times the two RSA verifications.
    """
    der = bytes(_unarmour(data))
    check_der(der, subject="signature", opaque=CMS_OPAQUE)
    try:
        return _parse_checked(der)
    except VerificationError:
        raise
    except ASN1_ERRORS:
        # asn1crypto parses lazily, so truncation or a wrong tag surfaces on first access.
        raise _malformed("not a DER CMS SignedData (bad structure)") from None


def _parse_checked(der: bytes) -> _SignerData:
    ci_start, ci_end = _tlv(der, 0, len(der), 0x30, "ContentInfo")
    _, type_end = _tlv(der, ci_start, ci_end, 0x06, "content type")
    if der[ci_start:type_end] != _OID_SIGNED_DATA:
        raise _malformed(f"the content type is {_oid(der[ci_start:type_end]).native}, "
                         "not signedData")
    wrap_start, wrap_end = _tlv(der, type_end, ci_end, 0xA0, "content")
    sd_start, sd_end = _tlv(der, wrap_start, wrap_end, 0x30, "SignedData")
    if wrap_end != ci_end or sd_end != wrap_end:
        raise _malformed("trailing bytes inside the ContentInfo")
    parts = _children(der, sd_start, sd_end)
    tags = [tag for tag, _, _ in parts]
    if len(parts) < 4 or tags[:3] != [0x02, 0x31, 0x30] or tags[-1] != 0x31 \
            or not all(t in (0xA0, 0xA1) for t in tags[3:-1]) or tags[3:-1].count(0xA0) > 1 \
            or tags[3:-1].count(0xA1) > 1 or tags[3:-1] == [0xA1, 0xA0]:
        raise _malformed("the SignedData does not have the fields of RFC 5652 5.1")

    # encapContentInfo: eContentType, then the content ([0] EXPLICIT OCTET STRING) or none.
    _, encap_pos, encap_stop = parts[2]
    encap_start, encap_end = _tlv(der, encap_pos, encap_stop, 0x30, "encapContentInfo")
    _, ctype_end = _tlv(der, encap_start, encap_end, 0x06, "eContentType")
    content_type = _oid(der[encap_start:ctype_end]).dotted
    content: bytes | None = None
    if ctype_end != encap_end:
        explicit_start, explicit_end = _tlv(der, ctype_end, encap_end, 0xA0, "eContent")
        octets_start, octets_end = _tlv(der, explicit_start, explicit_end, 0x04,
                                        "encapsulated content")
        if octets_end != explicit_end or explicit_end != encap_end:
            raise _malformed("trailing bytes after the encapsulated content")
        content = der[octets_start:octets_end]

    certs: list[x509.Certificate] = []
    for tag, pos, stop in parts[3:-1]:
        if tag != 0xA0:
            continue  # crls [1]: revocation is checked from its own sources
        head = read_header(der, pos, stop)
        for index, (choice, cpos, cstop) in enumerate(
                _children(der, pos + head.header_length, stop)):
            if choice != 0x30:
                continue  # attribute certificates and others play no part here
            # Fully parsed here, so no broken field surfaces later as a foreign error.
            certs.append(load_certificate(der[cpos:cstop], what=f"embedded certificate {index}",
                                          index=index))

    _, infos_pos, infos_stop = parts[-1]
    head = read_header(der, infos_pos, infos_stop)
    signer_infos = _children(der, infos_pos + head.header_length, infos_stop)
    if not signer_infos:
        raise _malformed("the SignedData has no SignerInfo")
    if len(signer_infos) > 1:
        raise VerificationError(Reason.UNSUPPORTED, f"{len(signer_infos)} signers; one is "
                                "supported", subject="signature")
    _, si_pos, si_stop = signer_infos[0]
    si_start, si_end = _tlv(der, si_pos, si_stop, 0x30, "SignerInfo")
    fields = _children(der, si_start, si_end)
    ftags = [tag for tag, _, _ in fields]
    if len(fields) < 5 or ftags[0] != 0x02 or ftags[1] not in (0x30, 0x80) \
            or ftags[2] != 0x30:
        raise _malformed("the SignerInfo does not have the fields of RFC 5652 5.3")
    rest = fields[3:]
    signed_attrs_der: bytes | None = None
    attributes: dict[str, list[Any]] = {}
    if rest[0][0] == 0xA0:
        _, apos, astop = rest[0]
        # The original encoding, re-tagged from [0] IMPLICIT to SET OF (RFC 5652 5.4):
        # re-encoding would hide a non-DER set that the signer actually signed.
        signed_attrs_der = b"\x31" + der[apos + 1:astop]
        attrs_start = apos + read_header(der, apos, astop).header_length
        for _, attr_pos, attr_stop in _children(der, attrs_start, astop):
            name, values = _attribute(der, attr_pos, attr_stop)
            if name in attributes:
                raise _malformed(f"the signed attribute {name} appears twice")
            attributes[name] = values
        rest = rest[1:]
    if len(rest) not in (2, 3) or rest[0][0] != 0x30 or rest[1][0] != 0x04 \
            or (len(rest) == 3 and rest[2][0] != 0xA1):
        raise _malformed("the SignerInfo does not have the fields of RFC 5652 5.3")

    signature_algo, signature_hash = _signature_algorithm(der[rest[0][1]:rest[0][2]])
    sid_tag, sid_pos, sid_stop = fields[1]
    if sid_tag == 0x30:
        sid_start, sid_end = _tlv(der, sid_pos, sid_stop, 0x30, "signer identifier")
        name_tag, name_pos, name_stop = _tag_span(der, sid_start, sid_end)
        serial_start, serial_end = _tlv(der, name_stop, sid_end, 0x02, "serial number")
        if name_tag != 0x30 or serial_end != sid_end:
            raise _malformed("the signer identifier is not an IssuerAndSerialNumber")
        issuer = a509.Name.load(der[name_pos:name_stop], strict=True)
        serial = int.from_bytes(der[serial_start:serial_end], "big", signed=True)
        sid_key: tuple[str, Any, Any] = ("issuer", issuer, serial)
    else:
        head = read_header(der, sid_pos, sid_stop)
        sid_key = ("ski", der[sid_pos + head.header_length:sid_stop], None)
    digest_name = _digest_algorithm(der[fields[2][1]:fields[2][2]])
    sig_start, sig_end = _tlv(der, rest[1][1], rest[1][2], 0x04, "signature")
    if not isinstance(digest_name, str) or not isinstance(signature_algo, str):
        raise _malformed("the SignerInfo's algorithm is not well formed")
    return _SignerData(
        content_type=content_type,
        content=content,
        certificates=certs,
        sid=sid_key,
        digest_algorithm=digest_name,
        signature_algorithm=signature_algo,
        signature_hash=signature_hash,
        signature=der[sig_start:sig_end],
        signed_attrs_der=signed_attrs_der,
        attributes=attributes,
    )


#: Parsed AlgorithmIdentifiers by their DER (a pure function of a few dozen bytes, and every
#: signature repeats the same two): bounded, as hostile input can vary them.
_ALGORITHMS: dict[bytes, tuple[str, str | None]] = {}


def _remember(der: bytes, value: tuple[str, str | None]) -> tuple[str, str | None]:
    if len(_ALGORITHMS) >= 64:
        _ALGORITHMS.clear()
    _ALGORITHMS[der] = value
    return value


def _digest_algorithm(der: bytes) -> str:
    hit = _ALGORITHMS.get(b"d" + der)
    if hit is None:
        name = algos.DigestAlgorithm.load(der, strict=True)["algorithm"].native
        if not isinstance(name, str):
            raise _malformed("the SignerInfo's digest algorithm is not well formed")
        hit = _remember(b"d" + der, (name, None))
    return hit[0]


def _signature_algorithm(der: bytes) -> tuple[str, str | None]:
    """(signature algorithm, the hash a combined OID names or None)."""
    hit = _ALGORITHMS.get(b"s" + der)
    if hit is not None:
        return hit
    sig_alg = algos.SignedDigestAlgorithm.load(der, strict=True)
    algorithm = sig_alg["algorithm"].native
    signature_hash: str | None = None
    if algorithm not in ("rsassa_pkcs1v15", "ecdsa"):
        # Only the combined OIDs (sha256_rsa, sha256_ecdsa, ...) name a hash; asking the
        # plain ones raises, which is slow.
        try:
            signature_hash = sig_alg.hash_algo
        except ValueError:
            signature_hash = None
        algorithm = sig_alg.signature_algo
    if not isinstance(algorithm, str):
        raise _malformed("the SignerInfo's signature algorithm is not well formed")
    return _remember(b"s" + der, (algorithm, signature_hash))


#: The signed attributes verification reads, by the DER of their type OID: (name, the tags
#: a value may have, how it is decoded).
_KNOWN_ATTRIBUTES: dict[bytes, tuple[str, tuple[int, ...], Callable[[bytes], Any]]] = {
    bytes.fromhex("06092A864886F70D010903"): (
        "content_type", (0x06,), lambda v: _oid(v).native),
    bytes.fromhex("06092A864886F70D010904"): (
        "message_digest", (0x04,), lambda v: core.OctetString.load(v, strict=True).native),
    bytes.fromhex("06092A864886F70D010905"): (
        "signing_time", (0x17, 0x18), lambda v: cms.Time.load(v, strict=True).native),
}


def _attribute(der: bytes, pos: int, stop: int) -> tuple[str, list[Any]]:
    """(name, values) of the Attribute at ``der[pos:stop]``: the three that verification
    reads decoded directly, any other one by asn1crypto (as before, so a malformed value of
    a known type is still refused)."""
    start, end = _tlv(der, pos, stop, 0x30, "signed attribute")
    _, oid_pos, oid_stop = _tag_span(der, start, end)
    known = _KNOWN_ATTRIBUTES.get(der[oid_pos:oid_stop])
    if known is None:
        attr = cms.CMSAttribute.load(der[pos:stop], strict=True)
        return attr["type"].native, list(attr["values"].native)
    name, value_tags, decode = known
    set_start, set_end = _tlv(der, oid_stop, end, 0x31, f"{name} values")
    if set_end != end:
        raise _malformed(f"trailing bytes in the signed attribute {name}")
    values = []
    for tag, vpos, vstop in _children(der, set_start, set_end):
        if tag not in value_tags:
            raise _malformed(f"the signed attribute {name} has a value of tag {tag:02X}")
        values.append(decode(der[vpos:vstop]))
    return name, values


def _tag_span(der: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, TLV start, TLV end) of the element at ``pos``."""
    header = read_header(der, pos, end)
    return header.tag, pos, pos + header.header_length + header.length


# --- verifying ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CmsVerification:
    """A verified signature: who signed, with which certificate, validated how."""

    signer: x509.Certificate
    path: ValidatedPath
    holder: HolderInfo | None
    digest_algorithm: str
    signing_time: dt.datetime | None
    #: The signed content; None when :func:`verify_file` hashed it in place or from a file.
    content: bytes | None = field(repr=False)
    detached: bool
    revocation: tuple[RevocationResult, ...] = ()
    content_length: int = -1
    #: Where the content lies in the signature file (attached, verified in place).
    content_offset: int | None = None
    #: The verified messageDigest (``digest_algorithm`` over the content).
    content_digest: bytes = field(default=b"", repr=False)

    @property
    def role(self) -> CertificateRole:
        return self.path.role

    def as_dict(self, *, holder_details: bool = False) -> dict[str, Any]:
        """A JSON-friendly summary (holder name and address only, unless asked)."""
        holder: dict[str, Any] | None = None
        if self.holder is not None:
            holder = self.holder.details() if holder_details else self.holder.summary()
        return {
            "valid": True,
            "role": self.role.value,
            "holder": holder,
            "subject": self.signer.subject.rfc4514_string(),
            "serial": format(self.signer.serial_number, "X"),
            "issuer": self.signer.issuer.rfc4514_string(),
            "not_after": self.signer.not_valid_after_utc.isoformat(),
            "policies": list(self.path.policies),
            "policy_kind": self.path.policy_kind.value,
            "anchor": self.path.anchor.subject.rfc4514_string(),
            "anchor_fingerprint": self.path.anchor_fingerprint,
            "jlis_root": self.path.jlis_root.label if self.path.jlis_root else None,
            "digest_algorithm": self.digest_algorithm,
            "signing_time": self.signing_time.isoformat() if self.signing_time else None,
            "detached": self.detached,
            "validated_at": self.path.validated_at.isoformat(),
            "revocation": [r.as_dict() for r in self.revocation],
        }


def _names_equal(wanted: a509.Name, cert: x509.Certificate) -> bool:
    if wanted.dump() == cert.issuer.public_bytes():
        return True
    try:
        # Another encoding of the same name (e.g. PrintableString vs UTF8String): asn1crypto
        # compares normalised strings (RFC 5280 7.1); hostile bytes in a string that is not
        # in its declared encoding make it raise instead.
        return bool(a509.Name.load(cert.issuer.public_bytes()) == wanted)
    except ASN1_ERRORS:
        return False


def _key_identifier(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def _signer_certificates(parsed: _SignerData,
                         extra: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """Every available certificate that matches the signer identifier, embedded first."""
    pool = [*parsed.certificates, *extra]
    if not pool:
        raise VerificationError(Reason.SIGNER_CERT_MISSING,
                                "the signature carries no certificate and none was given",
                                subject="signature")
    kind, wanted, serial = parsed.sid
    matches: list[x509.Certificate] = []
    for cert in pool:
        try:
            if kind == "issuer":
                hit = cert.serial_number == serial and _names_equal(wanted, cert)
            else:
                ski = _key_identifier(cert)
                hit = ski is not None and ski == wanted
        except FOREIGN_ERRORS:
            hit = False
        if hit and all(cert is not m for m in matches):
            matches.append(cert)
    if not matches:
        raise VerificationError(Reason.SIGNER_CERT_MISMATCH,
                                "no certificate matches the SignerInfo's signer identifier",
                                subject="signature")
    return matches


def _single(parsed: _SignerData, name: str) -> Any:
    values = parsed.attributes.get(name)
    if values is None:
        return None
    if len(values) != 1:
        raise _malformed(f"the signed attribute {name} has {len(values)} values")
    return values[0]


def _key_kind(key: object) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return "an RSA"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "an EC"
    return "this kind of"


def _check_signature(cert: x509.Certificate, parsed: _SignerData, data: bytes,
                     algorithm: hashes.HashAlgorithm) -> None:
    key = cert.public_key()
    if parsed.signature_hash is not None and parsed.signature_hash != parsed.digest_algorithm:
        raise VerificationError(Reason.UNSUPPORTED_ALGORITHM,
                                f"signature hash {parsed.signature_hash} differs from the "
                                f"digest algorithm {parsed.digest_algorithm}",
                                subject="signature")
    try:
        if parsed.signature_algorithm == "rsassa_pkcs1v15" and isinstance(key,
                                                                          rsa.RSAPublicKey):
            key.verify(parsed.signature, data, padding.PKCS1v15(), algorithm)
        elif parsed.signature_algorithm == "ecdsa" and isinstance(key,
                                                                  ec.EllipticCurvePublicKey):
            key.verify(parsed.signature, data, ec.ECDSA(algorithm))
        else:
            raise VerificationError(Reason.UNSUPPORTED_ALGORITHM,
                                    f"signature algorithm {parsed.signature_algorithm} with "
                                    f"{_key_kind(key)} key is not supported",
                                    subject="signature")
    except InvalidSignature:
        raise VerificationError(Reason.BAD_SIGNATURE,
                                "the signature over the signed attributes does not verify "
                                "with the signer's key", subject="signature") from None


def verify(data: bytes, trust: TrustStore, *, content: bytes | None = None,
           options: ValidationOptions | None = None,
           extra_certificates: Sequence[x509.Certificate] = (),
           revocation: RevocationChecker | None = None,
           required_role: CertificateRole | None = None) -> CmsVerification:
    """Verify a DER or PEM CMS SignedData; raise :class:`VerificationError` if anything fails.

    ``content`` is required for a detached signature. ``extra_certificates`` may supply the
    signer certificate or CA certificates that the signature does not embed. With
    ``revocation``, every certificate but the anchor must be "good". ``required_role``
    (e.g. :attr:`CertificateRole.SIGN`) refuses a signature made with a certificate of
    another role (``role-mismatch``).
    """
    if len(data) > MAX_INPUT:
        raise VerificationError(Reason.UNSUPPORTED, "the signature file is too large",
                                subject="signature")
    parsed = _parse(data)
    if parsed.content is None and content is None:
        raise VerificationError(Reason.CONTENT_MISSING,
                                "a detached signature needs its content", subject="signature")
    if parsed.content is not None and content is not None and parsed.content != content:
        raise VerificationError(Reason.CONTENT_MISMATCH,
                                "the given content differs from the signed, embedded content",
                                subject="signature")
    signed_content = parsed.content if parsed.content is not None else content
    assert signed_content is not None
    return _verify_parsed(parsed, lambda name: hashlib.new(name, signed_content).digest(),
                          trust, options, extra_certificates, revocation, required_role,
                          signed_content, len(signed_content), parsed.content is None)


def _verify_parsed(parsed: _SignerData, digest_of: Callable[[str], bytes], trust: TrustStore,
                   options: ValidationOptions | None,
                   extra_certificates: Sequence[x509.Certificate],
                   revocation: RevocationChecker | None,
                   required_role: CertificateRole | None, content: bytes | None,
                   content_length: int, detached: bool) -> CmsVerification:
    try:
        return _verify_checked(parsed, digest_of, trust, options, extra_certificates,
                               revocation, required_role, content, content_length, detached)
    except ASN1_ERRORS:
        # Belt and braces: everything used is parsed in _parse and load_certificate, so this
        # is a structure that slipped through; it is still hostile input, not a crash.
        raise _malformed("the signature does not parse (bad structure)") from None


def _verify_checked(parsed: _SignerData, digest_of: Callable[[str], bytes],
                    trust: TrustStore, options: ValidationOptions | None,
                    extra_certificates: Sequence[x509.Certificate],
                    revocation: RevocationChecker | None,
                    required_role: CertificateRole | None, content: bytes | None,
                    content_length: int, detached: bool) -> CmsVerification:
    options = options or ValidationOptions()
    algorithm = DIGESTS.get(parsed.digest_algorithm)
    if algorithm is None:
        raise VerificationError(Reason.UNSUPPORTED_ALGORITHM,
                                f"digest algorithm {parsed.digest_algorithm} is not accepted",
                                subject="signature")
    extra = [load_certificate(c.public_bytes(serialization.Encoding.DER),
                              what=f"extra certificate {i}", index=i)
             for i, c in enumerate(extra_certificates)]
    candidates = _signer_certificates(parsed, extra)

    if parsed.signed_attrs_der is None:
        raise VerificationError(Reason.SIGNED_ATTRIBUTES_MISSING,
                                "the signature has no signed attributes", subject="signature")
    content_type = _single(parsed, "content_type")
    message_digest = _single(parsed, "message_digest")
    if content_type is None or message_digest is None:
        raise VerificationError(Reason.SIGNED_ATTRIBUTES_MISSING,
                                "contentType and messageDigest must be signed attributes",
                                subject="signature")
    if not isinstance(content_type, str) or not isinstance(message_digest, bytes):
        raise _malformed("the contentType or messageDigest attribute is not well formed")
    type_oid = cms.ContentType(content_type).dotted
    if type_oid != parsed.content_type:
        raise VerificationError(Reason.CONTENT_TYPE_MISMATCH,
                                f"the contentType attribute {content_type} differs from the "
                                f"content's type", subject="signature")
    actual = digest_of(parsed.digest_algorithm)
    if message_digest != actual:
        raise VerificationError(Reason.MESSAGE_DIGEST_MISMATCH,
                                "the messageDigest attribute is not the digest of the content",
                                subject="signature")
    # Several certificates may match the identifier (a re-issued certificate with the same
    # issuer and serial, or a planted one): the one whose key verifies is the signer.
    signer: x509.Certificate | None = None
    first_error: VerificationError | None = None
    for candidate in candidates:
        try:
            _check_signature(candidate, parsed, parsed.signed_attrs_der, algorithm)
        except VerificationError as exc:
            first_error = first_error or exc
            continue
        signer = candidate
        break
    if signer is None:
        assert first_error is not None
        raise first_error

    path = validate_path(signer, trust, intermediates=[*parsed.certificates, *extra],
                         options=options)
    if required_role is not None and required_role is not CertificateRole.ANY \
            and path.role is not required_role:
        raise VerificationError(Reason.ROLE_MISMATCH,
                                f"the signature was made with the {path.role.value} "
                                f"certificate; a {required_role.value} certificate is "
                                "required", subject="certificate 0")
    holder = parse_holder(signer) if path.role is CertificateRole.SIGN else None
    results: tuple[RevocationResult, ...] = ()
    if revocation is not None:
        results = tuple(revocation.enforce(path.certificates, options.at))
    signing_time = _single(parsed, "signing_time")
    return CmsVerification(
        signer=signer,
        path=path,
        holder=holder,
        digest_algorithm=parsed.digest_algorithm,
        signing_time=signing_time if isinstance(signing_time, dt.datetime) else None,
        content=content,
        detached=detached,
        revocation=results,
        content_length=content_length,
        content_digest=message_digest,
    )


# --- verifying files ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Located:
    """An attached SignedData in a file: its non-content part, and where the content is."""

    detached_der: bytes
    content_offset: int
    content_length: int


class _Reader(Protocol):
    def seek(self, pos: int) -> int: ...
    def read(self, count: int) -> bytes: ...


def _read_at(stream: _Reader, pos: int, count: int) -> bytes:
    stream.seek(pos)
    data = stream.read(count)
    if len(data) != count:
        raise _malformed("truncated")
    return data


def _locate(stream: _Reader, size: int) -> _Located | None:
    """Find the eContent OCTET STRING of a DER ContentInfo(SignedData) in ``stream``.

    Returns None for a detached signature. Only headers and the small parts around the
    content are read; everything read is DER-checked again by :func:`_parse`.
    """

    def header(pos: int, end: int, tag: int) -> tuple[int, int]:
        chunk = _read_at(stream, pos, min(16, end - pos))
        h = read_header(chunk, 0, len(chunk), available=end - pos)
        if h.tag != tag:
            if tag == 0x04 and h.tag == 0x24:
                raise VerificationError(Reason.NOT_DER, "the content is a constructed "
                                        "OCTET STRING (BER, not DER)", subject="signature")
            raise _malformed(f"unexpected tag {h.tag:02X} where {tag:02X} belongs")
        return pos + h.header_length, pos + h.header_length + h.length

    def whole(pos: int, end: int, tag: int, limit: int) -> tuple[bytes, int]:
        _, stop = header(pos, end, tag)
        if stop - pos > limit:
            raise VerificationError(Reason.UNSUPPORTED, "a part of the signature is too large",
                                    subject="signature")
        return _read_at(stream, pos, stop - pos), stop

    ci_body, ci_end = header(0, size, 0x30)
    if ci_end != size:
        raise _malformed("trailing bytes after the structure")
    oid, pos = whole(ci_body, ci_end, 0x06, 64)
    if oid != _OID_SIGNED_DATA:
        raise _malformed("the content type is not signedData")
    explicit_body, explicit_end = header(pos, ci_end, 0xA0)
    sd_body, sd_end = header(explicit_body, explicit_end, 0x30)
    if explicit_end != ci_end or sd_end != explicit_end:
        raise _malformed("trailing bytes inside the ContentInfo")
    version, pos = whole(sd_body, sd_end, 0x02, 16)
    algorithms, pos = whole(pos, sd_end, 0x31, 4096)
    encap_body, encap_end = header(pos, sd_end, 0x30)
    econtent_type, pos = whole(encap_body, encap_end, 0x06, 64)
    if pos == encap_end:
        return None
    wrapper_body, wrapper_end = header(pos, encap_end, 0xA0)
    content_offset, content_end = header(wrapper_body, wrapper_end, 0x04)
    if content_end != wrapper_end or wrapper_end != encap_end:
        raise _malformed("trailing bytes after the encapsulated content")
    if sd_end - encap_end > MAX_STRUCTURE:
        raise VerificationError(Reason.UNSUPPORTED, "the certificates and signer information "
                                "are too large", subject="signature")
    tail = _read_at(stream, encap_end, sd_end - encap_end)
    prefix, suffix = _envelope(version + algorithms, econtent_type, tail, None)
    return _Located(prefix + suffix, content_offset, content_end - content_offset)


def _open(source: str | Path | IO[bytes]) -> tuple[IO[bytes], bool]:
    if isinstance(source, (str, Path)):
        try:
            return open(source, "rb"), True  # closed by the caller
        except OSError as exc:
            raise ParseError(f"cannot read {source}: {exc.strerror or exc}",
                             reason="unreadable-file") from None
    return source, False


def _size(stream: IO[bytes]) -> int | None:
    try:
        if not stream.seekable():
            return None
        return os.fstat(stream.fileno()).st_size - stream.tell()
    except (OSError, ValueError, AttributeError):
        return None


def verify_file(signature: str | Path | IO[bytes], trust: TrustStore, *,
                content: str | Path | IO[bytes] | None = None,
                options: ValidationOptions | None = None,
                extra_certificates: Sequence[x509.Certificate] = (),
                revocation: RevocationChecker | None = None,
                required_role: CertificateRole | None = None) -> CmsVerification:
    """:func:`verify` for files or binary streams, without holding the content in memory.

    A detached signature's ``content`` is hashed in chunks. A large attached DER signature
    is verified in place: its content is hashed where it lies in the file, and the result's
    ``content`` is None (``content_offset``/``content_length`` say where it is; see
    :func:`copy_content`). Small or PEM signatures are read whole and verified as by
    :func:`verify`. Given ``content`` for an attached signature must equal the embedded one.
    """
    stream, owned = _open(signature)
    try:
        size = _size(stream)
        if size is not None and size > MAX_INPUT:
            raise VerificationError(Reason.UNSUPPORTED, "the signature file is too large",
                                    subject="signature")
        located: _Located | None = None
        head = b""
        if size is not None and size > INPLACE_THRESHOLD:
            base = stream.tell()
            head = _read_at(stream, base, 16)
            stream.seek(base)
            if not head.startswith(b"-----"):
                located = _locate(_Offset(stream, base), size)
                stream.seek(base)
        if located is None:
            data = stream.read(MAX_INPUT + 1)
            if len(data) > MAX_INPUT:
                raise VerificationError(Reason.UNSUPPORTED, "the signature file is too large",
                                        subject="signature")
            parsed = _parse(data)
            if parsed.content is not None:
                if content is not None:
                    given = _read_content(content, len(parsed.content) + 1)
                    if given != parsed.content:
                        raise VerificationError(Reason.CONTENT_MISMATCH,
                                                "the given content differs from the "
                                                "signed, embedded content",
                                                subject="signature")
                embedded = parsed.content
                return _verify_parsed(parsed, lambda n: hashlib.new(n, embedded).digest(),
                                      trust, options, extra_certificates, revocation,
                                      required_role, embedded, len(embedded), False)
            if content is None:
                raise VerificationError(Reason.CONTENT_MISSING,
                                        "a detached signature needs its content",
                                        subject="signature")
            content_stream, content_owned = _open(content)
            try:
                digests: dict[str, bytes] = {}

                def digest_of(name: str) -> bytes:
                    if name not in digests:
                        digests[name] = _hash_stream(content_stream, name)
                    return digests[name]

                length = _size(content_stream)
                return _verify_parsed(parsed, digest_of, trust, options, extra_certificates,
                                      revocation, required_role, None,
                                      length if length is not None else -1, True)
            finally:
                if content_owned:
                    content_stream.close()
        parsed = _parse(located.detached_der)
        if content is not None:
            raise VerificationError(Reason.CONTENT_MISMATCH,
                                    "content was given for a signature that embeds its own",
                                    subject="signature")
        where = located

        def in_place(name: str) -> bytes:
            stream.seek(base + where.content_offset)
            return _hash_stream(stream, name, where.content_length)

        result = _verify_parsed(parsed, in_place, trust, options, extra_certificates,
                                revocation, required_role, None, located.content_length,
                                False)
        return _with_offset(result, base + located.content_offset)
    finally:
        if owned:
            stream.close()


def _with_offset(result: CmsVerification, offset: int) -> CmsVerification:
    import dataclasses

    return dataclasses.replace(result, content_offset=offset)


def _read_content(source: str | Path | IO[bytes], limit: int) -> bytes:
    stream, owned = _open(source)
    try:
        return stream.read(limit)
    finally:
        if owned:
            stream.close()


class _Offset:
    """A view of a stream that starts at ``base`` (so offsets in the DER are file-relative
    to where the signature starts)."""

    def __init__(self, stream: IO[bytes], base: int) -> None:
        self._stream = stream
        self._base = base

    def seek(self, pos: int) -> int:
        return self._stream.seek(self._base + pos) - self._base

    def read(self, count: int) -> bytes:
        return self._stream.read(count)


def copy_content(signature: str | Path | IO[bytes], result: CmsVerification,
                 output: IO[bytes], *, content: str | Path | IO[bytes] | None = None) -> None:
    """Write the verified content to ``output``: from memory, from the signature file where
    :func:`verify_file` found it, or (detached) from ``content``.

    What is copied is hashed again on the way: if the file changed after it was verified,
    :class:`VerificationError` (``message-digest-mismatch``) is raised and the caller must
    discard ``output``.
    """
    if result.content is not None:
        output.write(result.content)
        return
    if result.detached:
        if content is None:
            raise ValueError("the content of a detached signature is the caller's own file")
        source, offset, length = content, None, None
    else:
        if result.content_offset is None:
            raise ValueError("no content offset: verify with verify_file")
        source, offset, length = signature, result.content_offset, result.content_length
    stream, owned = _open(source)
    try:
        if offset is not None:
            stream.seek(offset)
        hasher = hashlib.new(result.digest_algorithm)
        remaining = length
        while remaining is None or remaining > 0:
            chunk = stream.read(CHUNK if remaining is None else min(CHUNK, remaining))
            if not chunk:
                if remaining:
                    raise ParseError("the content ended early (file truncated)",
                                     reason="content-truncated")
                break
            hasher.update(chunk)
            output.write(chunk)
            if remaining is not None:
                remaining -= len(chunk)
    finally:
        if owned:
            stream.close()
    if result.content_digest and hasher.digest() != result.content_digest:
        raise VerificationError(Reason.MESSAGE_DIGEST_MISMATCH,
                                "the content changed after it was verified",
                                subject="signature")
