"""Graders: turn an answer and a spec written in data into an explained :class:`Grade`."""

from stackeval.graders.deterministic import grade, is_loop
from stackeval.graders.spec import GRADER_TYPES, validate_spec

__all__ = ["GRADER_TYPES", "grade", "is_loop", "validate_spec"]
