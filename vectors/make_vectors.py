"""Regenerate (or, with ``--check``, verify) the committed test-card vectors.

Usage::

    python vectors/make_vectors.py          # write the files below
    python vectors/make_vectors.py --check  # exit 1 if any committed file differs

Everything is derived from the seed in ``vectors/seed.txt`` by
:func:`mynaid.emulator.testpki.generate_profile`, so the output is byte-identical on every
machine. Written files (paths relative to the repository root):

* ``vectors/default-card.json``: the default emulated card profile;
* ``mynaid/emulator/data/default-card.json``: the same bytes, packaged with the library;
* ``vectors/test-pki/{auth,sign}-root.pem``: the two test root certificates;
* ``vectors/test-pki/{auth,sign}-root.key.pem``: their private keys (test-only; used to issue
  test CRLs and OCSP responses);
* ``vectors/test-pki/{text,visual}-issuer.pem``: the public keys of the test issuers of the
  text and visual applications' CV certificates (ids 6000033, 6000023), what a verifier is
  configured with; ``{text,visual}-issuer.key.pem``: their private keys (test-only).

The card-face images are read from ``vectors/card-face/`` (committed; made once by
``make_card_face_images.py``, which needs Pillow and scikit-image), so this script and its
``--check`` need neither.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

REPO = Path(__file__).resolve().parent.parent
# Runnable from a checkout without installing the package or setting PYTHONPATH.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SEED_FILE = REPO / "vectors" / "seed.txt"


def read_seed(path: Path = SEED_FILE) -> bytes:
    """The seed: the first line of ``seed.txt``, stripped, as ASCII bytes."""
    text = path.read_text(encoding="ascii").strip()
    if not text:
        raise SystemExit(f"{path}: empty seed")
    return text.encode("ascii")


def build(seed: bytes) -> dict[Path, bytes]:
    """Every generated file (absolute path to exact content), computed in memory."""
    # Imported here, after the sys.path set-up above, not at the top of the module.
    from mynaid.emulator.profile import key_to_pem
    from mynaid.emulator.testpki import CardFaceImages, generate_profile

    face_dir = REPO / "vectors" / "card-face"
    missing = [n for n in CardFaceImages.FILES.values() if not (face_dir / n).is_file()]
    if missing:
        raise SystemExit(f"vectors/card-face/ lacks {', '.join(missing)}: run "
                         "python vectors/make_card_face_images.py (needs mynaid[vectors])")
    profile, pki = generate_profile(seed, images=CardFaceImages.load(face_dir))
    card = profile.dumps().encode("utf-8")
    assert pki.text_issuer_key is not None and pki.visual_issuer_key is not None

    def cert_pem(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    def public_pem(key: rsa.RSAPrivateKey) -> bytes:
        return key.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)

    pki_dir = REPO / "vectors" / "test-pki"
    return {
        pki_dir / "text-issuer.pem": public_pem(pki.text_issuer_key),
        pki_dir / "visual-issuer.pem": public_pem(pki.visual_issuer_key),
        pki_dir / "text-issuer.key.pem": key_to_pem(pki.text_issuer_key).encode("ascii"),
        pki_dir / "visual-issuer.key.pem": key_to_pem(pki.visual_issuer_key).encode("ascii"),
        REPO / "vectors" / "default-card.json": card,
        REPO / "mynaid" / "emulator" / "data" / "default-card.json": card,
        pki_dir / "auth-root.pem": cert_pem(pki.auth_root_cert),
        pki_dir / "sign-root.pem": cert_pem(pki.sign_root_cert),
        pki_dir / "auth-root.key.pem": key_to_pem(pki.auth_root_key).encode("ascii"),
        pki_dir / "sign-root.key.pem": key_to_pem(pki.sign_root_key).encode("ascii"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="verify the committed files instead of writing"
    )
    args = parser.parse_args(argv)

    started = time.monotonic()
    files = build(read_seed())
    elapsed = time.monotonic() - started

    if args.check:
        stale = [p for p, data in files.items() if not p.is_file() or p.read_bytes() != data]
        for path in stale:
            print(f"differs from the seed's output: {path.relative_to(REPO)}", file=sys.stderr)
        if stale:
            print("run: python vectors/make_vectors.py", file=sys.stderr)
            return 1
        print(f"{len(files)} files up to date ({elapsed:.1f} s)")
        return 0

    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
            print(f"wrote {path.relative_to(REPO)}")
    print(f"done ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
