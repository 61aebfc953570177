"""The OpenAPI document matches the implementation.

Both directions: every /api/v1 rule of ``app.url_map`` is in the document with its methods and
every documented operation is a rule. ``SpecCheckingClient`` validates every /api/v1 answer that
the API tests receive against the documented response schema of its status code, so a field or
status the document does not promise fails the test that produced it.
"""
from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from forum.api.openapi import document

PREFIX = "/api/v1"
SPEC_URI = "urn:clusterforum:openapi"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def openapi_path(rule: str) -> str:
    """``/api/v1/threads/<int:thread_id>`` → ``/threads/{thread_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule[len(PREFIX):])


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _validator(pointer: str) -> Draft202012Validator:
    registry = Registry().with_resource(SPEC_URI, Resource(contents=document(), specification=DRAFT202012))
    return Draft202012Validator({"$ref": SPEC_URI + pointer}, registry=registry)


def response_schema_pointer(method: str, spec_path: str, status: int) -> str | None:
    """Where the schema of that answer lives in the document; None for an answer without body.
    Fails when the operation or the status is not documented."""
    spec = document()
    operation = spec["paths"].get(spec_path, {}).get(method.lower())
    assert operation is not None, f"{method} {spec_path} fehlt im OpenAPI-Dokument"
    assert str(status) in operation["responses"], (
        f"{method} {spec_path} antwortete {status}; dokumentiert sind {sorted(operation['responses'])}")
    parts = ["paths", spec_path, method.lower(), "responses", str(status)]
    answer = operation["responses"][str(status)]
    if "$ref" in answer:
        name = answer["$ref"].rsplit("/", 1)[1]
        parts = ["components", "responses", name]
        answer = spec["components"]["responses"][name]
    if "content" not in answer:
        return None
    return _pointer(*parts, "content", "application/json", "schema")


def check_against_spec(app, response) -> None:
    request = response.request
    if not request.path.startswith(PREFIX + "/") or request.method in IGNORED_METHODS:
        return
    adapter = app.url_map.bind("forum.test")
    try:
        rule, _args = adapter.match(request.path, request.method, return_rule=True)
    except (NotFound, MethodNotAllowed, RequestRedirect):
        # No operation to compare with; the answer still has the one error shape.
        _validator("#/components/schemas/Error").validate(response.get_json())
        return
    pointer = response_schema_pointer(request.method, openapi_path(rule.rule), response.status_code)
    if pointer is None:
        assert response.data == b"", f"{request.method} {request.path}: Antwort ohne Inhalt erwartet"
        return
    assert response.mimetype == "application/json", f"{request.method} {request.path}: {response.mimetype}"
    _validator(pointer).validate(response.get_json())


class SpecCheckingClient(FlaskClient):
    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        check_against_spec(self.application, response)
        return response


@pytest.fixture(autouse=True)
def spec_checked_client(app):
    """Every test client made in the test checks its /api/v1 answers against the document."""
    app.test_client_class = SpecCheckingClient


def _api_rules(app) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX + "/"):
            routes.setdefault(openapi_path(rule.rule), set()).update(m.lower() for m in rule.methods - IGNORED_METHODS)
    return routes


def _spec_operations() -> dict[str, set[str]]:
    return {path: {m for m in item if m in HTTP_METHODS} for path, item in document()["paths"].items()}


# -- the document ------------------------------------------------------------------------------

def test_document_is_served_without_sign_in(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == document()
    assert response.get_json()["openapi"] == "3.1.0"


def test_every_api_route_is_documented_with_its_methods(app):
    routes, operations = _api_rules(app), _spec_operations()
    undocumented = {f"{m.upper()} {p}" for p, methods in routes.items() for m in methods - operations.get(p, set())}
    assert not undocumented, f"Routen ohne Eintrag im OpenAPI-Dokument: {sorted(undocumented)}"


def test_every_documented_operation_is_a_route(app):
    routes, operations = _api_rules(app), _spec_operations()
    missing = {f"{m.upper()} {p}" for p, methods in operations.items() for m in methods - routes.get(p, set())}
    assert not missing, f"Im OpenAPI-Dokument, aber nicht implementiert: {sorted(missing)}"


def test_path_parameters_match_the_rules(app):
    spec = document()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        path = openapi_path(rule.rule)
        for method in rule.methods - IGNORED_METHODS:
            operation = spec["paths"].get(path, {}).get(method.lower())
            if operation is None:
                continue  # reported by test_every_api_route_is_documented_with_its_methods
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(rule.arguments), f"{method} {path}: {declared} != {set(rule.arguments)}"


def test_required_components_and_security_scheme():
    spec = document()
    schemas = spec["components"]["schemas"]
    for name in ("Cluster", "Board", "Thread", "Post", "Revision", "Error", "Page", "ClusterPage", "ThreadPage",
                 "RevisionPage", "ThreadDetail", "SearchResult", "SearchPage"):
        assert name in schemas, name
        Draft202012Validator.check_schema(schemas[name])
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearer"]["description"]}
    assert {"bearer": []} in spec["security"]


def test_only_token_and_document_are_public_and_every_other_operation_documents_401():
    public = set()
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if operation.get("security") == []:
                public.add(f"{method.upper()} {path}")
            else:
                assert "401" in operation["responses"], f"{method.upper()} {path}"
    assert public == {"POST /tokens", "GET /openapi.json"}


def test_every_reference_resolves():
    spec = document()

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                target = spec
                for part in node["$ref"].removeprefix("#/").split("/"):
                    target = target[part.replace("~1", "/").replace("~0", "~")]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)


def test_search_row_follows_the_contract():
    operation = document()["paths"]["/search"]["get"]
    names = [p["name"] for p in operation["parameters"]]
    assert names == ["q", "cluster", "board", "tag", "author", "from", "to", "sort", "page", "per_page"]
    result = document()["components"]["schemas"]["SearchResult"]
    assert set(result["required"]) == {"post_id", "thread_id", "thread_title", "board_id", "cluster_slug",
                                       "snippet_html", "score", "created_at", "url"}
    page = document()["components"]["schemas"]["SearchPage"]
    assert {"items", "total", "suggestion"} <= set(page["required"])


@pytest.mark.parametrize("path,name", [
    ("/search?q=Azubis", "board"), ("/search?q=Azubis", "from"), ("/search?q=Azubis", "to"),
    ("/search?q=Azubis", "sort"), ("/search?q=Azubis", "page"), ("/search?q=Azubis", "per_page"),
    ("/clusters/{slug}/reports?", "state"), ("/clusters/{slug}/modlog?", "from"), ("/clusters/{slug}/modlog?", "to"),
])
def test_empty_filters_that_count_as_not_sent_are_documented(client, world, api_token, path, name):
    """Found by fuzzing: these parameters share the web form's parser, where an empty field means
    "no filter"; the document called the empty value invalid."""
    url = PREFIX + path.format(slug=world.cluster_a.slug)
    response = client.get(f"{url}&{name}=", headers=api_token(world.manager))
    assert response.status_code == 200
    spec_path = url.split("?")[0].removeprefix(PREFIX).replace(world.cluster_a.slug, "{slug}")
    parameter = next(p for p in document()["paths"][spec_path]["get"]["parameters"] if p["name"] == name)
    Draft202012Validator(parameter["schema"], format_checker=Draft202012Validator.FORMAT_CHECKER).validate("")


# -- the checker itself catches drift ------------------------------------------------------------

def test_checker_rejects_an_undocumented_field():
    pointer = response_schema_pointer("GET", "/threads/{thread_id}", 200)
    with pytest.raises(ValidationError):
        _validator(pointer).validate({"items": [], "page": 1, "per_page": 20, "total": 0, "pages": 1, "view": "tree",
                                      "thread": None})
    with pytest.raises(ValidationError):
        _validator("#/components/schemas/Author").validate(
            {"username": "a", "display_name": "A", "company": "", "trade": "", "email": "a@example.org"})


def test_checker_rejects_an_undocumented_status():
    with pytest.raises(AssertionError):
        response_schema_pointer("GET", "/clusters", 418)


def test_checker_validates_real_answers(client, world, api_token):
    headers = api_token(world.member)
    response = client.get(f"/api/v1/threads/{world.thread_a.id}", headers=headers)
    assert isinstance(client, SpecCheckingClient) and response.status_code == 200
    _validator(response_schema_pointer("GET", "/threads/{thread_id}", 200)).validate(response.get_json())
    broken = dict(response.get_json(), page="eins")
    with pytest.raises(ValidationError):
        _validator(response_schema_pointer("GET", "/threads/{thread_id}", 200)).validate(broken)


def test_search_answers_match_the_document(client, world, api_token):
    """The route is the search module's; its answers must still be what this document promises."""
    headers = api_token(world.member)
    found = client.get("/api/v1/search?q=Auszubildende&sort=newest&per_page=5", headers=headers)
    assert found.status_code == 200 and found.get_json()["per_page"] == 5
    assert client.get("/api/v1/search?q=Auszubildende").status_code == 401
    assert client.get("/api/v1/search?q=Auszubildende&per_page=101", headers=headers).status_code == 400
