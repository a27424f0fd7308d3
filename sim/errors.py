"""The one exception type that reaches a user as a single line (CLI exit code 2)."""


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped (``\\n``), so that a value
    read from a file never splits a message into several lines."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class HedgesimError(Exception):
    """A problem with the user's input: a scenario file, an option, an output folder.

    The message is complete on its own: which file, which key, what was expected, what was found.
    It is always one line: control characters in it (from a file's values) are escaped.
    """

    def __str__(self) -> str:
        return one_line(super().__str__())


class ScenarioError(HedgesimError):
    """A scenario file (or an override of one) that cannot be used.

    Formats as ``FILE:LINE: KEY: PROBLEM``; the line is left out where it is unknown.
    """

    def __init__(self, source: str, key: str | None, problem: str, line: int | None = None):
        self.source, self.key, self.problem, self.line = source, key, problem, line
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")
