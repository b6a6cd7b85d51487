"""Built-in fixers: one module per fixer. Importing a module registers it."""
