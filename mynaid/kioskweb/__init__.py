"""The clinic kiosk as a touchscreen web page: an adapter of :class:`mynaid.kiosk.KioskUI`.

``mynaid kiosk --web`` serves it on 127.0.0.1; kiosk software embeds the ASGI app::

    from mynaid.kioskweb.app import create_app
    from mynaid.kioskweb.service import KioskService, KioskSettings, PcscSlot

    service = KioskService(PcscSlot(), KioskSettings(...), on_outcome=send_to_eligibility)
    app = create_app(service, staff_pin=pin)    # mount it in your ASGI server

* :mod:`mynaid.kioskweb.adapter` — the board the pages read and the blocking UI calls;
* :mod:`mynaid.kioskweb.service` — the loop: wait for a card (reader monitor), run the one
  :class:`~mynaid.kiosk.KioskFlow`, show the result, wait for the card to go;
* :mod:`mynaid.kioskweb.app` — Starlette routes, server-sent events, the staff gate;
* ``static/`` — plain HTML, CSS and JavaScript (no build step).

Needs the ``web`` extra (Starlette, uvicorn); the face route needs ``face`` too.
"""
