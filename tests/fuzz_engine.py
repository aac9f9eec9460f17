"""A seeded mutation fuzzer over everything hostile that mynaid parses (issue 11).

Targets: CMS signatures (``.p7s``, through :func:`mynaid.cms.verify` and
:func:`~mynaid.cms.verify_file`), certificates (:func:`~mynaid.trust.path.validate_path`),
CRLs, CRL maps (JSON), OCSP answers (through :class:`~mynaid.trust.revocation.OcspChecker`
with a mutating fetcher), challenge responses, images (:mod:`mynaid.imagesize`) and card
responses: JPKI, text and visual sessions against the emulated card through an in-process
transport that mutates the card's answers (data and status words).

Every case must end in success or a :class:`~mynaid.errors.MynaidError`; anything else is a
*foreign* exception, counted by type and code site. Each case runs under a wall-clock bound
(SIGALRM in the main thread); a case that exceeds it is a *hang*. A mutated signature that
still verifies must carry the original content (else it is a *forgery*).

Used by ``tests/test_fuzz.py`` (a few seconds, seeded) and ``benchmarks/fuzz.py``
(``--iterations N``).
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import io
import json
import random
import signal
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mynaid.errors import MynaidError

#: The per-case wall-clock bound (seconds).
CASE_BOUND = 5.0
CONTENT = b"fuzzed content\n" * 20


class Hang(BaseException):
    """Raised in the case when its time bound passes (BaseException: not swallowed)."""


@dataclass
class Counts:
    cases: int = 0
    accepted: int = 0
    typed: int = 0
    hangs: int = 0
    forgeries: int = 0
    foreign: collections.Counter[str] = field(default_factory=collections.Counter)
    reasons: collections.Counter[str] = field(default_factory=collections.Counter)

    @property
    def foreign_total(self) -> int:
        return sum(self.foreign.values())

    def as_dict(self) -> dict[str, Any]:
        return {"cases": self.cases, "accepted": self.accepted, "typed_errors": self.typed,
                "foreign_exceptions": self.foreign_total, "hangs": self.hangs,
                "forgeries": self.forgeries, "foreign_sites": dict(self.foreign),
                "top_reasons": dict(self.reasons.most_common(8))}


# --- mutation --------------------------------------------------------------------------------


_SPECIAL = (0x00, 0xFF, 0x80, 0x7F, 0x4C, 0x0C, 0x13, 0x30, 0x31, 0xA0, 0x05, 0x01)


def _tlvs(data: bytes, limit: int = 4000) -> list[tuple[int, int, int]]:
    """(position, header length, content length) of the TLVs found by a lenient DER walk."""
    found: list[tuple[int, int, int]] = []
    stack = [(0, len(data))]
    while stack and len(found) < limit:
        pos, end = stack.pop()
        while pos + 2 <= end and len(found) < limit:
            tag = data[pos]
            lead = data[pos + 1]
            header = 2
            if lead < 0x80:
                length = lead
            elif 0x81 <= lead <= 0x84:
                count = lead & 0x7F
                if pos + 2 + count > end:
                    break
                length = int.from_bytes(data[pos + 2:pos + 2 + count], "big")
                header += count
            else:
                break
            if pos + header + length > end:
                break
            found.append((pos, header, length))
            if tag & 0x20:
                stack.append((pos + header, pos + header + length))
            pos += header + length
    return found


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four mutations: mostly same-length changes inside a TLV (they keep the outer
    structure valid and reach the lazy parsers), plus tag, length and splice changes."""
    out = bytearray(data)
    tlvs = _tlvs(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            break
        op = rng.random()
        if tlvs and op < 0.45:
            pos, header, length = rng.choice(tlvs)
            if length and pos + header + length <= len(out):
                at = pos + header + rng.randrange(length)
                out[at] = rng.choice(_SPECIAL) if rng.random() < 0.5 else rng.randrange(256)
        elif tlvs and op < 0.6:
            pos, _, _ = rng.choice(tlvs)
            if pos < len(out):
                out[pos] = (out[pos] ^ rng.choice((0x40, 0x20, 0x80, 0x01, 0x0F))) & 0xFF
        elif tlvs and op < 0.72:
            pos, header, length = rng.choice(tlvs)
            if pos + 1 < len(out):
                if header == 2 and rng.random() < 0.3:
                    out[pos + 1] = 0x80  # indefinite length
                else:
                    out[pos + header - 1] = (out[pos + header - 1]
                                             + rng.choice((-1, 1, 2, -2))) & 0xFF
        elif op < 0.82:
            at = rng.randrange(len(out))
            out[at] ^= 1 << rng.randrange(8)
        elif op < 0.88:
            cut = rng.randrange(len(out))
            del out[cut:cut + rng.randint(1, 64)]
        elif op < 0.94:
            at = rng.randrange(len(out) + 1)
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif tlvs:
            pos, header, length = rng.choice(tlvs)
            piece = bytes(out[pos:pos + header + length])
            out[pos:pos] = piece  # a duplicated element (lengths above now disagree)
        else:
            del out[rng.randrange(len(out)):]
    return bytes(out)


def mutate_json(value: Any, rng: random.Random, depth: int = 0) -> Any:
    """Replace, drop or re-type parts of a JSON value."""
    choices: list[Any] = [None, 5, -1, 1e308, "", "\udcff"[:0] + "x" * 3, [], {}, True,
                          "CN=\u0000", "../../etc/passwd", [[[]]], "\ud800"[:0]]
    if depth > 4 or rng.random() < 0.2:
        return rng.choice(choices)
    if isinstance(value, dict):
        out = dict(value)
        if out and rng.random() < 0.7:
            key = rng.choice(list(out))
            if rng.random() < 0.2:
                del out[key]
            else:
                out[key] = mutate_json(out[key], rng, depth + 1)
        else:
            out[rng.choice(["name", "uri", "file", "files", "folders", "x"])] = \
                rng.choice(choices)
        return out
    if isinstance(value, list):
        out_list = list(value)
        if out_list and rng.random() < 0.7:
            index = rng.randrange(len(out_list))
            out_list[index] = mutate_json(out_list[index], rng, depth + 1)
        else:
            out_list.append(rng.choice(choices))
        return out_list
    return rng.choice(choices)


# --- the corpus ------------------------------------------------------------------------------


class Corpus:
    """Seeds built once: signatures, certificates, CRLs, OCSP answers, a CRL map."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives import serialization

        from mynaid import cms
        from tests.trust_pki import (
            OcspResponder,
            Spec,
            crl_der,
            fresh_key,
            issue,
            make_crl,
            root,
            trust,
        )

        self.trust = trust()
        ca = root("sign")
        self.ca = ca
        key = fresh_key("fuzz-ee")
        self.key = key
        dp = __import__("tests.test_trust_revocation", fromlist=["DP"]).DP
        self.cert = issue(ca, key, Spec(crl_dp=dp))
        self.dp = dp
        der = self.cert.public_bytes(serialization.Encoding.DER)
        self.cert_der = der
        self.root_der = ca.cert.public_bytes(serialization.Encoding.DER)
        self.p7s = [cms.sign(CONTENT, key, self.cert),
                    cms.sign(CONTENT, key, self.cert, chain=[ca.cert]),
                    cms.sign(CONTENT, key, self.cert, detached=True)]
        self.pem = cms.to_pem(self.p7s[0])
        self.crls = [crl_der(make_crl(ca)), crl_der(make_crl(ca, [self.cert.serial_number,
                                                                  12345]))]
        self.responder = OcspResponder(ca, [self.cert])
        self.ocsp_requests: list[bytes] = []
        self.ocsp_answer: bytes | None = None
        self.crl_map = {"distribution_points": [{"name": dp.rfc4514_string(),
                                                 "file": "crls/a.crl"},
                                                {"uri": "http://x.invalid/c.crl",
                                                 "file": "crls/a.crl"}],
                        "files": ["crls/a.crl"], "folders": ["crls"]}
        self.tmp = Path(tempfile.mkdtemp(prefix="mynaid-fuzz-"))
        (self.tmp / "crls").mkdir()
        (self.tmp / "crls" / "a.crl").write_bytes(self.crls[0])
        from mynaid.challenge import ChallengeResponse

        self.challenge = ChallengeResponse(nonce=b"\x01" * 16, context="fuzz",
                                           signature=b"\x00" * 256,
                                           certificate=self.cert,
                                           ca_certificates=(ca.cert,)).as_dict()
        from mynaid.emulator import default_profile

        self.profile = default_profile()
        visual = self.profile.visual
        self.images: list[bytes] = [visual.photo, visual.name_image] if visual else []

    def close(self) -> None:
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)


# --- targets ---------------------------------------------------------------------------------


def _p7s(corpus: Corpus, rng: random.Random) -> bool | None:
    from mynaid import cms

    seed = rng.choice([*corpus.p7s, corpus.pem]) if rng.random() < 0.95 else corpus.pem
    data = mutate(seed, rng)
    detached = seed is corpus.p7s[2]
    content = CONTENT if detached or rng.random() < 0.1 else None
    choice = rng.random()
    if choice < 0.4:
        result = cms.verify(data, corpus.trust, content=content)
    elif choice < 0.6:
        result = cms.verify_file(io.BytesIO(data), corpus.trust,
                                 content=io.BytesIO(content) if content else None)
    else:
        # From a file, with the in-place path (eContent located inside the file) forced.
        path = corpus.tmp / "m.p7s"
        path.write_bytes(data)
        saved = cms.INPLACE_THRESHOLD
        cms.INPLACE_THRESHOLD = 0
        try:
            result = cms.verify_file(path, corpus.trust,
                                     content=io.BytesIO(content) if content else None)
            if result.content is None and not result.detached:
                copied = io.BytesIO()
                cms.copy_content(path, result, copied)
                return copied.getvalue() == CONTENT
        finally:
            cms.INPLACE_THRESHOLD = saved
    got = result.content if result.content is not None else CONTENT
    return got == CONTENT  # False: a forgery


def _cert(corpus: Corpus, rng: random.Random) -> None:
    from cryptography import x509

    from mynaid.trust.certs import load_certificate
    from mynaid.trust.path import ValidationOptions, check_anchor, validate_path

    data = mutate(rng.choice([corpus.cert_der, corpus.root_der]), rng)
    if rng.random() < 0.5:
        cert = load_certificate(data)
    else:
        from mynaid.trust.certs import FOREIGN_ERRORS

        try:
            cert = x509.load_der_x509_certificate(data)  # the lazy object, as callers hold it
        except FOREIGN_ERRORS:
            return  # the caller's own load failed: nothing reached mynaid
    if rng.random() < 0.2:
        check_anchor(cert)
        return
    intermediates = [x509.load_der_x509_certificate(corpus.root_der)]
    if rng.random() < 0.3:
        intermediates.append(cert)
        cert = x509.load_der_x509_certificate(corpus.cert_der)
    validate_path(cert, corpus.trust, intermediates=intermediates,
                  options=ValidationOptions(allow_other_policies=rng.random() < 0.5))


def _crl(corpus: Corpus, rng: random.Random) -> None:
    from mynaid.trust.revocation import CrlSource, _load_crls, preload

    data = mutate(rng.choice(corpus.crls), rng)
    path = corpus.tmp / f"m{rng.randrange(1 << 30)}.crl"
    path.write_bytes(data)
    try:
        source = CrlSource()
        source.add_path(path)
        if rng.random() < 0.5:
            preload(source)
            for crl in _load_crls(data, "x"):
                source.add_crl(crl)
        result = source.check(corpus.cert, corpus.ca.cert)
        assert result.status is not None
    finally:
        path.unlink()


def _crl_map(corpus: Corpus, rng: random.Random) -> None:
    from mynaid.trust.revocation import CrlSource, preload

    path = corpus.tmp / "map.json"
    if rng.random() < 0.7:
        path.write_text(json.dumps(mutate_json(corpus.crl_map, rng)), encoding="utf-8")
    else:
        path.write_bytes(mutate(json.dumps(corpus.crl_map).encode(), rng))
    source = CrlSource.load_config(path)
    preload(source)
    source.check(corpus.cert, corpus.ca.cert)


def _ocsp(corpus: Corpus, rng: random.Random) -> None:
    from mynaid.trust.revocation import OcspChecker, RevocationChecker

    def fetch(url: str, body: bytes, timeout: float) -> bytes:
        return mutate(corpus.responder.respond(body), rng)

    checker = OcspChecker(url="http://127.0.0.1:9/", fetch=fetch,
                          require_nonce=rng.random() < 0.3)
    result = RevocationChecker(ocsp=checker).check(corpus.cert, corpus.ca.cert)
    assert result.status is not None


def _challenge(corpus: Corpus, rng: random.Random) -> None:
    from mynaid.challenge import ChallengeResponse, ChallengeVerifier

    verifier = ChallengeVerifier(trust=corpus.trust, context="fuzz")
    data = dict(corpus.challenge)
    nonce = verifier.issue().nonce
    data["nonce"] = nonce.hex()  # so that the check reaches the certificate
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from mynaid.challenge import signed_message

    data["signature"] = base64.b64encode(corpus.key.sign(
        signed_message("fuzz", nonce), padding.PKCS1v15(), hashes.SHA256())).decode()
    if rng.random() < 0.5:
        data = mutate_json(data, rng)
    else:
        raw = base64.b64decode(data["certificate"])
        data["certificate"] = base64.b64encode(mutate(raw, rng)).decode()
    response = ChallengeResponse.from_dict(data)
    verifier.verify(response)


def _image(corpus: Corpus, rng: random.Random) -> None:
    from mynaid.imagesize import check_image

    if not corpus.images:
        return
    check_image(mutate(rng.choice(corpus.images), rng))


class _HostileTransport:
    """The emulated card behind a transport whose answers are mutated at random."""

    def __init__(self, card: Any, rng: random.Random, rate: float) -> None:
        from mynaid.transport.emulated import EmulatorTransport

        self.inner = EmulatorTransport(card)
        self.rng = rng
        self.rate = rate

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        data, sw = self.inner.transmit(apdu)
        rng = self.rng
        if rng.random() < self.rate:
            choice = rng.random()
            if choice < 0.6 and data:
                data = mutate(data, rng)
            elif choice < 0.8:
                sw = rng.choice((0x9000, 0x6282, 0x6A82, 0x6300, 0x63C0, 0x63C1, 0x6100,
                                 0x61FF, 0x6C00, 0x6CFF, 0x6700, 0x6982, 0x6983, 0x6984,
                                 0x6D00, rng.randrange(1 << 16)))
            elif choice < 0.9:
                data = data + bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
            else:
                data = data[:rng.randrange(len(data) + 1)]
        return data, sw


def _card(which: str) -> Callable[[Corpus, random.Random], None]:
    def run(corpus: Corpus, rng: random.Random) -> None:
        from mynaid.cardspec import CertificateSlot
        from mynaid.emulator import build_card
        from mynaid.protocol import CardProtocol
        from mynaid.sessions.jpki import JpkiSession
        from mynaid.sessions.text import TextSession
        from mynaid.sessions.visual import VisualSession

        card = build_card(corpus.profile)
        transport = _HostileTransport(card, rng, rate=rng.choice((0.1, 0.3, 1.0)))
        protocol = CardProtocol(transport)  # type: ignore[arg-type]
        if which == "jpki":
            session = JpkiSession(protocol)
            if rng.random() < 0.3:
                session.pin_states()
            session.read_certificate(rng.choice((CertificateSlot.AUTH,
                                                 CertificateSlot.AUTH_CA)))
        elif which == "text":
            text = TextSession(protocol).read("5678")
            text.integrity()  # the issuer signature over what the hostile card answered
        else:
            from mynaid import photo

            data = VisualSession(protocol).read("123456789018", "pin-a")
            data.integrity()
            face = getattr(data, "face", None)
            raw = getattr(face, "photo", None)
            if isinstance(raw, bytes) and rng.random() < 0.2:
                try:
                    photo.decode(raw)
                except MynaidError:
                    pass

    return run


TARGETS: dict[str, Callable[[Corpus, random.Random], Any]] = {
    "p7s": _p7s,
    "certificate": _cert,
    "crl": _crl,
    "crl-map": _crl_map,
    "ocsp": _ocsp,
    "challenge": _challenge,
    "image": _image,
    "card-jpki": _card("jpki"),
    "card-text": _card("text"),
    "card-visual": _card("visual"),
}


def _site(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if "/mynaid/" in f.filename]
    frame = (mine or frames)[-1] if (mine or frames) else None
    where = f"{Path(frame.filename).name}:{frame.lineno}" if frame else "?"
    return f"{type(exc).__name__} at {where}"


def _alarm(signum: int, frame: Any) -> None:
    raise Hang()


def run(iterations: int, seed: int = 0, targets: list[str] | None = None,
        bound: float = CASE_BOUND, examples: dict[str, list[str]] | None = None
        ) -> dict[str, Counts]:
    """``iterations`` cases per target, seeded; returns the counts per target.

    ``examples`` (when given) collects, per foreign site, a short traceback of the first
    case that hit it.
    """
    import warnings

    corpus = Corpus()
    results: dict[str, Counts] = {}
    previous = signal.signal(signal.SIGALRM, _alarm)
    catcher = warnings.catch_warnings()
    catcher.__enter__()
    # cryptography warns (once per site) about negative serial numbers in mutants: noise.
    warnings.simplefilter("ignore")
    try:
        for name in targets or list(TARGETS):
            target = TARGETS[name]
            counts = Counts()
            rng = random.Random(f"{seed}:{name}")
            for _ in range(iterations):
                counts.cases += 1
                signal.setitimer(signal.ITIMER_REAL, bound)
                try:
                    verdict = target(corpus, rng)
                    signal.setitimer(signal.ITIMER_REAL, 0)
                    counts.accepted += 1
                    if verdict is False:
                        counts.forgeries += 1
                except Hang as exc:
                    counts.hangs += 1
                    if examples is not None:
                        # Where the case was when its time ran out.
                        examples[f"hang in {name} case {counts.cases}"] = \
                            traceback.format_exception(exc)[-8:]
                except MynaidError as exc:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                    counts.typed += 1
                    counts.reasons[str(getattr(exc, "reason", "?"))] += 1
                except Exception as exc:  # counting is the point
                    signal.setitimer(signal.ITIMER_REAL, 0)
                    site = _site(exc)
                    counts.foreign[site] += 1
                    if examples is not None and site not in examples:
                        examples[site] = traceback.format_exception(exc)[-6:]
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            results[name] = counts
    finally:
        catcher.__exit__(None, None, None)
        signal.signal(signal.SIGALRM, previous)
        corpus.close()
    return results


def summary(results: dict[str, Counts]) -> str:
    lines = [f"{'target':<12} {'cases':>7} {'accepted':>8} {'typed':>7} {'foreign':>7} "
             f"{'hangs':>5} {'forged':>6}"]
    for name, c in results.items():
        lines.append(f"{name:<12} {c.cases:>7} {c.accepted:>8} {c.typed:>7} "
                     f"{c.foreign_total:>7} {c.hangs:>5} {c.forgeries:>6}")
        for site, count in c.foreign.most_common(5):
            lines.append(f"    foreign: {count} x {site}")
    return "\n".join(lines)


_ = dt  # (datetime kept for callers that build seeds at fixed times)
