"""The visual application (券面事項確認AP): the card face, its photo and its signature.

Access (card-reference §4): 照合番号A opens EFs 0002–0006; 照合番号B the same without 0005
(the My Number image); the birth-date key only 0001 (the age record); 0003 and 0004 are free.

>>> from mynaid.connect import connect, emulated_card
>>> with connect(card=emulated_card()) as protocol:
...     face = VisualSession(protocol).face("55021720352285", "pin-b")
>>> face.birth_text, face.photo_format.value
('19800217', 'jp2')
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from mynaid.cardspec import Aid, SecretRef, VisualFile
from mynaid.errors import ParseError
from mynaid.integrity import (
    IssuerKey,
    PresenceReport,
    RecordReport,
    VisualIntegrityReport,
    challenge_digest_info,
    check_age_record,
    check_challenge,
    check_my_number_image,
    check_visual,
)
from mynaid.photo import is_png
from mynaid.records import (
    AgeRecord,
    CardFace,
    CvCertificate,
    GenericRecord,
    MyNumberImage,
    VisualBasicInfo,
)
from mynaid.sessions.faceapps import VISUAL_CREDENTIALS, FaceApplicationSession, check_secret

#: The face record is a few KB (the photo dominates); READ BINARY offsets stop at 32767.
MAX_FACE_SIZE = 0x7FFF
MAX_RECORD_SIZE = 0x7FFF
MAX_CV_CERTIFICATE_SIZE = 2048
CHALLENGE_SIZE = 32


@dataclass(frozen=True)
class VisualData:
    """The card face as one credential read it, with what is needed to check it."""

    credential: str
    face: CardFace
    cv_certificate: CvCertificate

    def integrity(self, issuer_keys: Sequence[IssuerKey] = ()) -> VisualIntegrityReport:
        """Check DF28 and the CV certificate (see :mod:`mynaid.integrity`)."""
        return check_visual(self.face, self.cv_certificate, issuer_keys)


class VisualSession(FaceApplicationSession):
    """Session with the visual application."""

    aid = Aid.VISUAL
    name = "visual"
    credentials = VISUAL_CREDENTIALS

    def _face(self) -> CardFace:
        return CardFace.parse(self.read_record(VisualFile.FACE, "the card face",
                                               MAX_FACE_SIZE))

    def _cv_certificate(self) -> CvCertificate:
        return CvCertificate.parse(self.read_tlv_file(
            VisualFile.CV_CERTIFICATE, "the CV certificate", MAX_CV_CERTIFICATE_SIZE))

    def face(self, secret: str, credential: str | SecretRef = "pin-a", *,
             force: bool = False) -> CardFace:
        """EF 0002, the card face, after 照合番号A (``pin-a``) or 照合番号B (``pin-b``)."""
        return self._read_protected(self.credential(credential), secret, force, self._face)

    def read(self, secret: str, credential: str | SecretRef = "pin-a", *,
             force: bool = False) -> VisualData:
        """The card face and the CV certificate, in one transaction."""
        ref = self.credential(credential)
        check_secret(ref, secret)
        with self.transaction(), self.protocol.sensitive():
            self.verify(ref, secret, force=force)
            face = self._face()
            cert = self._cv_certificate()
        return VisualData(ref.name, face, cert)

    def age_record(self, secret: str, *, force: bool = False) -> AgeRecord:
        """EF 0001 after the birth-date key (era ``YYMMDD``, see :mod:`mynaid.era`)."""
        def read() -> AgeRecord:
            return AgeRecord.parse(self.read_record(VisualFile.AGE, "the age record",
                                                    MAX_RECORD_SIZE))
        return self._read_protected(self.credential("birth"), secret, force, read)

    def my_number_image(self, secret: str, *, force: bool = False) -> bytes:
        """EF 0005, the rendered My Number (a PNG), after 照合番号A only."""
        def read() -> bytes:
            record = GenericRecord.parse(self.read_record(
                VisualFile.MY_NUMBER_IMAGE, "the My Number image", MAX_RECORD_SIZE))
            for _tag, value in record.fields:
                if is_png(value):
                    return value
            raise ParseError("the My Number image record holds no PNG")
        return self._read_protected(self.credential("pin-a"), secret, force, read)

    def checked_age_record(self, secret: str, issuer_keys: Sequence[IssuerKey] = (), *,
                           force: bool = False) -> tuple[AgeRecord, RecordReport]:
        """EF 0001 and EF 0004 after the birth-date key, with DF13 and the CV certificate
        checked (DF13 signs DF11‖DF12 with the EF 0004 key, card-reference §9)."""
        def read() -> tuple[AgeRecord, CvCertificate]:
            return (AgeRecord.parse(self.read_record(VisualFile.AGE, "the age record",
                                                     MAX_RECORD_SIZE)),
                    self._cv_certificate())
        record, cert = self._read_protected(self.credential("birth"), secret, force, read)
        return record, check_age_record(record, cert, issuer_keys)

    def checked_my_number_image(self, secret: str, issuer_keys: Sequence[IssuerKey] = (), *,
                                force: bool = False) -> tuple[MyNumberImage, RecordReport]:
        """EF 0005 and EF 0004 after 照合番号A, with DF43 and the CV certificate checked."""
        def read() -> tuple[MyNumberImage, CvCertificate]:
            return (MyNumberImage.parse(self.read_record(
                VisualFile.MY_NUMBER_IMAGE, "the My Number image", MAX_RECORD_SIZE)),
                self._cv_certificate())
        record, cert = self._read_protected(self.credential("pin-a"), secret, force, read)
        return record, check_my_number_image(record, cert, issuer_keys)

    def basic_info_record(self) -> VisualBasicInfo:
        """EF 0003 (free) by its real layout: the municipality code is DF34."""
        with self.transaction():
            raw = self.read_tlv_file(VisualFile.BASIC_INFO, "the basic info", MAX_RECORD_SIZE)
        return VisualBasicInfo.parse(raw)

    def basic_info(self) -> GenericRecord:
        """EF 0003 (free): basic information, including the municipality code."""
        with self.transaction():
            raw = self.read_tlv_file(VisualFile.BASIC_INFO, "the basic info", MAX_RECORD_SIZE)
        return GenericRecord.parse(raw, what="basic info")

    def cv_certificate(self) -> CvCertificate:
        """EF 0004 (free): the key that signs the card face, certified by an issuer."""
        with self.transaction():
            return self._cv_certificate()

    def prove_presence(self, secret: str, credential: str | SecretRef = "pin-a",
                       issuer_keys: Sequence[IssuerKey] = (), *, force: bool = False,
                       challenge: bytes | None = None) -> PresenceReport:
        """Show that this card, not a copy of its data, is in the reader.

        Reads and checks the face record (its DF24 is the card's public key), then has the
        card sign a fresh random challenge (``80 2A 00 00``) and verifies that signature
        with DF24. All in one transaction, so no other card can answer in between.
        """
        return self.read_proven(secret, credential, issuer_keys, force=force,
                                challenge=challenge)[1]

    def read_proven(self, secret: str, credential: str | SecretRef = "pin-a",
                    issuer_keys: Sequence[IssuerKey] = (), *, force: bool = False,
                    challenge: bytes | None = None) -> tuple[CardFace, PresenceReport]:
        """The card face together with its presence proof (see :meth:`prove_presence`):
        what a kiosk needs before it trusts the photo."""
        data, report = self.read_with_presence(secret, credential, issuer_keys, force=force,
                                               challenge=challenge)
        return data.face, report

    def read_with_presence(self, secret: str, credential: str | SecretRef = "pin-a",
                           issuer_keys: Sequence[IssuerKey] = (), *, force: bool = False,
                           challenge: bytes | None = None
                           ) -> tuple[VisualData, PresenceReport]:
        """:meth:`read` and the presence proof in one transaction with one VERIFY."""
        ref = self.credential(credential)
        check_secret(ref, secret)
        challenge = os.urandom(CHALLENGE_SIZE) if challenge is None else challenge
        with self.transaction(), self.protocol.sensitive():
            self.verify(ref, secret, force=force)
            face = self._face()
            cert = self._cv_certificate()
            signature = self.sign_challenge(challenge_digest_info(challenge))
        checks = check_visual(face, cert, issuer_keys)
        return VisualData(ref.name, face, cert), PresenceReport(
            checks.cv_certificate, checks.face_signature,
            check_challenge(face.card_public_key, challenge, signature))
