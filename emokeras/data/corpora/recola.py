"""RECOLA / AVEC 2016: per-frame gold standard (40 ms), official splits."""

from emokeras.data.corpora.corpus import Corpus
from emokeras.data.recording import recola_recordings

NAME = "recola"
TREE = """\
ROOT/
  recordings_video/{train,dev,test}_N.mp4
  recordings_audio/{train,dev,test}_N.wav
  ratings_gold_standard/arousal/{train,dev}_N.arff   (frameTime every 40 ms)
  ratings_gold_standard/valence/{train,dev}_N.arff"""


def read(root, seed=0):
    del seed  # official splits
    return Corpus(
        name=NAME,
        recordings=tuple(recola_recordings(root)),
        target_ranges={"valence": (-1.0, 1.0), "arousal": (-1.0, 1.0)},
        unit="frame",
        split_rule="official: the name prefix (train_, dev_, test_)",
    )
