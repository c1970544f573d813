"""Butcher tableaus of explicit Runge-Kutta methods, for both engines (no Numba, no TensorFlow).

Gradient descent is Euler's method on the gradient flow dp/dt = -∇L(p); a tableau (a, b) with s
stages takes k^1 = ∇L(p), k^i = ∇L(p - h Σ_{j<i} a_ij k^j), p <- p - h Σ_i b_i k^i.  Each entry is
(rows 2..s of a, each as long as its row number minus one; b).
"""
import numpy as np

TABLEAUS = {
    "euler": ((), (1.0,)),
    "heun": (((1.0,),), (0.5, 0.5)),
    "midpoint": (((0.5,),), (0.0, 1.0)),
    "rk4": (((0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)), (1 / 6, 1 / 3, 1 / 3, 1 / 6)),
}


def tableau_arrays(method):
    """(a float32[s, s] strictly lower triangular, b float32[s]) of a method in TABLEAUS, for the
    Numba kernel ``solvers.runge_kutta_pair``."""
    rows, weights = TABLEAUS[method]
    a = np.zeros((len(weights), len(weights)), dtype=np.float32)
    for i, row in enumerate(rows):
        a[i + 1, :len(row)] = row
    return a, np.array(weights, dtype=np.float32)
