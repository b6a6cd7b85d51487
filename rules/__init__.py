"""Built-in rules: one module per rule, named <code>_<snake_name>.py. Importing a module registers it."""
