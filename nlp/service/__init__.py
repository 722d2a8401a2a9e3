"""受理台: the intake web page, its HTTP API and the review queue.

- ``app``: FastAPI routes (``create_app``), the page under ``static/``;
- ``guard``: size limits, Host and cross-site checks, security headers, JSON 500s;
- ``auth``: users (salted scrypt hashes), API tokens, sessions and CSRF tokens;
- ``reviews``: the SQLite review queue that ``train.py --add`` reads (``store``: private SQLite files);
- ``results``: Annotator rows -> JSON results;
- ``server``: the typer app behind serve.py.

Importing this package imports nothing heavy: ``train.py --add`` uses ``reviews`` alone.
"""
