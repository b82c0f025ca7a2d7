class ServingError(RuntimeError):
    """A model server refused or failed a request; the message quotes the
    server's own error text.

    Attributes:
        status: the HTTP status code or gRPC status name.
        retryable: whether the failure was transient (the client has
            already retried it).
    """

    def __init__(self, message, status=None, retryable=False):
        super().__init__(message)
        self.status = status
        self.retryable = retryable


def signature_mismatch(signatures, signature_name, input_names):
    """What is wrong with a request's input names, or `None` when they are
    the signature's.

    Args:
        signatures: `{signature name: {"inputs": {name: (dtype, shape)}}}`
            as the clients read it from the server's metadata.
        signature_name: the signature the request calls.
        input_names: the names the request sends.

    Returns:
        `None`, or a message naming the missing and unexpected inputs and
        every input the signature takes with its dtype and shape.
    """
    if signature_name not in signatures:
        served = ", ".join(f"`{name}`" for name in sorted(signatures))
        return f"signature `{signature_name}` is not served; the model has {served}"
    expected = signatures[signature_name]["inputs"]
    missing = sorted(set(expected) - set(input_names))
    extra = sorted(set(input_names) - set(expected))
    if not missing and not extra:
        return None
    problems = []
    if missing:
        problems.append("missing " + ", ".join(f"`{name}`" for name in missing))
    if extra:
        problems.append("not inputs of the signature: " + ", ".join(f"`{name}`" for name in extra))
    takes = ", ".join(f"`{name}` {dtype} {_shape_text(shape)}" for name, (dtype, shape) in sorted(expected.items()))
    return f"signature `{signature_name}` takes inputs {takes}; {'; '.join(problems)}"


def check_input_names(signatures, read, signature_name, input_names, server):
    """Raises `ServingError` (before anything is sent) when `input_names`
    are not those of the signature.

    Args:
        signatures: the signatures read before, or `None`.
        read: reads them from the server (`{signature name: {"inputs":
            {name: (dtype, shape)}}}`).
        signature_name: the signature the request calls.
        input_names: the names the request sends.
        server: the server's address, for the message.

    Returns:
        The signatures, to cache: they are read again only when a request
        does not match them (a newer model version may take other inputs).
    """
    fresh = signatures is None
    if fresh:
        signatures = read()
    problem = signature_mismatch(signatures, signature_name, input_names)
    if problem and not fresh:
        signatures = read()
        problem = signature_mismatch(signatures, signature_name, input_names)
    if problem:
        raise ServingError(f"{server}: {problem} (checked against the server's metadata; nothing was sent)")
    return signatures


def _shape_text(shape):
    dims = ["batch" if i == 0 and d is None else str(d) for i, d in enumerate(shape)]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
