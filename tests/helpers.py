"""Layers written the way a user writes them, used across the test suite."""

import csv
import io
import json
import zipfile

import numpy as np

from layerkit.layers import Layer


class Swish(Layer):
    """x * sigmoid(beta * x), beta learned per feature (verbatim from issue 2)."""

    def __init__(self, beta0=1.0):
        self.beta0 = beta0

    def build(self, n_in, rng, dtype):
        self.params = {"beta": np.full(n_in, self.beta0, dtype=dtype)}
        self.grads = {"beta": np.zeros(n_in, dtype=dtype)}
        return n_in

    def forward(self, x, training=False):
        self.x, self.s = x, 1 / (1 + np.exp(-self.params["beta"] * x))
        return x * self.s

    def backward(self, delta):
        ds = self.s * (1 - self.s)
        self.grads["beta"][...] = (delta * self.x * self.x * ds).sum(axis=0)
        return delta * (self.s + self.x * ds * self.params["beta"])


def targets(kind, rng, m, k, poisson_rate=1.0):
    """Random targets of shape (m, k) for a loss: one-hot rows, 0/1, counts or reals."""
    if kind == "onehot":
        return np.eye(k)[rng.integers(0, k, m)]
    if kind == "binary":
        return rng.integers(0, 2, (m, k)).astype(float)
    if kind == "counts":
        return rng.poisson(poisson_rate, (m, k)).astype(float)
    return rng.normal(size=(m, k))


class Temperature(Layer):
    """x / T with one learned temperature T held in a 0-d array."""

    def __init__(self, t0=2.0):
        self.t0 = t0

    def build(self, n_in, rng, dtype):
        self.params = {"T": np.array(self.t0, dtype=dtype)}
        self.grads = {"T": np.zeros((), dtype=dtype)}
        return n_in

    def forward(self, x, training=False):
        self.x = x
        return x / self.params["T"]

    def backward(self, delta):
        T = self.params["T"]
        self.grads["T"][...] = -(delta * self.x).sum() / T**2
        return delta / T


class ColumnScale(Layer, register=False):
    """y = x w, one weight per column (uniform in [0.5, 1.5]); its backward reads the x
    that forward kept, as a user's PReLU-like layer does."""

    def build(self, n_in, rng, dtype=np.float64):
        self.params = {"w": rng.uniform(0.5, 1.5, n_in).astype(dtype)}
        self.grads = {"w": np.zeros(n_in, dtype)}
        return n_in

    def forward(self, x, training=False):
        self.x = x
        return x * self.params["w"]

    def backward(self, delta):
        self.grads["w"][...] = (delta * self.x).sum(axis=0)
        return delta * self.params["w"]


class Block(Layer, register=False):
    """f(x), or x + f(x) with ``residual``, f a Sequential of ``inner`` (and ``gate``,
    when given, after them): a user's block, as docs/extending.md's residual block."""

    def __init__(self, inner=None, gate=None, residual=False):
        self.inner, self.gate, self.residual = inner, gate, residual

    def build(self, n_in, rng, dtype=np.float64):
        from layerkit import Sequential

        layers = [*self.inner] + ([self.gate] if self.gate is not None else [])
        self.net = Sequential(layers).build(n_in, random_state=rng, dtype=dtype)
        return self.net.n_out_

    params = property(lambda self: self.net.params if "net" in self.__dict__ else {})
    grads = property(lambda self: self.net.grads if "net" in self.__dict__ else {})

    def forward(self, x, training=False):
        out = self.net.forward(x, training)
        return x + out if self.residual else out

    def backward(self, delta):
        dx = self.net.backward(delta)
        return delta + dx if self.residual else dx


class SkipSave(Layer):
    """The first half of a skip connection: keeps its input for a later layer."""

    _transient = ("saved", "skip_delta")

    def __init__(self):
        self.saved = 0.0  # (so that a detached copy predicts wrongly rather than crash)

    def forward(self, x, training=False):
        self.saved = x
        return x

    def backward(self, delta):
        return delta + self.skip_delta


class SkipAdd(Layer):
    """x + what ``source``, an earlier layer of the network, saved."""

    def __init__(self, source=None):
        self.source = source

    def forward(self, x, training=False):
        return x + self.source.saved

    def backward(self, delta):
        self.source.skip_delta = delta
        return delta


class CrashAt:
    """A callback that raises after epoch ``epoch``, as a killed process would stop."""

    def __init__(self, epoch):
        self.epoch = epoch

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name == "epoch" and len(fitted_estimator.loss_curve_) == self.epoch:
            raise RuntimeError("the machine went away")
        return False


def rewritten_model(data, edit=None, *, drop=(), damaged=None):
    """A model file's bytes rewritten as a sound zip: its manifest edited in place by
    ``edit``, the members in ``drop`` left out, the last byte of the member ``damaged``
    changed (a fresh CRC: only the file's SHA-256 can tell)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(src.read("manifest.json"))
    if edit is not None:
        edit(manifest)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        dst.writestr("manifest.json", json.dumps(manifest))
        for name in src.namelist():
            if name == "manifest.json" or name in drop:
                continue
            member = bytearray(src.read(name))
            if name == damaged:
                member[-1] ^= 0x01
            dst.writestr(name, bytes(member))
    return out.getvalue()


def redigested(edit):
    """A manifest edit (for ``rewritten_model``) of the pipeline entry, ``edit(spec)``,
    that then writes the entry's digest again: a file edited as a writer could."""
    from layerkit.io._manifest import pipeline_digest

    def both(manifest):
        spec = manifest["pipeline"]
        edit(spec)
        spec["sha256"] = pipeline_digest({k: v for k, v in spec.items() if k != "sha256"})

    return both


def write_csv(path, header, rows):
    """A CSV file of a header row and ``rows``, as Python's csv module writes it."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path
