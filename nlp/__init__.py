"""Chinese clue classification for discipline-inspection offices.

The flow every text takes, one module a stage:

    io (read) -> normalize -> segment -> features -> model (heads) -> quality -> report / io (write)

Common calls::

    from nlp import normalize, Tokenizer, load_taxonomy
    normalize("不作為不擔(dān)當(dāng)")        # -> "不作为不担当"
    Tokenizer().lcut("整治不作为")              # -> ["整治", "不作为"]
"""

from nlp.normalize import normalize
from nlp.segment import Tokenizer
from nlp.taxonomy import load_taxonomy

__all__ = ["normalize", "Tokenizer", "load_taxonomy"]
__version__ = "0.1.0"
