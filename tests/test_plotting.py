"""LossCurveDisplay: scikit-learn's Display convention, rendered to a real PNG."""

import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from layerkit import LossCurveDisplay, MLPClassifier, MLPRegressor

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def fitted(**params):
    X, y = load_digits(return_X_y=True)
    est = MLPClassifier(hidden_layer_sizes=(16,), max_iter=12, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X[:500] / 16.0, y[:500])


def test_from_estimator_draws_loss_and_validation_score_and_saves_a_png(tmp_path):
    est = fitted(early_stopping=True, n_iter_no_change=50)
    display = LossCurveDisplay.from_estimator(est)
    np.testing.assert_array_equal(display.line_.get_ydata(), est.loss_curve_)
    np.testing.assert_array_equal(display.line_.get_xdata(), np.arange(1, est.n_iter_ + 1))
    np.testing.assert_array_equal(display.score_line_.get_ydata(), est.validation_scores_)
    validation_loss = display.validation_loss_line_  # (beside the training loss)
    assert validation_loss.axes is display.ax_ and validation_loss.get_label() == "validation loss"
    np.testing.assert_array_equal(validation_loss.get_ydata(), est.validation_loss_curve_)
    np.testing.assert_array_equal(validation_loss.get_xdata(), np.arange(1, est.n_iter_ + 1))
    assert display.figure_ is display.ax_.figure
    assert display.ax_.get_title() == "MLPClassifier"
    assert display.ax_.get_ylabel() == "loss"
    assert display.score_ax_.get_ylabel() == "validation score"
    legend = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    assert legend == ["training loss", "validation loss", "validation score"]
    path = tmp_path / "curve.png"
    display.figure_.savefig(path)
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    image = plt.imread(path)
    height, width = image.shape[:2]
    assert (width, height) == (640, 400)
    assert image[..., :3].std() > 0.05  # something is drawn, not a blank canvas


def test_scoring_loss_draws_the_validation_loss_beside_the_training_loss():
    est = fitted(early_stopping=True, n_iter_no_change=50, scoring="loss")
    display = LossCurveDisplay.from_estimator(est)
    assert display.score_ax_ is display.ax_  # (one axis: both are losses)
    np.testing.assert_array_equal(
        display.score_line_.get_ydata(), [-s for s in est.validation_scores_]
    )
    assert display.score_line_.get_label() == "validation loss"
    assert display.ax_.get_ylabel() == "loss"
    assert len(display.figure_.axes) == 1
    plt.close(display.figure_)
    # the scores are labelled by what they were scored by, not by the parameter now
    relabelled = LossCurveDisplay.from_estimator(est.set_params(scoring="neg_log_loss"))
    assert relabelled.score_line_.get_label() == "validation loss"
    plt.close(relabelled.figure_)
    named = LossCurveDisplay.from_estimator(
        fitted(early_stopping=True, n_iter_no_change=50, scoring="neg_log_loss")
    )
    assert named.score_ax_ is not named.ax_
    assert named.score_ax_.get_ylabel() == "validation score (neg_log_loss)"
    np.testing.assert_allclose(named.score_line_.get_ydata(), est.validation_scores_, 1e-9)
    plt.close(named.figure_)

    def my_scorer(estimator, X, y):
        return 1.0

    by_callable = LossCurveDisplay.from_estimator(fitted(early_stopping=True, scoring=my_scorer))
    assert by_callable.score_ax_.get_ylabel() == "validation score (my_scorer())"
    plt.close(by_callable.figure_)


def test_runs_drawn_on_one_axes_are_compared_not_overwritten():
    """(A trial: a second run on the same axes took the first's colours, replaced its
    title, and added a second right-hand axis over the first's.)"""
    constant = fitted(early_stopping=True, n_iter_no_change=50)
    cosine = fitted(early_stopping=True, n_iter_no_change=50, learning_rate="cosine")
    fig, ax = plt.subplots()
    first = LossCurveDisplay.from_estimator(constant, ax=ax, name="constant")
    assert ax.get_title() == "constant" and first.line_.get_label() == "training loss"
    second = LossCurveDisplay.from_estimator(cosine, ax=ax, name="cosine")
    assert len(fig.axes) == 2 and second.score_ax_ is first.score_ax_
    assert ax.get_title() == ""  # (the names are in the legend)
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == [
        f"{what} ({run})"
        for run in ("constant", "cosine")
        for what in ("training loss", "validation loss", "validation score")
    ]
    for display, color in ((first, "C0"), (second, "C1")):
        lines = (display.line_, display.validation_loss_line_, display.score_line_)
        assert [line.get_color() for line in lines] == [color] * 3
        assert [line.get_linestyle() for line in lines] == ["-", "--", ":"]
    np.testing.assert_array_equal(second.line_.get_ydata(), cosine.loss_curve_)
    plt.close(fig)


