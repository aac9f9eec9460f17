"""Signing and verifying documents with the card: PDF (the 登記・供託 format and PAdES, through
pyHanko) and XML-DSig (as the e-Gov electronic application API uses it, over lxml).

The package is an application on top of the library: :mod:`mynaid.docsign.card` opens the
card's key for one document (one guarded VERIFY), :mod:`mynaid.docsign.pdf` and
:mod:`mynaid.docsign.xml` sign and verify, and every refusal is a
:class:`~mynaid.docsign.reasons.DocumentError` with its own reason code.
"""
