"""OpenSC, an independent PC/SC client, against the emulated card through pcscd.

OpenSC's ``jpki`` driver must recognise the card, its PKCS#15 emulation must list the
certificates and PINs, read the same bytes as mynaid, and sign through PKCS#11 with a
signature that OpenSSL verifies against the authentication certificate.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mynaid.emulator import default_profile
from tests.pcsc_rig import CardProcess, PcscRig

pytestmark = [pytest.mark.opensc, pytest.mark.pcsc]

TOOLS = ("opensc-tool", "pkcs15-tool", "pkcs11-tool", "openssl")
AUTH_DER = default_profile().jpki.auth_cert
#: The emulated test card's auth PIN (test material, not a real secret).
TEST_AUTH_PIN = "1234"


def _pkcs11_module() -> str | None:
    patterns = ("/usr/lib/opensc-pkcs11.so", "/usr/lib/*/opensc-pkcs11.so",
                "/usr/lib/*/pkcs11/opensc-pkcs11.so")
    for pattern in patterns:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


def _require(what: str) -> None:
    if os.environ.get("MYNAID_REQUIRE_PCSC") == "1":
        pytest.fail(f"OpenSC interop required but {what}")
    pytest.skip(what)


@pytest.fixture(scope="module")
def pkcs11_module() -> str:
    module = _pkcs11_module()
    if module is None:
        _require("opensc-pkcs11.so is not installed")
    assert module is not None
    return module


@pytest.fixture(scope="module")
def opensc_card(rig: PcscRig) -> Iterator[CardProcess]:
    """The default test card in reader 0 ("Virtual PCD 00 00"), for the whole module."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        _require(f"{', '.join(missing)} not installed")
    card = rig.insert_card(port=35963)
    yield card
    if card in rig.cards:
        rig.remove_card(card)


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{argv[0]} failed: {result.stderr}"
    return result


def tries_left(listing: str) -> list[int]:
    return [int(n) for n in re.findall(r"Tries left\s*:\s*(\d+)", listing)]


def test_driver_is_jpki(opensc_card: CardProcess) -> None:
    assert run("opensc-tool", "-r", "0", "-n").stdout.strip() == "jpki"


def test_list_certificates(opensc_card: CardProcess) -> None:
    out = run("pkcs15-tool", "-r", "0", "--list-certificates").stdout
    assert out.count("X.509 Certificate") == 4
    ids = re.findall(r"ID\s*:\s*(\w+)", out)
    paths = re.findall(r"Path\s*:\s*(\w+)", out)
    assert sorted(zip(ids, paths, strict=True)) == [("01", "000a"), ("02", "0001"), ("03", "000b"),
                                       ("04", "0002")]


def test_list_pins(opensc_card: CardProcess) -> None:
    assert tries_left(run("pkcs15-tool", "-r", "0", "--list-pins").stdout) == [3, 5]


def test_read_certificate_matches_mynaid(opensc_card: CardProcess) -> None:
    pem = run("pkcs15-tool", "-r", "0", "--read-certificate", "01").stdout
    opensc_der = x509.load_pem_x509_certificate(pem.encode("ascii")).public_bytes(
        serialization.Encoding.DER)
    ours = subprocess.run(
        [sys.executable, "-m", "mynaid", "--reader", "00 00", "cert", "export", "auth",
         "--format", "der"], capture_output=True, timeout=60)
    assert ours.returncode == 0, ours.stderr.decode()
    assert opensc_der == ours.stdout == AUTH_DER


def test_pkcs11_signature_verifies(opensc_card: CardProcess, pkcs11_module: str,
                                   tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_bytes(b"signed by OpenSC's PKCS#11 module through pcscd\n")
    signature = tmp_path / "sig"
    run("pkcs11-tool", "--module", pkcs11_module, "--slot-index", "0", "--login",
        "--pin", TEST_AUTH_PIN, "--sign", "--id", "01", "-m", "SHA256-RSA-PKCS",
        "-i", str(data), "-o", str(signature))
    assert signature.stat().st_size == 256

    cert = tmp_path / "auth.pem"
    cert.write_bytes(x509.load_der_x509_certificate(AUTH_DER).public_bytes(
        serialization.Encoding.PEM))
    pubkey = tmp_path / "pubkey.pem"
    pubkey.write_text(run("openssl", "x509", "-in", str(cert), "-pubkey", "-noout").stdout)
    verified = run("openssl", "dgst", "-sha256", "-verify", str(pubkey),
                   "-signature", str(signature), str(data))
    assert "Verified OK" in verified.stdout

    # OpenSC's login used no try beyond the right one: the counters are full.
    assert tries_left(run("pkcs15-tool", "-r", "0", "--list-pins").stdout) == [3, 5]
