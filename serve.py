"""受理台（网页和 HTTP API）。用法见 python serve.py -h。 (Thin entry point: the CLI lives in nlp.service.server.)"""
from nlp.service.server import serve_main

if __name__ == "__main__":
    serve_main()
