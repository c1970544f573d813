"""Why does a per-pair Heun step end with a higher training loss than SGD on a large corpus and a
lower one on data/?  Measurements, not guesses.

    python bench/heun_mechanism.py [--corpora data/enwiki-sample.txt bench/big-corpus.txt]
                                   [--seeds 1 2 3] [--epochs 5 10] [--out bench/results]

1. **One step, the same pairs.**  From the weights of an SGD run (after its first and its last
   epoch), 20,000 training examples drawn as the experiment draws them; for each example alone, in
   float64, the SGD step p - α k1 and the Heun step p - α/2 (k1 + k2), k2 the gradient at the SGD
   step's end, at several α.  Reported: ρ = Σ<Δheun, Δsgd> / Σ|Δsgd|² (Heun's step measured along
   SGD's: its effective learning rate relative to SGD's), |Δheun| / |Δsgd|, the pairs' loss
   decrease with Heun over that with SGD, and how much each step grows the pairs' squared norms
   (|u|² + Σ|t_o|², summed over the examples, relative to that sum): SGD's, and Heun's minus SGD's.
2. **Whole runs.**  Heun and SGD (2 workers, E epochs, each seed), and four controls: SGD with
   alpha = ρ·0.025 (if Heun were SGD with a shorter step, this would end where Heun ends), SGD at
   0.0125 (which way the final losses move with the learning rate), and SGD's final vectors
   rescaled to Heun's mean row norms (syn0 and syn1neg each by one factor; cosines, hence the
   scores, do not change): how much of Heun's loss difference the norms alone account for; and
   ``sgd+radial``, SGD plus only the row-lengthening part of Heun's step (``solvers.radial_pair``):
   if it ends where Heun ends, that term is the cause.
Writes OUT/heun_mechanism.md and prints it; ``--controls sgd+radial`` runs part 2 with that control
alone (no part 1) and writes OUT/heun_radial.md.
"""
import argparse
import os
import statistics
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import overfit_experiment as ox  # noqa: E402
from w2v_fastopt.train import Diverged  # noqa: E402

ALPHAS = (0.05, 0.025, 0.0125, 0.00625)
CONTROLS = ("sgd@ρ", "sgd@0.0125", "sgd+radial")
PAIRS = 20_000


def softplus(x):
    return np.logaddexp(0.0, x)


def pair_gradients(u, t, y):
    """Per example: the SGNS loss, k_u = ∂L/∂u [M, d] and k_t = ∂L/∂t [M, K+1, d] (float64)."""
    f = np.einsum("md,mkd->mk", u, t)
    g = 1.0 / (1.0 + np.exp(-f)) - y
    loss = softplus(np.where(y == 1, -f, f)).sum(axis=1)
    return loss, np.einsum("mk,mkd->md", g, t), g[..., None] * u[:, None, :]


def one_step(syn0, syn1neg, sample, alpha):
    """SGD's and Heun's step on each example alone, from the same weights: (ρ, step norm ratio, loss
    decrease ratio, SGD's step's growth of Σ(|u|² + Σ|t_o|²) relative to it, Heun's growth minus
    SGD's), sums over examples."""
    inputs, outputs = sample
    u = syn0[inputs].astype(np.float64)
    t = syn1neg[outputs].astype(np.float64)
    y = np.zeros(outputs.shape)
    y[:, 0] = 1.0
    loss0, ku, kt = pair_gradients(u, t, y)
    su, st = -alpha * ku, -alpha * kt
    _, ku2, kt2 = pair_gradients(u + su, t + st, y)
    hu, ht = -alpha / 2 * (ku + ku2), -alpha / 2 * (kt + kt2)
    along = np.einsum("md,md->m", hu, su) + np.einsum("mkd,mkd->m", ht, st)
    sgd_sq = np.einsum("md,md->m", su, su) + np.einsum("mkd,mkd->m", st, st)
    heun_sq = np.einsum("md,md->m", hu, hu) + np.einsum("mkd,mkd->m", ht, ht)
    drop_sgd = loss0 - pair_gradients(u + su, t + st, y)[0]
    drop_heun = loss0 - pair_gradients(u + hu, t + ht, y)[0]

    size = (u ** 2).sum() + (t ** 2).sum()

    def growth(du, dt):
        return (((u + du) ** 2).sum() + ((t + dt) ** 2).sum() - size) / size
    return (along.sum() / sgd_sq.sum(), np.sqrt(heun_sq.sum() / sgd_sq.sum()),
            drop_heun.sum() / drop_sgd.sum(), growth(su, st), growth(hu, ht) - growth(su, st))


