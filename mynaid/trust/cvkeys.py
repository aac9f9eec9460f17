"""Pinned issuer public keys of the card's card-verifiable (CV) certificates.

A CV certificate in the card-face applications (text and visual EF 0004) names its issuer by
a 16-byte 証明者鍵ID and does not carry the issuer's key, so a verifier must hold the keys.
These are the production keys in circulation (RSA-2048, e = 65537), pinned with their full
16-byte identifiers: a certificate is checked against a pinned key only when its issuer id
equals that key's id in all 16 bytes, never by the 7-digit prefix alone.

Source: the moduli published in soltia48/myna-card, ``src/ca.rs`` ("the ones in
circulation"), a reader whose parsers were checked against real card dumps
(card-reference §9). They have **not** been checked here against a physical card.

JPKI test cards use a separate hierarchy (``6000020``/``6000023``/``6000033``) with other
keys, and mynaid's emulated test card uses its own keys under those test ids
(``vectors/test-pki/``): neither is pinned, so a test card can never verify as production.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "CV_KEYS_SOURCE",
    "PINNED_CV_ISSUER_KEYS",
    "PinnedCvKey",
    "hierarchy_of",
    "pinned_cv_key",
]

CV_KEYS_SOURCE = ("soltia48/myna-card src/ca.rs (published moduli; not checked here against "
                  "a physical card)")
_KIND = b"\x08\x05"


@dataclass(frozen=True)
class PinnedCvKey:
    """One pinned CV issuer key and its 16-byte 証明者鍵ID."""

    key_id: bytes
    application: str  # "visual", "text" or "mf"
    modulus: int = field(repr=False)
    exponent: int = 65537
    hierarchy: str = "production"
    source: str = CV_KEYS_SOURCE

    @property
    def issuer_id(self) -> str:
        """The 7 ASCII digits that open the key id (``5000023``)."""
        return self.key_id[:7].decode("ascii")

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return rsa.RSAPublicNumbers(self.exponent, self.modulus).public_key()

    @property
    def spki_der(self) -> bytes:
        return self.public_key.public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def fingerprint_hex(self) -> str:
        """SHA-256 of the SubjectPublicKeyInfo DER, ``AA:BB:...``."""
        return ":".join(f"{b:02X}" for b in hashlib.sha256(self.spki_der).digest())


def _key(issuer: str, padding: bytes, application: str, *modulus_rows: str) -> PinnedCvKey:
    key_id = issuer.encode("ascii") + _KIND + b"001" + padding
    assert len(key_id) == 16
    return PinnedCvKey(key_id, application, int("".join(modulus_rows), 16))


#: The production issuer keys (card-reference §9, cv-issuer-keys). Moduli from
#: soltia48/myna-card src/ca.rs.
PINNED_CV_ISSUER_KEYS: tuple[PinnedCvKey, ...] = (
    # 5000023: issues the visual application's (券面事項確認AP) CV certificates.
    _key("5000023", bytes(4), "visual",
         "B2F740F0AD86D17CF3F537D23B4B3C65A3CB58474D857F55D0B9BC0411B1CB08",
         "49068DE332A50D63B3E6921C9CCBE6156496EFB04BE8FFCC74FDE9A228A36AD7",
         "EDCE9793204E35973DC911108365002C40169E0B60018DFB99E1E2310D9A110F",
         "F0FC269F1F220C63B8A1510DE5A6898220C78908FC280D8AA95D5D113B7CF007",
         "00F3FF5AD8B3D6AD2EB53C7D563498B4A938DEFFC9BDA32BF4146C1B07EF870D",
         "99EB35DE5D70AC18715874277A13151D217D04D42E97923923A40FBC7D06FAA8",
         "338CCBE876620F9B8EF4471CD4B9E29D4EA621E0FB8F1DC04B487210097DBAAF",
         "3D8E0550C76A5B97CF202FA47C7A2622F1C084E65C13D13B8E7AB226F5F51F87"),
    # 5000033: issues the text application's (券面事項入力補助AP) CV certificates.
    _key("5000033", bytes(4), "text",
         "D24615F63525E740C87E83ED64787E76D10A1F8652EBE1EA28934D35CE3BF077",
         "16F5B79E2BCB2AE2B91B4F4C9FFB602497F596D659AF9D0A14B45CDD738EF562",
         "49349B8CC7DB32F2D433BD39BCC44F503E881D56C149ECD5155C1CE7461FC3AC",
         "4F55D0A39CCAAADFAE5B8AFA11CCF91BEDC774023D11CA6EBA99004F81C541A7",
         "D67DDED8C724D6E20B10A3DEAAE8C43C137CCD71B263740E8979752DE4D56763",
         "29CABCBD7F3A77FC48A6F8E61D399B4AC66684A9FDFC99ECEF900DD6FF7F0FDD",
         "39E23D163F8A468C62DBEAE00906DFAD5A89B45CA5B7353DC998A80D3803EDA7",
         "94B55F99F535D1C39A243C8352AD602D926C389D2816C941349EE24E4F41597F"),
    # 5000020: the MF-level chain (its id's last padding byte is A8, as published).
    _key("5000020", b"\x00\x00\x00\xa8", "mf",
         "B62D081145D34ACEB022BC2F0A08D8B390E42FFEEEC93472F675EC33507BBCE9",
         "82C22F33B7304CF17639CE75A1D0FD1E75FFAD86B0D72CCCF0D0B05136DDB726",
         "1400C0160C713872E1E83C48A2A00818147FEFBF0B09F643EE4B328419E87637",
         "67ADBEAEBA88D49C3B44A5B8F8AD794FCF64A4161A9FE8B97660FCA469411459",
         "4D4B8498FE1E52502086ABC1B0EDA004D39D95193B4031AB0C516008BBAFFC49",
         "AC6A2EBE544EF49EA3B790CD13F133896DF8DA63E15CE8AC0DC276F76F080B72",
         "3E6648F10A6FB7B08E5C69DCDFADD52F7B5B6D1740CF8E356BC685B31D7C4556",
         "80CD95D3B4B20EA8094F00660AE774EEBAB2875487A1210CA87221A0B63A3E83"),
)


def pinned_cv_key(key_id: bytes) -> PinnedCvKey | None:
    """The pinned key whose 16-byte id equals ``key_id`` exactly, if any."""
    return next((k for k in PINNED_CV_ISSUER_KEYS if k.key_id == bytes(key_id)), None)


def hierarchy_of(key_id: bytes) -> str:
    """``production`` for ids of the 5xxxxxx hierarchy, ``test`` for 6xxxxxx, else
    ``unknown``. Only a name: what verified decides what a report says."""
    first = key_id[:1]
    return {b"5": "production", b"6": "test"}.get(first, "unknown")
