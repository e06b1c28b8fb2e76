"""layerkit's MLP scores at least as well as scikit-learn's with identical hyperparameters.

Held-out score: 5-fold cross-validation, averaged over 3 seeds (each seed sets both the
folds and the estimators' random_state). The margin is 0.01 accuracy or 0.03 R².
"""

import warnings

import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from layerkit import MLPClassifier, MLPRegressor

DATASETS = {
    "digits": (load_digits, 1e-4),
    "breast_cancer": (load_breast_cancer, 1e-4),
    "wine": (load_wine, 1e-4),
    "diabetes": (load_diabetes, 10.0),
}


def _mean_score(make_estimator, X, y, regression):
    scores = []
    for seed in range(3):
        splitter = KFold if regression else StratifiedKFold
        cv = splitter(5, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning from both libraries
            scores.append(cross_val_score(make_estimator(seed), X, y, cv=cv).mean())
    return float(np.mean(scores))


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("dataset", list(DATASETS))
def test_layerkit_scores_at_least_as_well_as_scikit_learn(dataset, solver):
    loader, alpha = DATASETS[dataset]
    X, y = loader(return_X_y=True)
    regression = dataset == "diabetes"
    params = {
        "hidden_layer_sizes": (32,),
        "solver": solver,
        "alpha": alpha,
        "max_iter": 300,
        "learning_rate_init": 0.01 if solver == "sgd" else 0.001,
    }

    def factory(cls):
        def make(seed):
            model = make_pipeline(StandardScaler(), cls(random_state=seed, **params))
            if regression:
                return TransformedTargetRegressor(model, transformer=StandardScaler())
            return model

        return make

    ours = (MLPRegressor, SkRegressor) if regression else (MLPClassifier, SkClassifier)
    layerkit_score = _mean_score(factory(ours[0]), X, y, regression)
    sklearn_score = _mean_score(factory(ours[1]), X, y, regression)
    margin = 0.03 if regression else 0.01
    print(f"{dataset} {solver}: layerkit {layerkit_score:.4f}, scikit-learn {sklearn_score:.4f}")
    assert layerkit_score >= sklearn_score - margin
