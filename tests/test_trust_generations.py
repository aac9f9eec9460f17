"""All three J-LIS root generations (2015, 2019, 2023) pinned, chain building by key across
them, and ``mynaid trust roots`` (issue 10, item 1).

Nobody outside J-LIS can sign under a real root, so chaining "the way the real ones do" is
shown with stand-in roots that copy each real generation's DN, validity and key identifier
scheme (SKI = SHA-1 of the key, AKI in the leaf), each with its own key: a leaf chains to the
generation whose key signed it, among all three offered together. The real roots from
``../shared/jpki-roots`` then check the pinned fingerprints and that each real generation's
self-signature picks itself among its two same-DN siblings.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509

from mynaid.emulator.testpki import AUTH_POLICY_OID
from mynaid.trust.anchors import JLIS_ROOTS, TrustStore, fingerprint, pinned_root
from mynaid.trust.errors import Reason, VerificationError
from mynaid.trust.path import check_anchor, select_issuer, validate_path
from tests.conftest import CliRunner
from tests.trust_pki import AUTH_KU, SIGN_KU, Authority, Spec, fresh_key, issue, make_root

ROOTS_DIR = Path(__file__).resolve().parents[2] / "shared" / "jpki-roots"
needs_roots = pytest.mark.skipif(not ROOTS_DIR.is_dir(), reason=f"{ROOTS_DIR} is not available")
UTC = dt.timezone.utc
GENERATIONS = (2015, 2019, 2023)
PURPOSE_OU = {"auth": "JPKI for user authentication", "sign": "JPKI for digital signature"}


def jlis_dn(purpose: str) -> x509.Name:
    """The DN all generations of a J-LIS root share (card-reference §7)."""
    oid = x509.oid.NameOID
    return x509.Name([
        x509.NameAttribute(oid.COUNTRY_NAME, "JP"),
        x509.NameAttribute(oid.ORGANIZATION_NAME, "JPKI"),
        x509.NameAttribute(oid.ORGANIZATIONAL_UNIT_NAME, PURPOSE_OU[purpose]),
        x509.NameAttribute(oid.ORGANIZATIONAL_UNIT_NAME,
                           "Japan Agency for Local Authority Information Systems"),
    ])


def stand_in(purpose: str, generation: int) -> Authority:
    """A root with the real generation's DN and validity, under a stand-in key."""
    real = next(r for r in JLIS_ROOTS if (r.purpose, r.generation) == (purpose, generation))
    return make_root(f"jlis-{purpose}-{generation}", jlis_dn(purpose),
                     not_before=real.not_before, not_after=real.not_after)


