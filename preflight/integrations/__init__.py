"""Integrations with the tools that run launches (each imports its tool only inside its own module)."""
