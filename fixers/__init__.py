"""Built-in fixers: one module per fixer. Importing a module registers it.

`SAFETY` is each built-in fixer's declared safety (its `@fixer(safety=...)`), so that a check's fix
hints can carry `--unsafe-fixes` without importing the fixers and the fix machinery (an offline
check prints hints but applies nothing). tests/unit/test_fix_safety.py holds it to the registry.
"""

SAFETY: dict[str, str] = {
    "igw-attach": "safe",
    "route-add-default": "sometimes-unsafe",
    "route-replace-blackhole": "unsafe",
    "sg-open-missing-ports": "safe",
    "sg-remove-duplicate-rules": "unsafe",
    "subnet-make-public": "sometimes-unsafe",
    "subnet-map-public-ip": "safe",
}
