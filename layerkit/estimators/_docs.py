"""The estimators' docstrings (numpydoc), kept apart from the code they describe."""

_SHARED_PARAMETERS = """\
hidden_layer_sizes : int or tuple of int, default=(100,)
    Width of each hidden ``Dense`` layer (ignored when ``layers`` is given).
activation : {'identity', 'logistic', 'tanh', 'relu', 'leaky_relu', 'elu', 'gelu', \
'silu', 'softplus'}, default='relu'
    Hidden activation (ignored when ``layers`` is given); also sets the initial
    weights' scale as scikit-learn does. The first four are scikit-learn's; the others
    are layerkit's ``LeakyReLU()``, ``ELU()``, ``GELU()``, ``SiLU()`` and ``Softplus()``.
solver : {'lbfgs', 'sgd', 'adam'} or Optimizer, default='adam'
    The weight optimizer. A layerkit ``Optimizer`` instance is copied and used as
    given (``learning_rate_init``, ``momentum``, ``beta_*`` and ``epsilon`` then do not
    apply).
alpha : float, default=0.0001
    L2 penalty on the weights (the parameters each layer lists in ``penalized``: a
    ``Dense`` layer's ``W``): ``½ alpha ‖W‖² / Σs`` per batch, ``Σs`` the batch's
    (weighted) size, exactly scikit-learn's definition.
batch_size : int or 'auto', default='auto'
    Mini-batch size of the stochastic solvers; 'auto' is ``min(200, n_samples)``.
learning_rate : {'constant', 'invscaling', 'adaptive', 'cosine'}, default='constant'
    Schedule of the step size for solver='sgd' (and for Optimizer instances):
    'invscaling' sets it to ``learning_rate_init / (t + 1) ** power_t`` after each
    epoch (t: samples seen; an Optimizer instance's own ``learning_rate`` in place of
    ``learning_rate_init``); 'adaptive' divides it by 5 whenever more than
    ``n_iter_no_change`` epochs in a row fail to improve by ``tol``. 'cosine' (not
    scikit-learn's; for solver='adam' too) anneals it over each fit's ``max_iter``
    epochs: epoch k + 1 steps at ``learning_rate_init (1 + cos(π k / max_iter)) / 2``,
    from ``learning_rate_init`` to near 0. Reaching ``max_iter`` is then the plan: no
    ConvergenceWarning says so, and the training loss's ``n_iter_no_change`` rule does
    not cut the cycle short (early stopping still stops it). A warm-started fit
    starts a new cycle, but one that continues a fit stopped mid-cycle (a callback's
    stop or fitted copy, Ctrl-C) completes that cycle first: without early stopping,
    a callback's stop or copy then resumes as the unbroken fit (Ctrl-C leaves a part
    of an epoch trained, and early stopping the best epoch's weights, not the last's);
    partial_fit refuses 'cosine'.
learning_rate_init : float, default=0.001
    Initial step size (sgd, adam).
power_t : float, default=0.5
    Exponent of 'invscaling'.
max_iter : int, default=200
    Epochs for sgd/adam, iterations for lbfgs.
shuffle : bool, default=True
    Shuffle the rows every epoch (sgd, adam).
random_state : int, RandomState or numpy Generator, default=None
    Seeds independent streams for initialization, shuffling, dropout and the
    validation split: changing ``batch_size`` does not change the initial weights.
    None: one draw from numpy's global RandomState, as in scikit-learn, so
    ``np.random.seed`` makes runs repeat.
tol : float, default=1e-4
    Improvement of the loss (or validation score) that counts as progress. For a
    regressor's squared error on several outputs, of the loss per output (as
    scikit-learn's, which averages that loss over the outputs, not its L2 term).
verbose : bool, default=False
    Print the loss of every epoch (and the validation score).
warm_start : bool, default=False
    Continue from the previous fit: the weights **and the optimizer's state**
    (momentum, Adam moments, learning rate) carry over, unlike scikit-learn, which
    restarts its optimizer.
momentum : float, default=0.9
    Momentum of solver='sgd'.
nesterovs_momentum : bool, default=True
    Nesterov's momentum for solver='sgd'.
early_stopping : bool, default=False
    Hold out ``validation_fraction`` of the data (stratified for single-output
    classification when every class has two samples or more, and room for each on both
    sides; a warning names a class with a single sample), stop when its score stops
    improving, and restore the best weights. The score is weighted as the training
    loss is: by ``sample_weight`` and, for a classifier, ``class_weight`` (as
    HistGradientBoostingClassifier weights its validation score). A NaN score never
    counts as an improvement. Validation data given to ``fit`` (``X_val``, ``y_val``)
    is scored instead of a split, and all of X trains.
validation_fraction : float, default=0.1
    Size of the early-stopping validation split (unused when ``fit`` is given
    ``X_val`` and ``y_val``).
scoring : str, callable or None, default=None
    What early stopping scores the validation data by (higher is better; unused
    without early stopping). None: the estimator's ``score``, accuracy or R², as
    scikit-learn's MLP. ``'loss'``: minus the validation loss, the weighted mean of the
    training loss's cost (without the L2 term of ``alpha``), as
    HistGradientBoosting's ``scoring='loss'``. The name of a scikit-learn scorer
    (``'f1_macro'``, ``'neg_log_loss'``, ``'neg_mean_absolute_error'``; see
    ``sklearn.metrics.get_scorer_names()``) or a callable ``scorer(estimator, X, y)``:
    called on the estimator as it stands after each epoch, with ``sample_weight=``
    when the validation rows are weighted (a callable that takes none is then refused
    before the first epoch, as a metric function is). ``tol`` applies to the score;
    a warm-started fit with another scoring starts ``validation_scores_`` anew.
beta_1, beta_2 : float, default=0.9, 0.999
    Adam's moment decay rates.
epsilon : float, default=1e-8
    Adam's numerical-stability term.
n_iter_no_change : int or inf, default=10
    Stop (sgd, adam) when more than this many epochs in a row fail to improve by
    ``tol``: after 11 such epochs by default, as scikit-learn. ``np.inf``: never (with
    early stopping: every epoch scored, the best kept).
max_fun : int, default=15000
    Maximum loss evaluations of solver='lbfgs'.
layers : list of Layer, default=None
    The hidden stack as layerkit ``Layer`` objects (any custom layer included); the
    output ``Dense`` layer and activation are appended from the task. Copied at fit,
    never modified.
"""

