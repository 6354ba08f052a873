"""A package only so that pytest imports its conftest as ``notebooks.conftest``, apart from the tests' one."""
