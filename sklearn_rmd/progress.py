"""The command line's progress bar: a skorch callback drawing each network's epochs.

Kept apart from :mod:`sklearn_rmd.cli` so that the command line imports
skorch (and torch) only when a command trains something.
"""

import sys
import time

from skorch.callbacks import Callback


class EpochProgress(Callback):
    """A one-line progress bar of each network's epochs, drawn on stderr."""

    def __init__(self, width=24):
        self.width = width

    def on_train_begin(self, net, **kwargs):
        self.start_ = time.perf_counter()

    def on_epoch_end(self, net, **kwargs):
        done, total = len(net.history), max(net.max_epochs, 1)
        filled = int(self.width * min(done, total) / total)
        sys.stderr.write(f"\r    [{'#' * filled}{'.' * (self.width - filled)}] "
                         f"epoch {done}/{total}")
        sys.stderr.flush()

    def on_train_end(self, net, **kwargs):
        seconds = time.perf_counter() - getattr(self, "start_", time.perf_counter())
        stopped = " (stopped early)" if len(net.history) < net.max_epochs else ""
        sys.stderr.write(f"\r    {len(net.history)} epochs in {seconds:.1f} s{stopped}"
                         + " " * (self.width + 6) + "\n")
        sys.stderr.flush()

