"""One session class per card application."""

from mynaid.sessions.jpki import JpkiSession
from mynaid.sessions.text import TextSession
from mynaid.sessions.visual import VisualSession

__all__ = ["JpkiSession", "TextSession", "VisualSession"]
