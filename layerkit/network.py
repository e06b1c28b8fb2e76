"""Sequential: a list of layers, run forward then backward (the seed's whole algorithm)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ._checks import first_repeat
from ._configurable import check_arguments, registry_name_of
from ._contract import (
    check_backward,
    check_forward,
    check_grads,
    check_penalized,
    check_state,
    note_where,
    trusted,
)
from ._fit_inputs import numeric, refuse_beyond_dtype, require_finite
from ._random import RandomStateLike, as_generator, spawn
from .exceptions import LayerContractError
from .layers.activations import Identity
from .layers.base import Array, Layer
from .layers.dense import Dense
from .layers.dropout import Dropout
from .losses.base import Loss
from .optim.base import Optimizer

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
#: What a network keeps of its last training or forward call: never copied or pickled.
_OF_THE_LAST_CALL = (
    "_workspace",
    "_input_shapes",
    "_out_shape",
    "_caches_replaced_by",
    "_warned_unfit",
)


class Sequential:
    """A network as a list of layers: data flows forward, the error δ flows back.

    Parameters
    ----------
    layers : iterable of Layer
        The layers, input first (or each layer as its own argument:
        ``Sequential(Dense(4), ReLU())``). Only output widths are given; input widths are
        inferred by ``build``.

    Shape
    -----
    ``forward``: ``(m, n_in)`` to ``(m, n_out)``; ``backward``: the reverse.

    Notes
    -----
    ``backward`` chains every layer's backward: from the output error (eq. 3-I), each
    layer hands ``∂C/∂(its input)`` to the one below (eq. 3-II) and writes its own
    parameter gradients (eqs. 3-III, 3-IV). ``params``/``grads`` are flat dicts of the
    layers' live arrays keyed ``"<layer index>.<name>"``, what optimizers consume.

    When the last layer and the loss form a canonical pair (``Softmax`` +
    ``CategoricalCrossEntropy``, ``Sigmoid`` + ``BinaryCrossEntropy``, ``Identity`` +
    ``SquaredError``, ``Exp`` + ``PoissonLoss``), ``train_step`` skips the last layer,
    computes the loss from the logits and starts backpropagation from the fused
    ``δ^L = (a - y)/m``: exact and finite even for saturated outputs.

    Examples
    --------
    >>> import numpy as np
    >>> from layerkit import Sequential
    >>> from layerkit.layers import Dense, ReLU, Softmax
    >>> from layerkit.losses import CategoricalCrossEntropy
    >>> from layerkit.optim import SGD
    >>> net = Sequential([Dense(8), ReLU(), Dense(3), Softmax()]).build(4, random_state=0)
    >>> sorted(net.params)
    ['0.W', '0.b', '2.W', '2.b']
    >>> x, y = np.ones((5, 4)), np.eye(3)[[0, 1, 2, 0, 1]]
    >>> loss = net.train_step(x, y, CategoricalCrossEntropy(), SGD(learning_rate=0.1))
    >>> net.forward(x).shape
    (5, 3)
    """

    def __init__(self, layers: Iterable[Layer] | Layer, *more: Layer) -> None:
        if isinstance(layers, Layer):  # Sequential(Dense(4), ReLU()), as PyTorch writes it
            layers = [layers, *more]
        elif more:
            raise TypeError(
                "Sequential takes the layers as one list, Sequential([Dense(4), ReLU()]), "
                f"or as separate arguments, Sequential(Dense(4), ReLU()); got {layers!r} "
                f"and {len(more)} more argument(s)"
            )
        elif not isinstance(layers, Iterable):
            raise TypeError(
                f"Sequential expected a list of layers, got {type(layers).__name__}: "
                "write Sequential([Dense(4), ReLU()])"
            )
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("Sequential needs at least one layer, got an empty list")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"Sequential expected Layer objects, got {type(layer).__name__} at "
                    f"position {i}"
                )
        repeat = first_repeat(self.layers)
        if repeat is not None:  # a layer keeps its input (and grads) for backward
            j, i = repeat
            layer = self.layers[i]
            raise ValueError(
                f"Sequential: the same {layer!r} object is at positions {j} and {i}; "
                "a layer keeps what its backward pass needs, so each position needs its "
                f"own object: write {type(layer).__name__}(...) again, or use "
                "copy.deepcopy(layer)"
            )
        _refuse_layers_shared_between_positions(self.layers)

    # ------------------------------------------------------------------ building
    def build(
        self,
        n_in: int,
        *,
        random_state: RandomStateLike = None,
        dtype: DTypeLike = np.float64,
    ) -> Sequential:
        """Allocate every layer's parameters for ``n_in`` input features; return self.

        Each layer gets its own child of the generator made from ``random_state``, so
        one layer's initialization (or dropout stream) does not shift another's.

        Parameters
        ----------
        n_in : int
            The number of input features (columns of x).
        random_state : None, int or numpy Generator
            Seeds the initial weights (and dropout masks).
        dtype : float32 or float64, default float64
            The dtype of every parameter and activation; inputs are cast to it.
        """
        dt = np.dtype(dtype)
        if dt not in _FLOATS:
            raise ValueError(f"Sequential dtype must be float32 or float64, got {dt}")
        if isinstance(n_in, bool) or not isinstance(n_in, (int, np.integer)) or n_in < 1:
            raise ValueError(
                f"Sequential.build expected n_in, the number of input features, to be an "
                f"int >= 1, got {n_in!r}"
            )
        rngs = spawn(as_generator(random_state), len(self.layers))
        n = int(n_in)
        check_arguments(  # an argument changed after construction, checked as it was then
            enumerate(self.layers), "Sequential: the layer at position {where}: {problem}"
        )
        for i, (layer, rng) in enumerate(zip(self.layers, rngs, strict=True)):
            try:
                n_out = layer.build(n, rng, dt)
            except Exception as error:
                if not trusted(layer):
                    note_where(error, i, layer, "build")
                raise
            layer.__dict__["_n_in"] = n
            if not isinstance(n_out, (int, np.integer)) or n_out < 1:
                raise LayerContractError(
                    f"{layer!r} at position {i}: build() must return the output width "
                    f"as a positive int, got {n_out!r}"
                )
            check_grads(i, layer, dtype=dt)
            check_penalized(i, layer)
            n = int(n_out)
            layer.__dict__["_n_out"] = n
            check_state(i, layer)
        self.n_in_, self.n_out_, self.dtype = int(n_in), n, dt
        if all(trusted(layer) or not layer.params for layer in self.layers):
            self.flatten()  # now, not at the first fit: arrays taken from here on stay live
        return self

    @property
    def params(self) -> dict[str, Array]:
        """All parameters as ``{"<layer>.<name>": live array}``.

        After ``flatten()``, the dict also carries the contiguous buffer they are views of
        (``params.flat``), which optimizers may update in one pass.
        """
        params = {
            f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()
        }
        return self._flat_view(params, 0)

    @property
    def state(self) -> dict[str, Array]:
        """Every layer's state, the arrays it names in ``state_attributes`` (running
        statistics, say), as ``{"<layer>.<attribute>": array}``.

        Not trained, but part of the model: ``layerkit.save``/``load`` keep them, and
        early stopping restores them with the best weights.
        """
        return {
            f"{i}.{k}": getattr(layer, k)
            for i, layer in enumerate(self.layers)
            for k in layer.state_attributes
        }

    def _set_state(self, values: dict[str, Array]) -> None:
        """Put copies of ``values`` (keys as in ``state``) into the layers."""
        for key, value in values.items():
            i, name = key.split(".", 1)
            layer = self.layers[int(i)]
            current = getattr(layer, name, None)
            if (
                isinstance(current, np.ndarray)
                and current.shape == np.shape(value)
                and current.flags.writeable
            ):
                np.copyto(current, value)  # (a layer may hold the array elsewhere too)
            else:
                setattr(layer, name, np.array(value, copy=True))

    @property
    def grads(self) -> dict[str, Array]:
        """All gradients, same keys as ``params`` (``grads.flat`` after ``flatten()``)."""
        grads = {
            f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.grads.items()
        }
        return self._flat_view(grads, 1)

    def flatten(self) -> Sequential:
        """Move all parameters, and all gradients, into one contiguous buffer each.

        Every ``layer.params[name]`` (and ``grads``) becomes a view of the buffer, laid
        out in layer order, so an optimizer step is one vectorized operation over the
        whole network (and a Dense layer's ``W`` is directly followed by its ``b``: one
        ``(n_in + 1, units)`` block, which the training plan multiplies in one product).
        Values are unchanged; arrays obtained before are no longer the live ones.
        Idempotent.
        """
        if self._flat_buffers() is not None:
            return self
        entries = [(layer, k) for layer in self.layers for k in layer.params]
        total = sum(layer.params[k].size for layer, k in entries)
        flat = np.empty(total, dtype=self.dtype)
        gflat = np.zeros(total, dtype=self.dtype)
        offset = 0
        for layer, k in entries:
            p, g = layer.params[k], layer.grads[k]
            view = flat[offset : offset + p.size].reshape(p.shape)
            view[...] = p
            layer.params[k] = view
            layer.grads[k] = gflat[offset : offset + p.size].reshape(p.shape)
            if g.any():  # (zeros are not written: a large gflat's untouched pages take
                layer.grads[k][...] = g  # no memory until a backward pass writes them)
            offset += p.size
        self.__dict__["_flat"] = (flat, gflat)
        return self

    def _flat_buffers(self) -> tuple[Array, Array] | None:
        """The flat buffers, if every parameter and gradient is still a view of them."""
        flat = self.__dict__.get("_flat")
        if flat is None:
            return None
        for layer in self.layers:
            for k, p in layer.params.items():
                if p.base is not flat[0] or layer.grads[k].base is not flat[1]:
                    del self.__dict__["_flat"]
                    return None
        return flat

    def _flat_view(self, arrays: dict[str, Array], which: int) -> dict[str, Array]:
        flat = self._flat_buffers()
        if flat is None:
            return arrays
        return FlatDict(arrays, flat=flat[0] if which == 0 else flat[1])

    # ------------------------------------------------------------------ passes
    def forward(self, x: Any, training: bool = False) -> Array:
        """Run ``x`` through every layer and return the network's output."""
        out = self._forward_through(self.layers, x, training)
        self.__dict__["_out_shape"] = np.shape(out)  # what backward's delta must match
        self.__dict__["_caches_replaced_by"] = None
        return out

    def _replace_caches(self, by: str) -> None:
        """A pass other than ``forward`` ran through the layers: what they kept for a
        backward pass is now that pass's, so ``backward`` must not use it. (Nothing
        changes when no forward pass is pending: a prediction leaves a network that it
        does not affect as it was.)"""
        if self.__dict__.pop("_out_shape", None) is not None:
            self.__dict__["_caches_replaced_by"] = by

    def predict(
        self, X: Any, *, batch_size: int = 1024, logits: bool = False, upto: int | None = None
    ) -> Array:
        """Inference on ``X`` in chunks of ``batch_size`` rows, into one fresh array.

        (1,024 rows keep a chunk's activations near the cache: on 100,000 x 784 rows
        through 784-256-128-10, 1.07-1.09x the products' time against 1.14-1.15x for
        chunks of 4,096.)

        Parameters
        ----------
        X : array-like or scipy sparse matrix of shape (n, n_in)
            Not checked for NaN or infinity (they reach the outputs; the estimators
            refuse them); values beyond a float32 network's range are refused.
        batch_size : int, default 1024
            Rows per chunk, at most (a large X is shared among threads in equal chunks
            of up to this many rows). The output does not depend on it but for the last
            bit: BLAS multiplies 1 to 3 rows, and products on several of its threads, by
            other kernels (relative differences near 1e-16 in float64, 1e-7 in float32).
        logits : bool, default False
            Skip the last layer and return its input, which is what stable
            log-probabilities are computed from.
        upto : int, optional
            Run only the first ``upto`` layers and return their output: the features a
            hidden layer computes (``upto=2`` after ``Dense(64), ReLU()``), to plot,
            cluster or feed another model. Layers in prediction mode, as always here.

        Safe to call from several
        threads at once: outside training, every call works in arrays of its own (a layer of
        yours: when its ``forward`` computes its output from local variables).

        For a network of built-in layers, a large X (from about 2^31 multiply-adds:
        9,000 rows of 784-256-128-10) is split among as many threads as BLAS would use,
        each taking the next chunk of rows and multiplying on one BLAS thread, so that
        no core waits while another adds biases and applies activations: 100,000 x 784
        rows through 784-256-128-10 took 0.357 s against 0.412 s. Meanwhile BLAS runs
        on one thread for the whole process (threadpoolctl's ``limit``, which sets its
        count back when the call ends). The call stays in the caller's thread when
        other Python threads run (a notebook's kernel, a server: a ``threadpool_limits``
        of theirs could otherwise restore the one thread for good), when BLAS is
        limited to one thread (``threadpoolctl.threadpool_limits(1)``, scikit-learn's
        ``n_jobs`` workers) or runs on OpenMP, or when threadpoolctl cannot set the
        count.
        """
        from ._checks import require_count

        require_count(batch_size, "predict's batch_size")
        if upto is not None:
            n = len(self.layers)
            if isinstance(upto, bool) or not isinstance(upto, (int, np.integer)):
                raise TypeError(f"Sequential.predict: upto must be an int, got {upto!r}")
            if not 1 <= upto <= n:
                raise ValueError(
                    f"Sequential.predict: upto must be a number of layers from 1 to {n}, "
                    f"got {upto}"
                )
            if logits:
                raise ValueError(
                    "Sequential.predict: give logits=True or upto, not both (logits is "
                    f"upto={n - 1})"
                )
        X = self._as_input(X, cast=False)  # (dense X: cast chunk by chunk, not whole)
        refuse_beyond_dtype(X, self.dtype, "X", "Sequential.predict")
        return self._predict_rows(X, batch_size, logits, upto)

    def _predict_checked(self, X: Any, *, batch_size: int = 1024, logits: bool = False) -> Array:
        """``predict`` on X whose values were checked already (by an estimator, which
        checks their range once)."""
        return self._predict_rows(self._as_input(X, cast=False), batch_size, logits)

    def _predict_rows(
        self, X: Any, batch_size: int, logits: bool, upto: int | None = None
    ) -> Array:
        from ._plan import predict_planned

        if hasattr(X, "tocsr") and X.format not in ("csr", "csc"):
            X = X.tocsr()  # (rows are sliced in chunks: COO and DIA cannot be)

        if upto is None:
            planned = predict_planned(self, X, logits=logits, chunk=batch_size)
            if planned is not None:
                return planned  # (its own buffers: the layers keep what forward kept)
        self._replace_caches("predict")  # the layers' forward runs on its rows
        layers = self.layers[:-1] if logits else self.layers[:upto]
        n = X.shape[0]
        out: Array | None = None
        for start in range(0, n, batch_size):
            rows = X[start : start + batch_size]
            rows = rows if rows.dtype == self.dtype else rows.astype(self.dtype)
            a = self._forward_through(layers, rows, False)
            if out is None:
                out = np.empty((n, a.shape[1]), dtype=a.dtype)
            out[start : start + batch_size] = a
        if out is None:  # no rows
            width = self.n_out_ if not logits else self._width_before_last()
            if upto is not None:  # (the width a row would have there)
                row = np.zeros((1, self.n_in_), dtype=self.dtype)
                width = self._forward_through(layers, row, False).shape[1]
            out = np.empty((0, width), dtype=self.dtype)
        return out

    def _width_before_last(self) -> int:
        last = self.layers[-1] if self.layers else None
        n = last.__dict__.get("_n_in") if last is not None else None
        return int(n) if n is not None else self.n_out_

    def backward(self, delta: Array) -> Array:
        """Send ∂C/∂(output) back through every layer; return ∂C/∂(input)."""
        out_shape = self.__dict__.get("_out_shape")
        if out_shape is None:
            by = self.__dict__.get("_caches_replaced_by")
            raise RuntimeError(
                "Sequential.backward sends δ back through what the last forward computed: "
                + (
                    f"{by} ran after it, and the layers now hold its rows instead, so call "
                    "forward(x, training) again before backward"
                    if by
                    else "call forward(x, training) first"
                )
            )
        if np.shape(delta) != out_shape:
            raise ValueError(
                f"Sequential.backward expected delta of the shape of the last forward's "
                f"output, {out_shape}, got {np.shape(delta)}"
            )
        delta = np.asarray(delta)
        if delta.dtype != self.dtype:  # (integers, or another float: as forward's x)
            delta = delta.astype(self.dtype)
        shapes = self.__dict__.get("_input_shapes", [])
        self._zero_user_grads()
        for i in range(len(self.layers) - 1, -1, -1):
            delta = self._backward_one(i, delta, shapes)
        return delta

    def _zero_user_grads(self) -> None:
        """Zero the gradients of users' layers before a backward pass, as PyTorch's
        ``zero_grad``: a layer that adds into them (``+=``, against the contract) then
        gets this batch's gradient, not a running sum, and one that leaves an entry
        unwritten gets 0 for it, not the last batch's value."""
        for layer in self.layers:
            if not trusted(layer) and layer.params:
                for g in layer.grads.values():
                    if getattr(g, "flags", None) is not None and g.flags.writeable:
                        g[...] = 0  # (a read-only array: a frozen parameter's, left alone)

    def _backward_one(self, i: int, delta: Array, shapes: list[tuple[int, ...]]) -> Array:
        layer = self.layers[i]
        try:
            dx = layer.backward(delta)
        except Exception as error:
            if not trusted(layer):
                note_where(error, i, layer, "backward")
            raise
        if not trusted(layer) and i < len(shapes):
            check_backward(i, layer, delta, dx, shapes[i])
            dx = _in_dtype(dx, self.__dict__.get("dtype"))
        return dx

    def is_canonical(self, loss: Loss) -> bool:
        """Whether the last layer and ``loss`` form a canonical (fused) pair."""
        return type(self.layers[-1]) is loss.link and loss.has_fused_form()

    def loss_value(
        self,
        x: Any,
        y: Array,
        loss: Loss,
        sample_weight: Array | None = None,
        *,
        training: bool = False,
    ) -> float:
        """The loss on ``(x, y)``, from the logits for a canonical pair; in prediction mode
        unless ``training`` (``x``, ``y``, ``loss``, ``sample_weight``: as for
        ``loss_and_grads``)."""
        self._replace_caches("loss_value")
        fused = self.is_canonical(loss)
        a = self._forward_through(self.layers[:-1] if fused else self.layers, x, training)
        if fused:
            return loss.value_from_logits(a, y, sample_weight)
        return loss.value(a, y, sample_weight)

    def loss_and_grads(
        self,
        x: Any,
        y: Array,
        loss: Loss,
        sample_weight: Array | None = None,
        *,
        training: bool = True,
    ) -> float:
        """One forward pass and one backward pass: return C, fill ``grads``.

        Parameters
        ----------
        x : array-like or scipy sparse matrix of shape (m, n_in)
        y : array-like of shape (m, n_out), or (m,) for one output
            The targets, in the range the loss is defined on.
        loss : Loss
        sample_weight : array-like of shape (m,), optional
            Finite, non-negative weights; C is then the weighted mean.
        training : bool, default True
            Run the layers in training mode (dropout masks, batch statistics).

        Uses the fused output error for canonical pairs, ``∇_a C ⊙ σ'(z)`` otherwise.
        The first layer's input delta is not computed when the layer can skip it.
        ``loss``, ``y`` and ``sample_weight`` are checked first (a sparse ``y`` is made
        dense), and the loss against the last layer once per network (the warning
        ``fit`` gives).
        """
        y, sample_weight = self._checked_batch(x, y, loss, sample_weight, "loss_and_grads")
        value = self._loss_and_grads(x, y, loss, sample_weight, training=training)
        self._refuse_inputs_behind(value, x, "loss_and_grads")
        return value

    def _refuse_inputs_behind(self, value: float, x: Any, where: str) -> None:
        """A ValueError if a loss that is not finite comes from NaN or infinity in x, or
        from x beyond the network's dtype (``fit`` refuses them at the start).
        Looked for only then: the batches of a training loop pay nothing."""
        if np.isfinite(value):
            return
        where = f"Sequential.{where}"
        if not hasattr(x, "tocsr"):
            x = np.asarray(x)
        require_finite(x, "x", where)  # (y: checked with the batch)
        refuse_beyond_dtype(x, self.dtype, "x", where)

    def _checked_batch(
        self, x: Any, y: Any, loss: Any, sample_weight: Any, where: str
    ) -> tuple[Array, Array | None]:
        from ._checks import require_instance
        from ._fit_inputs import warn_if_outputs_unfit
        from .losses._targets import target_shortfall

        require_instance(loss, Loss, f"the loss given to Sequential.{where}")
        y = np.asarray(y.toarray() if hasattr(y, "toarray") else y)
        m = np.shape(x)[0] if np.ndim(x) else 0
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight)
            if sample_weight.shape != (m,):
                raise ValueError(
                    f"Sequential.{where}: expected sample_weight of shape ({m},) (one weight "
                    f"per row of x), got shape {sample_weight.shape}"
                )
            if not (np.isfinite(sample_weight).all() and (sample_weight >= 0).all()):
                raise ValueError(
                    f"Sequential.{where}: sample_weight must be finite and non-negative, got "
                    f"a minimum of {float(np.min(sample_weight))!r}"
                )
        require_finite(y, "y", f"Sequential.{where}")  # (one sum, as the check below reads y)
        if "dtype" in self.__dict__ and y.dtype.kind in "biuf":
            refuse_beyond_dtype(y, self.dtype, "y", f"Sequential.{where}")
        shortfall = (
            target_shortfall(loss, y.reshape(len(y), -1), exact=True) if y.ndim in (1, 2) else None
        )
        if shortfall is not None:  # (as fit refuses them: a cross-entropy on y = 2, say)
            raise ValueError(f"Sequential.{where}: {loss!r} {shortfall}")
        warned = self.__dict__.setdefault("_warned_unfit", set())
        if type(loss) not in warned and "dtype" in self.__dict__:
            warned.add(type(loss))
            warn_if_outputs_unfit(self, loss, stacklevel=4)  # (the caller of {where})
        return y, sample_weight

    def _loss_and_grads(
        self,
        x: Any,
        y: Array,
        loss: Loss,
        sample_weight: Array | None = None,
        *,
        training: bool = True,
    ) -> float:
        """``loss_and_grads`` without its checks (the training loop's, per batch)."""
        self._replace_caches("loss_and_grads")
        fused = self.is_canonical(loss)
        layers = self.layers[:-1] if fused else self.layers
        a = self._forward_through(layers, x, training)
        if fused:
            value = loss.value_from_logits(a, y, sample_weight)
            delta = loss.delta_from_logits(a, y, sample_weight, out=self._delta_buffer(a))
        else:
            value = loss.value(a, y, sample_weight)
            delta = loss.grad(a, y, sample_weight)
        shapes = self.__dict__.get("_input_shapes", [])
        self._zero_user_grads()
        for i in range(len(layers) - 1, 0, -1):
            delta = self._backward_one(i, delta, shapes)
        if layers:
            first = layers[0]
            param_grads = getattr(first, "param_grads", None)
            if param_grads is not None and trusted(first):  # the input's delta is not needed
                param_grads(delta)
            else:
                self._backward_one(0, delta, shapes)
        return value

    def _forward_through(self, layers: list[Layer], x: Any, training: bool) -> Any:
        a = self._as_input(x)
        if all(trusted(layer) for layer in layers):
            for layer in layers:
                a = layer.forward(a, training)
            return a
        if not trusted(layers[0]):  # a copy: the caller's X stays as it is, whatever the
            a = a.copy()  # layer does with its input (the contract forbids changing it)
        shapes = []  # a user's layer is checked at every call: the contract's first breach
        for i, layer in enumerate(layers):
            shapes.append(a.shape)
            try:
                out = layer.forward(a, training)
            except Exception as error:
                if not trusted(layer):
                    note_where(error, i, layer, "forward")
                raise
            if not trusted(layer):
                check_forward(i, layer, a, out)
                out = _in_dtype(out, self.__dict__.get("dtype"))
            a = out
        self.__dict__["_input_shapes"] = shapes
        return a

    def train_step(
        self,
        x: Any,
        y: Array,
        loss: Loss,
        optimizer: Optimizer,
        sample_weight: Array | None = None,
    ) -> float:
        """Forward, loss, backward and one optimizer update; return the batch loss.

        Parameters
        ----------
        x, y, loss, sample_weight
            As for ``loss_and_grads`` (always in training mode).
        optimizer : Optimizer
            Steps ``params`` with ``grads``; no step when every weight is zero.

        The arguments are checked as ``loss_and_grads`` checks them, and ``optimizer``
        before anything runs."""
        from ._checks import require_instance

        require_instance(optimizer, Optimizer, "the optimizer given to Sequential.train_step")
        y, sample_weight = self._checked_batch(x, y, loss, sample_weight, "train_step")
        value = self._loss_and_grads(x, y, loss, sample_weight)
        self._refuse_inputs_behind(value, x, "train_step")  # (before the step)
        if sample_weight is None or np.any(sample_weight):
            from .training import _checked_step  # (a new array put into params: refused)

            params = self.params
            _checked_step(optimizer, params)(params, self.grads)
        return value

    def fit(
        self,
        X: Any,
        y: Array,
        *,
        loss: Loss,
        optimizer: Optimizer,
        batch_size: int = 32,
        max_iter: int = 10,
        shuffle: bool = True,
        random_state: RandomStateLike = None,
        sample_weight: Array | None = None,
    ) -> list[float]:
        """Mini-batch training for ``max_iter`` epochs; return the loss of each epoch.

        Parameters
        ----------
        X : array-like or scipy sparse matrix of shape (n, n_in)
        y : array-like of shape (n, n_out), or (n,) for one output
        loss : Loss
        optimizer : Optimizer
        batch_size : int, default 32
        max_iter : int, default 10
            Epochs: all of them run (no tolerance, early stopping or L2 term here: the
            estimators add those).
        shuffle : bool, default True
            Shuffle the rows every epoch.
        random_state : None, int or numpy Generator
            Seeds the shuffling.
        sample_weight : array-like of shape (n,), optional

        The network must be built. See :class:`layerkit.training.EpochRunner`. ``X``, ``y``
        and ``sample_weight`` are checked first (rows, finite values, the weights' shape
        and sign), and the loss against the last layer (a warning for a cross-entropy on
        outputs that are not probabilities).
        """
        from ._checks import require_count, require_instance
        from ._fit_inputs import checked_inputs, warn_if_outputs_unfit
        from .losses._targets import target_shortfall
        from .training import EpochRunner

        require_count(max_iter, "max_iter")
        require_instance(loss, Loss, "loss")
        require_instance(optimizer, Optimizer, "optimizer")
        checked = [("the loss", loss), ("the optimizer", optimizer)]
        checked += [(f"the layer at position {i}", layer) for i, layer in enumerate(self.layers)]
        check_arguments(checked, "Sequential.fit: {where}: {problem}")
        X, y, sample_weight = checked_inputs(X, y, sample_weight)
        if "dtype" in self.__dict__:
            refuse_beyond_dtype(X, self.dtype, "X", "Sequential.fit")
            refuse_beyond_dtype(y, self.dtype, "y", "Sequential.fit")
            warn_if_outputs_unfit(self, loss, stacklevel=3)  # (the caller of fit)
        runner = EpochRunner(
            self,
            X,
            y,
            loss,
            optimizer,
            batch_size=batch_size,
            sample_weight=sample_weight,
        )  # (which checks y's shape against the outputs': then its values)
        # (in the targets' own dtype: float32 probabilities sum to 1 within float32's
        # rounding; and the built-in losses only: a subclass may take other targets)
        shortfall = target_shortfall(loss, y.reshape(runner.Y.shape), exact=True)
        if shortfall is not None:  # (the loss fell without bound, below 0, silently)
            raise ValueError(f"Sequential.fit: {loss!r} {shortfall}")
        rng = as_generator(random_state) if shuffle else None
        with self.workspace():
            return [runner.run(rng) for _ in range(max_iter)]

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        """The architecture as JSON-able data: each layer's registered type and config,
        and the input width and dtype once built. ``from_config`` inverts it.

        Examples
        --------
        >>> import json
        >>> from layerkit import Sequential
        >>> from layerkit.layers import Dense, ReLU
        >>> net = Sequential([Dense(4), ReLU()]).build(3)
        >>> config = json.loads(json.dumps(net.get_config()))
        >>> config["layers"][0]
        {'type': 'Dense', 'config': {'units': 4, 'init': 'glorot_uniform', 'gain': 1.0, \
'bias_init': 'zeros'}}
        >>> Sequential.from_config(config)
        Sequential([Dense(units=4), ReLU()])
        """
        layers = [
            {"type": registry_name_of(layer), "config": layer.get_config()}
            for layer in self.layers
        ]
        built = "dtype" in self.__dict__
        return {
            "layers": layers,
            "n_in": self.n_in_ if built else None,
            "dtype": self.dtype.name if built else None,
        }

    @classmethod
    def from_config(
        cls, config: dict[str, Any], *, random_state: RandomStateLike = None
    ) -> Sequential:
        """Rebuild a network from ``get_config()`` data (built when the config says how).

        Layer types are looked up in the registry by name; nothing is imported.
        """
        from ._configurable import lookup

        layers = [
            lookup("layer", spec["type"]).from_config(spec["config"]) for spec in config["layers"]
        ]
        net = cls(layers)
        if config.get("n_in") is not None:
            net.build(
                config["n_in"], random_state=random_state, dtype=config.get("dtype") or "float64"
            )
        return net

    # ------------------------------------------------------------------ helpers
    @contextmanager
    def workspace(self) -> Iterator[None]:
        """Reuse scratch arrays across batches inside this block (training loops).

        Re-entrant: an inner block (e.g. scoring a validation set during training) shares
        the outer block's workspace.
        """
        if "_workspace" in self.__dict__:
            yield
            return
        for layer in self.layers:
            layer.__dict__["_workspace"] = {}
        self.__dict__["_workspace"] = {}
        try:
            yield
        finally:
            for layer in self.layers:
                layer.__dict__.pop("_workspace", None)
            self.__dict__.pop("_workspace", None)

    def _delta_buffer(self, like: Array) -> Array | None:
        ws = self.__dict__.get("_workspace")
        if ws is None:
            return None
        buf = ws.get(like.shape)
        if buf is None or buf.dtype != like.dtype:
            buf = ws[like.shape] = np.empty_like(like)
        return buf

    def _as_input(self, x: Any, cast: bool = True) -> Any:
        """``x`` checked against the network; in its dtype, unless ``cast`` is False for
        a dense ``x`` (which ``predict`` casts a chunk at a time)."""
        dtype = self.__dict__.get("dtype")
        if dtype is None:
            raise RuntimeError("Sequential must be built (call build(n_in)) before use")
        sparse = hasattr(x, "tocsr")  # scipy sparse stays sparse
        if not sparse:
            x = numeric(np.asarray(x), "x", "Sequential")
        elif (
            self.layers
            and trusted(self.layers[0])
            and not isinstance(self.layers[0], (Dense, Identity, Dropout))
        ):  # (those pass sparse x on; an activation or BatchNorm fails on it, cryptically)
            raise TypeError(
                f"Sequential: sparse x goes through a first Dense layer only, and the first "
                f"layer is {self.layers[0]!r}; pass x.toarray(), or start with Dense"
            )
        if x.ndim != 2 or x.shape[1] != self.n_in_:
            raise ValueError(
                f"Sequential built for {self.n_in_} input features expected x of shape "
                f"(m, {self.n_in_}), got {x.shape}"
            )
        return x if x.dtype == dtype or (not cast and not sparse) else x.astype(dtype)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if state.pop("_flat", None) is not None:  # copies do not share views:
            state["_was_flat"] = True  # flattened again when restored
        for name in _OF_THE_LAST_CALL:
            state.pop(name, None)
        return state

    def __copy__(self) -> Sequential:
        """A shallow copy shares the layers, and so their flat buffers: flattening again
        (now or at the copy's first fit) would move the original's arrays."""
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        for name in _OF_THE_LAST_CALL:
            new.__dict__.pop(name, None)
        return new

    def __setstate__(self, state: dict[str, Any]) -> None:
        was_flat = state.pop("_was_flat", False)
        self.__dict__.update(state)
        if was_flat:  # as build left it: arrays taken from the copy stay live
            self.flatten()

    def summary(self) -> str:
        """The layers as a table: each one's parameters (shapes and count) and state,
        and the total, as ``layerkit inspect`` shows a model file (Keras's
        ``model.summary()``). For an estimator, ``est.network_.summary()``.

        Examples
        --------
        >>> from layerkit import Sequential
        >>> from layerkit.layers import Dense, ReLU
        >>> print(Sequential([Dense(3), ReLU(), Dense(2)]).build(4).summary())
        Sequential: 4 inputs (float64) -> 2 outputs
             0  Dense(units=3)  W 4x3, b 3  15 parameters
             1  ReLU()
             2  Dense(units=2)  W 3x2, b 2   8 parameters
          parameters: 23 in total
        """
        from ._summary import layer_table, parameter_count

        if "n_in_" not in self.__dict__:
            names = ", ".join(repr(layer) for layer in self.layers)
            return f"Sequential, not built (call build(n_in) or fit): {names}"
        rows = [
            (
                i,
                repr(layer),
                {k: np.shape(p) for k, p in layer.params.items()},
                {k: np.shape(getattr(layer, k)) for k in layer.state_attributes},
            )
            for i, layer in enumerate(self.layers)
        ]
        total = sum(parameter_count(arrays) for _, _, arrays, _ in rows)
        head = f"Sequential: {self.n_in_} inputs ({self.dtype}) -> {self.n_out_} outputs"
        return "\n".join([head, *layer_table(rows), f"  parameters: {total:,} in total"])

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential([{inner}])"


