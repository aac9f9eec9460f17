"""The relying-party service: an ASGI application (Starlette) over :mod:`mynaid.rp`, run
by uvicorn with several stateless worker processes (the ``service`` extra).

* :mod:`mynaid.service.app`: the routes and the request limits;
* :mod:`mynaid.service.protocol`: the header deadline (slowloris guard);
* :mod:`mynaid.service.config`: the JSON configuration every worker reads;
* :mod:`mynaid.service.server`: the launcher (``mynaid rp serve``).
"""
