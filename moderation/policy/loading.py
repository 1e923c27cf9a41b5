"""Loading a policy file: read the YAML, check it against the schema, compile it into a Policy."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from moderation.errors import PolicyError
from moderation.policy.compiler import compile_policy
from moderation.policy.model import Policy
from moderation.policy.schema import PolicyFile, schema_problem
from moderation.policy.yaml_source import policy_error, read_yaml

__all__ = ["DEFAULT_POLICY", "default_policy_path", "load_policy", "parse_policy"]

DEFAULT_POLICY = "scls.yaml"


def default_policy_path() -> Path:
    """The policy file that ships inside the package (the service's own policy)."""
    return Path(str(resources.files("policies").joinpath(DEFAULT_POLICY)))


def load_policy(path: Path | str | None = None) -> Policy:
    """Read, validate and compile a policy file.

    Args:
        path: the YAML file; the bundled policy when ``None``.

    Raises:
        PolicyError: the file is missing, not YAML, or breaks a rule; the message has the line.
    """
    file_path = Path(path) if path is not None else default_policy_path()
    try:
        source = file_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(
            f"cannot read the policy file ({exc.__class__.__name__}: {exc})", path=str(file_path)
        ) from exc
    return parse_policy(source, name=str(file_path))


def parse_policy(source: str, *, name: str = "policy") -> Policy:
    """Validate and compile policy YAML held in a string (``name`` is used in errors).

    Raises:
        PolicyError: every problem found (up to ten), each with its line; ``line`` is the first's.
    """
    yaml_source = read_yaml(source, name)
    problems = list(yaml_source.problems)
    try:
        document = PolicyFile.model_validate(yaml_source.data)
    except ValidationError as exc:
        problems += [
            schema_problem(error, yaml_source.lines)
            for error in exc.errors()
            if tuple(error["loc"]) not in yaml_source.unreadable  # already reported as unreadable
        ]
        raise policy_error(problems, name) from exc
    if problems:
        raise policy_error(problems, name)
    return compile_policy(document, name, yaml_source.lines)
