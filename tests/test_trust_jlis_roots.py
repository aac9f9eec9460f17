"""The real J-LIS roots in ../shared/jpki-roots: pinned fingerprints, expiry of the 2015
generation, and issuer choice by key among roots that share one DN.

Nobody outside J-LIS can make a certificate that a real root verifies, so choosing "by key"
is shown two ways: each real root's self-signature picks itself among its same-DN sibling,
and a synthetic certificate that claims the real DN (even the real 2023 key identifier) is
only ever chained to the test key that actually signed it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509

from mynaid.trust.anchors import JLIS_ROOTS, TrustStore, fingerprint, pinned_root
from mynaid.trust.errors import Reason, VerificationError
from mynaid.trust.path import check_anchor, select_issuer, validate_path
from tests.trust_pki import NOW, Spec, fresh_key, issue, make_root

ROOTS_DIR = Path(__file__).resolve().parents[2] / "shared" / "jpki-roots"

pytestmark = pytest.mark.skipif(not ROOTS_DIR.is_dir(),
                                reason=f"{ROOTS_DIR} is not available")


def _root(label: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((ROOTS_DIR / f"{label}.pem").read_bytes())


@pytest.mark.parametrize("pinned", JLIS_ROOTS, ids=lambda r: r.label)
def test_pinned_fingerprints_match_the_published_roots(pinned: object) -> None:
    from mynaid.trust.anchors import PinnedRoot

    assert isinstance(pinned, PinnedRoot)
    cert = _root(pinned.label)
    assert fingerprint(cert) == pinned.sha256
    assert pinned_root(cert) == pinned
    assert TrustStore.jpki().is_anchor(cert)
    assert cert.not_valid_before_utc.date().isoformat() == pinned.valid_from
    # J-LIS ends validity at 14:59:59 UTC, i.e. midnight in Japan.
    assert cert.not_valid_after_utc.date().isoformat() == pinned.valid_to


def test_default_store_trusts_nothing_else() -> None:
    assert not TrustStore.jpki().anchors
    assert not TrustStore.jpki().is_anchor(make_root("other").cert)


@pytest.mark.parametrize("purpose", ["auth", "sign"])
def test_2015_generation_is_expired_today_and_2023_is_valid(purpose: str) -> None:
    old, new = _root(f"{purpose}_ca_2015"), _root(f"{purpose}_ca_2023")
    assert old.subject == new.subject  # one DN, two keys
    with pytest.raises(VerificationError) as info:
        check_anchor(old)
    assert info.value.reason is Reason.EXPIRED
    check_anchor(old, at=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    check_anchor(new)
    with pytest.raises(VerificationError) as info:
        check_anchor(new, at=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    assert info.value.reason is Reason.NOT_YET_VALID


@pytest.mark.parametrize("purpose", ["auth", "sign"])
def test_self_signature_picks_the_right_generation(purpose: str) -> None:
    old, new = _root(f"{purpose}_ca_2015"), _root(f"{purpose}_ca_2023")
    # The roots carry no AuthorityKeyIdentifier, so only the signature can tell them apart.
    assert select_issuer(new, [old, new]) == new
    assert select_issuer(old, [new, old]) == old


def test_certificate_claiming_the_jlis_dn_chains_only_to_the_key_that_signed_it() -> None:
    real_old, real_new = _root("auth_ca_2015"), _root("auth_ca_2023")
    impostor = make_root("jlis-dn-test-key", real_new.subject)
    real_ski = real_new.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    from mynaid.emulator.testpki import AUTH_POLICY_OID
    from tests.trust_pki import AUTH_KU

    leaf = issue(impostor, fresh_key("ee"), Spec(
        key_usage=AUTH_KU, policies=(AUTH_POLICY_OID,), holder=False,
        eku=[x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH],
        aki=real_ski.digest,  # claims the real 2023 key identifier
        not_before=NOW - dt.timedelta(days=1)))
    # With only the pinned J-LIS roots, no such key signed it: rejected by signature.
    with pytest.raises(VerificationError) as info:
        validate_path(leaf, TrustStore.jpki(), intermediates=[real_old, real_new])
    assert info.value.reason is Reason.UNKNOWN_ISSUER
    assert "no such key signed" in info.value.detail
    # A user who trusts the test key gets a path to it, not to either real generation.
    store = TrustStore.jpki()
    store.add_certificate(impostor.cert)
    path = validate_path(leaf, store, intermediates=[real_old, real_new])
    assert path.anchor == impostor.cert
    assert path.jlis_root is None