class FlatDict(dict):
    """``{name: array}`` whose arrays are views of one contiguous buffer ``flat``."""

    def __init__(self, arrays: dict[str, Array], *, flat: Array) -> None:
        super().__init__(arrays)
        self.flat = flat


def _in_dtype(a: Array, dtype: Any) -> Array:
    """A user's layer's result in the network's dtype (a float32 network stays float32,
    as the training plan keeps it, whatever the layer's numpy promoted it to)."""
    return a if dtype is None or a.dtype == dtype else a.astype(dtype)


def every_layer(found: Any, seen: set[int] | None = None) -> Iterator[Layer]:
    """The layers in ``found`` (a layer, a network, or a list, tuple or dict of them) and
    every layer they hold in their attributes, at any depth (a user's block's inner
    layers too), each once."""
    seen = set() if seen is None else seen
    if id(found) in seen:
        return
    seen.add(id(found))
    if isinstance(found, Layer):
        yield found
        children: Any = vars(found).values()
    elif isinstance(found, Sequential):
        children = found.layers
    elif isinstance(found, (list, tuple)):
        children = found
    elif isinstance(found, dict):
        children = found.values()
    else:
        return
    for child in children:
        yield from every_layer(child, seen)


def _run_by(block: Any) -> Iterator[Layer]:
    """The layers a Composite runs: those in its ``inner`` list, and in the lists of the
    Composites among them (not the layers its layers merely refer to, as a skip
    connection refers to the layer whose input it adds)."""
    from .layers.composite import Composite

    for inner in block.inner if isinstance(block.inner, (list, tuple)) else ():
        if isinstance(inner, Layer):
            yield inner
            if isinstance(inner, Composite):
                yield from _run_by(inner)


