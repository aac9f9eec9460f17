"""Hostile bodies: the relying party answers every one with a reason code (RpError or the
library's typed errors), never another exception; the nesting check never recurses."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mynaid.errors import MynaidError
from mynaid.rp.core import RelyingParty, RpConfig
from mynaid.rp.store import SqliteStore
from mynaid.service.app import check_depth
from tests.rp_helpers import CONTEXT

_store = SqliteStore(Path(tempfile.mkdtemp(prefix="mynaid-rp-fuzz-")) / "rp.sqlite3")
_store.migrate()
RP = RelyingParty(_store, RpConfig(context=CONTEXT))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40)
    | st.sampled_from(["AAAA", "00" * 32, "", "===", "mynaid-rp"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["nonce", "context", "signature", "certificate",
                                       "ca_certificates", "sign", "auth", "claim",
                                       "kiosk_id", "method", "card_face",
                                       "device_signature", "name", "checks", "sex",
                                       "birth_date"]), children, max_size=6),
    max_leaves=20)


def _call(operation: Any, body: Any) -> None:
    try:
        operation(body)
    except MynaidError:
        pass  # RpError / VerificationError: a reason code


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_every_body_gets_a_reason(body: Any) -> None:
    for operation in (RP.login, RP.register, RP.face):
        _call(operation, body)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["nonce", "context", "signature", "certificate",
                                        "ca_certificates"]),
                       st.text(max_size=60) | st.lists(st.text(max_size=10), max_size=6)))
def test_login_fields_of_any_shape(body: dict[str, Any]) -> None:
    _call(RP.login, body)


@pytest.mark.parametrize("raw", [b"[" * 30000, b"{" * 30000, b'{"a":' * 5000,
                                 b"[" * 11 + b"]" * 11])
def test_deep_nesting_is_refused_before_parsing(raw: bytes) -> None:
    with pytest.raises(MynaidError) as info:
        check_depth(raw, 10)
    assert info.value.reason == "too-deeply-nested"


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_depth_check_agrees_with_the_parser(value: Any) -> None:
    raw = json.dumps(value).encode()

    def depth(v: Any) -> int:
        if isinstance(v, list):
            return 1 + max((depth(x) for x in v), default=0)
        if isinstance(v, dict):
            return 1 + max((depth(x) for x in v.values()), default=0)
        return 0

    if depth(value) <= 3:
        check_depth(raw, 3)
    else:
        with pytest.raises(MynaidError):
            check_depth(raw, 3)
