"""The API document passes the checks Redocly's `recommended` ruleset makes errors of.

`npx @redocly/cli lint openapi/openapi.json` is the reference; CI may have no Node, so
each of its error rules (and the cheap warnings: 2xx and 4xx answers, the license,
tag descriptions, ambiguous paths, scopes, unused components) is checked here over the
committed document. Redocly's `struct` rule (the document against the OpenAPI 3.1
schema) is left to it: no validator of that schema is a dependency.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Redocly's operation-operationId-url-safe: RFC 3986's unreserved and reserved characters.
URL_SAFE = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]*$")
COMPONENT_NAME = re.compile(r"^[a-zA-Z0-9.\-_]+$")
TEMPLATE = re.compile(r"\{([^}]*)\}")
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


SPEC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    """The committed document, which test_openapi holds equal to the app's."""
    document: dict[str, Any] = json.loads(SPEC.read_text())
    return document


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method], item


def walk(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object of the document, with its JSON pointer."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{where}/{i}")


def resolve(spec: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"an external $ref: {ref}"
    node: Any = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), f"unresolved $ref {ref}"
        assert part in node, f"unresolved $ref {ref}"
        node = node[part]
    return node


def parameters_of(op: dict[str, Any], item: dict[str, Any], spec: dict[str, Any]) -> list[Any]:
    found = [*item.get("parameters", []), *op.get("parameters", [])]
    return [resolve(spec, p["$ref"]) if "$ref" in p else p for p in found]


