"""Why a photo of the card front was refused (re-exported from :mod:`mynaid.errors`)."""

from mynaid.errors import CardFrontError

__all__ = ["CardFrontError"]
