"""The emulated card's file system: applications holding binary, key (PIN) and private-key EFs.

Access rules are "any of these keys verified" sets, which is how the card's applications are
described (card-reference §4: e.g. the text AP's My Number opens with the PIN *or* 照合番号A).
The text and visual applications are built from the same three file kinds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass
class BinaryFile:
    """A transparent EF. ``read_keys`` is None when free, else any-of key file ids."""

    fid: int
    content: bytes
    read_keys: frozenset[int] | None = None
    #: An internal EF (e.g. key material kept as bytes): READ BINARY answers ``69 81``,
    #: like it does for every key EF (card-reference §9).
    internal: bool = False


@dataclass
class KeyFile:
    """A secret (PIN, password or 照合番号) with its retry counter.

    The counter and the secret are persistent card state: they survive power cycles.
    ``pattern`` constrains a new value given with CHANGE REFERENCE DATA.
    """

    fid: int
    secret: bytes = field(repr=False)
    max_tries: int
    pattern: re.Pattern[bytes] = field(default=re.compile(rb"[0-9]{4}"), repr=False)
    tries_left: int = -1
    #: Issued blocked (text 0012): VERIFY answers 69 84 rather than 69 83.
    issued_blocked: bool = False
    #: Locked for good, whatever the counter says (the PIN-less face-authentication card's
    #: PINs, card-reference §9): answers as a blocked key, and a correct value does not open.
    locked: bool = False
    #: A key without a retry limit: the query answers ``63 00`` and a wrong value uses no
    #: try (card-reference §9).
    unlimited: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.max_tries <= 15:
            raise ValueError("max_tries must fit the x of 63 Cx (1..15)")
        if self.tries_left < 0:
            self.tries_left = self.max_tries

    @property
    def blocked(self) -> bool:
        return self.locked or (self.tries_left == 0 and not self.unlimited)


@dataclass
class PrivateKeyFile:
    """An RSA private key EF usable for signing after any of ``use_keys`` is verified.

    An empty ``use_keys`` means no verification is needed (the text and visual APs'
    card-presence keys).
    """

    fid: int
    key: rsa.RSAPrivateKey = field(repr=False)
    use_keys: frozenset[int] = frozenset()


EF = BinaryFile | KeyFile | PrivateKeyFile

#: The largest short EF identifier (5 bits; 0 and 31 are reserved by ISO 7816-4).
MAX_SFI = 30


@dataclass
class Application:
    """A dedicated file selected by AID."""

    aid: bytes
    name: str
    files: dict[int, EF] = field(default_factory=dict)

    def add(self, ef: EF) -> None:
        self.files[ef.fid] = ef

    def by_sfi(self, sfi: int) -> EF | None:
        """The EF named by a short EF identifier: the one whose file id is ``00 <sfi>``.

        On this card every EF id is ``00 xx`` with xx below 32, and the short id is xx
        (``97`` = 80 | 17 names the auth key, ``9A`` the signature key, card-reference §9).
        """
        if not 1 <= sfi <= MAX_SFI:
            return None
        return self.files.get(sfi)
