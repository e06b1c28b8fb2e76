"""The CLI's own error: a message for the user, printed without a traceback."""


class CLIError(Exception):
    """A problem with the user's files or arguments; ``main`` prints it and exits 1."""
