"""The one exception type every layer raises for problems the user can fix."""


class UserError(Exception):
    """Bad input or a missing resource: the CLI prints it as one line and exits non-zero."""


class ModelNotFound(UserError):
    pass
