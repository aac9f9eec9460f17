"""A prototype of the clinic's online eligibility check (オンライン資格確認) on mynaid.

* :mod:`.wire` — what client and server exchange (the device-signed claim format);
* :mod:`.records` — the SQLite store of insurance records, keyed by auth certificate;
* :mod:`.seed` — demo records for the emulator's default card;
* :mod:`.server` — the HTTP service (127.0.0.1 only): ``POST /nonce``, ``POST /verify``;
* :mod:`.client` — the kiosk: :class:`mynaid.kiosk.KioskFlow` on a terminal, then the server;
* :mod:`.run_demo` — one command that runs all of it against the emulated card.

Run from the repository root: ``python -m examples.eligibility.run_demo`` (see README.md).
"""
