"""Path building and validation (mynaid.trust.path): the card's certificates, the corpus of
bad certificates (each with its own reason), and issuer choice among same-DN roots."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from mynaid.emulator.profile import CardProfile
from mynaid.emulator.testpki import AUTH_POLICY_OID, SIGN_POLICY_OID
from mynaid.trust.anchors import TrustStore, fingerprint
from mynaid.trust.errors import Reason, VerificationError
from mynaid.trust.path import (
    CertificateRole,
    PolicyKind,
    ValidationOptions,
    check_anchor,
    issuer_candidates,
    select_issuer,
    validate_path,
)
from tests.trust_pki import (
    AUTH_KU,
    NOW,
    Authority,
    Spec,
    ca_spec,
    fresh_key,
    issue,
    key_usage,
    make_root,
    root,
    trust,
)


def _card_certs(profile: CardProfile) -> tuple[x509.Certificate, x509.Certificate]:
    assert profile.jpki.auth_cert is not None and profile.jpki.sign_cert is not None
    return (x509.load_der_x509_certificate(profile.jpki.auth_cert),
            x509.load_der_x509_certificate(profile.jpki.sign_cert))


def _reason(leaf: x509.Certificate, store: TrustStore, *, intermediates: tuple[
        x509.Certificate, ...] = (), **options: object) -> Reason:
    with pytest.raises(VerificationError) as info:
        validate_path(leaf, store, intermediates=intermediates,
                      options=ValidationOptions(**options))
    return info.value.reason


# --- the card's certificates -----------------------------------------------------------------


def test_card_certificates_validate_with_roles_inferred(profile: CardProfile) -> None:
    auth, sign = _card_certs(profile)
    store = trust()
    auth_path = validate_path(auth, store)
    assert auth_path.role is CertificateRole.AUTH
    assert auth_path.policies == (AUTH_POLICY_OID.dotted_string,)
    assert auth_path.policy_kind is PolicyKind.TEST
    assert auth_path.anchor == root("auth").cert
    assert auth_path.jlis_root is None
    sign_path = validate_path(sign, store)
    assert sign_path.role is CertificateRole.SIGN
    assert sign_path.anchor == root("sign").cert
    assert sign_path.certificates == (sign, root("sign").cert)


def test_card_ca_certificate_counts_only_when_pinned(profile: CardProfile) -> None:
    auth, _ = _card_certs(profile)
    assert profile.jpki.auth_ca_cert is not None
    card_ca = x509.load_der_x509_certificate(profile.jpki.auth_ca_cert)
    # Offered as an intermediate but not pinned: a self-signed dead end.
    assert _reason(auth, TrustStore.jpki(), intermediates=(card_ca,)) is Reason.UNTRUSTED_ANCHOR
    pinned = TrustStore.jpki()
    pinned.pin(fingerprint(card_ca))
    assert validate_path(auth, pinned, intermediates=[card_ca]).anchor == card_ca


def test_production_only_refuses_test_policies(profile: CardProfile) -> None:
    auth, sign = _card_certs(profile)
    assert _reason(auth, trust(), production_only=True) is Reason.POLICY_NOT_ACCEPTED
    assert _reason(sign, trust(), production_only=True) is Reason.POLICY_NOT_ACCEPTED


def test_validation_time_is_honoured(profile: CardProfile) -> None:
    _, sign = _card_certs(profile)
    later = dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc)
    earlier = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    assert _reason(sign, trust(), at=later) is Reason.EXPIRED
    assert _reason(sign, trust(), at=earlier) is Reason.NOT_YET_VALID


def test_wrong_role_is_refused(profile: CardProfile) -> None:
    auth, sign = _card_certs(profile)
    # The signature certificate has no clientAuth; the auth one lacks nonRepudiation.
    assert _reason(sign, trust(), role=CertificateRole.AUTH) is \
        Reason.EXTENDED_KEY_USAGE_NOT_ALLOWED
    assert _reason(auth, trust(), role=CertificateRole.SIGN) is Reason.KEY_USAGE_NOT_ALLOWED


# --- the corpus: one defect each, one reason each --------------------------------------------


def _other_policy() -> ObjectIdentifier:
    return ObjectIdentifier("1.3.6.1.4.1.99999.1")


def corpus() -> dict[str, tuple[x509.Certificate, tuple[x509.Certificate, ...], Reason]]:
    sign_root = root("sign")
    key = fresh_key("ee")
    past = NOW - dt.timedelta(days=400)
    intermediate_key = fresh_key("intermediate")
    no_bc = issue(sign_root, intermediate_key, ca_spec(basic_constraints=None))
    no_bc_ca = Authority(no_bc, intermediate_key)
    limited_ca_cert = issue(sign_root, intermediate_key, ca_spec(
        basic_constraints=x509.BasicConstraints(ca=True, path_length=0)))
    limited_ca = Authority(limited_ca_cert, intermediate_key)
    second_key = fresh_key("intermediate-2")
    second = issue(limited_ca, second_key, ca_spec(subject=None))
    second_ca = Authority(second, second_key)
    stranger = make_root("stranger", sign_root.cert.subject)  # same DN, other key
    untrusted = make_root("untrusted")
    bad_san = x509.UnrecognizedExtension(x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                                         b"\x30\x05\xa0\x10\x06\x01")
    return {
        "wrong issuer": (issue(sign_root, key, signing_key=stranger.key), (),
                         Reason.UNKNOWN_ISSUER),
        "expired": (issue(sign_root, key, Spec(not_before=past,
                                               not_after=NOW - dt.timedelta(days=1))), (),
                    Reason.EXPIRED),
        "not yet valid": (issue(sign_root, key, Spec(not_before=NOW + dt.timedelta(days=1))),
                          (), Reason.NOT_YET_VALID),
        "missing KeyUsage": (issue(sign_root, key, Spec(key_usage=None)), (),
                             Reason.KEY_USAGE_MISSING),
        "KeyUsage without nonRepudiation": (issue(sign_root, key, Spec(key_usage=AUTH_KU)), (),
                                            Reason.KEY_USAGE_NOT_ALLOWED),
        "CA without BasicConstraints": (issue(no_bc_ca, key), (no_bc,), Reason.NOT_A_CA),
        "pathLen exceeded": (issue(second_ca, key), (second, limited_ca_cert),
                             Reason.PATH_TOO_LONG),
        "unknown critical extension": (issue(sign_root, key, Spec(extra=[(
            x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.7"), b"\x05\x00"),
            True)])), (), Reason.UNKNOWN_CRITICAL_EXTENSION),
        "malformed SAN": (issue(sign_root, key, Spec(san=bad_san)), (), Reason.MALFORMED_SAN),
        "foreign policy": (issue(sign_root, key, Spec(policies=(_other_policy(),))), (),
                           Reason.POLICY_NOT_ACCEPTED),
        "untrusted self-signed root": (issue(untrusted, key), (untrusted.cert,),
                                       Reason.UNTRUSTED_ANCHOR),
        "no issuer certificate": (issue(untrusted, key), (), Reason.UNKNOWN_ISSUER),
        "auth without clientAuth": (issue(root("auth"), key, Spec(
            key_usage=AUTH_KU, policies=(AUTH_POLICY_OID,), holder=False)), (),
            Reason.EXTENDED_KEY_USAGE_NOT_ALLOWED),
        "CA key usage without keyCertSign": (issue(Authority(issue(
            sign_root, intermediate_key, ca_spec(key_usage=key_usage(digital_signature=True))),
            intermediate_key), key), (issue(sign_root, intermediate_key, ca_spec(
                key_usage=key_usage(digital_signature=True))),), Reason.KEY_USAGE_NOT_ALLOWED),
    }


_CORPUS = corpus()


@pytest.mark.parametrize("case", sorted(_CORPUS))
def test_bad_certificate_corpus(case: str) -> None:
    leaf, intermediates, expected = _CORPUS[case]
    assert _reason(leaf, trust(), intermediates=intermediates) is expected


def test_corpus_reasons_are_distinct_for_the_issue_list() -> None:
    listed = ["wrong issuer", "expired", "not yet valid", "missing KeyUsage",
              "CA without BasicConstraints", "unknown critical extension", "malformed SAN"]
    reasons = [_CORPUS[c][2] for c in listed]
    assert len(set(reasons)) == len(reasons)


def test_error_names_the_failing_certificate() -> None:
    key = fresh_key("ee")
    ca_key = fresh_key("intermediate")
    expired_ca = issue(root("sign"), ca_key, ca_spec(
        not_before=NOW - dt.timedelta(days=400), not_after=NOW - dt.timedelta(days=1)))
    leaf = issue(Authority(expired_ca, ca_key), key)
    with pytest.raises(VerificationError) as info:
        validate_path(leaf, trust(), intermediates=[expired_ca])
    assert info.value.reason is Reason.EXPIRED
    assert info.value.subject == "certificate 1"


def test_generic_profile_needs_opt_in() -> None:
    leaf = issue(root("sign"), fresh_key("ee"), Spec(policies=(), holder=False))
    assert _reason(leaf, trust()) is Reason.POLICY_NOT_ACCEPTED
    path = validate_path(leaf, trust(), options=ValidationOptions(allow_other_policies=True))
    assert path.role is CertificateRole.ANY
    assert path.policy_kind is PolicyKind.OTHER


def test_intermediate_chain_validates() -> None:
    ca_key = fresh_key("intermediate")
    ca = issue(root("sign"), ca_key, ca_spec())
    leaf = issue(Authority(ca, ca_key), fresh_key("ee"))
    path = validate_path(leaf, trust(), intermediates=[ca])
    assert path.certificates == (leaf, ca, root("sign").cert)


# --- same-DN root generations ----------------------------------------------------------------


def _generations() -> tuple[Authority, Authority]:
    dn = root("sign").cert.subject
    old = make_root("generation-old", dn, not_before=NOW - dt.timedelta(days=4000),
                    not_after=NOW - dt.timedelta(days=10))
    new = make_root("generation-new", dn)
    return old, new


def test_issuer_is_chosen_by_key_among_same_dn_roots() -> None:
    old, new = _generations()
    store = TrustStore.empty()
    for gen in (old, new):
        store.add_certificate(gen.cert)
    leaf_new = issue(new, fresh_key("ee"))
    leaf_old = issue(old, fresh_key("ee"), Spec(
        not_before=NOW - dt.timedelta(days=300), not_after=NOW + dt.timedelta(days=30)))
    assert validate_path(leaf_new, store).anchor == new.cert
    # The old generation is found (by key) and then fails on its own expiry.
    assert _reason(leaf_old, store) is Reason.EXPIRED
    at = NOW - dt.timedelta(days=100)
    assert validate_path(leaf_old, store,
                         options=ValidationOptions(at=at)).anchor == old.cert


def test_a_lying_authority_key_identifier_does_not_pick_the_issuer() -> None:
    old, new = _generations()
    old_ski = x509.SubjectKeyIdentifier.from_public_key(
        old.cert.public_key()).digest
    leaf = issue(new, fresh_key("ee"), Spec(aki=old_ski))
    pool = [old.cert, new.cert]
    # The identifiers put the old root first; the signature decides.
    assert issuer_candidates(leaf, pool)[0] == old.cert
    assert select_issuer(leaf, pool) == new.cert


def test_check_anchor() -> None:
    old, new = _generations()
    check_anchor(new.cert)
    with pytest.raises(VerificationError) as info:
        check_anchor(old.cert)
    assert info.value.reason is Reason.EXPIRED


def test_eku_any_other_purpose_rejected_for_auth() -> None:
    leaf = issue(root("auth"), fresh_key("ee"), Spec(
        key_usage=AUTH_KU, policies=(AUTH_POLICY_OID,), holder=False,
        eku=[ExtendedKeyUsageOID.SERVER_AUTH]))
    assert _reason(leaf, trust()) is Reason.EXTENDED_KEY_USAGE_NOT_ALLOWED
    good = issue(root("auth"), fresh_key("ee"), Spec(
        key_usage=AUTH_KU, policies=(AUTH_POLICY_OID,), holder=False,
        eku=[ExtendedKeyUsageOID.CLIENT_AUTH]))
    assert validate_path(good, trust()).role is CertificateRole.AUTH
    assert SIGN_POLICY_OID != AUTH_POLICY_OID


@pytest.mark.parametrize("case", sorted(_CORPUS))
def test_bad_certificate_corpus_through_cms(case: str) -> None:
    # The same certificates as CMS signers (intermediates embedded): the path reason
    # surfaces unchanged from mynaid verify's entry point.
    from mynaid import cms

    leaf, intermediates, expected = _CORPUS[case]
    signed = cms.sign(b"content", fresh_key("ee"), leaf, chain=intermediates)
    with pytest.raises(VerificationError) as info:
        cms.verify(signed, trust())
    assert info.value.reason is expected


def test_many_offered_certificates_are_refused_quickly() -> None:
    """Hostile input offering many certificates under the issuer's name is bounded (the
    path search would otherwise grow with the pool to the power of the path length)."""
    from mynaid.trust.path import MAX_OFFERED_CERTIFICATES

    leaf = issue(root("auth"), fresh_key("ee-many"))
    offered = [make_root(f"decoy-{i}", root("auth").cert.subject).cert
               for i in range(MAX_OFFERED_CERTIFICATES + 1)]
    with pytest.raises(VerificationError) as info:
        validate_path(leaf, trust(), intermediates=offered)
    assert info.value.reason is Reason.MALFORMED
