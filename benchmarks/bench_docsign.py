"""Benchmark: time and peak memory to sign and verify large documents as PDF and XML.

    python benchmarks/bench_docsign.py [--sizes 10,200] [--json OUT]

For each size (MB) the script writes a one-page PDF padded to that size, an XML form of that
size (enveloped signature over the whole document) and a small XML form with an attachment
of that size (detached reference), then measures, each in a subprocess of its own (peak
memory is that process's ``ru_maxrss``, from ``os.wait4``):

* ``mynaid`` (the library, emulated card in-process): PDF sign, PDF verify, XML sign and
  verify, enveloped and detached;
* peers in the same run, where one exists: poppler's ``pdfsig`` (PDF verify) and ``xmlsec1``
  (XML sign with a software key, XML verify), reported as ratios mynaid / peer.

A baseline row (the interpreter importing mynaid.docsign and opening the card, no document)
shows the fixed cost. Figures are reported, never asserted; the 200 MB runs are kept out of
the test suite (this script is run by hand or by ``make bench-docsign``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MB = 1_000_000


# --- the operations, run in a child process ------------------------------------------------


def _child(op: str, args: list[str]) -> None:
    from mynaid.connect import connect, emulated_card
    from mynaid.docsign.card import open_document_key
    from tests.trust_pki import trust

    if op == "baseline":
        with connect(card=emulated_card()) as protocol, \
                open_document_key(protocol, "sign", "TEST1234"):
            import pyhanko.sign  # noqa: F401  (the fixed cost: pyHanko imports aiohttp)

            import mynaid.docsign.pdf
            import mynaid.docsign.xml  # noqa: F401
        return
    if op == "pdf-sign":
        from mynaid.docsign.pdf import sign_pdf

        with connect(card=emulated_card()) as protocol, \
                open_document_key(protocol, "sign", "TEST1234") as key, \
                open(args[0], "rb") as inf, open(args[1], "w+b") as out:
            sign_pdf(inf, out, key)
    elif op == "pdf-verify":
        from mynaid.docsign.pdf import verify_pdf

        with open(args[0], "rb") as f:
            report = verify_pdf(f, trust())
        report.raise_for_failure()
    elif op == "xml-sign":
        from mynaid.docsign.xml import sign_xml

        with connect(card=emulated_card()) as protocol, \
                open_document_key(protocol, "sign", "TEST1234") as key, \
                open(args[1], "wb") as out:
            sign_xml(Path(args[0]), out, key, detached=[Path(a) for a in args[2:]])
    elif op == "xml-verify":
        from mynaid.docsign.xml import verify_xml

        verify_xml(Path(args[0]), trust())
    else:
        raise SystemExit(f"unknown op {op}")


# --- measuring -------------------------------------------------------------------------------


#: Spawns the measured program from a small interpreter and reports its ru_maxrss: a child
#: forked straight from this (large) process would inherit its RSS high-water mark, which
#: Linux keeps across exec.
_LAUNCHER = (
    "import json, os, sys, time\n"
    "t = time.perf_counter()\n"
    "pid = os.posix_spawnp(sys.argv[1], sys.argv[1:], os.environ)\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "print(json.dumps([time.perf_counter() - t, usage.ru_maxrss,\n"
    "                  os.waitstatus_to_exitcode(status)]))\n"
)


def measure(argv: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """(seconds, peak MB) of one program run; fails loudly if it fails."""
    done = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *argv], cwd=cwd,
                          capture_output=True, text=True, check=False)
    try:
        seconds, maxrss_kb, code = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise SystemExit(f"launcher failed: {done.stderr[-500:]}") from None
    if code != 0:
        raise SystemExit(f"{' '.join(argv[:4])} failed ({code}): {done.stderr[-500:]}")
    return float(seconds), maxrss_kb / 1024  # Linux: kilobytes


def mine(op: str, *args: str) -> tuple[float, float]:
    return measure([sys.executable, __file__, "--child", op, *args])


def _software_key(work: Path) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization

    from tests.docsign_samples import software_signer

    key, cert = software_signer()
    key_pem, cert_pem = work / "soft.key.pem", work / "soft.cert.pem"
    key_pem.write_bytes(key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))  # type: ignore[attr-defined]
    return key_pem, cert_pem


def _template(src: Path, dst: Path, attachment: str | None) -> None:
    """An xmlsec1 template: ``src`` with an empty enveloped Signature (and attachment ref)."""
    data = src.read_bytes()
    end = data.rindex(b"</DataRoot>")
    ref = b""
    if attachment:
        ref = (f'<Reference URI="{attachment}"><DigestMethod Algorithm="http://www.w3.org/'
               f'2001/04/xmlenc#sha256"/><DigestValue/></Reference>').encode()
    sig = (b'<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>'
           b'<CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>'
           b'<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
           b'<Reference URI=""><Transforms><Transform Algorithm="http://www.w3.org/2000/09/'
           b'xmldsig#enveloped-signature"/><Transform Algorithm="http://www.w3.org/TR/2001/'
           b'REC-xml-c14n-20010315"/></Transforms><DigestMethod Algorithm="http://www.w3.org/'
           b'2001/04/xmlenc#sha256"/><DigestValue/></Reference>' + ref +
           b'</SignedInfo><SignatureValue/><KeyInfo><X509Data/></KeyInfo></Signature>')
    dst.write_bytes(data[:end] + sig + data[end:])


def run(sizes: list[int]) -> list[dict[str, object]]:
    from tests.docsign_samples import make_file, make_pdf, make_xml
    from tests.trust_pki import PKI_DIR

    rows: list[dict[str, object]] = []

    def row(size: int, what: str, mynaid: tuple[float, float],
            peer: tuple[str, tuple[float, float]] | None = None) -> None:
        entry: dict[str, object] = {"size_mb": size, "what": what,
                                    "seconds": round(mynaid[0], 2),
                                    "peak_mb": round(mynaid[1], 1)}
        if peer is not None:
            entry.update({"peer": peer[0], "peer_seconds": round(peer[1][0], 2),
                          "peer_peak_mb": round(peer[1][1], 1),
                          "time_ratio": round(mynaid[0] / peer[1][0], 2),
                          "memory_ratio": round(mynaid[1] / peer[1][1], 2)})
        rows.append(entry)
        text = f"{size:>4} MB  {what:<24} {mynaid[0]:7.2f} s {mynaid[1]:8.1f} MB"
        if peer is not None:
            text += (f"   | {peer[0]:<8} {peer[1][0]:7.2f} s {peer[1][1]:8.1f} MB"
                     f"   ratio t {entry['time_ratio']}  mem {entry['memory_ratio']}")
        print(text, flush=True)

    have_pdfsig = shutil.which("pdfsig") is not None
    have_xmlsec = shutil.which("xmlsec1") is not None
    root = str(PKI_DIR / "sign-root.pem")
    with tempfile.TemporaryDirectory(prefix="bench-docsign-") as tmp:
        work = Path(tmp)
        key_pem, cert_pem = _software_key(work)
        row(0, "baseline (import+card)", mine("baseline"))
        for size in sizes:
            pdf = make_pdf(work / f"in-{size}.pdf", size * MB)
            signed_pdf = work / f"signed-{size}.pdf"
            row(size, "pdf sign", mine("pdf-sign", str(pdf), str(signed_pdf)))
            peer = ("pdfsig", measure(["pdfsig", str(signed_pdf)])) if have_pdfsig else None
            row(size, "pdf verify", mine("pdf-verify", str(signed_pdf)), peer)
            pdf.unlink()
            signed_pdf.unlink()

            form = make_xml(work / f"form-{size}.xml", size * MB)
            signed_xml = work / f"signed-{size}.xml"
            peer = None
            if have_xmlsec:
                _template(form, work / "tmpl.xml", None)
                peer = ("xmlsec1", measure(["xmlsec1", "--sign", "--privkey-pem",
                                            f"{key_pem},{cert_pem}", "--output",
                                            str(work / "by-xmlsec1.xml"),
                                            str(work / "tmpl.xml")]))
            row(size, "xml sign enveloped", mine("xml-sign", str(form), str(signed_xml)), peer)
            peer = None
            if have_xmlsec:
                peer = ("xmlsec1", measure(["xmlsec1", "--verify", "--trusted-pem", root,
                                            str(signed_xml)]))
            row(size, "xml verify enveloped", mine("xml-verify", str(signed_xml)), peer)
            for f in (form, signed_xml, work / "tmpl.xml", work / "by-xmlsec1.xml"):
                f.unlink(missing_ok=True)

            small = make_xml(work / "small.xml", 2000)
            attachment = make_file(work / f"attachment-{size}.bin", size * MB)
            signed_det = work / "signed-detached.xml"
            peer = None
            if have_xmlsec:
                _template(small, work / "tmpl.xml", attachment.name)
                peer = ("xmlsec1", measure(["xmlsec1", "--sign", "--privkey-pem",
                                            f"{key_pem},{cert_pem}", "--output",
                                            "by-xmlsec1.xml", "tmpl.xml"], cwd=work))
            row(size, "xml sign detached", mine("xml-sign", str(small), str(signed_det),
                                                str(attachment)), peer)
            peer = None
            if have_xmlsec:
                peer = ("xmlsec1", measure(["xmlsec1", "--verify", "--trusted-pem", root,
                                            signed_det.name], cwd=work))
            row(size, "xml verify detached", mine("xml-verify", str(signed_det)), peer)
            attachment.unlink()
    return rows


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,200", help="sizes in MB, comma-separated")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    ns = parser.parse_args()
    rows = run([int(s) for s in ns.sizes.split(",") if s])
    if ns.json:
        ns.json.write_text(json.dumps({"benchmark": "docsign", "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
