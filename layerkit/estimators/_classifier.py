"""MLPClassifier: scikit-learn's drop-in, with layers, losses and optimizers as objects."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
    unique_labels,
)

from ..layers import Layer, Sigmoid, Softmax
from ..layers.activations import row_max
from ..losses import BinaryCrossEntropy, CategoricalCrossEntropy
from ..losses.base import Loss
from ..network import Sequential
from . import _validation as v
from ._base import BaseMLP
from ._docs import CLASSIFIER_DOC


class MLPClassifier(ClassifierMixin, BaseMLP):
    __doc__ = CLASSIFIER_DOC

    _y_numeric = False
    _extra_rules: ClassVar[dict[str, v.Rule]] = {
        "loss": v.options("log_loss", also=(Loss,), also_text="a layerkit Loss"),
        "class_weight": v.any_of(
            v.options("balanced"),
            v.constant(None, "None"),
            lambda value: isinstance(value, dict),
            text="None, 'balanced' or a dict {class: weight}",
        ),
    }

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
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
        loss: Any = "log_loss",
        class_weight: Any = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
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
        self.loss = loss
        self.class_weight = class_weight

    # ----------------------------------------------------------------- fitting
    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        X_val: Any = None,
        y_val: Any = None,
        sample_weight_val: Any = None,
    ) -> MLPClassifier:
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data (CSR/CSC stay sparse through the first layer).
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels of any type, or a multilabel indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; the loss is their weighted mean.
        X_val : {array-like, sparse matrix} of shape (n_val, n_features), default=None
            Validation data for early stopping (``early_stopping=True``), in place of
            the split of ``validation_fraction``: all of X then trains. In a
            ``Pipeline``, ``X_val`` is transformed as X is with
            ``Pipeline(..., transform_input=["X_val"])`` (and metadata routing on).
        y_val : array-like of shape (n_val,) or (n_val, n_labels)
            Its targets, of the training targets' kind.
        sample_weight_val : array-like of shape (n_val,), default=None
            Weights of the validation rows' score (``class_weight`` applies too).

        Returns
        -------
        self : MLPClassifier
            The fitted estimator.
        """
        self._fit(
            X, y, sample_weight, incremental=False, validation=(X_val, y_val, sample_weight_val)
        )
        return self

    @available_if(lambda est: est._has_partial_fit())
    def partial_fit(
        self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None
    ) -> MLPClassifier:
        """Update the model with one epoch over the given data.

        The optimizer's state (momentum, Adam moments, learning-rate schedule) and the
        shuffling stream carry over from call to call.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array of shape (n_classes,), default=None
            Every class of the whole data set; required on the first call.

        Returns
        -------
        self : MLPClassifier
        """
        self._fit(X, y, sample_weight, incremental=True, classes=classes)
        return self

    def _check_raw_targets(self, y: Any, name: str = "y") -> None:
        """Missing labels (None, NaN, pandas' NA), named as such: scikit-learn's own
        errors were "Input contains NaN" (not saying it was y) or, for pandas' nullable
        and string dtypes, "boolean value of NA is ambiguous"."""
        missing = _missing_label_rows(y)
        if missing is None or not len(missing):
            _refuse_mixed_labels(self, y, name)
            return
        index = getattr(y, "index", None) if hasattr(y, "isna") else None  # (a Series')
        label = ""
        if index is not None and not _default_index(index):
            label = f" (index label {index[missing[0]]!r})"
        raise ValueError(
            f"{type(self).__name__}: {name} has missing labels (None, NaN or pandas' NA) in "
            f"{len(missing)} row(s), first at position {missing[0]}{label}; drop those "
            "rows or give them a label"
        )

    def _validate_targets(
        self, y: Any, *, first_pass: bool, incremental: bool, classes: Any = None
    ) -> Any:
        check_classification_targets(y)
        if type_of_target(y) == "multiclass-multioutput":
            raise ValueError(
                f"{type(self).__name__} takes one label per row (or a 0/1 indicator matrix "
                f"for multilabel targets), got y of shape {np.shape(y)} with several "
                "multiclass columns; wrap it in sklearn.multioutput.MultiOutputClassifier to "
                "fit one classifier per column"
            )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        multilabel = type_of_target(y).startswith("multilabel")
        if multilabel:
            values = np.unique(y.data if hasattr(y, "tocsr") else y)
            if not set(values.tolist()) <= {0, 1}:
                raise ValueError(
                    f"{type(self).__name__}: a multilabel target (an indicator matrix of "
                    f"{y.shape[1]} columns) must hold 0 and 1, got the values "
                    f"{values.tolist()}; map them first, e.g. y = (y > 0).astype(int) for -1/1"
                )
        if incremental and _check_partial_fit_first_call(self, classes):
            if multilabel and not np.array_equal(np.unique(classes), np.arange(y.shape[1])):
                raise ValueError(
                    f"{type(self).__name__}: for multilabel targets (an indicator matrix of "
                    f"{y.shape[1]} columns) the classes are the column indices, "
                    f"classes={list(range(y.shape[1]))}; got classes={np.ravel(classes).tolist()}"
                )
            binarizer = LabelBinarizer()
            binarizer.fit(y if multilabel else classes)
            self._label_binarizer = binarizer
            first_pass = True
            unknown = np.setdiff1d(unique_labels(y), binarizer.classes_)
            if len(unknown):
                raise ValueError(
                    f"`y` has classes not in `classes`: `classes` has {binarizer.classes_}, "
                    f"'y' also has {unknown}."
                )
        elif first_pass or not hasattr(self, "_label_binarizer"):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            if multilabel != self._multilabel():
                kinds = ("multilabel (an indicator matrix)", "single-label (one label per row)")
                was, now = kinds if self._multilabel() else kinds[::-1]
                raise ValueError(
                    f"{type(self).__name__}: the model was fitted with {was} targets and "
                    f"cannot continue on {now} targets; fit a new model for them"
                )
            seen = unique_labels(y)
            if self.warm_start and not incremental:
                if set(seen) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in "
                        f"the previous call to fit. Previously got {self.classes_}, `y` "
                        f"has {seen}"
                    )
            elif len(np.setdiff1d(seen, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {seen}."
                )
        self.classes_ = self._label_binarizer.classes_
        Y = self._training_targets(y)
        # an indicator matrix with one label in every row suits a softmax all the same
        self._one_label_per_row = not multilabel or bool((Y.sum(axis=1) == 1).all())
        return Y

    def _training_targets(self, y: Any) -> Any:
        return _one_hot(self._label_binarizer, y)

    def _extra_sample_weight(self, y: Any, incremental: bool) -> Any:
        if self.class_weight is None:
            return None
        if incremental and self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit: one batch does "
                "not show the class frequencies. Compute them over the whole data with "
                "sklearn.utils.class_weight.compute_class_weight and pass a dict."
            )
        if self._label_binarizer.y_type_.startswith("multilabel"):
            raise ValueError(
                f"{type(self).__name__}: class_weight is not supported for multilabel "
                f"targets, got class_weight={self.class_weight!r}"
            )
        if isinstance(self.class_weight, dict):
            bad = {k: w for k, w in self.class_weight.items() if not _weight_ok(w)}
            if bad:
                raise ValueError(
                    f"{type(self).__name__}: class weights must be finite non-negative numbers "
                    f"(a weighted mean needs them so, as sample weights do), got {bad}"
                )
            classes = self._label_binarizer.classes_
            missing = [c for c in classes if c not in self.class_weight]
            unknown = [k for k in self.class_weight if k not in set(classes.tolist())]
            if missing and unknown:  # (a class left out alone weighs 1, as in scikit-learn)
                raise ValueError(
                    f"{type(self).__name__}: class_weight names {unknown!r}, which are not "
                    f"classes of y; its classes are {classes.tolist()!r} (keys must equal the "
                    "labels, of the same type: 1, not '1')"
                )
            # each row weighs its class's weight, 1 for a class left out: against every
            # class fitted, not the chunk's (scikit-learn's helper refused a partial_fit
            # chunk without a weighted class)
            per_class = np.array([float(self.class_weight.get(c, 1.0)) for c in classes])
            return per_class[np.searchsorted(classes, np.ravel(y))]
        return compute_sample_weight(self.class_weight, np.ravel(y))

    def _check_validation_targets(self, y_val: Any) -> None:
        if self._multilabel():
            values = np.unique(y_val.data if hasattr(y_val, "tocsr") else y_val)
            if not set(values.tolist()) <= {0, 1}:
                raise ValueError(
                    f"{type(self).__name__}.fit: y_val, a multilabel target, must hold 0 "
                    f"and 1, got the values {values.tolist()}"
                )
            return
        unknown = np.setdiff1d(unique_labels(y_val), self.classes_)
        if len(unknown):
            raise ValueError(
                f"{type(self).__name__}.fit: y_val has labels that y does not have, "
                f"{unknown.tolist()!r}; the classes are {self.classes_.tolist()!r} (a model "
                "never predicts a class it was not trained on)"
            )

    def _validation_class_weight(self, y: Any, y_val: Any) -> Any:
        """Each validation row weighs what a training row of its class weighs: a dict's
        weight, or 'balanced' by the training rows' class counts."""
        if self.class_weight is None:
            return None
        classes = self.classes_
        if isinstance(self.class_weight, dict):
            per_class = np.array([float(self.class_weight.get(c, 1.0)) for c in classes])
        else:  # 'balanced' (multilabel targets take no class_weight: refused before)
            counts = np.array([np.sum(np.ravel(y) == c) for c in classes], dtype=np.float64)
            per_class = len(np.ravel(y)) / (len(classes) * np.maximum(counts, 1.0))
        return per_class[np.searchsorted(classes, np.ravel(y_val))]

    def _output(self, n_outputs: int) -> tuple[Layer, Loss, str]:
        multiclass = self._label_binarizer.y_type_ == "multiclass"
        link: type[Layer] = Softmax if multiclass else Sigmoid
        if isinstance(self.loss, Loss):
            if self.loss.link in (Softmax, Sigmoid):  # outputs must stay probabilities
                link = self.loss.link
            loss: Loss = _fresh(self.loss)
        else:
            loss = CategoricalCrossEntropy() if multiclass else BinaryCrossEntropy()
        if link is Softmax and n_outputs == 1:
            raise ValueError(
                f"{type(self).__name__}: {self.loss!r} ends in a softmax, but two classes "
                "give one output column, whose softmax is always 1 (nothing to learn); use "
                "BinaryCrossEntropy or loss='log_loss'"
            )
        if link is Softmax and self._multilabel() and not self._one_label_per_row:
            raise ValueError(
                f"{type(self).__name__}: {self.loss!r} ends in a softmax, whose outputs "
                "compete for one label per row, but these multilabel targets have rows with "
                "no label or several, each column its own yes/no; use BinaryCrossEntropy "
                "(sigmoid outputs) or loss='log_loss'"
            )
        names: dict[type[Layer], str] = {Softmax: "softmax", Sigmoid: "logistic"}
        name = names.get(link, link.__name__.lower())
        return link(), loss, name

    # ----------------------------------------------------------------- predicting
    def predict(self, X: Any) -> Any:
        """Predict class labels (or a label indicator matrix for multilabel targets).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
        """
        log_p = self._log_proba(X)
        return self._labels(np.exp(log_p, out=log_p))

    def _labels(self, out: Any) -> Any:
        """The labels the outputs (probabilities, or their monotone logits) stand for."""
        if out.shape[1] == 2 and not self._multilabel():
            out = out[:, 1]
        elif self._multilabel() and self.out_activation_ == "softmax":
            # an indicator matrix with one label per row, trained with a softmax: each
            # row's label is its largest output (a 0.5 threshold could leave it none)
            top = np.zeros(out.shape, np.int64)
            top[np.arange(len(out)), out.argmax(axis=1)] = 1
            out = top
        return self._label_binarizer.inverse_transform(out)

    def predict_proba(self, X: Any) -> Any:
        """Probability of each class, ordered as ``classes_``.

        Probabilities lie strictly inside (0, 1): floored at the smallest normal float
        of the network's dtype (2.2e-308 in float64), capped at the largest float below
        1, so ``predict_log_proba`` is their logarithm and is always finite.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        log_p = self._log_proba(X)
        return np.exp(log_p, out=log_p)

    def predict_log_proba(self, X: Any) -> Any:
        """Log-probabilities, computed from the logits (log-softmax, log-sigmoid).

        Exact where ``log(predict_proba)`` would lose precision, and finite: clipped to
        the logs of the smallest normal float (-708.4 in float64, -87.3 in float32) and
        of the largest float below 1.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return self._log_proba(X)

    def _log_proba(self, X: Any) -> Any:
        net = self._fitted_network()
        binary = self.n_outputs_ == 1 and not self._multilabel()
        last = type(net.layers[-1])
        if last is Softmax:
            log_p = _log_softmax_in_place(self._network_output(X, logits=True))
        elif last is Sigmoid:
            z = self._network_output(X, logits=True)
            log_p = -_softplus(-z)  # log σ(z)
            if binary:
                log_p = np.hstack([-_softplus(z), log_p])  # log σ(-z) = log(1 - σ(z))
        else:  # a custom output: its values are taken as probabilities
            p = self._network_output(X)
            p = np.hstack([1 - p, p]) if binary else p
            with np.errstate(divide="ignore", invalid="ignore"):
                log_p = np.log(p)
        info = np.finfo(log_p.dtype)
        # probabilities strictly inside (0, 1): floored at the smallest normal float,
        # capped at the largest float below 1
        return np.clip(log_p, np.log(info.tiny), np.log1p(-info.epsneg), out=log_p)

    def _fitted_network(self) -> Sequential:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        return self.network_

    def _multilabel(self) -> bool:
        return str(self._label_binarizer.y_type_).startswith("multilabel")

    def _score_outputs(self, out: Any, y: Any, sample_weight: Any) -> float:
        """Accuracy of the network's (finite) outputs ``out`` against validated ``y``."""
        if out.shape[1] == 1:
            out = out.ravel()
            pred = self._label_binarizer.inverse_transform(out)
        else:
            pred = self._labels(out)
        return float(accuracy_score(y, pred, sample_weight=sample_weight))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _one_hot(binarizer: LabelBinarizer, y: Any) -> Any:
    """The targets as the network trains on them, as float32 (cast once to the network's
    dtype later if that differs): one column for binary, one per class for multiclass,
    the indicator matrix for multilabel. Built directly, without the int64 matrix
    ``LabelBinarizer.transform`` would allocate first."""
    if str(binarizer.y_type_).startswith("multilabel"):
        return binarizer.transform(y).astype(np.float32)
    codes = np.searchsorted(binarizer.classes_, y)
    if binarizer.y_type_ == "binary" or len(binarizer.classes_) < 3:
        return (codes == 1).astype(np.float32)[:, None]
    Y = np.zeros((len(codes), len(binarizer.classes_)), dtype=np.float32)
    Y[np.arange(len(codes)), codes] = 1.0
    return Y


