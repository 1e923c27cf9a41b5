"""Policy files: the service's rules as data, validated with line numbers and compiled once.

A policy file (YAML) lists every clause of the source policy, the categories that breach each
clause, a threshold and an action ladder per category, how model labels map to categories, and
the phrase detectors for what no model scores (incitement, extremism, defamation, staff conduct,
safeguarding). ``load_policy`` turns it into an immutable :class:`Policy`; every problem is a
:class:`PolicyError` naming the file, the line and the fix.

The package keeps the policy model apart from its file loader:

- :mod:`~moderation.policy.model`: the frozen :class:`Policy` and its parts, which the engine reads;
- :mod:`~moderation.policy.loading`: ``load_policy`` and ``parse_policy``, which run, in order,
- :mod:`~moderation.policy.yaml_source`: the YAML read into plain values with the line of each, the
  limits that stop a hostile file, and problems reported at their lines;
- :mod:`~moderation.policy.schema`: the keys, types and bounds a file may have;
- :mod:`~moderation.policy.compiler`: the checks across the file, and its patterns compiled once.
"""

from moderation.errors import PolicyError
from moderation.policy.loading import DEFAULT_POLICY, default_policy_path, load_policy, parse_policy
from moderation.policy.model import GROUP_TUNABLE, Audience, CategoryRule, Clause, DetectorRule, Policy

__all__ = [
    "DEFAULT_POLICY",
    "GROUP_TUNABLE",
    "Audience",
    "CategoryRule",
    "Clause",
    "DetectorRule",
    "Policy",
    "PolicyError",
    "default_policy_path",
    "load_policy",
    "parse_policy",
]
