"""Package layout only (metadata lives in pyproject.toml).

The repository keeps rules and fixers in top-level folders `rules/` and `fixers/`, but they are
installed as `preflight.rules` and `preflight.fixers`: only `preflight` lands at the top of
site-packages, so preflight never shadows (or is shadowed by) another project's `rules` package
(PyPI's `rules`, django-rules, installs one). pyproject.toml cannot compute a package list under a
mapped directory, hence this file; `packages` and `package_dir` are all it sets.
"""

from setuptools import find_namespace_packages, find_packages, setup

MAPPED = {"preflight.rules": "rules", "preflight.fixers": "fixers"}

# Namespace discovery so data folders (preflight/data) are packages too and their files ship.
packages = find_namespace_packages(include=["preflight", "preflight.*"], exclude=["*.__pycache__"])
for name, folder in MAPPED.items():
    packages += [name] + [f"{name}.{sub}" for sub in find_packages(where=folder)]

setup(packages=packages, package_dir=MAPPED)
