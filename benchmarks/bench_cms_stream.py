"""CMS sign/verify of large files: time and peak memory, against ``openssl cms`` (issue 15).

    .venv/bin/python benchmarks/bench_cms_stream.py [--sizes 10,200] [--rounds 1]
                                                    [--json OUT] [--skip-in-memory]

Each operation runs in its own forked process; its peak RSS is that child's ``ru_maxrss``
(from ``os.wait4``), its time the wall clock around it. Contenders, measured one after
another in the same run on the same files:

- ``mynaid``: :func:`mynaid.cms.sign_file` / :func:`mynaid.cms.verify_file` (streaming),
- ``mynaid-bytes``: :func:`mynaid.cms.sign` / :func:`mynaid.cms.verify` on bytes read whole
  (the library API before streaming, and what the CLI did),
- ``openssl``: ``openssl cms -sign`` / ``-verify`` with the same key, certificate and root.

Ratios are mynaid / openssl. A software RSA key signs (the card's key costs the same one
RSA operation either way; the content handling is what is measured). Also: one in-process
:func:`mynaid.cms.verify` of 1 KiB (median of many), the target of issue 14 (<= 0.5 ms),
with the two RSA-2048 verifications it contains measured alone, interleaved in the same run
(the floor, and the ratio to it), and the share of its time by phase
(``--sizes ''`` runs only this). Figures are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MB = 1 << 20

_SIGN = """
import sys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from mynaid import cms
key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
cert = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
mode, detached = sys.argv[5], sys.argv[6] == "1"
if mode == "stream":
    with open(sys.argv[3], "rb") as src, open(sys.argv[4], "wb") as out:
        cms.sign_file(src, out, key, cert, detached=detached)
else:
    data = open(sys.argv[3], "rb").read()
    open(sys.argv[4], "wb").write(cms.sign(data, key, cert, detached=detached))
"""

_VERIFY = """
import sys
from mynaid import cms
from mynaid.trust.anchors import TrustStore
store = TrustStore.empty()
store.add_file(sys.argv[1])
mode, content = sys.argv[3], (sys.argv[4] if len(sys.argv) > 4 else None)
if mode == "stream":
    result = cms.verify_file(sys.argv[2], store, content=content)
else:
    data = open(sys.argv[2], "rb").read()
    body = open(content, "rb").read() if content else None
    result = cms.verify(data, store, content=body)
