"""The one exception type the command line turns into a message instead of a traceback."""


class HarnessError(Exception):
    """A problem the user can fix: bad input, a missing file, an unknown name.

    The message must say what was wrong, where, and what was expected.
    """


def first_line(error: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type's name when it has none), for a one-line report."""
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:limit]
