"""Streaming inclusive C14N 1.0 (without comments) of a whole document, into a hash.

libxml2's C14N (through lxml) builds the normalised copy of each text node and hands the
whole of it to the writer: a document that is one 200 MB text node costs three copies. This
canonicaliser is an lxml parser target fed 1 MiB at a time: no tree is built and text
arrives in chunks, so memory does not grow with the document.

The rules are C14N 1.0 section 2 for a whole document without a DTD (mynaid refuses DTDs):
no XML declaration; start-end pairs for empty elements; namespace declarations only where
they change what the parent has in scope, sorted by prefix; attributes sorted by namespace
URI then local name; the C14N escapes; PIs kept, comments dropped; a line feed between the
document element and a PI outside it. ``skip`` names an element (Clark name) whose first
occurrence as a child of the document element is left out with its subtree: the
enveloped-signature transform. A name whose namespace two prefixes in scope share raises
:class:`AmbiguousPrefix` (lxml reports names by namespace URI, not by prefix). Tests check
the output byte for byte against lxml's ``write_c14n``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from lxml import etree

__all__ = ["AmbiguousPrefix", "HashingReader", "c14n_digest"]

_XML_NS = "http://www.w3.org/XML/1998/namespace"
_CHUNK = 1 << 20


def _text(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#xD;"))


def _attr(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
            .replace("\t", "&#x9;").replace("\n", "&#xA;").replace("\r", "&#xD;"))


class AmbiguousPrefix(Exception):
    """Two prefixes in scope name an attribute's namespace: lxml does not tell which one the
    document used, so the caller falls back to libxml2's C14N of the whole tree."""


class HashingReader:
    """A read-only file object that hashes the raw bytes read through it (so that two passes
    over a file can be shown to have read the same bytes)."""

    def __init__(self, f: Any) -> None:
        self._f = f
        self.hash = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._f.read(n)
        self.hash.update(data)
        return data


def _attribute_prefix(uri: str, nsmap: dict[str | None, str]) -> str:
    if uri == _XML_NS:
        return "xml"
    prefixes = sorted(p for p, u in nsmap.items() if u == uri and p)
    if len(prefixes) > 1:
        raise AmbiguousPrefix(uri)
    return prefixes[0] if prefixes else ""


class _Canonicaliser:
    """An lxml parser target writing the C14N form into a hash as the parser reports it:
    text arrives in chunks (about 1 MiB for a huge text node) and no tree is built."""

    def __init__(self, algorithm: str, skip: str | None) -> None:
        self.hash = hashlib.new(algorithm)
        self.skip = skip
        self.skipped = False
        self.skip_depth = 0  # > 0 while inside the skipped element
        self.scopes: list[dict[str | None, str]] = [{}]
        self.names: list[str] = []
        self.seen_root = False

    def _out(self, text: str) -> None:
        self.hash.update(text.encode("utf-8"))

    @staticmethod
    def _prefix_for(uri: str, scope: dict[str | None, str], *, element: bool) -> str | None:
        if uri == _XML_NS:
            return "xml"
        if not uri:
            return None
        prefixes = [p for p, u in scope.items() if u == uri and (element or p)]
        if len(prefixes) != 1:
            raise AmbiguousPrefix(uri)
        return prefixes[0]

    def start(self, tag: str, attrib: dict[str, str], nsmap: dict[str | None, str]) -> None:
        if self.skip_depth:
            self.skip_depth += 1
            return
        if (len(self.names) == 1 and self.skip is not None and not self.skipped
                and tag == self.skip):
            self.skipped = True
            self.skip_depth = 1
            return
        self.seen_root = True
        parent = self.scopes[-1]
        scope = dict(parent)
        scope.update(nsmap)
        if scope.get(None) == "":
            del scope[None]
        self.scopes.append(scope)
        qn = etree.QName(tag)
        prefix = self._prefix_for(qn.namespace or "", scope, element=True)
        name = f"{prefix}:{qn.localname}" if prefix else qn.localname
        self.names.append(name)
        parts = [name]
        if parent.get(None) and None not in scope:
            parts.append('xmlns=""')
        for p in sorted(scope, key=lambda k: k or ""):
            if parent.get(p) != scope[p]:
                parts.append(f'xmlns:{p}="{_attr(scope[p])}"' if p
                             else f'xmlns="{_attr(scope[p])}"')
        attributes = []
        for key, value in attrib.items():
            aq = etree.QName(key)
            attributes.append((aq.namespace or "", aq.localname, value))
        for uri, local, value in sorted(attributes, key=lambda a: (a[0], a[1])):
            ap = self._prefix_for(uri, scope, element=False) if uri else None
            parts.append(f'{ap + ":" if ap else ""}{local}="{_attr(value)}"')
        self._out("<" + " ".join(parts) + ">")

    def end(self, tag: str) -> None:
        if self.skip_depth:
            self.skip_depth -= 1
            return
        self._out(f"</{self.names.pop()}>")
        self.scopes.pop()

    def data(self, text: str) -> None:
        if not self.skip_depth and self.names:
            self._out(_text(text))

    def comment(self, text: str) -> None:
        pass  # C14N without comments

    def pi(self, target: str, data: str | None) -> None:
        if self.skip_depth:
            return
        rendered = f"<?{target}" + (f" {data}" if data else "") + "?>"
        if self.names:
            self._out(rendered)
        elif self.seen_root:
            self._out("\n" + rendered)
        else:
            self._out(rendered + "\n")

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise ValueError("documents with a DTD are refused")

    def close(self) -> bytes:
        return self.hash.digest()


def c14n_digest(path: Path, algorithm: str, *, skip: str | None = None,
                huge_tree: bool = True) -> tuple[bytes, bytes]:
    """The ``algorithm`` digest of the inclusive C14N 1.0 of the document at ``path``, and
    the SHA-256 of the raw bytes read. Raises :class:`AmbiguousPrefix` (see there), or
    lxml's XMLSyntaxError for a document that is not well-formed."""
    target = _Canonicaliser(algorithm, skip)
    # Not resolve_entities=False: with a target, libxml2 then hands attribute values over
    # with character references unexpanded. Entities cannot be declared anyway: the
    # DOCTYPE callback below stops the parse at the start of any DTD.
    parser = etree.XMLParser(target=target, no_network=True, load_dtd=False,
                             huge_tree=huge_tree, remove_comments=False, remove_pis=False)
    raw = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            raw.update(chunk)
            parser.feed(chunk)
    digest: bytes = parser.close()
    return digest, raw.digest()
