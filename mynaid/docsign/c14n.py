"""Streaming inclusive C14N 1.0 (without comments) of a whole document, into a hash.

libxml2's C14N (through lxml) builds the normalised copy of each text node and hands the
whole of it to the writer: a document that is one 200 MB text node costs three copies. This
canonicaliser reads the document with ``iterparse`` and frees each element once written, so
memory stays at about the largest text node; the rules are C14N 1.0 section 2 for a whole
document without a DTD (mynaid refuses DTDs): no XML declaration, start-end pairs for empty
elements, namespace declarations only where they change what the parent has in scope
(sorted by prefix), attributes sorted by namespace URI then local name, the C14N escapes,
PIs kept, comments dropped, and a line feed between the document element and a PI outside
it. ``skip`` names an element (by Clark name) whose first occurrence as a child of the
document element is left out with its subtree: the enveloped-signature transform.
Tests check it byte for byte against lxml's ``write_c14n``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from lxml import etree

__all__ = ["AmbiguousPrefix", "HashingReader", "c14n_digest"]

_XML_NS = "http://www.w3.org/XML/1998/namespace"


def _text(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#xD;"))


def _attr(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
            .replace("\t", "&#x9;").replace("\n", "&#xA;").replace("\r", "&#xD;"))


def _qname(tag: str, prefix: str | None) -> str:
    local = etree.QName(tag).localname
    return f"{prefix}:{local}" if prefix else local


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


def _start_tag(element: Any, parent_ns: dict[str | None, str]) -> str:
    nsmap: dict[str | None, str] = dict(element.nsmap)
    decls = []
    for prefix in sorted(nsmap, key=lambda p: p or ""):
        if parent_ns.get(prefix) != nsmap[prefix]:
            decls.append((prefix, nsmap[prefix]))
    if None not in nsmap and parent_ns.get(None):
        decls.insert(0, (None, ""))
    parts = [_qname(element.tag, element.prefix)]
    for prefix, uri in decls:
        parts.append(f'xmlns:{prefix}="{_attr(uri)}"' if prefix else f'xmlns="{_attr(uri)}"')
    attributes = []
    for name, value in element.attrib.items():
        qn = etree.QName(name)
        uri = qn.namespace or ""
        attributes.append((uri, qn.localname, value))
    for uri, local, value in sorted(attributes, key=lambda a: (a[0], a[1])):
        prefix = _attribute_prefix(uri, nsmap) if uri else ""
        parts.append(f'{prefix + ":" if prefix else ""}{local}="{_attr(value)}"')
    return "<" + " ".join(parts) + ">"


def c14n_digest(path: Path, algorithm: str, *, skip: str | None = None,
                huge_tree: bool = True) -> tuple[bytes, bytes]:
    """The ``algorithm`` digest of the inclusive C14N 1.0 of the document at ``path``, and
    the SHA-256 of the raw bytes read. Raises :class:`AmbiguousPrefix` (see there)."""
    with path.open("rb") as f:
        reader = HashingReader(f)
        digest = _c14n(reader, algorithm, skip, huge_tree)
        while reader.read(1 << 20):  # anything after the document element
            pass
    return digest, reader.hash.digest()


def _c14n(source: Any, algorithm: str, skip: str | None, huge_tree: bool) -> bytes:
    h = hashlib.new(algorithm)

    def out(text: str) -> None:
        h.update(text.encode("utf-8"))

    events = etree.iterparse(source, events=("start", "end", "comment", "pi"),
                             resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=huge_tree, remove_comments=False, remove_pis=False)
    text_done: set[int] = set()  # elements whose .text has been written (by id)
    skipping: Any = None
    skipped = False
    depth = 0
    seen_root = False

    def before_child(node: Any) -> None:
        """Write the text that precedes ``node`` inside its parent."""
        parent = node.getparent()
        previous = node.getprevious()
        if previous is not None:
            if previous.tail:
                out(_text(previous.tail))
        elif parent is not None and id(parent) not in text_done:
            text_done.add(id(parent))
            if parent.text:
                out(_text(parent.text))

    for event, node in events:
        if skipping is not None:
            if event == "end" and node is skipping:
                skipping = None
            continue
        if event == "start":
            if depth == 1 and skip is not None and not skipped and node.tag == skip:
                # The enveloped transform: drop the element, keep the text around it.
                before_child(node)
                skipping, skipped = node, True
                continue
            if depth == 0 and seen_root is False:
                seen_root = True
            before_child(node)
            parent = node.getparent()
            out(_start_tag(node, dict(parent.nsmap) if parent is not None else {}))
            depth += 1
        elif event == "end":
            depth -= 1
            if id(node) not in text_done:
                if node.text:
                    out(_text(node.text))
            else:
                text_done.discard(id(node))
            if len(node):
                last = node[-1]
                if last.tail:
                    out(_text(last.tail))
            out(f"</{_qname(node.tag, node.prefix)}>")
            # Free what has been written: the children (their tails are out too).
            for child in list(node):
                node.remove(child)
        elif event in ("comment", "pi"):
            if node.getparent() is None:  # outside the document element
                if event == "pi":
                    out(("\n" if seen_root else "") + f"<?{node.target}"
                        + (f" {node.text}" if node.text else "") + "?>"
                        + ("" if seen_root else "\n"))
                continue
            before_child(node)
            if event == "pi":
                out(f"<?{node.target}" + (f" {node.text}" if node.text else "") + "?>")
    return h.digest()
