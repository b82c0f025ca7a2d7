"""The data contract a server returns from the `data_contract` signature."""

import json

import numpy as np

from emokeras.serving.serving_error import ServingError


def parse_data_contract(outputs, server):
    """The contract (a dict) from the outputs of a `data_contract` request;
    an export made without that signature is an error naming the server."""
    value = outputs.get("data_contract")
    if value is None:
        raise ServingError(f"{server} returned no data_contract output (outputs: {sorted(outputs)})")
    text = np.asarray(value).reshape(-1)[0]
    return json.loads(text.decode() if isinstance(text, bytes) else str(text))
