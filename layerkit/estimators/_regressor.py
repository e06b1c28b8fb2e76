"""MLPRegressor: scikit-learn's drop-in, with layers, losses and optimizers as objects."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils import column_or_1d
from sklearn.utils.metaestimators import available_if

from ..layers import Exp, Identity, Layer, Sigmoid
from ..losses import PoissonLoss, SquaredError
from ..losses._targets import target_shortfall
from ..losses.base import Loss
from . import _validation as v
from ._base import BaseMLP
from ._classifier import _missing_label_rows
from ._docs import REGRESSOR_DOC


class MLPRegressor(RegressorMixin, BaseMLP):
    __doc__ = REGRESSOR_DOC

    _extra_rules: ClassVar[dict[str, v.Rule]] = {
        "loss": v.options("squared_error", "poisson", also=(Loss,), also_text="a layerkit Loss")
    }

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        loss: Any = "squared_error",
        solver: Any = "adam",
        alpha: float = 0.0001,
        batch_size: Any = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: Any = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        scoring: Any = None,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: Any = 10,
        max_fun: int = 15000,
        layers: Any = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.scoring = scoring
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.layers = layers

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        X_val: Any = None,
        y_val: Any = None,
        sample_weight_val: Any = None,
    ) -> MLPRegressor:
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data (CSR/CSC stay sparse through the first layer).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; the loss is their weighted mean.
        X_val : {array-like, sparse matrix} of shape (n_val, n_features), default=None
            Validation data for early stopping (``early_stopping=True``), in place of
            the split of ``validation_fraction``: all of X then trains. In a
            ``Pipeline``, ``X_val`` is transformed as X is with
            ``Pipeline(..., transform_input=["X_val"])`` (and metadata routing on).
        y_val : array-like of shape (n_val,) or (n_val, n_outputs)
            Its targets, of the training targets' kind.
        sample_weight_val : array-like of shape (n_val,), default=None
            Weights of the validation rows' score.

        Returns
        -------
        self : MLPRegressor
            The fitted estimator.
        """
        self._fit(
            X, y, sample_weight, incremental=False, validation=(X_val, y_val, sample_weight_val)
        )
        return self

    @available_if(lambda est: est._has_partial_fit())
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Update the model with one epoch over the given data.

        The optimizer's state (momentum, Adam moments, learning-rate schedule) and the
        shuffling stream carry over from call to call.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : MLPRegressor
        """
        self._fit(X, y, sample_weight, incremental=True)
        return self

    def _check_raw_targets(self, y: Any, name: str = "y") -> None:
        if hasattr(y, "dtype") and getattr(y.dtype, "kind", "O") not in "OUSMm":
            return
        # (a DataFrame of numbers: no copy to check; a Series' dtypes is its one dtype)
        dtypes = getattr(y, "dtypes", None) if getattr(y, "ndim", 1) == 2 else None
        if dtypes is not None and all(getattr(t, "kind", "O") in "fiub" for t in dtypes):
            return
        try:
            y = np.asarray(y)
        except (TypeError, ValueError):  # (ragged: scikit-learn's check says so)
            return
        if y.dtype.kind != "O":
            _refuse_non_numbers(self, y, name)
            return
        try:  # numbers, or strings of numbers (which scikit-learn converts, as here)
            numbers = y.astype(np.float64)
        except (TypeError, ValueError, OverflowError):
            text = (v for v in y.ravel() if isinstance(v, (str, bytes)) and not _is_number(v))
            first = next(text, None)
            if first is not None:
                _refuse_non_numbers(self, np.array([first], dtype=object), name, "object")
            missing = _missing_label_rows(y)  # (pandas' NA: no float)
            numbers = np.zeros(y.shape)
            if missing is not None and len(missing):
                numbers[missing] = np.nan
            else:
                return  # (other values: scikit-learn's words)
        finite = np.isfinite(numbers)
        if numbers.ndim and not finite.all():
            # (scikit-learn checks before converting: None became NaN after its check,
            # and training "diverged"; a NaN it calls "Input contains NaN")
            rows = np.flatnonzero(~finite.reshape(len(finite), -1).all(axis=1))
            raise ValueError(
                f"{type(self).__name__}: {name} has missing or non-finite values (None, "
                f"NaN, pandas' NA or infinity) in {len(rows)} row(s), first at position "
                f"{rows[0]}; drop those rows or fill them"
            )

    def _validate_targets(
        self, y: Any, *, first_pass: bool, incremental: bool, classes: Any = None
    ) -> Any:
        _refuse_non_numbers(self, y, "y")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        Y = self._training_targets(y)
        loss = (
            PoissonLoss() if isinstance(self.loss, str) and self.loss == "poisson" else self.loss
        )
        shortfall = target_shortfall(loss, Y)
        if shortfall is not None:
            raise ValueError(f"{type(self).__name__}(loss={self.loss!r}) {shortfall}")
        return Y

    def _training_targets(self, y: Any) -> Any:
        Y = np.asarray(y)
        return Y.reshape(-1, 1) if Y.ndim == 1 else Y

    def _output(self, n_outputs: int) -> tuple[Layer, Loss, str]:
        if isinstance(self.loss, Loss):
            link: type[Layer] = self.loss.link or Identity
            import copy

            name = "logistic" if link is Sigmoid else link.__name__.lower()  # (scikit-learn's)
            return link(), copy.deepcopy(self.loss), name
        if self.loss == "poisson":
            return Exp(), PoissonLoss(), "exp"
        return Identity(), SquaredError(), "identity"

    def predict(self, X: Any) -> Any:
        """Predict using the multi-layer perceptron.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        out = self._network_output(X)
        return out.ravel() if out.shape[1] == 1 else out

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """The coefficient of determination R² of ``predict(X)`` against ``y`` (averaged
        uniformly over several outputs), as scikit-learn's regressors score.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : {array-like, sparse matrix} of shape (n_samples,) or (n_samples, n_outputs)
            Sparse, as ``fit`` takes it.
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        score : float
        """
        if hasattr(y, "toarray"):  # (fit takes sparse targets; r2_score does not)
            y = y.toarray()
        return float(super().score(X, y, sample_weight))

    def _score_outputs(self, out: Any, y: Any, sample_weight: Any) -> float:
        """R² of the network's (finite) outputs ``out`` against validated ``y``."""
        if out.shape[1] == 1:
            out = out.ravel()
        return float(r2_score(y, out, sample_weight=sample_weight))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _refuse_non_numbers(est: Any, y: Any, name: str, dtype: Any = None) -> None:
    """A ValueError naming ``name`` when the targets ``y`` are strings, bytes, dates or
    durations: a regressor's targets must be numbers (``dtype``: the one to name)."""
    first = np.ravel(y)[0] if y.size else None
    if y.dtype.kind in "USMm" or isinstance(first, (str, bytes)):
        what = "dates or durations" if y.dtype.kind in "Mm" else "strings"
        if y.dtype.kind in "US":  # (the first that is no number's text, if one is)
            first = next((v for v in np.ravel(y) if not _is_number(v)), first)
        raise ValueError(
            f"{type(est).__name__}: {name} must hold numbers, got {what} of dtype "
            f"{dtype or y.dtype} "
            f"(first {np.asarray(first).item()!r}); convert them first, e.g. "
            f"{name}.astype(float)"
        )


def _is_number(value: Any) -> bool:
    """Whether ``float(value)`` works (a number, or a string of one)."""
    try:
        float(value)
    except (TypeError, ValueError, OverflowError):
        return False
    return True
