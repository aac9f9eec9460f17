"""Trust in JPKI certificates: anchors, path validation, holder data, revocation.

* :mod:`mynaid.trust.anchors`: the pinned J-LIS root fingerprints and user-supplied roots;
* :mod:`mynaid.trust.path`: path building (issuer chosen by key) and validation;
* :mod:`mynaid.trust.san`: the signature certificate's holder data (name, address, ...);
* :mod:`mynaid.trust.revocation`: CRL files and OCSP;
* :mod:`mynaid.trust.errors`: :class:`VerificationError` and its reason codes.

This package module imports nothing itself, so that importing the error class (the CLI's
exit-code table does) stays cheap.
"""
