"""Checkpoints of a Numba training run: when to take them and what they hold.

A checkpoint is a model archive (``Trainer.save``) whose header also holds the ``train.Position``
(epoch, job, each thread's RNG state, the epoch's running totals) and the schedule, so that
``Trainer.resume`` continues where it stopped.
"""
import time

import numpy as np


def parse_every(spec):
    """``3`` or ``"3"`` -> ("epochs", 3); ``"90s"``, ``"10m"``, ``"1.5h"`` -> ("seconds", value)."""
    text = str(spec).strip().lower()
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        if text and text[-1] in units:
            seconds = float(text[:-1]) * units[text[-1]]
            if seconds >= 0 and np.isfinite(seconds):
                return "seconds", seconds
        else:
            epochs = int(text)
            if epochs >= 1:
                return "epochs", epochs
    except ValueError:
        pass
    raise ValueError(f"checkpoint_every must be a number of epochs (>= 1) or a time like 90s, 10m, "
                     f"1h; got {spec!r}")


class Checkpoint:
    """Saves ``model``'s training state to ``path`` every ``every`` epochs (``3``, ``"3"``) or every
    so often (``"90s"``, ``"10m"``, ``"1h"``: asked between segments of ~2.5M words), with ``notes``
    (a dict of JSON values, or None) in the header for whoever resumes it."""

    def __init__(self, model, path, every=None, notes=None):
        self.model, self.path, self.notes = model, path, notes
        self.every = str(every if every is not None else 1)
        self.unit, self.amount = parse_every(self.every)
        self.last = time.monotonic()

    def due(self, position, epoch_ended):
        """Whether to save now; ``train.train`` asks between segments and at every epoch end."""
        if self.unit == "epochs":
            return epoch_ended and position.epoch % self.amount == 0
        return time.monotonic() - self.last >= self.amount

    def save(self, position):
        """Write the model with ``position`` in its header, atomically."""
        self.model.epoch_stats = list(position.history)
        state = {"position": {"epoch": position.epoch, "job": position.job,
                              "rng_states": [int(s) for s in position.rng_states],
                              "totals": position.totals.to_dict()},
                 "checkpoint_every": self.every, **({} if self.notes is None else {"notes": self.notes})}
        self.model.save(self.path, _extra=state)
        self.last = time.monotonic()


def load_position(header):
    """The ``train.Position`` a checkpoint's header holds."""
    from .train import EpochStats, EpochTotals, Position

    saved = header["position"]
    return Position(saved["epoch"], saved["job"], saved["rng_states"], EpochTotals(**saved["totals"]),
                    [EpochStats(**e) for e in header["epoch_stats"]])
