"""The relying party: JPKI identity proof for private services (eKYC) and the eligibility
check, as a library with no server dependency.

* :mod:`mynaid.rp.core`: :class:`RelyingParty` - registration, login, the face/visual route
  with the card-face binding, renewal and replacement, status re-checks (現況確認);
* :mod:`mynaid.rp.binding`: the card-face identity and its binding to the person;
* :mod:`mynaid.rp.store`: the store interface, SQLite (embedded) and PostgreSQL;
* :mod:`mynaid.rp.revocation`: CRL files, OCSP and a platform operator behind one interface;
* :mod:`mynaid.rp.reasons`: the stable reason codes;
* :mod:`mynaid.rp.client`: the card side and a small urllib client.

The ASGI service over it is :mod:`mynaid.service` (the ``service`` extra).
"""