def _log_softmax_in_place(z: Any) -> Any:
    """``z - log Σ_j exp z_j`` per row, overwriting ``z`` (a fresh logits array), with
    the row max taken out first so nothing overflows (``exp`` needs one temporary)."""
    k = z.shape[1]
    top = row_max(z)
    z -= top[:, None]
    total = np.exp(z) @ np.ones(k, z.dtype)  # row sums, as one product
    np.log(total, out=total)
    z -= total[:, None]
    return z


def _softplus(z: Any) -> Any:
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _fresh(loss: Loss) -> Loss:
    import copy

    return copy.deepcopy(loss)


def _weight_ok(w: Any) -> bool:
    """A finite, non-negative number (bools and strings are not weights)."""
    if isinstance(w, (bool, str)) or not isinstance(w, (int, float, np.number)):
        return False
    return bool(np.isfinite(w) and w >= 0)


def _missing_label_rows(y: Any) -> Any:
    """The positions of the rows of ``y`` with a missing label, or None if it cannot tell
    (a sparse matrix, a shape scikit-learn will refuse)."""
    if hasattr(y, "isna"):  # a pandas Series or DataFrame
        na = np.asarray(y.isna())
    elif hasattr(y, "tocsr"):
        return None
    else:
        try:
            values = np.asarray(y)
        except Exception:  # (ragged lists: scikit-learn's error)
            return None
        if values.dtype.kind in "fc":
            na = np.isnan(values)
        elif values.dtype == object:
            na = np.array([_is_missing(v) for v in values.ravel()]).reshape(values.shape)
        else:
            return None
    if na.ndim == 0 or not na.size:
        return None
    return np.flatnonzero(na.reshape(len(na), -1).any(axis=1))


