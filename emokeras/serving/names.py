"""Names shared by the export and its clients."""

# The name TF Serving serves the model under (its folder in models.config).
DEFAULT_MODEL_NAME = "emokeras"
