"""Graders: turn an answer and a spec written in data into an explained :class:`Grade`."""

from stackeval.graders.deterministic import GRADER_TYPES, grade, is_loop, validate_spec

__all__ = ["GRADER_TYPES", "grade", "is_loop", "validate_spec"]
