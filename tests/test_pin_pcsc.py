"""PIN safety through the real pcscd: CLI exit codes 3, 4 and 7 with secrets on stdin, and
two processes racing (verify-then-sign against application switching)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mynaid.emulator import default_profile

pytestmark = pytest.mark.pcsc

READER = "Virtual PCD 00 01"
PORT = 35964


@pytest.fixture
def fresh_card(rig: object) -> Iterator[object]:
    """A new emulated card (full counters) in the second virtual reader."""
    card = rig.insert_card(port=PORT)  # type: ignore[attr-defined]
    try:
        yield card
    finally:
        rig.remove_card(card)  # type: ignore[attr-defined]


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mynaid", "--reader", "00 01", *args],
                          input=stdin, capture_output=True, text=True, timeout=60)


def tries(name: str) -> int | None:
    out = run_cli("--json", "pin", "status")
    assert out.returncode == 0, out.stderr
    return {s["name"]: s["tries_left"] for s in json.loads(out.stdout)["secrets"]}[name]


def test_exit_codes_wrong_guard_blocked(fresh_card: object) -> None:
    # 3: wrong PIN, with the tries left in the message.
    first = run_cli("pin", "verify", "auth", stdin="0000\n")
    assert first.returncode == 3
    assert "2 tries left" in first.stderr
    assert run_cli("pin", "verify", "auth", stdin="0000\n").returncode == 3
    assert tries("auth-pin") == 1
    # 7: the guard refuses the attempt that could block the key, and sends nothing.
    guarded = run_cli("pin", "verify", "auth", stdin="0000\n")
    assert guarded.returncode == 7
    assert tries("auth-pin") == 1
    # Even the right PIN is guarded on the last try (the library cannot know it is right).
    assert run_cli("pin", "verify", "auth", stdin="1234\n").returncode == 7
    # Forcing the right value succeeds and restores the counter.
    assert run_cli("pin", "verify", "auth", "--force", stdin="1234\n").returncode == 0
    assert tries("auth-pin") == 3
    # 4: a forced wrong value on the last try blocks; later attempts say blocked.
    for _ in range(2):
        assert run_cli("pin", "verify", "auth", stdin="0000\n").returncode == 3
    assert run_cli("pin", "verify", "auth", "--force", stdin="0000\n").returncode == 4
    blocked = run_cli("pin", "verify", "auth", "--force", stdin="1234\n")
    assert blocked.returncode == 4
    assert "blocked" in blocked.stderr
    assert tries("auth-pin") == 0
    for out in (first, guarded, blocked):
        assert "0000" not in out.stderr + out.stdout
        assert "1234" not in out.stderr + out.stdout


def test_reserve_option_keeps_two_tries(fresh_card: object) -> None:
    assert run_cli("pin", "verify", "auth", stdin="0000\n").returncode == 3
    assert run_cli("pin", "verify", "auth", "--reserve", "2", stdin="0000\n").returncode == 7
    assert tries("auth-pin") == 2


def test_change_pin_through_pcscd(fresh_card: object) -> None:
    changed = run_cli("pin", "change", "sign", stdin="TEST1234\nnewpass99\nNEWPASS99\n")
    assert changed.returncode == 0, changed.stderr
    assert run_cli("pin", "verify", "sign", stdin="TEST1234\n").returncode == 3
    assert run_cli("pin", "verify", "sign", stdin="newpass99\n").returncode == 0
    mismatch = run_cli("pin", "change", "sign", stdin="NEWPASS99\nAAAAAA11\nAAAAAA12\n")
    assert mismatch.returncode == 2
    assert tries("sign-password") == 5  # the mismatch was caught before any APDU


def test_secret_not_read_from_argv() -> None:
    # The CLI has no option that takes a secret: an extra argument is a usage error.
    out = run_cli("pin", "verify", "auth", "1234")
    assert out.returncode == 2


SWITCHER = r"""
import sys
from mynaid.transport.pcsc import PcscTransport
from mynaid.cardspec import Aid
t = PcscTransport(sys.argv[1])
select = lambda aid: bytes.fromhex("00A4040C0A") + aid.value
print("ready", flush=True)
answers = set()
for i in range(int(sys.argv[2])):
    _, sw = t.transmit(select(Aid.TEXT if i % 2 else Aid.JPKI))
    answers.add(sw)
t.close()
print("done", sorted(answers), flush=True)
"""


def test_racing_processes_never_interleave(fresh_card: object) -> None:
    """Process B switches applications as fast as it can while process A verifies and
    signs; B's SELECTs would clear A's verified PIN if they landed in A's transaction."""
    from mynaid.connect import connect
    from mynaid.sessions.jpki import JpkiSession

    profile = default_profile()
    public_key = x509.load_der_x509_certificate(profile.jpki.auth_cert).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    switcher = subprocess.Popen([sys.executable, "-c", SWITCHER, READER, "600"],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert switcher.stdout is not None
        assert switcher.stdout.readline().strip() == "ready"
        with connect(READER) as protocol:
            session = JpkiSession(protocol)
            for i in range(12):
                message = f"round {i}".encode()
                signature = session.sign_digest(
                    "auth", "sha256", hashlib.sha256(message).digest(), "1234")
                public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        tail = switcher.stdout.read()
        assert switcher.wait(timeout=60) == 0
    finally:
        if switcher.poll() is None:
            switcher.kill()
            switcher.wait()
    assert tail.startswith("done")