def _is_missing(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, (float, np.floating)) and value != value)
        or type(value).__name__ == "NAType"  # pandas.NA (pandas is not imported here)
    )


def _default_index(index: Any) -> bool:
    """A pandas RangeIndex 0, 1, 2, ...: positions and labels are the same."""
    start = getattr(index, "start", None)
    return start == 0 and getattr(index, "step", None) == 1


def _refuse_mixed_labels(est: Any, y: Any, name: str) -> None:
    """A ValueError when labels of an object array (or Series) mix strings with other
    values (numbers): they cannot be sorted into classes (scikit-learn said "Unknown
    label type: unknown", or raised a TypeError from the sort)."""
    if getattr(getattr(y, "dtype", None), "kind", None) != "O":
        return
    cat = getattr(y, "cat", None)  # (the categories in use: not those filtered away)
    categories = None if cat is None else cat.remove_unused_categories().cat.categories
    try:  # (a categorical's labels are its categories)
        values = np.asarray(y if categories is None else categories, dtype=object).ravel()
    except (TypeError, ValueError):
        return
    kinds = {issubclass(t, (str, bytes)) for t in set(map(type, values))}
    if len(kinds) < 2:
        return
    text = [isinstance(v, (str, bytes)) for v in values]
    s, n = text.index(True), text.index(False)
    where = "category" if categories is not None else "position"
    raise ValueError(
        f"{type(est).__name__}: {name} mixes strings with other labels (the string "
        f"{values[s]!r} at {where} {s}, {values[n]!r} at {where} {n}); give labels of one "
        f"kind, e.g. {name}.astype(str)"
    )