def test_plot_on_given_axes_without_validation_score():
    est = fitted(solver="lbfgs")
    fig, (left, right) = plt.subplots(1, 2)
    display = LossCurveDisplay.from_estimator(est, ax=right, name="lbfgs")
    assert display.ax_ is right and display.figure_ is fig
    assert display.score_ax_ is None and display.score_line_ is None
    assert right.get_title() == "lbfgs" and not left.lines
    assert right.get_xlabel() == "lbfgs iteration"  # (a point per iteration, not epoch)
    assert LossCurveDisplay.from_estimator(fitted()).ax_.get_xlabel() == "epoch"


def test_a_pipeline_is_plotted_through_its_last_step():
    X, y = load_digits(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPRegressor(max_iter=3, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X[:200], y[:200].astype(float))
    display = LossCurveDisplay.from_estimator(pipe)
    assert len(display.line_.get_ydata()) == 3
    assert display.ax_.get_title() == "MLPRegressor"


def test_a_transformed_target_regressor_is_plotted_through_its_fitted_regressor():
    """(a trial: the usual way to scale a regression's target raised a TypeError)"""
    from sklearn.compose import TransformedTargetRegressor

    X, y = load_digits(return_X_y=True)
    inner = make_pipeline(StandardScaler(), MLPRegressor(max_iter=3, random_state=0))
    wrapped = TransformedTargetRegressor(regressor=inner, transformer=StandardScaler())
    with pytest.raises(NotFittedError, match="TransformedTargetRegressor instance is not fit"):
        LossCurveDisplay.from_estimator(wrapped)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        wrapped.fit(X[:200], y[:200].astype(float))
    display = LossCurveDisplay.from_estimator(wrapped)
    fitted_curve = wrapped.regressor_[-1].loss_curve_
    np.testing.assert_array_equal(display.line_.get_ydata(), fitted_curve)
    assert inner[-1].__dict__.get("loss_curve_") is None  # (the unfitted one is not drawn)


def test_unfitted_or_foreign_estimators_get_a_clear_error():
    with pytest.raises(NotFittedError, match="MLPClassifier instance is not fitted yet"):
        LossCurveDisplay.from_estimator(MLPClassifier())
    with pytest.raises(TypeError, match="StandardScaler has no loss_curve_"):
        LossCurveDisplay.from_estimator(StandardScaler())


def test_missing_matplotlib_is_named_with_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"needs matplotlib.*pip install -e \"\.\[plot\]\""):
        LossCurveDisplay(loss_curve=[1.0, 0.5]).plot()


def test_a_short_run_has_whole_epoch_ticks():
    display = LossCurveDisplay(loss_curve=[1.0, 0.7, 0.6, 0.55]).plot()
    ticks = [t for t in display.ax_.get_xticks() if 1 <= t <= 4]
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_scores_since_early_stopping_was_switched_on_are_drawn_at_their_epochs():
    est = fitted(warm_start=True)  # 12 epochs without early stopping
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.set_params(early_stopping=True, max_iter=4, n_iter_no_change=50)
        est.fit(X[:500] / 16.0, y[:500])
    display = LossCurveDisplay.from_estimator(est)
    np.testing.assert_array_equal(display.score_line_.get_xdata(), [13, 14, 15, 16])
    np.testing.assert_array_equal(display.score_line_.get_ydata(), est.validation_scores_)
    full = LossCurveDisplay.from_estimator(fitted(early_stopping=True, n_iter_no_change=50))
    np.testing.assert_array_equal(full.score_line_.get_xdata(), np.arange(1, 13))


