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
