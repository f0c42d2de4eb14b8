"""Backends render a :class:`engine.plan.Plan` into code that runs whole chunks of steps."""
