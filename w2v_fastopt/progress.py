"""Progress for the command line: one tqdm line on stderr while training, one summary line per epoch."""
import sys

from tqdm import tqdm


def epoch_summary(stats, epochs):
    """gensim's per-epoch line, plus the exact mean loss when it was computed."""
    return (f"epoch {stats.epoch}/{epochs}: {stats.raw_words:,} raw words "
            f"({stats.effective_words:,} effective words) in {stats.seconds:.2f}s, "
            f"{stats.words_per_second:,.0f} effective words/s"
            + ("" if stats.loss is None else f", mean loss {stats.loss:.4f}"))


class ProgressBar:
    """Reporter for ``train.train``: epoch, % done, learning rate, running loss, words/s, ETA."""

    def __init__(self, epochs, file=sys.stderr):
        self.epochs = epochs
        self.file = file
        self.bar = None

    def compiled(self, seconds):
        if seconds > 1.0:  # a first run after install or an upgrade; cached runs take ~0.05 s
            print(f"compiled the training kernel in {seconds:.1f}s (cached for later runs)", file=self.file)

    def update(self, words_done, words_total, epoch, alpha, loss, note=None):
        """note: more to show after the loss (a cluster's actors and their lag)."""
        if self.bar is None:
            self.bar = tqdm(total=words_total, unit="w", unit_scale=True, file=self.file,
                            dynamic_ncols=True, leave=False, mininterval=0.2)
        self.bar.set_description(f"epoch {epoch + 1}/{self.epochs}", refresh=False)
        self.bar.set_postfix_str(f"lr={alpha:.5f}" + ("" if loss is None else f" loss={loss:.4f}")
                                 + ("" if note is None else f" {note}"), refresh=False)
        self.bar.update(words_done - self.bar.n)

    def epoch_end(self, stats):
        line = epoch_summary(stats, self.epochs)
        if self.bar is not None:
            self.bar.write(line, file=self.file)
        else:
            print(line, file=self.file)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
