"""The one exception type users see: a message in Chinese, no traceback."""


class UserError(Exception):
    """An error caused by the user's input or environment.

    The message is shown as it is (in Chinese); the CLI exits non-zero without a traceback.
    """
