"""Errors a user can cause: reported as one clear sentence, never as a traceback."""


class UserError(Exception):
    """A problem with input, configuration or environment that the user can fix."""


class ModelUnavailable(UserError):
    """A configured model cannot be loaded or reached."""
