"""A seeded, speaker-independent split for corpora without an official one."""

import numpy as np

SHARES = (0.7, 0.15, 0.15)


def speaker_independent_split(speaker_of, seed=0, shares=SHARES):
    """Assigns every speaker's recordings to one split.

    Speakers are shuffled with `seed` and dealt out in order: the first
    `shares[0]` of them (rounded, at least one) to train, the next
    `shares[1]` to dev, the rest to test; with one or two speakers, train
    (and dev) come first.

    Args:
        speaker_of: `{recording_id: speaker}`.
        seed: the shuffling seed.
        shares: train, dev and test shares of the speakers.

    Returns:
        `({recording_id: split}, rule)`: the splits and the rule in words,
        for the report.
    """
    speakers = sorted(set(speaker_of.values()))
    order = [speakers[i] for i in np.random.default_rng(seed).permutation(len(speakers))]
    train = max(1, round(shares[0] * len(speakers)))
    dev = min(len(speakers) - train, max(1, round(shares[1] * len(speakers))))
    split_of_speaker = {s: "train" if i < train else "dev" if i < train + dev else "test" for i, s in enumerate(order)}
    counts = {name: sum(1 for s in split_of_speaker.values() if s == name) for name in ("train", "dev", "test")}
    rule = (
        f"speaker-independent split, seed {seed}: speakers shuffled and dealt "
        f"{shares[0]:.0%} / {shares[1]:.0%} / {shares[2]:.0%} to train / dev / test "
        f"({counts['train']} / {counts['dev']} / {counts['test']} speakers)"
    )
    return {recording: split_of_speaker[s] for recording, s in speaker_of.items()}, rule
