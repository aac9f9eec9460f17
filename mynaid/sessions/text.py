"""The text application (券面事項入力補助AP): My Number, the four attributes, integrity.

Access (card-reference §4): the My Number (EF 0001) opens with the 4-digit PIN or
照合番号A; the four attributes (EF 0002) with the PIN or 照合番号B; the integrity record
(0003) with any of the three; the CV certificate (0004) and AP info (0005) are free. The
session key (0006) and the signed card key (0007) open with any of the three
(card-reference §9).

Card presence: EF 0007 carries the text AP's card key (DF51), signed by the EF 0004 key
(DF52); once that verifies, a fresh challenge signed by the card with ``80 2A 00 00`` shows the
card itself is present (:meth:`TextSession.prove_presence`), as in the visual AP.

>>> from mynaid.connect import connect, emulated_card
>>> with connect(card=emulated_card()) as protocol:
...     data = TextSession(protocol).read("5678", "pin")
>>> data.attributes.sex.name, data.my_number
('FEMALE', MyNumber(<12 digits, masked>))
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from mynaid.cardspec import TEXT_READ_ACCESS, Aid, SecretRef, TextFile
from mynaid.integrity import (
    IssuerKey,
    RecordReport,
    TextIntegrityReport,
    TextPresenceReport,
    challenge_digest_info,
    check_challenge,
    check_signed_card_key,
    check_text,
)
from mynaid.records import (
    TAG_AP_INFO,
    Attributes,
    CvCertificate,
    GenericRecord,
    MyNumber,
    SessionKeyRecord,
    SignedCardKey,
    TextApInfo,
    TextIntegrityRecord,
)
from mynaid.sessions.faceapps import TEXT_CREDENTIALS, FaceApplicationSession, check_secret

#: EF 0001 is 17 bytes, filler included; DF31 hashes all of them (card-reference §5).
MY_NUMBER_EF_SIZE = 17
MAX_RECORD_SIZE = 4096
MAX_CV_CERTIFICATE_SIZE = 2048
CHALLENGE_SIZE = 32


@dataclass(frozen=True)
class TextData:
    """What one credential opened in the text AP, with what is needed to check it."""

    credential: str
    my_number: MyNumber | None
    attributes: Attributes | None
    integrity_record: TextIntegrityRecord
    cv_certificate: CvCertificate

    def integrity(self, issuer_keys: Sequence[IssuerKey] = ()) -> TextIntegrityReport:
        """Check the record, its digests and the CV certificate (see :mod:`mynaid.integrity`)."""
        return check_text(
            self.integrity_record, self.cv_certificate, issuer_keys,
            my_number_ef=self.my_number.raw if self.my_number else None,
            attributes=self.attributes)


class TextSession(FaceApplicationSession):
    """Session with the text application. Each read is one transaction: SELECT, VERIFY, READ."""

    aid = Aid.TEXT
    name = "text"
    credentials = TEXT_CREDENTIALS

    # --- reads inside a transaction -------------------------------------------------------

    def _my_number(self) -> MyNumber:
        with self.protocol.sensitive():
            raw = self.read_small_file(TextFile.MY_NUMBER, MY_NUMBER_EF_SIZE, "the My Number")
        return MyNumber.parse(raw)

    def _attributes(self) -> Attributes:
        return Attributes.parse(self.read_record(TextFile.ATTRIBUTES, "the attributes",
                                                 MAX_RECORD_SIZE))

    def _integrity_record(self) -> TextIntegrityRecord:
        return TextIntegrityRecord.parse(self.read_record(
            TextFile.INTEGRITY, "the integrity record", MAX_RECORD_SIZE))

    def _cv_certificate(self) -> CvCertificate:
        return CvCertificate.parse(self.read_tlv_file(
            TextFile.CV_CERTIFICATE, "the CV certificate", MAX_CV_CERTIFICATE_SIZE))

    def _signed_card_key(self) -> SignedCardKey:
        return SignedCardKey.parse(self.read_record(
            TextFile.SIGNED_CARD_KEY, "the signed card key", MAX_RECORD_SIZE))

    # --- public operations ----------------------------------------------------------------

    def my_number(self, secret: str, credential: str | SecretRef = "pin", *,
                  force: bool = False) -> MyNumber:
        """The My Number, after the PIN (``pin``) or 照合番号A (``pin-a``)."""
        return self._read_protected(self.credential(credential), secret, force,
                                    self._my_number)

    def attributes(self, secret: str, credential: str | SecretRef = "pin", *,
                   force: bool = False) -> Attributes:
        """Name, address, birth date and sex, after the PIN or 照合番号B (``pin-b``)."""
        return self._read_protected(self.credential(credential), secret, force,
                                    self._attributes)

    def integrity_record(self, secret: str, credential: str | SecretRef = "pin", *,
                         force: bool = False) -> TextIntegrityRecord:
        """EF 0003, after any of the three credentials."""
        return self._read_protected(self.credential(credential), secret, force,
                                    self._integrity_record)

    def cv_certificate(self) -> CvCertificate:
        """EF 0004 (free): the key that signs the integrity record, certified by an issuer."""
        with self.transaction():
            return self._cv_certificate()

    def signed_card_key(self, secret: str, credential: str | SecretRef = "pin", *,
                        force: bool = False, issuer_keys: Sequence[IssuerKey] = ()
                        ) -> tuple[SignedCardKey, RecordReport]:
        """EF 0007 (the text card key, DF51) and its checks: DF52 by the EF 0004 key, and
        the CV certificate. Opens with any of the three credentials."""
        def read() -> tuple[SignedCardKey, CvCertificate]:
            return self._signed_card_key(), self._cv_certificate()
        record, cert = self._read_protected(self.credential(credential), secret, force, read)
        return record, check_signed_card_key(record, cert, issuer_keys)

    def session_key(self, secret: str, credential: str | SecretRef = "pin", *,
                    force: bool = False) -> SessionKeyRecord:
        """EF 0006: the RSA public key (tag A1) a terminal delivers a session key to."""
        def read() -> SessionKeyRecord:
            return SessionKeyRecord.parse(self.read_record(
                TextFile.SESSION_KEY, "the session key", MAX_RECORD_SIZE))
        return self._read_protected(self.credential(credential), secret, force, read)

    def ap_info_record(self) -> TextApInfo:
        """EF 0005 parsed by its real layout (card-reference §9)."""
        with self.transaction():
            raw = self.read_tlv_file(TextFile.AP_INFO, "the AP info", MAX_RECORD_SIZE)
        return TextApInfo.parse(raw)

    def prove_presence(self, secret: str, credential: str | SecretRef = "pin",
                       issuer_keys: Sequence[IssuerKey] = (), *, force: bool = False,
                       challenge: bytes | None = None) -> TextPresenceReport:
        """Show that this card, not a copy of its data, is in the reader (text AP).

        One transaction: VERIFY ``credential``, read EF 0007 (the card key, signed by the
        EF 0004 key) and EF 0004, then have the card sign a fresh random challenge with
        ``80 2A 00 00``; the signature is verified with DF51 only as part of a report whose
        other checks say whether DF51 itself is genuine.
        """
        ref = self.credential(credential)
        check_secret(ref, secret)
        challenge = os.urandom(CHALLENGE_SIZE) if challenge is None else challenge
        with self.transaction(), self.protocol.sensitive():
            self.verify(ref, secret, force=force)
            record = self._signed_card_key()
            cert = self._cv_certificate()
            signature = self.sign_challenge(challenge_digest_info(challenge))
        checks = check_signed_card_key(record, cert, issuer_keys)
        return TextPresenceReport(checks.cv_certificate, checks.record_signature,
                                  check_challenge(record.public_key, challenge, signature))

    def read_proven(self, secret: str, credential: str | SecretRef = "pin",
                    issuer_keys: Sequence[IssuerKey] = (), *, force: bool = False,
                    challenge: bytes | None = None) -> tuple[TextData, TextPresenceReport]:
        """:meth:`read` and :meth:`prove_presence` in one transaction with one VERIFY."""
        ref = self.credential(credential)
        check_secret(ref, secret)
        challenge = os.urandom(CHALLENGE_SIZE) if challenge is None else challenge
        with self.transaction(), self.protocol.sensitive():
            self.verify(ref, secret, force=force)
            data = self._read_opened(ref)
            record = self._signed_card_key()
            signature = self.sign_challenge(challenge_digest_info(challenge))
        checks = check_signed_card_key(record, data.cv_certificate, issuer_keys)
        return data, TextPresenceReport(
            checks.cv_certificate, checks.record_signature,
            check_challenge(record.public_key, challenge, signature))

    def _read_opened(self, ref: SecretRef) -> TextData:
        opens_number = ref.fid in (TEXT_READ_ACCESS[TextFile.MY_NUMBER] or ())
        opens_attributes = ref.fid in (TEXT_READ_ACCESS[TextFile.ATTRIBUTES] or ())
        my_number = self._my_number() if opens_number else None
        attributes = self._attributes() if opens_attributes else None
        record = self._integrity_record()
        cert = self._cv_certificate()
        return TextData(ref.name, my_number, attributes, record, cert)

    def ap_info(self) -> GenericRecord:
        """EF 0005 (free): AP basic information (``DF42`` holds the AP's key id)."""
        with self.transaction():
            raw = self.read_tlv_file(TextFile.AP_INFO, "the AP info", MAX_RECORD_SIZE)
        return GenericRecord.parse(raw, TAG_AP_INFO, "AP info")

    def read(self, secret: str, credential: str | SecretRef = "pin", *,
             force: bool = False) -> TextData:
        """Everything ``credential`` opens, plus the integrity record and CV certificate.

        One transaction, one VERIFY: the PIN opens both the My Number and the attributes,
        照合番号A only the My Number, 照合番号B only the attributes.
        """
        ref = self.credential(credential)
        check_secret(ref, secret)
        with self.transaction(), self.protocol.sensitive():
            self.verify(ref, secret, force=force)
            return self._read_opened(ref)
