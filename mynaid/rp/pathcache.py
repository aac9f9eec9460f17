"""The relying-party service's path cache: :class:`mynaid.trust.pathcache.PathCache`.

One implementation serves the library's verifiers and the service (see that module for
what is cached and why); this name stays for the service's imports.
"""

from __future__ import annotations

from mynaid.trust.pathcache import PathCache

__all__ = ["PathCache"]
