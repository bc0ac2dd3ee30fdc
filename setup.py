"""Packages are found, never listed by hand: every package under hqnn/, and the top-level kernels/ folder (the
product's layout) installed as hqnn.kernels. Everything else lives in pyproject.toml."""

from setuptools import find_packages, setup

kernels = find_packages(include=["kernels", "kernels.*"])
setup(
    packages=find_packages(include=["hqnn", "hqnn.*"]) + [f"hqnn.{name}" for name in kernels],
    package_dir={f"hqnn.{name}": name.replace(".", "/") for name in kernels},
)