def _refuse_layers_shared_between_positions(layers: list[Layer]) -> None:
    """A layer object inside the layers at two positions (one Dense in two blocks) is one
    set of weights trained twice per step, with the caches of one pass read by the
    other's backward: wrong gradients, silently. (A layer that refers to another of this
    network's own layers, a skip connection reading it, is no such thing.)"""
    from .layers.composite import Composite

    own = {id(layer): i for i, layer in enumerate(layers)}
    owner: dict[int, int] = {}
    for i, layer in enumerate(layers):
        if isinstance(layer, Composite):  # (its inner layers are run, not referred to)
            for inner in _run_by(layer):
                if id(inner) in own:
                    raise ValueError(
                        f"Sequential: the same {inner!r} object is at position "
                        f"{own[id(inner)]} and inside the {type(layer).__name__} at position "
                        f"{i}, which runs it; each holds what its backward pass needs in it, "
                        f"so each needs its own object: write {type(inner).__name__}(...) "
                        "again, or use copy.deepcopy"
                    )
        for inner in every_layer(vars(layer)):
            if id(inner) in own:
                continue
            j = owner.setdefault(id(inner), i)
            if j != i:
                raise ValueError(
                    f"Sequential: the same {inner!r} object is inside the layers at positions "
                    f"{j} and {i} ({layers[j]!r} and {layers[i]!r}); each holds what its "
                    "backward pass needs in it, so each needs its own object: write "
                    f"{type(inner).__name__}(...) again, or use copy.deepcopy"
                )