def leaf_under(root: Authority, purpose: str, at: dt.datetime) -> x509.Certificate:
    spec = Spec(key_usage=AUTH_KU if purpose == "auth" else SIGN_KU, holder=purpose == "sign",
                not_before=at - dt.timedelta(days=30), not_after=at + dt.timedelta(days=365))
    if purpose == "auth":
        spec.policies = (AUTH_POLICY_OID,)
        spec.eku = [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
    return issue(root, fresh_key(f"leaf-{purpose}"), spec)


# --- the pinned set --------------------------------------------------------------------------


def test_three_generations_of_each_root_are_pinned() -> None:
    assert sorted((r.purpose, r.generation) for r in JLIS_ROOTS) == sorted(
        (p, g) for p in ("auth", "sign") for g in GENERATIONS)
    assert len({r.sha256 for r in JLIS_ROOTS}) == 6
    assert TrustStore.jpki().pinned == {r.sha256 for r in JLIS_ROOTS}
    for r in JLIS_ROOTS:
        assert r.label == f"{r.purpose}_ca_{r.generation}"
        assert r.valid_from == r.not_before.date().isoformat()
        assert r.valid_to == r.not_after.date().isoformat()
    # The 2019 generation (valid to 2029) carries the serials J-LIS published.
    assert {r.purpose: r.serial for r in JLIS_ROOTS if r.generation == 2019} == {
        "auth": "0133C349", "sign": "0132C4AB"}


def test_which_generations_are_current() -> None:
    def current(at: dt.datetime) -> set[int]:
        return {r.generation for r in JLIS_ROOTS if r.current(at) and r.purpose == "auth"}

    assert current(dt.datetime(2020, 1, 1, tzinfo=UTC)) == {2015, 2019}
    assert current(dt.datetime(2024, 1, 1, tzinfo=UTC)) == {2015, 2019, 2023}
    assert current(dt.datetime(2026, 1, 1, tzinfo=UTC)) == {2019, 2023}
    assert current(dt.datetime(2030, 1, 1, tzinfo=UTC)) == {2023}


@needs_roots
def test_pinned_set_holds_the_six_published_fingerprints() -> None:
    files = sorted(ROOTS_DIR.glob("*.pem"))
    assert len(files) == 6
    published = {fingerprint(x509.load_pem_x509_certificate(f.read_bytes())) for f in files}
    assert published == {r.sha256 for r in JLIS_ROOTS}
    for purpose in ("auth", "sign"):
        cert = x509.load_pem_x509_certificate(
            (ROOTS_DIR / f"{purpose}_ca_2019.pem").read_bytes())
        root = pinned_root(cert)
        assert root is not None and root.generation == 2019
        assert format(cert.serial_number, "08X") == root.serial
        assert cert.not_valid_before_utc == root.not_before
        assert cert.not_valid_after_utc == root.not_after
        check_anchor(cert, at=dt.datetime(2026, 6, 1, tzinfo=UTC))  # valid until 2029


@needs_roots
@pytest.mark.parametrize("purpose", ["auth", "sign"])
def test_each_real_generation_picks_itself_by_signature(purpose: str) -> None:
    certs = [x509.load_pem_x509_certificate(
        (ROOTS_DIR / f"{purpose}_ca_{g}.pem").read_bytes()) for g in GENERATIONS]
    assert len({c.subject for c in certs}) == 1  # one DN, three keys
    for cert in certs:
        for order in (certs, certs[::-1]):
            assert select_issuer(cert, order) == cert


# --- chain building by key across the generations --------------------------------------------


@pytest.mark.parametrize("purpose", ["auth", "sign"])
@pytest.mark.parametrize("generation", GENERATIONS)
def test_leaf_chains_to_its_own_generation(purpose: str, generation: int) -> None:
    roots = {g: stand_in(purpose, g) for g in GENERATIONS}
    real = next(r for r in JLIS_ROOTS if (r.purpose, r.generation) == (purpose, generation))
    at = real.not_before + dt.timedelta(days=400)
    leaf = leaf_under(roots[generation], purpose, at)
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = roots[generation].cert.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest  # linked by key identifier, as real ones are
    store = TrustStore.empty()
    for g in GENERATIONS:  # all three trusted, and offered in both orders
        store.add_certificate(roots[g].cert)
    from mynaid.trust.path import ValidationOptions

    for offered in ([r.cert for r in roots.values()], [r.cert for r in roots.values()][::-1]):
        path = validate_path(leaf, store, intermediates=offered,
                             options=ValidationOptions(at=at))
        assert path.anchor == roots[generation].cert
    # Without the right generation (its siblings share the DN), there is no path.
    store = TrustStore.empty()
    for g in GENERATIONS:
        if g != generation:
            store.add_certificate(roots[g].cert)
    with pytest.raises(VerificationError) as info:
        validate_path(leaf, store, options=ValidationOptions(at=at))
    assert info.value.reason is Reason.UNKNOWN_ISSUER


@needs_roots
def test_self_signed_jlis_dn_with_another_key_is_refused() -> None:
    real = x509.load_pem_x509_certificate((ROOTS_DIR / "auth_ca_2019.pem").read_bytes())
    impostor = make_root("jlis-dn-impostor-2019", real.subject,
                         not_before=real.not_valid_before_utc,
                         not_after=real.not_valid_after_utc)
    assert impostor.cert.subject == real.subject
    store = TrustStore.jpki()
    assert not store.is_anchor(impostor.cert)  # same DN, other key: not pinned
    leaf = leaf_under(impostor, "auth", dt.datetime(2026, 6, 1, tzinfo=UTC))
    from mynaid.trust.path import ValidationOptions

    with pytest.raises(VerificationError) as info:
        validate_path(leaf, store, intermediates=[impostor.cert, real],
                      options=ValidationOptions(at=dt.datetime(2026, 6, 1, tzinfo=UTC)))
    # The impostor is offered, self-signed, with the real DN: refused as an anchor.
    assert info.value.reason is Reason.UNTRUSTED_ANCHOR


def test_self_signed_jlis_dn_is_refused_without_shared_files() -> None:
    # The same refusal without ../shared: a J-LIS DN under a stand-in key is no anchor.
    impostor = stand_in("sign", 2019)
    assert not TrustStore.jpki().is_anchor(impostor.cert)
    assert pinned_root(impostor.cert) is None


# --- mynaid trust roots ----------------------------------------------------------------------


def test_trust_roots_command(cli_run: CliRunner) -> None:
    result = cli_run("trust", "roots", "--json", "--at", "2026-01-01")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["checked_at"] == "2026-01-01T00:00:00+00:00"
    roots = {r["label"]: r for r in data["jpki_roots"]}
    assert len(roots) == 6
    assert roots["auth_ca_2019"]["current"] and roots["sign_ca_2023"]["current"]
    assert not roots["auth_ca_2015"]["current"]
    assert roots["sign_ca_2019"]["valid_to"] == "2029-09-14T14:59:59+00:00"
    assert roots["auth_ca_2019"]["sha256"].startswith("0D:98:DE:47")
    assert set(roots["auth_ca_2019"]) == {"label", "purpose", "generation", "serial",
                                          "valid_from", "valid_to", "sha256", "current"}
    assert {k["issuer_id"]: k["application"] for k in data["cv_issuer_keys"]} == {
        "5000023": "visual", "5000033": "text", "5000020": "mf"}
    text = cli_run("trust", "roots")
    assert text.code == 0
    assert "auth_ca_2019" in text.out and "soltia48/myna-card" in text.out
    assert cli_run("trust", "roots", "--at", "yesterday").code != 0
