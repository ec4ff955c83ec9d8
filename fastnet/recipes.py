"""Named training recipes for the digits network: the tutorial's, and a better one."""

RECIPES = {
    # The tutorial's section 5: sigmoid everywhere, the 1/2 squared error, weights
    # from U[0, 1), alpha = 0.25, 3000 full-batch iterations.
    "tutorial": dict(activation="sigmoid", output_activation="sigmoid", loss="mse", init="uniform", lr=0.25, epochs=3000),
    # Probabilities out of a softmax, cross-entropy, Glorot initialisation.
    "softmax": dict(activation="sigmoid", output_activation="softmax", loss="cross_entropy", init="xavier", lr=0.5, epochs=3000),
}


def recipe(name):
    """Return a copy of the named recipe's settings (Network keywords plus ``lr`` and ``epochs``)."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; valid: {', '.join(RECIPES)}")
    return dict(RECIPES[name])
