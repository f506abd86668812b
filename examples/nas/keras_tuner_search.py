"""Keras Tuner RandomSearch over MLP shapes that never builds a model over a
4,000-parameter budget (Keras Tuner's own max_model_size would build each one to count
it, then stop the search after three failures in a row).

    pip install 'archbudget[keras-tuner]' jax; KERAS_BACKEND=jax python examples/nas/keras_tuner_search.py
"""
import os
import tempfile

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import keras_tuner as kt  # noqa: E402
import numpy as np  # noqa: E402

import archbudget  # noqa: E402
from archbudget.integrations import keras_tuner as ab_kt  # noqa: E402

budget = archbudget.Budget(max_params=4000, batch=16)


def candidate(hp):
    """What archbudget checks: the hyperparameters that size the model."""
    return {"family": "mlp", "input_dim": 32, "classes": 4,
            "depth": hp.Int("depth", 1, 4), "width": hp.Int("width", 8, 256, step=8)}


def build(hp):
    model = keras.Sequential([keras.Input((32,))])
    for _ in range(hp.Int("depth", 1, 4)):
        model.add(keras.layers.Dense(hp.Int("width", 8, 256, step=8), activation="relu"))
    model.add(keras.layers.Dense(4))
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


rng = np.random.default_rng(0)
x = rng.normal(size=(256, 32)).astype("float32")
y = (x[:, :4].argmax(axis=1))
tuner = ab_kt.budgeted(kt.RandomSearch, build, budget, candidate, objective="val_accuracy", max_trials=8,
                       directory=tempfile.mkdtemp(), project_name="nas", seed=0)
tuner.search(x, y, validation_split=0.25, epochs=3, batch_size=16, verbose=0)
print(f"{tuner.hypermodel.builds} models built, all within {budget.max_params:,} params; "
      f"{tuner.oracle.archbudget_rejected} oversized points turned down without building")
print("best:", tuner.get_best_hyperparameters()[0].values)
