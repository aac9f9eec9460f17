"""Card programs for the kiosk's browser tests: the default test card in variants the
``mynaid emulator serve`` options do not offer (yet), served to vpcd the same way.

    python -m tests.kiosk_cards --variant pinless --port 35963

``pinless``: the PIN-less face-authentication card (card-reference §9): no signature
certificate (JPKI EF 0008 byte 0 is 00) and the auth PIN locked by design (query 63 C0).
"""

from __future__ import annotations

import argparse
import dataclasses

from mynaid.cardspec import AUTH_PIN, Aid
from mynaid.emulator import build_card, default_profile
from mynaid.emulator.card import EmulatedCard
from mynaid.emulator.vpcd import connect, serve


def pinless_card() -> EmulatedCard:
    profile = default_profile()
    jpki = dataclasses.replace(profile.jpki, sign_cert=None, sign_key=None)
    card = build_card(dataclasses.replace(profile, jpki=jpki))
    card.key_file(Aid.JPKI.value, AUTH_PIN.fid).tries_left = 0
    return card


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", choices=["pinless"], required=True)
    parser.add_argument("--port", type=int, default=35963)
    args = parser.parse_args()
    card = pinless_card()
    sock = connect("127.0.0.1", args.port)
    try:
        serve(card, sock)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
