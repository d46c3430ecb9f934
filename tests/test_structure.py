"""The layering holds: no import circle between modules or between packages, and command handlers stay short.

The import graph is grimp's (import-linter's engine; it reads every import statement, those inside functions
and under TYPE_CHECKING included); circles are its strongly connected groups, found by scipy.
"""

from __future__ import annotations

import ast

import grimp
import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from tests.helpers.paths import REPO

MAX_CLI_FUNCTION_LINES = 60


@pytest.fixture(scope="module")
def imports() -> set[tuple[str, str]]:
    graph = grimp.build_graph("vad_core", "app", exclude_type_checking_imports=False)
    return {
        (importer, imported)
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported in graph.modules and imported != importer
    }


def circles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """The groups of nodes that reach each other (strongly connected components of more than one node)."""
    nodes = sorted({n for edge in edges for n in edge})
    index = {n: i for i, n in enumerate(nodes)}
    rows, cols = zip(*((index[a], index[b]) for a, b in edges), strict=True)
    matrix = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(nodes), len(nodes)))
    _, labels = connected_components(matrix, directed=True, connection="strong")
    groups = [[n for n, label in zip(nodes, labels, strict=True) if label == group] for group in set(labels)]
    return sorted(group for group in groups if len(group) > 1)


def package_of(module: str) -> str:
    """vad_core.model.blocks.spatial -> vad_core.model; a module at the top (vad_core.cpu) is its own package."""
    return ".".join(module.split(".")[:2])


def test_circles_finds_a_circle():
    assert circles({("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}) == [["a", "b", "c"]]


def test_no_module_imports_itself_back(imports):
    assert circles(imports) == []


def test_no_package_imports_itself_back(imports):
    packages = {(package_of(a), package_of(b)) for a, b in imports if package_of(a) != package_of(b)}
    assert circles(packages) == []


def test_command_line_functions_fit_on_a_screen():
    modules = sorted((REPO / "vad_core" / "cli").rglob("*.py"))
    assert modules, "vad_core/cli/ holds the command-line modules"
    long = []
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_CLI_FUNCTION_LINES:
                    long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []
