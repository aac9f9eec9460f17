"""The face route's binding: the card face must name the person of the auth certificate.

On the face and visual routes no PIN is entered, so the card's JPKI keys sign nothing and
the auth certificate (readable by anyone, without a PIN) proves nothing about who stands at
the kiosk. The photo the face is compared with comes from the *visual* application. A card
whose JPKI application serves a victim's auth certificate and whose card-face applications
are the attacker's own genuine ones (a relay, a programmable card: the *composite card*)
would pass "by face" as the victim - unless the identity on the card face is bound to the
identity the relying party holds for that auth certificate.

The binding:

1. the kiosk reads the card face (:func:`read_card_face_identity`): the text application's
   four attributes with 照合番号B, checked against DF33 (the record signature) and its CV
   certificate, and the text application's presence proof (its card key DF51, which DF52
   in EF 0007 signs with the EF 0004 key, signs a challenge derived from the service's
   nonce); the visual application's birth date and sex (DF22/DF23, which DF28 signs) with
   its CV certificate, and the visual presence proof (the visual card key DF24 signs
   another challenge derived from the same nonce);
2. the result, a :class:`CardFaceIdentity` (name, birth date, sex and which checks passed;
   no photo, no My Number), travels in the kiosk's device-signed claim;
3. the service (:func:`bind`) refuses the route with ``card-face-not-verified`` unless
   every required check passed, and with ``card-face-mismatch`` unless name, birth date
   and sex equal those of the person the auth certificate is linked to.

The attacker's own card face names the attacker, so the composite card is refused; to pass
they would need a genuine, present card face naming the victim, i.e. the victim's card.

What the text presence proof does and does not add: a card that merely holds a copy of
the victim's text records, without a genuine text application, cannot sign the challenge
with a card key certified by the same EF 0004 key and is refused (``text-presence``). But
nothing signed ties the text attributes to that card key: DF33 covers the attribute digests
and DF52 only DF51, both by the EF 0004 key, and that key is an issuer-side key that, by its
key id (a 3-digit serial per issuer), many cards share. A relay that serves the victim's
copied EF 0002-0004 and passes EF 0007 and ``80 2A`` on to the attacker's own genuine
card, when both cards carry the same EF 0004 key, still passes if birth date and sex agree
(the visual proof covers those two only). The README states this limit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mynaid.rp.models import Person, normalise_name
from mynaid.rp.reasons import RpError, ServiceReason

if TYPE_CHECKING:
    from mynaid.integrity import IssuerKey
    from mynaid.protocol import CardProtocol

__all__ = [
    "PRESENCE_APPLICATIONS",
    "PRESENCE_TAG",
    "REQUIRED_CHECKS",
    "TEXT_PRESENCE_CHECK",
    "CardFaceIdentity",
    "bind",
    "presence_challenge",
    "read_card_face_identity",
]

#: Checks that must all have passed for the card face to be used.
REQUIRED_CHECKS: tuple[str, ...] = (
    "text-cv-certificate",      # the text AP's CV certificate is signed by a trusted issuer
    "text-record-signature",    # DF33 verifies over DF31 || DF32 with that certificate's key
    "text-attributes-digest",   # DF32 is the digest of the attributes read (DF22-DF25)
    "visual-cv-certificate",    # the visual AP's CV certificate is signed by a trusted issuer
    "visual-face-signature",    # DF28 verifies over DF22-DF27 as read
    "visual-presence",          # the card key in DF24 signed a challenge from our nonce
    "text-visual-consistent",   # both applications give the same birth date and sex
    "text-presence",            # the text card key (DF51, which DF52 signs with the EF 0004
                                # key) signed a challenge from our nonce
)
TEXT_PRESENCE_CHECK = "text-presence"

#: Domain separation of the presence challenge (so that the card's presence signature made
#: for this service is bound to the service's nonce and context, and to nothing else).
PRESENCE_TAG = b"mynaid rp card-face presence v1\x00"

_SEXES = {"1": "male", "2": "female"}


#: The applications that sign a presence challenge, each its own challenge.
PRESENCE_APPLICATIONS = ("visual", "text")


def presence_challenge(context: str, nonce: bytes, application: str = "visual") -> bytes:
    """What ``application``'s card key signs for this nonce (the service can recompute it).

    Each application gets its own challenge (its name is hashed in after
    :data:`PRESENCE_TAG`), so that a signature made by one application's key stands for
    that application only, even were both keys the same.
    """
    if application not in PRESENCE_APPLICATIONS:
        raise ValueError(f"no presence challenge for the {application!r} application")
    raw = context.encode("utf-8")
    return hashlib.sha256(PRESENCE_TAG + application.encode("ascii") + b"\x00"
                          + len(raw).to_bytes(2, "big") + raw + nonce).digest()


@dataclass(frozen=True, repr=False)
class CardFaceIdentity:
    """The card-face identity as the kiosk verified it: no photo, no My Number."""

    name: str
    birth_date: dt.date | None
    sex: str  # male, female, unspecified
    #: Check name -> True (passed), False (failed), None (could not be made).
    checks: dict[str, bool | None] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"CardFaceIdentity(<personal data hidden>, checks={self.checks!r})"

    @property
    def failed_checks(self) -> list[str]:
        """Required checks that did not pass (failed or not made)."""
        return [name for name in REQUIRED_CHECKS if self.checks.get(name) is not True]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name,
                "birth_date": self.birth_date.isoformat() if self.birth_date else None,
                "sex": self.sex, "checks": dict(self.checks)}

    @classmethod
    def from_dict(cls, data: Any) -> CardFaceIdentity:
        """Parse :meth:`as_dict` output; ``malformed`` on anything else."""
        if not isinstance(data, dict):
            raise RpError(ServiceReason.MALFORMED, "card_face must be an object")
        name, birth, sex, checks = (data.get("name"), data.get("birth_date"),
                                    data.get("sex"), data.get("checks"))
        if not isinstance(name, str) or not 0 < len(name) <= 256:
            raise RpError(ServiceReason.MALFORMED, "card_face.name must be text")
        if sex not in ("male", "female", "unspecified"):
            raise RpError(ServiceReason.MALFORMED, "card_face.sex is not a known value")
        if not isinstance(checks, dict) or len(checks) > 32 or not all(
                isinstance(k, str) and len(k) <= 64 and (v is None or isinstance(v, bool))
                for k, v in checks.items()):
            raise RpError(ServiceReason.MALFORMED, "card_face.checks must map names to "
                                                   "true/false/null")
        try:
            birth_date = dt.date.fromisoformat(birth) if birth is not None else None
        except (TypeError, ValueError):
            raise RpError(ServiceReason.MALFORMED, "card_face.birth_date must be an ISO "
                                                   "date") from None
        return cls(name, birth_date, str(sex), dict(checks))


def _card_sex(code: str) -> str:
    # The card records use ISO 5218 (1 male, 2 female, 0/9 not known/not applicable).
    return _SEXES.get(code, "unspecified")


def read_card_face_identity(protocol: CardProtocol, collation_b: str,
                            issuer_keys: Sequence[IssuerKey], *, context: str,
                            nonce: bytes, force: bool = False) -> CardFaceIdentity:
    """Read and verify the card-face identity with 照合番号B (never the My Number).

    ``issuer_keys`` are the trusted CV-certificate issuers of the text and visual
    applications (without one, the CV-certificate checks are not made and the identity
    will be refused). Each application's presence proof signs its own
    :func:`presence_challenge` of the service's ``context`` and ``nonce``. Both
    applications are read in one card transaction, so that no other card can answer in
    between. A text application that cannot make its proof (no EF 0007, no card key, a
    malformed record) is still read, with ``text-presence`` not made: the service then
    refuses the identity with ``card-face-not-verified``.
    """
    from mynaid.errors import FileNotFoundOnCardError, ParseError, UnsupportedCommandError
    from mynaid.sessions.text import TextSession
    from mynaid.sessions.visual import VisualSession

    text_session = TextSession(protocol)
    text_presence: bool | None
    with protocol.transport.transaction():
        try:
            text, text_proof = text_session.read_proven(
                collation_b, "pin-b", issuer_keys, force=force,
                challenge=presence_challenge(context, nonce, "text"))
        except (FileNotFoundOnCardError, UnsupportedCommandError, ParseError):
            # No proof to be had: read the attributes alone, so that the refusal names
            # the missing check rather than failing the whole read.
            text = text_session.read(collation_b, "pin-b", force=force)
            text_presence = None
        else:
            # The card key must be certified (DF52 by the very EF 0004 key whose
            # certificate and DF33 were checked above) and must have signed our challenge.
            passed = [c.passed for c in text_proof.checks().values()]
            text_presence = (False if False in passed
                             else True if all(passed) else None)
        face, presence = VisualSession(protocol).read_proven(
            collation_b, "pin-b", issuer_keys, force=force,
            challenge=presence_challenge(context, nonce, "visual"))
    if text.attributes is None:  # 照合番号B always opens the attributes
        raise RpError(ServiceReason.CARD_FACE_NOT_VERIFIED, "the attributes were not read")
    report = text.integrity(issuer_keys)
    attributes = text.attributes
    checks: dict[str, bool | None] = {
        "text-cv-certificate": report.cv_certificate.passed,
        "text-record-signature": report.record_signature.passed,
        "text-attributes-digest": report.attributes_digest.passed,
        "visual-cv-certificate": presence.cv_certificate.passed,
        "visual-face-signature": presence.face_signature.passed,
        "visual-presence": presence.challenge_signature.passed,
        "text-visual-consistent": (attributes.birth == face.birth
                                   and attributes.sex == face.sex),
        TEXT_PRESENCE_CHECK: text_presence,
    }
    return CardFaceIdentity(attributes.name, attributes.birth, _card_sex(attributes.sex.value),
                            checks)


def _names_match(card_name: str, person: Person) -> bool:
    """Names compared NFKC-normalised, without white space. Positions the signature
    certificate flags as substitute characters (a character outside its repertoire) are
    not compared, since the card face may hold the registered character there."""
    card = normalise_name(card_name)
    registered = normalise_name(person.name)
    flags = person.name_flags
    if not flags or set(flags) <= {"0"}:
        return card == registered
    # Flags are per character of the registered name (white space included).
    kept = [ch for ch in person.name if not ch.isspace()]
    mask = [f != "0" for ch, f in zip(person.name, flags.ljust(len(person.name), "0"),
                                      strict=False) if not ch.isspace()]
    if len(card) != len(kept):
        return False
    return all(m or c == k for c, k, m in zip(card, kept, mask, strict=False))


def bind(identity: CardFaceIdentity, person: Person) -> None:
    """Raise :class:`RpError` unless the verified card face names ``person``."""
    failed = identity.failed_checks
    if failed:
        raise RpError(ServiceReason.CARD_FACE_NOT_VERIFIED,
                      "the card face was not shown authentic and present: "
                      + ", ".join(failed))
    mismatched = []
    if not _names_match(identity.name, person):
        mismatched.append("name")
    if identity.birth_date != person.birth_date:
        mismatched.append("birth date")
    if identity.sex != person.sex:
        mismatched.append("sex")
    if mismatched:
        # The message names the fields, never their values.
        raise RpError(ServiceReason.CARD_FACE_MISMATCH,
                      "the card face does not name the person linked to this auth "
                      "certificate (" + ", ".join(mismatched) + " differ)")