def schemas(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Objects that are schemas with a type (not a map of properties, whose keys may be
    called `type` or `items`)."""
    for where, node in walk(spec):
        if where.endswith("/properties") or not isinstance(node.get("type"), (str, list)):
            continue
        yield where, node


def test_struct_basics_and_no_unresolved_refs(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1"), spec["openapi"]
    assert spec["info"]["title"]
    assert spec["info"]["version"]
    for where, node in walk(spec):
        ref = node.get("$ref")
        if isinstance(ref, str) and not where.startswith("#/components/schemas/Problem/"):
            resolve(spec, ref)


def test_servers_are_present_and_well_formed(spec: dict[str, Any]) -> None:
    servers = spec.get("servers")
    assert servers, "no-empty-servers"
    for server in servers:
        url = server["url"]
        assert url == "/" or not url.endswith("/"), f"no-server-trailing-slash: {url}"
        variables = server.get("variables", {})
        for name in TEMPLATE.findall(url):
            assert name in variables, f"no-undefined-server-variable: {name}"
        for name, variable in variables.items():
            assert variable.get("enum", [None]) != [], f"no-server-variables-empty-enum: {name}"


def test_info_names_its_license_and_contact(spec: dict[str, Any]) -> None:
    license_ = spec["info"]["license"]
    assert license_["name"]
    assert license_.get("identifier") or license_.get("url"), "info-license-strict"
    assert license_.get("identifier") == "Apache-2.0"
    assert spec["info"]["contact"]


def test_paths_are_templates_without_query_trailing_slash_or_twins(spec: dict[str, Any]) -> None:
    shapes: dict[str, str] = {}
    for path in spec["paths"]:
        assert path.startswith("/"), path
        assert "?" not in path, f"path-not-include-query: {path}"
        assert path == "/" or not path.endswith("/"), f"no-path-trailing-slash: {path}"
        assert "" not in TEMPLATE.findall(path), f"path-declaration-must-exist: {path}"
        shape = TEMPLATE.sub("{}", path)
        assert shape not in shapes, f"no-identical-paths: {path} and {shapes[shape]}"
        shapes[shape] = path


def _ambiguous(a: str, b: str) -> bool:
    """Redocly's no-ambiguous-paths: as many variables, and every literal segment the
    other one has at that place is the same or a variable."""
    parts_a, parts_b = a.split("/"), b.split("/")
    if len(parts_a) != len(parts_b):
        return False
    vars_a = vars_b = 0
    for x, y in zip(parts_a, parts_b, strict=True):
        x_var, y_var = bool(TEMPLATE.fullmatch(x)), bool(TEMPLATE.fullmatch(y))
        vars_a += x_var
        vars_b += y_var
        if not x_var and not y_var and x != y:
            return False
    return vars_a == vars_b


def test_no_two_paths_are_ambiguous(spec: dict[str, Any]) -> None:
    paths = list(spec["paths"])
    clashes = [
        (a, b) for i, a in enumerate(paths) for b in paths[i + 1 :] if a != b and _ambiguous(a, b)
    ]
    assert clashes == []


def test_operations_have_unique_url_safe_ids_and_summaries(spec: dict[str, Any]) -> None:
    seen: dict[str, str] = {}
    for method, path, op, _ in operations(spec):
        operation_id = op.get("operationId")
        assert operation_id, f"operation-operationId: {method} {path}"
        assert URL_SAFE.match(operation_id), f"operation-operationId-url-safe: {operation_id}"
        assert operation_id not in seen, f"operation-operationId-unique: {operation_id}"
        seen[operation_id] = path
        assert op.get("summary"), f"operation-summary: {method} {path}"


def test_path_parameters_are_declared_both_ways_and_parameters_are_unique(
    spec: dict[str, Any],
) -> None:
    for method, path, op, item in operations(spec):
        parameters = parameters_of(op, item, spec)
        keys = [(p["name"], p["in"]) for p in parameters]
        assert len(keys) == len(set(keys)), f"operation-parameters-unique: {method} {path}"
        declared = {p["name"] for p in parameters if p["in"] == "path"}
        templated = set(TEMPLATE.findall(path))
        assert declared == templated, f"path-parameters-defined: {method} {path}"
        for p in parameters:
            if p["in"] == "path":
                assert p.get("required") is True, f"{method} {path}: {p['name']}"


def test_every_operation_answers_a_2xx_and_a_4xx(spec: dict[str, Any]) -> None:
    for _, path, op, _ in operations(spec):
        statuses = list(op["responses"])
        assert any(s.startswith("2") for s in statuses), f"operation-2xx-response: {path}"
        assert any(s.startswith("4") for s in statuses), f"operation-4xx-response: {path}"


def test_every_security_requirement_names_a_declared_scheme_and_scope(
    spec: dict[str, Any],
) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert "security" not in spec, "no document-wide default: each operation says its own"
    for method, path, op, _ in operations(spec):
        assert "security" in op, f"security-defined: {method} {path}"
        for requirement in op["security"]:
            for name, scopes in requirement.items():
                assert name in schemes, f"security-defined: {method} {path}: {name}"
                if schemes[name]["type"] == "oauth2":
                    known = {
                        scope
                        for flow in schemes[name]["flows"].values()
                        for scope in flow["scopes"]
                    }
                    assert set(scopes) <= known, f"security-scopes-defined: {path}"


def test_every_tag_in_use_is_declared_with_a_description(spec: dict[str, Any]) -> None:
    declared = {tag["name"]: tag.get("description") for tag in spec["tags"]}
    assert len(declared) == len(spec["tags"]), "no-duplicated-tag-names"
    used = {tag for _, _, op, _ in operations(spec) for tag in op.get("tags", ())}
    for section in spec.get("webhooks", {}).values():
        used |= {
            tag for op in section.values() if isinstance(op, dict) for tag in op.get("tags", ())
        }
    assert used == set(declared), "declare each tag in app.main.TAGS, and only those in use"
    assert all(declared.values()), "tag-description: add it to app.main.TAGS"


def test_component_names_are_valid_and_every_schema_is_used(spec: dict[str, Any]) -> None:
    text = str({key: value for key, value in spec.items() if key != "components"})
    components = spec["components"]
    for entries in components.values():
        for name in entries:
            assert COMPONENT_NAME.match(name), f"spec-components-invalid-map-name: {name}"
    references = {
        node["$ref"] for _, node in walk(spec) if isinstance(node.get("$ref"), str)
    } | set(re.findall(r"#/components/schemas/[A-Za-z0-9.\-_]+", text))
    unused = [
        name for name in components["schemas"] if f"#/components/schemas/{name}" not in references
    ]
    assert unused == [], "no-unused-components"


def test_schemas_agree_with_their_types(spec: dict[str, Any]) -> None:
    for where, node in schemas(spec):
        types = node["type"] if isinstance(node["type"], list) else [node["type"]]
        if "enum" in node:
            for value in node["enum"]:
                assert any(
                    isinstance(value, JSON_TYPES[t])
                    and not (t in ("integer", "number") and isinstance(value, bool))
                    for t in types
                ), f"no-enum-type-mismatch: {where}: {value!r}"
        if "items" in node:
            assert "array" in types, f"no-schema-type-mismatch: {where}"
        if "properties" in node and isinstance(node["properties"], dict):
            assert "object" in types, f"no-schema-type-mismatch: {where}"


def test_no_example_has_both_a_value_and_an_external_value(spec: dict[str, Any]) -> None:
    for where, node in walk(spec):
        if where.endswith("/examples") and isinstance(node, dict):
            for name, example in node.items():
                if isinstance(example, dict):
                    assert not ("value" in example and "externalValue" in example), name