def test_a_fitted_search_draws_its_best_estimator():
    """(a trial: a GridSearchCV was refused; its refit model is what one would draw)"""
    from sklearn.model_selection import GridSearchCV

    X, y = load_digits(return_X_y=True)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=5, random_state=0)),
        {"mlpclassifier__alpha": [1e-4, 1e-2]},
        cv=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X[:300], y[:300])
    display = LossCurveDisplay.from_estimator(search)
    best = search.best_estimator_[-1].loss_curve_
    np.testing.assert_array_equal(display.line_.get_ydata(), best)
    with pytest.raises(NotFittedError):  # (as for an unfitted MLP: a review)
        LossCurveDisplay.from_estimator(GridSearchCV(MLPClassifier(), {"alpha": [1e-4]}))
    unrefit = GridSearchCV(MLPClassifier((8,), max_iter=3), {"alpha": [1e-4]}, refit=False, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        unrefit.fit(X[:100], y[:100])
    with pytest.raises(TypeError, match="a search over one fitted with refit=True"):
        LossCurveDisplay.from_estimator(unrefit)


def test_the_axis_labels_stay_inside_the_figure():
    """(a trial: with validation scores ticked as 0.750, 0.775, ... the right-hand axis
    label ended at 645 of the figure's 640 pixels, cut off in the saved PNG)"""
    from sklearn.datasets import make_classification

    X, y = make_classification(1000, 10, random_state=0)
    est = MLPClassifier((16,), early_stopping=True, random_state=0, max_iter=80).fit(X, y)
    display = LossCurveDisplay.from_estimator(est)
    display.figure_.canvas.draw()  # (as savefig does: the layout is made then)
    renderer = display.figure_.canvas.get_renderer()
    figure_box = display.figure_.bbox
    for axis in (display.ax_.yaxis, display.score_ax_.yaxis, display.ax_.xaxis):
        label = axis.label.get_window_extent(renderer)
        assert figure_box.x0 <= label.x0 and label.x1 <= figure_box.x1, axis.label.get_text()


def test_a_cleared_axes_or_a_display_drawn_again_starts_afresh():
    """(a review: the runs were kept on the axes, so a live plot clearing and redrawing
    each epoch stacked stale legend entries and second axes)"""
    est = fitted(early_stopping=True, n_iter_no_change=50)
    fig, ax = plt.subplots()
    for _ in range(3):
        ax.clear()
        display = LossCurveDisplay.from_estimator(est, ax=ax, name="live")
    assert len(fig.axes) == 2 and len(ax.get_lines()) == 2 and ax.get_title() == "live"
    display.plot(ax)
    display.plot(ax)
    assert len(fig.axes) == 2 and len(ax.get_lines()) == 2 and ax.get_title() == "live"
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["training loss", "validation loss", "validation score"]
    plain = fitted()
    LossCurveDisplay.from_estimator(plain, ax=ax)
    LossCurveDisplay.from_estimator(plain, ax=ax)
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend[3:] == ["training loss (MLPClassifier)", "training loss (MLPClassifier 2)"]
    plt.close(fig)


def test_a_run_survives_its_display_drawn_elsewhere_and_a_removed_second_axis():
    """(a review: a display drawn again on other axes lost its legend entries on the
    first, a removed second axis made the next drawing fail with a KeyError, and
    numbered names could repeat)"""
    with_scores = fitted(early_stopping=True, n_iter_no_change=50)
    fig, (left, right) = plt.subplots(1, 2)
    first = LossCurveDisplay.from_estimator(with_scores, ax=left, name="A")
    first.plot(right)  # (drawn again elsewhere: its lines on the left stay, and stay named)
    LossCurveDisplay.from_estimator(fitted(), ax=left, name="B")
    legend = [text.get_text() for text in left.get_legend().get_texts()]
    assert legend == [
        "training loss (A)",
        "validation loss (A)",
        "validation score (A)",
        "training loss (B)",
    ]
    first.score_ax_.remove()  # (the right-hand one of the right axes: the user's choice)
    right.clear()
    again = LossCurveDisplay.from_estimator(with_scores, ax=right, name="C")
    assert again.score_ax_ in fig.axes and len(right.get_lines()) == 2
    plt.close(fig)
    fig, ax = plt.subplots()
    for name in ("MLP", "MLP 2", "MLP"):
        LossCurveDisplay(loss_curve=[1.0, 0.5]).plot(ax, name=name)
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["training loss (MLP)", "training loss (MLP 2)", "training loss (MLP 3)"]
    plt.close(fig)
