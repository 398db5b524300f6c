"""The one exception type the command line turns into a message instead of a traceback."""


class HarnessError(Exception):
    """A problem the user can fix: bad input, a missing file, an unknown name.

    The message must say what was wrong, where, and what was expected.
    """
