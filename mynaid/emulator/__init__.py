"""A faithful software My Number Card: in-process, or a card in a real reader through vpcd.

>>> from mynaid.emulator import build_card, default_profile
>>> card = build_card(default_profile())
"""

from mynaid.emulator.applications import build_card
from mynaid.emulator.card import (
    ALTERNATE_ATR,
    ATR_2024,
    ATR_VARIANTS,
    DEFAULT_ATR,
    EmulatedCard,
    EmulatorOptions,
)
from mynaid.emulator.profile import CardProfile, default_profile

__all__ = [
    "ALTERNATE_ATR", "ATR_2024", "ATR_VARIANTS", "DEFAULT_ATR",
    "CardProfile", "EmulatedCard", "EmulatorOptions",
    "build_card", "default_profile",
]
