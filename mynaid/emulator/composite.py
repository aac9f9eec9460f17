"""A composite card: one card's JPKI application, another card's card-face applications.

The attack the relying party's face-route binding exists for (mynaid.rp.binding): a relay
or a programmable card answers the JPKI application (AID D392F000260100000001) from the
victim's card - its auth certificate is public, no PIN is needed to read it - and the text
and visual applications from the attacker's own genuine card, whose photo matches the
attacker's face. Each application is internally genuine; only the combination is false.

:class:`CompositeCard` routes APDUs by the application last selected by AID: a SELECT of
an AID goes to the card that has it and makes that card current; every other APDU goes to
the current card. It quacks like :class:`~mynaid.emulator.card.EmulatedCard` for the vpcd
bridge (``atr``, power control, ``process``), so it can sit behind the real pcscd::

    python -m mynaid.emulator.composite --jpki victim.json --face attacker.json --port 35963

This is a test fixture for a known attack, not a tool: it adds nothing an attacker with
two cards and a relay does not have.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence

from mynaid.cardspec import Aid
from mynaid.emulator.card import EmulatedCard

__all__ = ["CompositeCard", "main"]


class CompositeCard:
    """Routes the JPKI AID to ``jpki`` and the text/visual AIDs to ``face``."""

    def __init__(self, jpki: EmulatedCard, face: EmulatedCard) -> None:
        self.jpki = jpki
        self.face = face
        self._routes = {Aid.JPKI.value: jpki, Aid.TEXT.value: face, Aid.VISUAL.value: face}
        self._current = jpki
        self._lock = threading.RLock()
        self.transaction_lock = threading.RLock()

    @property
    def atr(self) -> bytes:
        return self.jpki.atr

    def power_on(self) -> bytes:
        with self._lock:
            self.face.power_on()
            self._current = self.jpki
            return self.jpki.power_on()

    def reset(self) -> bytes:
        return self.power_on()

    def power_off(self) -> None:
        with self._lock:
            self.jpki.power_off()
            self.face.power_off()

    @property
    def powered(self) -> bool:
        return self.jpki.powered

    def process(self, raw: bytes) -> bytes:
        with self._lock:
            # SELECT by DF name: 00 A4 04 xx Lc AID
            if len(raw) >= 5 and raw[1] == 0xA4 and raw[2] == 0x04:
                aid = bytes(raw[5:5 + raw[4]])
                target = self._routes.get(aid)
                if target is not None:
                    self._current = target
            return self._current.process(raw)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a composite card to vpcd until vpcd goes away."""
    from mynaid.connect import emulated_card
    from mynaid.emulator import vpcd

    parser = argparse.ArgumentParser(description="A composite card behind vpcd (tests).")
    parser.add_argument("--jpki", required=True, help="profile whose JPKI AP is served")
    parser.add_argument("--face", required=True, help="profile whose text/visual APs are "
                                                      "served")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=35963)
    args = parser.parse_args(argv)
    card = CompositeCard(emulated_card(args.jpki), emulated_card(args.face))
    try:
        sock = vpcd.connect(args.host, args.port)
    except OSError as exc:
        print(f"cannot reach vpcd at {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 4
    print(f"composite card inserted in vpcd at {args.host}:{args.port}", file=sys.stderr)
    try:
        vpcd.serve(card, sock)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
