"""One session class per card application."""

from mynaid.sessions.jpki import JpkiSession

__all__ = ["JpkiSession"]
