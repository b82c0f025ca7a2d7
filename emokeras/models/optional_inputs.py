"""Optional model inputs that a caller may leave out."""


def with_optional_inputs(inputs, names):
    """`inputs` with `None` for each optional input it lacks (Keras accepts
    `None` for an optional input, but not a missing key)."""
    if isinstance(inputs, dict) and any(name not in inputs for name in names):
        return {**inputs, **{name: None for name in names if name not in inputs}}
    return inputs
