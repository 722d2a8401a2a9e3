"""线索分类。用法见 python classify.py -h。 (Thin entry point: the CLI lives in nlp.cli.)"""
from nlp.cli import classify_main

if __name__ == "__main__":
    classify_main()
