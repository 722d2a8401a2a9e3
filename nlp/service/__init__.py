"""受理台: the intake web page, its HTTP API and the review queue.

- ``app``: FastAPI routes (``create_app``), the page under ``static/``;
- ``auth``: users (salted scrypt hashes), API tokens, sessions and CSRF tokens;
- ``reviews``: the SQLite review queue that ``train.py --add`` reads;
- ``results``: Annotator rows -> JSON results;
- ``server``: the typer app behind serve.py.

Importing this package imports nothing heavy: ``train.py --add`` uses ``reviews`` alone.
"""
