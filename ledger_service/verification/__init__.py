"""Checks of what runs on the chain against what was audited."""
