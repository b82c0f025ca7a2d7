import dataclasses

UNITS = ("frame", "utterance")
SCORINGS = ("all", "per_group")


@dataclasses.dataclass(frozen=True)
class Corpus:
    """What a corpus reader found under a corpus's root folder.

    Args:
        name: the reader's name (e.g. `"msp-podcast"`).
        recordings: the `emokeras.data.Recording`s, in a stable order.
        target_ranges: `{target: (low, high)}` in the corpus's own units
            (1-7, -10..10, 0-100, [-1, 1]); the model's heads are built on
            these ranges, so predictions come out in the same units.
        unit: `"frame"` (labels over time) or `"utterance"` (one value per
            recording; evaluation scores one mean prediction per recording).
        split_rule: how the splits were made, written to the report (the
            corpus's official partition, or a seeded speaker-independent one).
        scoring: `"all"` (one CCC over every frame or utterance) or
            `"per_group"` (a CCC per `Recording.group`, averaged: OMG-Emotion's
            per-video score).
    """

    name: str
    recordings: tuple
    target_ranges: dict
    unit: str
    split_rule: str
    scoring: str = "all"

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ValueError(f"unit must be one of {UNITS}. Received: {self.unit!r}")
        if self.scoring not in SCORINGS:
            raise ValueError(f"scoring must be one of {SCORINGS}. Received: {self.scoring!r}")
        if not self.recordings:
            raise ValueError(f"{self.name}: the corpus has no labelled recordings")

    @property
    def targets(self):
        return list(self.target_ranges)

    def prepare_options(self):
        """The keyword arguments of `prepare_recordings` that come from the
        corpus: its targets, their ranges, the unit, scoring and split rule."""
        return {
            "targets": self.targets,
            "target_ranges": dict(self.target_ranges),
            "unit": self.unit,
            "scoring": self.scoring,
            "split_rule": self.split_rule,
        }
