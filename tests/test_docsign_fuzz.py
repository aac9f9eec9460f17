"""Hostile files: mutated signed PDFs and XML documents give a verdict or a typed
DocumentError (or a path VerificationError), never another exception."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mynaid.docsign.card import open_document_key
from mynaid.docsign.pdf import sign_pdf, verify_pdf
from mynaid.docsign.reasons import DocumentError
from mynaid.docsign.xml import sign_xml, verify_xml
from mynaid.errors import MynaidError
from tests.docsign_samples import make_pdf, make_xml
from tests.trust_pki import trust

pytest.importorskip("pyhanko")


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    from mynaid.connect import connect, emulated_card

    work = tmp_path_factory.mktemp("fuzz")
    pdf = make_pdf(work / "in.pdf", 3000)
    xml = make_xml(work / "in.xml", 500)
    with connect(card=emulated_card()) as protocol, \
            open_document_key(protocol, "sign", "TEST1234") as key:
        with pdf.open("rb") as inf, (work / "s.pdf").open("w+b") as out:
            sign_pdf(inf, out, key)
        with (work / "s.xml").open("wb") as out:
            sign_xml(xml, out, key, reference_id="app")
    return {"pdf": (work / "s.pdf").read_bytes(), "xml": (work / "s.xml").read_bytes()}


def _mutate(data: bytes, seed: int, count: int) -> bytes:
    rng = random.Random(seed)
    buf = bytearray(data)
    for _ in range(count):
        op = rng.randrange(3)
        at = rng.randrange(len(buf))
        if op == 0:
            buf[at] = rng.randrange(256)
        elif op == 1:
            del buf[at:at + rng.randrange(1, 64)]
        else:
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
    return bytes(buf)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), count=st.integers(1, 8))
def test_mutated_pdf(samples: dict[str, bytes], tmp_path: Path, seed: int, count: int) -> None:
    path = tmp_path / "m.pdf"
    path.write_bytes(_mutate(samples["pdf"], seed, count))
    try:
        with path.open("rb") as f:
            report = verify_pdf(f, trust())
        report.as_dict()
    except MynaidError:
        pass


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), count=st.integers(1, 8))
def test_mutated_xml(samples: dict[str, bytes], tmp_path: Path, seed: int, count: int) -> None:
    path = tmp_path / "m.xml"
    path.write_bytes(_mutate(samples["xml"], seed, count))
    try:
        verify_xml(path, trust())
    except MynaidError:
        pass


def test_unmutated_samples_verify(samples: dict[str, bytes], tmp_path: Path) -> None:
    (tmp_path / "s.pdf").write_bytes(samples["pdf"])
    with (tmp_path / "s.pdf").open("rb") as f:
        assert verify_pdf(f, trust()).valid
    (tmp_path / "s.xml").write_bytes(samples["xml"])
    verify_xml(tmp_path / "s.xml", trust())
    assert DocumentError is not None
