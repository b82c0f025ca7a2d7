"""The paper's learning-rate schedule, as a function of the epoch."""


def paper_learning_rate(epoch, learning_rate=1e-4, decay_start=15, decay_every=2, decay_factor=0.8):
    """`learning_rate` until epoch `decay_start` (0-based), then multiplied
    by `decay_factor` once at `decay_start` and again every `decay_every`
    epochs (authors' code: x0.8 every 2 epochs after epoch 15).

    A pure function of the epoch, so a resumed run gets the same rate as an
    uninterrupted one (`keras.callbacks.LearningRateScheduler` sets it at
    every epoch start).

    >>> [round(paper_learning_rate(e, 1.0, 2, 2, 0.5), 3) for e in range(6)]
    [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """
    if epoch < decay_start:
        return float(learning_rate)
    return float(learning_rate * decay_factor ** ((epoch - decay_start) // decay_every + 1))