def mean_norms(model, sample):
    """Mean norm of the syn0 rows of the sample's inputs and of the syn1neg rows of its outputs."""
    inputs, outputs = sample
    return (float(np.linalg.norm(model.vectors[inputs], axis=1).mean()),
            float(np.linalg.norm(model.syn1neg[outputs], axis=2).mean()))


class Snapshots:
    """A ``Trainer`` progress object keeping copies of the weights after the chosen epochs."""

    def __init__(self, model, epochs):
        self.model, self.epochs, self.weights = model, epochs, {}

    def compiled(self, seconds):
        pass

    def update(self, *args):
        pass

    def epoch_end(self, stats):
        if stats.epoch in self.epochs:
            self.weights[stats.epoch] = (self.model.vectors.copy(), self.model.syn1neg.copy())


def step_table(corpus, train_path, seed):
    model = ox.Trainer(epochs=5, seed=seed, workers=2, shared_negatives=False)
    model.build_vocab(corpus_file=train_path)
    model.progress = Snapshots(model, (1, 5))
    model.train()
    ids, starts = model._corpus
    sample = ox.example_sample(ids, starts, model.vocab, 5, 5, PAIRS, 3000 + seed)
    rows = []
    for epoch, (syn0, syn1neg) in sorted(model.progress.weights.items()):
        for alpha in ALPHAS:
            rows.append((os.path.basename(corpus), epoch, alpha, *one_step(syn0, syn1neg, sample, alpha)))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpora", nargs="+", default=[os.path.join(ox.ROOT, "data", "enwiki-sample.txt"),
                                                    os.path.join(HERE, "big-corpus.txt")])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--epochs", type=int, nargs="+", default=[5, 10])
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    p.add_argument("--steps-only", action="store_true", help="part 1 only (to heun_steps.md)")
    p.add_argument("--controls", nargs="+", choices=CONTROLS, default=list(CONTROLS),
                   help="the part 2 controls to run (without sgd@ρ, part 1 is skipped)")
    a = p.parse_args()
    runs = [("heun", "heun", 0.025), ("sgd", "sgd", 0.025)] + [c for c in (
        ("sgd@ρ", "sgd", "ρ"), ("sgd@0.0125", "sgd", 0.0125), ("sgd+radial", "sgd+radial", 0.025))
        if c[0] in a.controls]
    lines = ["# Heun against SGD: one step on the same pairs, and SGD at Heun's effective learning rate\n",
             f"`python bench/heun_mechanism.py --corpora {' '.join(os.path.relpath(c, ox.ROOT) for c in a.corpora)} "
             f"--seeds {' '.join(map(str, a.seeds))} --epochs {' '.join(map(str, a.epochs))}"
             + ("" if a.controls == list(CONTROLS) else f" --controls {' '.join(a.controls)}") + "`\n",
             "## 1. One step from the same weights (20,000 training examples, each alone, float64)\n",
             "Weights of a 5-epoch SGD run (2 workers, seed 1) after epoch 1 and epoch 5.  ρ: Heun's step "
             "projected on SGD's, over SGD's length (the effective learning rate relative to SGD's).\n",
             "| corpus | after epoch | α | ρ | ‖Δheun‖/‖Δsgd‖ | loss drop heun/sgd | norm² growth, SGD "
             "| norm² growth, Heun minus SGD |",
             "|---|---|---|---|---|---|---|---|"]
    rho = {}
    with tempfile.TemporaryDirectory() as tmp:
        splits = {}
        for i, corpus in enumerate(a.corpora):
            folder = os.path.join(tmp, str(i))
            os.makedirs(folder)
            splits[corpus] = ox.split(corpus, folder)
            if "sgd@ρ" not in a.controls and not a.steps_only:
                continue
            for name, epoch, alpha, r, norm, drop, grow, extra in step_table(corpus, splits[corpus][0], a.seeds[0]):
                lines.append(f"| {name} | {epoch} | {alpha} | {r:.4f} | {norm:.4f} | {drop:.4f} | {grow:+.3e} "
                             f"| {extra:+.3e} |")
                if epoch == 1 and alpha == 0.025:
                    rho[corpus] = r
                print(lines[-1], file=sys.stderr, flush=True)

        if a.steps_only:
            text = "\n".join(lines) + "\n"
            with open(os.path.join(a.out, "heun_steps.md"), "w") as f:
                f.write(text)
            print(text)
            return
        if "sgd@ρ" not in a.controls:
            lines = lines[:2]
        lines += ["\n## 2. Whole runs: Heun, SGD, and controls\n",
                  "After E epochs, 2 workers; means over seeds "
                  f"{', '.join(map(str, a.seeds))} (losses: min to max in brackets).  ‖u‖, ‖t‖: mean norm of "
                  "the syn0 and syn1neg rows of the training sample's examples.  `sgd@x`: SGD with alpha = x, "
                  "min_alpha = x/250; ρ from part 1 (after epoch 1, α = 0.025); `sgd rescaled`: SGD's final "
                  "vectors with syn0 and syn1neg each multiplied by Heun's mean norm over SGD's (same seed); "
                  "`sgd+radial`: SGD plus only Heun's row-lengthening term.\n",
                  "| corpus | E | run | train loss | held-out loss | WordSim-353 | SimLex-999 | analogies "
                  "| ‖u‖ | ‖t‖ |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for corpus in a.corpora:
            for e in a.epochs:
                table, diverged = {}, {}
                for seed in a.seeds:
                    models = {}
                    for label, optimizer, alpha in runs:
                        alpha = rho[corpus] * 0.025 if alpha == "ρ" else alpha
                        rows = []
                        try:
                            model, samples = ox.engine_run(*splits[corpus], optimizer, e, seed, 2, rows,
                                                           every_epoch=False, alpha=alpha)
                        except Diverged as error:  # a control may: the report says where
                            diverged.setdefault(label, []).append(f"seed {seed}: {error}")
                            print(f"{label} seed {seed}: {error}", file=sys.stderr, flush=True)
                            continue
                        row = rows[-1]
                        row["u"], row["t"] = mean_norms(model, samples[0])
                        table.setdefault(label, []).append(row)
                        if label in ("heun", "sgd"):
                            models[label] = (model.vectors.copy(), model.syn1neg.copy(), row, samples)
                    syn0, syn1neg, sgd, samples = models["sgd"]
                    heun = models["heun"][2]
                    scaled0, scaled1 = syn0 * (heun["u"] / sgd["u"]), syn1neg * (heun["t"] / sgd["t"])
                    table.setdefault("sgd rescaled", []).append(
                        {**sgd, "train_loss": ox.sgns_loss(scaled0, scaled1, samples[0]),
                         "heldout_loss": ox.sgns_loss(scaled0, scaled1, samples[1]), "u": heun["u"], "t": heun["t"]})
                for label in ("heun", "sgd", "sgd rescaled", "sgd@ρ", "sgd@0.0125", "sgd+radial"):
                    if label in diverged:
                        lines.append(f"| {os.path.basename(corpus)} | {e} | {label} | diverged: "
                                     f"{'; '.join(diverged[label])} |||||||")
                    if label not in table:
                        continue
                    rows = table[label]

                    def show(key, digits, spread=False):
                        values = [r[key] for r in rows]
                        text = f"{statistics.fmean(values):.{digits}f}"
                        return text + (f" ({min(values):.{digits}f}-{max(values):.{digits}f})" if spread else "")
                    name = f"sgd@{rho[corpus] * 0.025:.5f} (ρ)" if label == "sgd@ρ" else label
                    lines.append(f"| {os.path.basename(corpus)} | {e} | {name} | {show('train_loss', 4, True)} | "
                                 f"{show('heldout_loss', 4, True)} | {show('wordsim353', 3)} | "
                                 f"{show('simlex999', 3)} | {show('analogies', 4)} | {show('u', 3)} | {show('t', 3)} |")
                    print(lines[-1], file=sys.stderr, flush=True)
    text = "\n".join(lines) + "\n"
    os.makedirs(a.out, exist_ok=True)
    name = "heun_mechanism.md" if "sgd@ρ" in a.controls else "heun_radial.md"
    with open(os.path.join(a.out, name), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
