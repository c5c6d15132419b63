"""The checks of every rule, registered with the engine by importing their modules."""

from compliance.rules import common, eu, us, vn  # noqa: F401
