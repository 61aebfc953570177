"""The OpenAPI 3.1 document of /api/v1, served at /api/v1/openapi.json.

``tests/test_openapi.py`` keeps it honest: every route of the blueprint appears here with its
methods and the other way round, and the responses the tests receive validate against the
schemas below (which forbid undocumented fields).
"""
from __future__ import annotations

from functools import cache

from flask import jsonify

from forum.api import bp

JSON = "application/json"
ID = {"type": "integer", "minimum": 1}
STAMP = {"type": "string", "format": "date-time", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"}
NULLABLE_STAMP = {"anyOf": [STAMP, {"type": "null"}]}
TEXT = {"type": "string"}
FLAG = {"type": "boolean"}
COUNT = {"type": "integer", "minimum": 0}
PATH = {"type": "string", "pattern": "^/", "description": "Pfad der zugehörigen Webseite"}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(name: str) -> dict:
    return {"anyOf": [ref(name), {"type": "null"}]}


def obj(properties: dict, required: list[str] | None = None, *, closed: bool = True, **extra) -> dict:
    """An object schema; by default every property is required and no other is allowed."""
    schema = {"type": "object", "properties": properties,
              "required": list(properties) if required is None else required, **extra}
    if closed:
        schema["additionalProperties"] = False
    return schema


PAGE_FIELDS = {"page": {"type": "integer", "minimum": 1}, "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
               "total": COUNT}


def page_of(item: str, **more) -> dict:
    return obj({"items": {"type": "array", "items": ref(item)}, **PAGE_FIELDS, **more})


CLUSTER = {"id": ID, "slug": TEXT, "name": TEXT, "description": TEXT, "region": TEXT, "created_at": STAMP, "url": PATH}
BOARD = {"id": ID, "cluster_id": {"anyOf": [ID, {"type": "null"}], "description": "null: plattformweites Brett"},
         "slug": TEXT, "name": TEXT, "description": TEXT, "is_archived": FLAG, "thread_count": COUNT,
         "post_count": COUNT, "url": PATH}
THREAD = {"id": ID, "board_id": ID, "title": TEXT, "author": nullable("Author"),
          "tags": {"type": "array", "items": ref("Tag")}, "is_pinned": FLAG, "is_locked": FLAG,
          "reply_count": COUNT, "first_post_id": {"anyOf": [ID, {"type": "null"}]}, "created_at": STAMP,
          "last_activity_at": STAMP, "last_poster": nullable("Author"), "url": PATH,
          # -- moderation
          "lock_reason": TEXT, "is_best_practice": FLAG, "solution_post_id": {"anyOf": [ID, {"type": "null"}]}}
API_TOKEN = {"id": ID, "name": TEXT, "created_at": STAMP,
             "expires_at": {**STAMP, "description": "Danach gilt das Token nicht mehr (Standard: 90 Tage nach "
                                                    "der Ausstellung, FORUM_API_TOKEN_DAYS)"},
             "current": {**FLAG, "description": "das Token, mit dem diese Anfrage kam"}}
POST = {"id": ID, "thread_id": ID,
        "parent_id": {"anyOf": [ID, {"type": "null"}],
                      "description": "Elternbeitrag im Baum; null beim Eröffnungsbeitrag"},
        "reply_to_id": {"anyOf": [ID, {"type": "null"}],
                        "description": "der Beitrag, auf den geantwortet wird: `parent_id`, außer bei Antworten "
                                       "jenseits der größten Baumtiefe, die neben ihrem Bezugsbeitrag stehen"},
        "depth": {**COUNT, "description": "Ebene im Baum (0: Eröffnungsbeitrag); neue Antworten höchstens "
                                        "FORUM_MAX_REPLY_DEPTH (16) Ebenen tief"},
        "author": nullable("Author"),
        "body_html": {"type": "string", "description": "bereinigtes HTML; leer bei gelöschten Beiträgen und bei "
                                                       "ausgeblendeten, die der Aufrufer nicht lesen darf"},
        "created_at": STAMP, "edited_at": NULLABLE_STAMP, "revision_count": COUNT, "deleted": FLAG, "hidden": FLAG,
        "hidden_reason": TEXT, "url": PATH}

SCHEMAS = {
    "Error": obj({"error": obj({"code": TEXT, "message": TEXT})}),
    "Author": obj({"username": TEXT, "display_name": TEXT, "company": TEXT, "trade": TEXT}),
    "Tag": obj({"slug": TEXT, "name": TEXT}),
    "Cluster": obj(CLUSTER),
    "ClusterDetail": obj({**CLUSTER,
                          "readable": {"type": "boolean", "description": "darf der Aufrufer die Bretter lesen"},
                          "boards": {"type": "array", "items": ref("Board")}}),
    "Board": obj(BOARD),
    "Thread": obj(THREAD),
    "ThreadCreated": obj({**THREAD, "first_post": ref("Post")}),
    "Post": obj(POST),
    "Revision": obj({"id": ID, "post_id": ID, "number": {"type": "integer", "minimum": 1}, "body_markdown": TEXT,
                     "editor": nullable("Author"), "created_at": STAMP},
                    description="Der Text, den ein Beitrag vor einer Bearbeitung hatte."),
    "Membership": obj({"cluster": ref("Cluster"), "role": {"enum": ["member", "manager"]},
                       "state": {"enum": ["active", "suspended"]}}),
    "Account": obj({"id": ID, "username": TEXT, "email": TEXT, "display_name": TEXT, "company": TEXT, "trade": TEXT,
                    "region": TEXT, "locale": TEXT, "is_admin": FLAG,
                    "memberships": {"type": "array", "items": ref("Membership")},
                    "platform_boards": {"type": "array", "items": ref("Board")}}),
    "Token": obj({"token": {**TEXT, "description": "Nur jetzt zu sehen; gespeichert wird nur sein Hashwert"},
                  **API_TOKEN}),
    "ApiToken": obj(API_TOKEN),
    "TokenList": obj({"items": {"type": "array", "items": ref("ApiToken")}}),
    "Credentials": obj({"username": TEXT, "password": TEXT,
                        "otp": {"type": ["string", "null"],
                                "description": "Code der Authenticator-App (6 Ziffern) oder Wiederherstellungscode; "
                                               "nur für Konten mit Zwei-Faktor-Anmeldung"},
                        "name": {"type": ["string", "null"], "maxLength": 80,
                                 "description": "Wofür das Token ist (z. B. „Werkstatt-Tablet“); erscheint in der "
                                                "Liste der eigenen Tokens"}},
                       ["username", "password"]),
    "NewThread": obj({"title": {"type": "string", "minLength": 1, "maxLength": 200},
                      "body": {"type": "string", "minLength": 1, "maxLength": 50000},
                      "tags": {"type": "array", "items": TEXT, "maxItems": 5,
                               "description": "Themenfeld-Kurzbezeichnungen"}},
                     ["title", "body"]),
    "NewPost": obj({"body": {"type": "string", "minLength": 1, "maxLength": 50000},
                    "parent_id": {"anyOf": [ID, {"type": "null"}],
                                  "description": "ohne: Antwort auf den Eröffnungsbeitrag"}},
                   ["body"]),
    "PostEdit": obj({"body": {"type": "string", "minLength": 1, "maxLength": 50000}}),
    "Page": obj(PAGE_FIELDS, closed=False, description="Gemeinsame Felder jeder Liste."),
    "ClusterPage": page_of("Cluster"),
    "ThreadPage": page_of("Thread"),
    "RevisionPage": page_of("Revision"),
    "ThreadDetail": page_of("Post", thread=ref("Thread"), view={"enum": ["tree", "flat"]},
                            pages={"type": "integer", "minimum": 1}),
    "SearchResult": obj({"post_id": ID, "thread_id": ID, "thread_title": TEXT, "board_id": ID,
                         "cluster_slug": {"anyOf": [TEXT, {"type": "null"}],
                                          "description": "null: plattformweites Brett"},
                         "snippet_html": TEXT, "score": {"type": "number"}, "created_at": STAMP, "url": PATH}),
    "SearchPage": obj({"items": {"type": "array", "items": ref("SearchResult")}, **PAGE_FIELDS,
                       "suggestion": {"anyOf": [TEXT, {"type": "null"}], "description": "„Meinten Sie …?“"}},
                      ["items", "page", "per_page", "total", "suggestion"], closed=False,
                      description="Ein Treffer je Thema (sein bester Beitrag); `total` zählt Themen."),
}

ERRORS = {
    "400": ("BadRequest", "Ungültige Eingabe, falscher JSON-Typ, ungültige Seitenangabe oder fehlendes CSRF-Token "
                          "bei Schreibzugriffen über eine Browser-Sitzung"),
    "401": ("Unauthorized", "Nicht angemeldet, Zugangstoken ungültig oder falsche Zugangsdaten"),
    "403": ("Forbidden", "Sichtbar, aber nicht erlaubt (z. B. fremder Beitrag, gesperrtes Thema)"),
    "404": ("NotFound", "Unbekannt oder für den Aufrufer nicht sichtbar"),
    "409": ("Conflict", "Widerspricht dem aktuellen Stand (z. B. schon Mitglied, schon entschieden)"),
    "413": ("TooLarge", "Anfrage größer als erlaubt"),
    "415": ("UnsupportedMediaType", "Inhalt ist kein JSON"),
    "429": ("TooManyRequests", "Zu viele Anfragen: Beiträge, Meldungen und Einladungen sind je Konto begrenzt, "
                               "Anmeldeversuche je IP-Adresse; `Retry-After` nennt die Sekunden bis zum nächsten "
                               "Versuch"),
}

RESPONSE_HEADERS = {"TooManyRequests": {"headers": {"Retry-After": {
    "description": "Sekunden bis zum nächsten Versuch", "schema": {"type": "integer", "minimum": 1}}}}}


def ok(schema: str, status: str = "200", description: str = "OK") -> dict:
    return {status: {"description": description, "content": {JSON: {"schema": ref(schema)}}}}


def errors(*statuses: int) -> dict:
    return {str(s): {"$ref": f"#/components/responses/{ERRORS[str(s)][0]}"} for s in statuses}


def body(schema: str) -> dict:
    return {"required": True, "content": {JSON: {"schema": ref(schema)}}}


def path_id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": ID}


def query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


PAGING = [query("page", {"type": "integer", "minimum": 1, "default": 1}, "Seite, ab 1"),
          query("per_page", {"type": "integer", "minimum": 1, "maximum": 100}, "Einträge je Seite, höchstens 100")]
DATE = {"type": "string", "format": "date"}


def or_empty(schema: dict) -> dict:
    """A filter parsed like the web page's form field: an empty value counts as not sent."""
    return {"anyOf": [schema, {"const": ""}]}
WRITE_ERRORS = (400, 401, 403, 404, 413, 415)

PATHS = {
    "/tokens": {"post": {
        "operationId": "createToken", "summary": "Zugangstoken mit Benutzername und Passwort holen", "security": [],
        "description": (
            "Konten mit Zwei-Faktor-Anmeldung senden zusätzlich `otp`: den aktuellen Code der Authenticator-App "
            "oder einen unbenutzten Wiederherstellungscode (der damit verbraucht ist). Fehlercodes: 401 "
            "`unauthorized` (Benutzername oder Passwort falsch – für unbekannte Konten dieselbe Antwort), "
            "`otp_required` (Passwort richtig, `otp` fehlt), `invalid_otp` (Code falsch oder schon benutzt); 403 "
            "`two_factor_required` (Plattform-Admin ohne eingerichtete Zwei-Faktor-Anmeldung); 429 `rate_limited` "
            "(zu viele Fehlversuche für diesen Benutzernamen oder von dieser Adresse, mit `Retry-After`)."),
        "requestBody": body("Credentials"),
        "responses": {**ok("Token", "201", "Token ausgestellt"), **errors(400, 401, 403, 413, 415, 429)}},
        "get": {
            "operationId": "listTokens", "summary": "Die eigenen Zugangstokens, die noch gelten",
            "description": "Höchstens 20 je Konto: ein neues Token beendet darüber hinaus das älteste.",
            "responses": {**ok("TokenList"), **errors(401)}}},
    "/tokens/current": {"delete": {
        "operationId": "deleteCurrentToken", "summary": "Das Token dieser Anfrage beenden (Abmelden)",
        "description": (
            "Ein Token endet außerdem nach Ablauf (`expires_at`) und mit jedem neuen Passwort, jedem Zurücksetzen des "
            "Passworts, „auf allen Geräten abmelden“, einer Sperrung, dem Ein- oder Ausschalten der "
            "Zwei-Faktor-Anmeldung und jeder Änderung einer Rolle oder des Admin-Rechts. Mit einer Browser-Sitzung "
            "statt eines Tokens: 400."),
        "responses": {"204": {"description": "Das Token gilt nicht mehr"}, **errors(400, 401)}}},
    "/tokens/{token_id}": {"delete": {
        "operationId": "deleteToken", "summary": "Eines der eigenen Tokens beenden",
        "parameters": [path_id("token_id")],
        "responses": {"204": {"description": "Das Token gilt nicht mehr"}, **errors(401, 404)}}},
    "/openapi.json": {"get": {
        "operationId": "openapiDocument", "summary": "Dieses Dokument", "security": [],
        "responses": {"200": {"description": "OpenAPI 3.1", "content": {JSON: {"schema": {"type": "object"}}}}}}},
    "/me": {"get": {
        "operationId": "me", "summary": "Das eigene Konto, seine Mitgliedschaften und die plattformweiten Bretter",
        "responses": {**ok("Account"), **errors(401)}}},
    "/clusters": {"get": {
        "operationId": "listClusters", "summary": "Cluster, die der Aufrufer sehen darf", "parameters": PAGING,
        "responses": {**ok("ClusterPage"), **errors(400, 401)}}},
    "/clusters/{slug}": {"get": {
        "operationId": "getCluster", "summary": "Ein Cluster mit seinen Brettern (die nur, wenn `readable`)",
        "parameters": [{"name": "slug", "in": "path", "required": True, "schema": TEXT}],
        "responses": {**ok("ClusterDetail"), **errors(401, 404)}}},
    "/boards/{board_id}/threads": {
        "get": {
            "operationId": "listThreads",
            "summary": "Themen eines Bretts: angeheftete zuerst, dann nach letzter Aktivität",
            "parameters": [path_id("board_id"), *PAGING],
            "responses": {**ok("ThreadPage"), **errors(400, 401, 404)}},
        "post": {
            "operationId": "createThread", "summary": "Neues Thema mit Eröffnungsbeitrag",
            "parameters": [path_id("board_id")], "requestBody": body("NewThread"),
            "responses": {**ok("ThreadCreated", "201", "Thema angelegt"), **errors(*WRITE_ERRORS, 429)}}},
    "/threads/{thread_id}": {"get": {
        "operationId": "getThread",
        "summary": "Ein Thema und eine Seite seiner Beiträge (Baum: ganze Zweige je Seite; flach: chronologisch)",
        "description": ("Eine Seite jenseits der letzten liefert die letzte Seite; `page` nennt die gelieferte. "
                        "Im Baum bleibt ein Zweig mit bis zu doppelt `per_page` Beiträgen auf einer Seite; ein "
                        "größerer steht auf eigenen Seiten, `per_page` Beiträge je Seite in Baumreihenfolge."),
        "parameters": [path_id("thread_id"),
                       query("view", {"enum": ["tree", "flat"], "default": "tree"}, "Darstellung"),
                       *PAGING],
        "responses": {**ok("ThreadDetail"), **errors(400, 401, 404)}}},
    "/threads/{thread_id}/posts": {"post": {
        "operationId": "createPost", "summary": "Antworten (auf den Eröffnungsbeitrag oder auf `parent_id`)",
        "parameters": [path_id("thread_id")], "requestBody": body("NewPost"),
        "responses": {**ok("Post", "201", "Antwort veröffentlicht"), **errors(*WRITE_ERRORS, 429)}}},
    "/posts/{post_id}": {
        "patch": {
            "operationId": "editPost", "summary": "Beitrag bearbeiten; der alte Text bleibt als Version erhalten",
            "parameters": [path_id("post_id")], "requestBody": body("PostEdit"),
            "responses": {**ok("Post"), **errors(*WRITE_ERRORS, 429)}},
        "delete": {
            "operationId": "deletePost", "summary": "Beitrag löschen (weich: Antworten bleiben stehen)",
            "parameters": [path_id("post_id")],
            "responses": {"204": {"description": "Gelöscht"}, **errors(400, 401, 403, 404)}}},
    "/posts/{post_id}/revisions": {"get": {
        "operationId": "listRevisions", "summary": "Frühere Fassungen eines Beitrags, neueste zuerst",
        "parameters": [path_id("post_id"), *PAGING],
        "responses": {**ok("RevisionPage"), **errors(400, 401, 404)}}},
    "/search": {"get": {
        "operationId": "search", "summary": "Volltextsuche in allem, was der Aufrufer lesen darf",
        "parameters": [
            query("q", TEXT, "Suchbegriffe"),
            query("cluster", TEXT, "Cluster-Kurzbezeichnung"),
            query("board", or_empty(ID), "Brett-ID"),
            query("tag", TEXT, "Themenfeld-Kurzbezeichnung"),
            query("author", TEXT, "Benutzername"),
            query("from", or_empty(DATE), "frühestes Datum (JJJJ-MM-TT)"),
            query("to", or_empty(DATE), "spätestes Datum (JJJJ-MM-TT)"),
            query("sort", {**or_empty({"enum": ["relevance", "newest"]}), "default": "relevance"}, "Reihenfolge"),
            *(query(p["name"], or_empty(p["schema"]), p["description"]) for p in PAGING),
        ],
        "responses": {**ok("SearchPage"), **errors(400, 401)}}},
}


@cache
def document() -> dict:
    from forum.api import openapi_moderation  # -- moderation: its paths and schemas

    for path, item in openapi_moderation.PATHS.items():
        PATHS.setdefault(path, {}).update(item)
    SCHEMAS.update(openapi_moderation.SCHEMAS)
    from forum.api import openapi_notifications  # -- notifications: its paths and schemas

    for path, item in openapi_notifications.PATHS.items():
        PATHS.setdefault(path, {}).update(item)
    SCHEMAS.update(openapi_notifications.SCHEMAS)
    SCHEMAS["Post"]["properties"].update(openapi_notifications.POST_FIELDS)  # optional, on new posts only
    from forum.api import openapi_membership  # -- cluster management: invites, members

    for path, item in openapi_membership.PATHS.items():
        PATHS.setdefault(path, {}).update(item)
    SCHEMAS.update(openapi_membership.SCHEMAS)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Clusterforum API",
            "version": "1.0.0",
            "description": (
                "Fehler: `{\"error\": {\"code\", \"message\"}}`. Listen: `?page=N&per_page=M` (höchstens 100) → "
                "`{\"items\", \"page\", \"per_page\", \"total\"}`. Zeitstempel in UTC (ISO 8601 mit Z). Jedes "
                "Cluster-, Brett-, Themen- und Beitragsobjekt trägt `url`, den Pfad seiner Webseite. Nicht sichtbare "
                "Inhalte antworten wie unbekannte mit 404. Browser-Sitzungen dürfen lesen; Schreibzugriffe über eine "
                "Sitzung brauchen das CSRF-Token (Kopfzeile X-CSRFToken)."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "responses": {
                name: {"description": text, "content": {JSON: {"schema": ref("Error")}},
                       **RESPONSE_HEADERS.get(name, {})}
                for name, text in ERRORS.values()
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "Token von POST /tokens: `Authorization: Bearer <token>`"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "Browser-Sitzung nach der Anmeldung im Web"},
            },
        },
    }


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(document())
