"""The strict base of every config model, and the error that names each bad field.

Params models live beside their users (venue adapters, strategies, ops); they all derive from
`StrictModel`, so an unknown key is an error wherever it is.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ConfigError(ValueError):
    """Invalid config; `problems` holds one `field.path: message` line per problem.

    The message is one `source: field.path: message` line per problem (grep-friendly, like a
    compiler's), so one bad field is one line on stderr.
    """

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = [" ".join(p.split()) for p in problems]  # one line each, whatever the cause
        super().__init__("\n".join(f"{source}: {p}" for p in self.problems))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[str, list[str]]]:
        # multiprocessing and Ray pickle exceptions back to the caller; the default reduce passes
        # only the message and the unpickling side failed on the missing `problems`
        return ConfigError, (self.source, self.problems)


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_env_var_name(value: str | None) -> str | None:
    if value is not None and not _ENV_NAME.match(value):
        raise ValueError("must be the NAME of an environment variable (letters, digits, underscore)")
    return value
