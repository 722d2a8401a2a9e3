"""训练模型。用法见 python train.py -h。 (Thin entry point: the CLI lives in nlp.cli.)"""
from nlp.cli import train_main

if __name__ == "__main__":
    train_main()