assert result.signer is not None
"""


#: Linux carries a process's peak RSS across exec, so a child forked from this (large)
#: process would report at least this process's RSS. A tiny launcher (python -S, no site,
#: no imports beyond os) forks the measured command, waits for it with wait4 and prints
#: its time and ru_maxrss; the floor is then the launcher's few MiB, reported as "floor".
_LAUNCHER = """
import os, sys, time
t = time.perf_counter()
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - t, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def _run(argv: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one command, measured by the launcher."""
    done = subprocess.run([sys.executable, "-S", "-E", "-c", _LAUNCHER, *argv],
                          capture_output=True, text=True, check=False, timeout=3600)
    try:
        seconds, rss, code = done.stdout.split()
    except ValueError:
        raise RuntimeError(f"{argv[0]}: the launcher failed: {done.stderr[-800:]}") from None
    if int(code) != 0:
        raise RuntimeError(f"{argv[0]} failed ({code}): {done.stderr[-800:]}")
    return float(seconds), int(rss)


def _setup(work: Path) -> dict[str, Path]:
    from cryptography.hazmat.primitives import serialization

    from tests.trust_pki import PKI_DIR, fresh_key, issue, key_pem, pem, root

    key = fresh_key("bench-stream")
    cert = issue(root("sign"), key)
    paths = {"key": work / "ee.key", "cert": work / "ee.pem",
             "root": PKI_DIR / "sign-root.pem"}
    paths["key"].write_bytes(key_pem(key))
    paths["cert"].write_bytes(pem(cert))
    _ = serialization
    return paths


def _content(work: Path, size_mb: int) -> Path:
    path = work / f"content-{size_mb}M.bin"
    with path.open("wb") as out:
        block = os.urandom(MB)
        for _ in range(size_mb):
            out.write(block)
    return path


def _mynaid_ops(paths: dict[str, Path], content: Path, work: Path, detached: bool,
                mode: str) -> dict[str, tuple[float, int]]:
    sig = work / f"m-{mode}-{int(detached)}.p7s"
    sign = _run([sys.executable, "-c", _SIGN, str(paths["key"]), str(paths["cert"]),
                 str(content), str(sig), mode, "1" if detached else "0"])
    verify_args = [sys.executable, "-c", _VERIFY, str(paths["root"]), str(sig), mode]
    if detached:
        verify_args.append(str(content))
    verify = _run(verify_args)
    sig.unlink()
    return {"sign": sign, "verify": verify}


def _openssl_ops(openssl: str, paths: dict[str, Path], content: Path, work: Path,
                 detached: bool) -> dict[str, tuple[float, int]]:
    sig = work / f"o-{int(detached)}.p7s"
    sign = [openssl, "cms", "-sign", "-binary", "-in", str(content), "-signer",
            str(paths["cert"]), "-inkey", str(paths["key"]), "-outform", "DER", "-out",
            str(sig), "-md", "sha256"]
    if not detached:
        sign.append("-nodetach")
    signed = _run(sign)
    verify = [openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", str(sig),
              "-CAfile", str(paths["root"]), "-purpose", "any", "-out", os.devnull]
    if detached:
        verify += ["-content", str(content)]
    verified = _run(verify)
    sig.unlink()
    return {"sign": signed, "verify": verified}


def _interpreter_floor() -> tuple[float, int]:
    return _run([sys.executable, "-c", "import mynaid.cms, mynaid.trust.path"])


def _in_process_1k(rounds: int = 400) -> dict[str, Any]:
    import cProfile
    import pstats

    from mynaid import cms
    from tests.trust_pki import fresh_key, issue, root, trust

    key = fresh_key("bench-1k")
    cert = issue(root("sign"), key)
    store = trust("sign")
    der = cms.sign(os.urandom(1024), key, cert)
    # The floor, measured in the same run: the two RSA-2048 verifications any verifier
    # makes (the signature over the signed attributes, the CA's over the certificate).
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    parsed = cms._parse(der)
    ca = store.anchors[0]

    def floor() -> None:
        assert parsed.signed_attrs_der is not None
        cert.public_key().verify(parsed.signature, parsed.signed_attrs_der,  # type: ignore[union-attr,call-arg]
                                 padding.PKCS1v15(), hashes.SHA256())  # type: ignore[arg-type]
        cert.verify_directly_issued_by(ca)

    for _ in range(50):
        cms.verify(der, store)
        floor()
    samples = []
    cpu = []
    floor_cpu = []
    for _ in range(rounds):  # interleaved, so load on the machine hits both alike
        started = time.perf_counter()
        cpu_started = time.process_time()
        cms.verify(der, store)
        cpu.append(time.process_time() - cpu_started)
        samples.append(time.perf_counter() - started)
        cpu_started = time.process_time()
        floor()
        floor_cpu.append(time.process_time() - cpu_started)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(100):
        cms.verify(der, store)
    profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(v[3] for k, v in stats.items() if k[2] == "verify" and k[0].endswith("cms.py"))

    def share(file_end: str, name: str) -> float:
        cum = sum(v[3] for k, v in stats.items() if k[0].endswith(file_end) and k[2] == name)
        return round(100 * cum / total, 1) if total else 0.0

    return {
        "median_ms": round(1000 * statistics.median(samples), 3),
        "min_ms": round(1000 * min(samples), 3),
        # CPU time of this process: what the other processes on a shared machine disturb
        # least.
        "cpu_median_ms": round(1000 * statistics.median(cpu), 3),
        "target_ms": 0.5,
        "rsa_floor_cpu_median_ms": round(1000 * statistics.median(floor_cpu), 3),
        "ratio_to_rsa_floor": round(statistics.median(cpu) / statistics.median(floor_cpu), 1),
        # Context: main before the parse/path-cache work (this machine, same benchmark).
        "before_cpu_median_ms": 1.87,
        "share_percent": {
            "parse (DER frame, leaves, certs)": share("cms.py", "_parse"),
            "DER length check": share("der.py", "check_der"),
            "path validation": share("path.py", "validate_path"),
            "holder data (SAN)": share("san.py", "parse_holder"),
            "signature check": share("cms.py", "_check_signature"),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,200",
                        help="content sizes in MB ('' for the in-process 1 KiB figure only)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-in-memory", action="store_true",
                        help="leave out the bytes API (it needs about 6x the size in RAM)")
    args = parser.parse_args(argv)
    openssl = shutil.which("openssl")
    if openssl is None:
        print("openssl not found: no peer to compare with", file=sys.stderr)
        return 1
    results: dict[str, Any] = {"floor": {}, "runs": [], "in_process_1k": None}
    with tempfile.TemporaryDirectory(prefix="mynaid-bench-") as tmp:
        work = Path(tmp)
        paths = _setup(work)
        floor = _interpreter_floor()
        bare = _run(["true"])
        results["floor"] = {"python_import_mynaid_cms_s": round(floor[0], 3),
                            "python_import_rss_mib": round(floor[1] / 1024, 1),
                            "launcher_rss_mib": round(bare[1] / 1024, 1)}
        print(f"floor: 'true' {bare[1] / 1024:.1f} MiB (the launcher's); python -c 'import "
              f"mynaid.cms': {floor[0]:.3f} s, {floor[1] / 1024:.1f} MiB")
        header = (f"{'size':>6} {'mode':<9} {'op':<7} {'contender':<13} {'time s':>8} "
                  f"{'peak MiB':>9} {'t ratio':>8} {'mem ratio':>9}")
        print(header)
        for size in (int(s) for s in args.sizes.split(",") if s):
            content = _content(work, size)
            for detached in (False, True):
                mode = "detached" if detached else "attached"
                peer = _openssl_ops(openssl, paths, content, work, detached)
                contenders = {"mynaid": _mynaid_ops(paths, content, work, detached, "stream"),
                              "openssl": peer}
                if not args.skip_in_memory:
                    contenders["mynaid-bytes"] = _mynaid_ops(paths, content, work, detached,
                                                             "bytes")
                for name, ops in contenders.items():
                    for op, (seconds, rss) in ops.items():
                        t_ratio = seconds / peer[op][0]
                        m_ratio = rss / peer[op][1]
                        print(f"{size:>5}M {mode:<9} {op:<7} {name:<13} {seconds:>8.3f} "
                              f"{rss / 1024:>9.1f} {t_ratio:>8.2f} {m_ratio:>9.2f}")
                        results["runs"].append({
                            "size_mb": size, "mode": mode, "op": op, "contender": name,
                            "seconds": round(seconds, 3), "peak_rss_mib": round(rss / 1024, 1),
                            "time_ratio_vs_openssl": round(t_ratio, 2),
                            "memory_ratio_vs_openssl": round(m_ratio, 2)})
            content.unlink()
    one_k = _in_process_1k()
    results["in_process_1k"] = one_k
    print(f"\nin-process cms.verify of 1 KiB: median {one_k['median_ms']} ms wall, "
          f"{one_k['cpu_median_ms']} ms CPU (min {one_k['min_ms']} ms; target "
          f"{one_k['target_ms']} ms: "
          f"{'met' if one_k['cpu_median_ms'] <= one_k['target_ms'] else 'NOT met'})")
    print(f"  two RSA-2048 verifications alone: {one_k['rsa_floor_cpu_median_ms']} ms CPU; "
          f"cms.verify is {one_k['ratio_to_rsa_floor']}x that (before: "
          f"{one_k['before_cpu_median_ms']} ms CPU)")
    for phase, percent in one_k["share_percent"].items():
        print(f"  {phase:<32} {percent:>5.1f} % of the time")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
