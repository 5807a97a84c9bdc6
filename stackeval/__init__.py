"""stackeval: evaluate locally deployed LLM stacks (accuracy, code that runs, speed, cost)."""

__version__ = "0.1.0"
