class ServiceError(Exception):
    """A business rule refused an operation. The message is safe to show to the user."""

    code = "service_error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
