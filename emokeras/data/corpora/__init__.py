"""Readers of the emotion corpora the field uses, each in its own layout:
`read_corpus(name, root)` -> `Corpus` (recordings, target ranges, unit,
split rule). One module per corpus, each with `NAME`, `TREE` (the layout it
expects, shown by `emokeras corpora`) and `read(root, seed=0)`."""

import importlib

from emokeras.data.corpora.corpus import Corpus

# Reader name -> module (imported only when used).
READERS = {
    "aff-wild2": "aff_wild2",
    "msp-podcast": "msp_podcast",
    "afew-va": "afew_va",
    "sewa": "sewa",
    "omg-emotion": "omg_emotion",
    "crema-d": "crema_d",
    "recola": "recola",
}


def corpus_module(name):
    """The reader module of corpus `name` (see `READERS`)."""
    if name not in READERS:
        raise ValueError(f"unknown corpus {name!r}; known: {', '.join(READERS)} (see `emokeras corpora`)")
    return importlib.import_module(f"emokeras.data.corpora.{READERS[name]}")


def read_corpus(name, root, seed=0):
    """Reads the corpus `name` under `root`.

    Returns:
        A `Corpus`.

    Raises:
        ValueError: unknown name, or `root` lacks the expected layout (the
            message shows the tree the reader expects).
    """
    return corpus_module(name).read(root, seed=seed)


__all__ = ["READERS", "Corpus", "corpus_module", "read_corpus"]
