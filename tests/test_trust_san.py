"""Holder data in the signature certificate's SubjectAltName (mynaid.trust.san)."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from cryptography import x509

from mynaid.emulator.profile import CardProfile
from mynaid.emulator.testpki import DEFAULT_HOLDER, TestHolder
from mynaid.trust.errors import Reason, VerificationError
from mynaid.trust.san import HOLDER_OIDS, parse_holder
from tests.trust_pki import Spec, fresh_key, issue, root


def _utf8(text: str) -> bytes:
    raw = text.encode("utf-8")
    assert len(raw) < 128
    return b"\x0c" + bytes([len(raw)]) + raw


def _cert_with(others: list[x509.OtherName]) -> x509.Certificate:
    return issue(root("sign"), fresh_key("ee"), Spec(san=x509.SubjectAlternativeName(others)))


def _holder_cert(**changes: str) -> x509.Certificate:
    holder = TestHolder(**changes)  # type: ignore[arg-type]
    return _cert_with(holder.other_names())


def test_default_card_holder(profile: CardProfile) -> None:
    assert profile.jpki.sign_cert is not None
    holder = parse_holder(x509.load_der_x509_certificate(profile.jpki.sign_cert))
    assert holder.name == DEFAULT_HOLDER.name
    assert holder.address == DEFAULT_HOLDER.address
    assert holder.sex == "female"
    assert holder.birth_date == dt.date(1980, 2, 17)
    assert (holder.birth_era, holder.birth_era_romaji) == ("昭和", "Showa")
    assert holder.name_substituted_positions == []
    assert holder.summary() == {"name": DEFAULT_HOLDER.name, "address": DEFAULT_HOLDER.address,
                                "name_has_substitutes": False,
                                "address_has_substitutes": False}
    assert holder.details()["birth_date"] == "1980-02-17"


def test_holder_data_stays_out_of_repr_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    holder = parse_holder(_holder_cert())
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("mynaid.test").debug("holder %r", holder)
    assert DEFAULT_HOLDER.name not in repr(holder)
    assert DEFAULT_HOLDER.address not in caplog.text


@pytest.mark.parametrize(("birth", "era", "date"), [
    ("120010203", "明治", dt.date(2001, 2, 3)),  # the era code is decoded as given
    ("219200101", "大正", dt.date(1920, 1, 1)),
    ("420000229", "平成", dt.date(2000, 2, 29)),
    ("520200101", "令和", dt.date(2020, 1, 1)),
    ("000000000", "不明", None),
])
def test_era_codes(birth: str, era: str, date: dt.date | None) -> None:
    holder = parse_holder(_holder_cert(birth=birth))
    assert holder.birth_era == era
    assert holder.birth_date == date


def test_substitute_flags() -> None:
    holder = parse_holder(_holder_cert(name_flags="00100", address_flags="0000000001"))
    assert holder.name_substituted_positions == [2]
    assert holder.address_substituted_positions == [9]
    assert holder.summary()["name_has_substitutes"] is True


def _reason(cert: x509.Certificate) -> Reason:
    with pytest.raises(VerificationError) as info:
        parse_holder(cert)
    return info.value.reason


@pytest.mark.parametrize("changes", [
    {"birth": "919800217"},  # unknown era
    {"birth": "319800230"},  # no such date
    {"birth": "31980021"},   # eight digits
    {"birth": "3198O0217"},  # a letter O
    {"sex": "4"},
    {"name_flags": "0x"},
    {"name": ""},
    {"address": "東京都\n千代田区"},
], ids=lambda c: ",".join(f"{k}={v!r}" for k, v in c.items()))
def test_malformed_values(changes: dict[str, str]) -> None:
    assert _reason(_holder_cert(**changes)) is Reason.MALFORMED_SAN


def test_missing_duplicate_and_wrongly_typed_other_names() -> None:
    others = DEFAULT_HOLDER.other_names()
    assert _reason(_cert_with(others[1:])) is Reason.MALFORMED_SAN  # no name
    assert _reason(_cert_with([*others, others[0]])) is Reason.MALFORMED_SAN
    printable = x509.OtherName(HOLDER_OIDS["sex"], b"\x13\x012")  # PrintableString
    assert _reason(_cert_with([o for o in others if o.type_id != HOLDER_OIDS["sex"]]
                              + [printable])) is Reason.MALFORMED_SAN


def test_structurally_broken_other_name() -> None:
    # cryptography refuses to build this, so the extension is written by hand: the outer
    # lengths are right, the UTF8String inside claims 5 bytes and has 2.
    from asn1crypto import core

    oid = core.ObjectIdentifier(HOLDER_OIDS["name"].dotted_string).dump()
    value = b"\x0c\x05ab"
    explicit = b"\xa0" + bytes([len(value)]) + value
    other_name = b"\xa0" + bytes([len(oid + explicit)]) + oid + explicit
    san = x509.UnrecognizedExtension(x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                                     b"\x30" + bytes([len(other_name)]) + other_name)
    assert _reason(issue(root("sign"), fresh_key("ee"), Spec(san=san))) is Reason.MALFORMED_SAN


def test_no_san() -> None:
    assert _reason(issue(root("sign"), fresh_key("ee"), Spec(holder=False))) is \
        Reason.MALFORMED_SAN


def test_unrelated_other_names_are_ignored() -> None:
    extra = x509.OtherName(x509.ObjectIdentifier("1.3.6.1.4.1.99999.3"), _utf8("x"))
    assert parse_holder(_cert_with([*DEFAULT_HOLDER.other_names(), extra])).sex_code == "2"
