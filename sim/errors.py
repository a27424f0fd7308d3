"""The one exception type that reaches a user as a single line (CLI exit code 2)."""


class HedgesimError(Exception):
    """A problem with the user's input: a scenario file, an option, an output folder.

    The message is complete on its own: which file, which key, what was expected, what was found.
    """


class ScenarioError(HedgesimError):
    """A scenario file (or an override of one) that cannot be used.

    Formats as ``FILE:LINE: KEY: PROBLEM``; the line is left out where it is unknown.
    """

    def __init__(self, source: str, key: str | None, problem: str, line: int | None = None):
        self.source, self.key, self.problem, self.line = source, key, problem, line
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")