_SHARED_ATTRIBUTES = """\
coefs_ : list of ndarray of shape (fan_in, fan_out)
    The live weight arrays of the ``Dense`` layers (``W``; the transpose of the seed's
    ``w^l_{jk}``): writing into them changes the model. Only the Dense layers in
    ``layers`` itself (and the output layer): the weights inside a block
    (``Composite``) or a layer of yours are in ``network_.params``.
intercepts_ : list of ndarray of shape (fan_out,)
    The live bias arrays.
loss_ : float
    The loss at the last epoch (with the L2 term).
loss_curve_ : list of float
    The loss of every epoch (every iteration for lbfgs).
best_loss_ : float or None
    Minimum loss reached (None with early stopping).
validation_scores_ : list of float or None
    Score on the validation split per epoch, as ``scoring`` chooses (early stopping
    only; None otherwise, and with lbfgs). Early stopping switched on in a
    warm-started fit scores the epochs from then on: the last
    ``len(validation_scores_)`` entries of ``loss_curve_``.
validation_loss_curve_ : list of float or None
    The validation loss per epoch, whatever ``scoring`` is (early stopping only; None
    otherwise): the weighted mean cost on the validation rows, without the L2 term of
    ``alpha`` that ``loss_curve_`` includes. Recorded from the same pass over the rows
    as the score; like ``validation_scores_``, it covers the epochs since early
    stopping was switched on.
best_epoch_ : int or None
    The epoch whose weights early stopping kept, counted over ``loss_curve_`` (from 1;
    after a warm start that no epoch improved on, the epoch of the weights it started
    from; 0: the initial weights). None without early stopping.
best_validation_score_ : float or None
    Best validation score of the last fit (early stopping only: each fit keeps its best
    epoch's weights, scored on its own validation split; a warm-started fit also
    counts the weights it started with, whose score is then not in
    ``validation_scores_`` when no epoch beat it).
t_ : int
    Training samples seen.
n_iter_ : int
    Epochs run (iterations for lbfgs).
n_layers_ : int
    Number of ``Dense`` layers plus one (the input), as scikit-learn counts.
n_outputs_ : int
    Output units.
out_activation_ : str
    Name of the output activation.
n_features_in_ : int
    Number of features seen during fit.
feature_names_in_ : ndarray of str
    Feature names, when X had them (e.g. a pandas DataFrame).
network_ : Sequential
    The fitted network: layers, params and grads.
"""

_NOTES = """\
Notes
-----
Each batch is one forward pass, the loss, and one backward pass that sends the error
δ back through every layer (the seed's eqs. 3-I to 3-IV), then one optimizer step
(eqs. 2-5/2-6 for plain SGD). The output activation and the loss form a canonical
pair, so the output error is the fused, exact ``(a - y)/m`` computed from the logits.
Float32 input is trained in float32 on every solver (and a float32 model predicts in
float32). If fit raises, the estimator is left exactly as it was before the call. Ctrl-C
during fit stops at the end of the current batch with a warning, keeping the weights
trained so far (with early_stopping, those of the best epoch scored, as at the end of
a fit). Prediction is safe from several threads at once (layers of your own:
when their ``forward`` computes its output from local variables).

solver='lbfgs' minimizes a deterministic full-batch objective: training-only behaviour
(Dropout) is off while it runs, and ``loss_curve_`` records one loss per iteration.
"""

CLASSIFIER_DOC = f"""Multi-layer perceptron classifier: scikit-learn's MLPClassifier, pluggable.

Same parameters, defaults, fitted attributes and behaviour as
``sklearn.neural_network.MLPClassifier``; on top, ``layers``, ``loss``, optimizer
objects as ``solver``, and ``class_weight``.

Parameters
----------
{_SHARED_PARAMETERS}loss : 'log_loss' or Loss, default='log_loss'
    Cross-entropy (binary or categorical, from the targets), or any layerkit ``Loss``.
    The output stays a probability: softmax for multiclass, sigmoid otherwise (a loss
    whose canonical link is one of them picks it).
class_weight : None, 'balanced' or dict, default=None
    Weights multiplied into ``sample_weight`` per class; 'balanced' uses
    ``n_samples / (n_classes * count(class))`` (not with ``partial_fit``, which sees
    one batch at a time: it refuses 'balanced', as scikit-learn's estimators do).

Attributes
----------
classes_ : ndarray
    The class labels (or label indices for multilabel targets).
{_SHARED_ATTRIBUTES}
{_NOTES}
``X`` is (n_samples, n_features); ``y`` is (n_samples,) labels of any type, or a
(n_samples, n_labels) indicator matrix for multilabel.

Examples
--------
>>> from sklearn.datasets import load_iris
>>> from layerkit import MLPClassifier
>>> from layerkit.layers import Dense, Dropout, ReLU
>>> X, y = load_iris(return_X_y=True)
>>> clf = MLPClassifier(solver="lbfgs", random_state=0).fit(X, y)
>>> clf.score(X, y) > 0.95
True
>>> clf = MLPClassifier(layers=[Dense(32), ReLU(), Dropout(0.1)], max_iter=500,
...                     learning_rate_init=0.01, random_state=0).fit(X, y)
>>> clf.predict_proba(X[:1]).shape
(1, 3)
"""

REGRESSOR_DOC = f"""Multi-layer perceptron regressor: scikit-learn's MLPRegressor, pluggable.

Same parameters, defaults, fitted attributes and behaviour as
``sklearn.neural_network.MLPRegressor`` (``loss`` is a keyword here, not the first
positional argument); on top, ``layers``, ``Loss`` objects and optimizer objects as
``solver``.

Parameters
----------
{_SHARED_PARAMETERS}loss : {{'squared_error', 'poisson'}} or Loss, default='squared_error'
    Half squared error (identity output) or half Poisson deviance (exponential
    output), or any layerkit ``Loss``. For several outputs, squared error sums over
    them (scikit-learn reports it divided by the number of outputs).

Attributes
----------
{_SHARED_ATTRIBUTES}
{_NOTES}
``X`` is (n_samples, n_features); ``y`` is (n_samples,) or (n_samples, n_outputs).

Examples
--------
>>> import numpy as np
>>> from layerkit import MLPRegressor
>>> rng = np.random.default_rng(0)
>>> X = rng.uniform(-1, 1, size=(200, 2))
>>> y = X[:, 0] ** 2 + X[:, 1]
>>> reg = MLPRegressor((20,), solver="lbfgs", random_state=0).fit(X, y)
>>> reg.score(X, y) > 0.95
True
"""
