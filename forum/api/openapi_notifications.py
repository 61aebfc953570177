"""OpenAPI paths and schemas of ``forum/api/notifications.py``; merged by ``openapi.document``."""
from __future__ import annotations

from forum.api.openapi import (
    COUNT,
    FLAG,
    ID,
    NULLABLE_STAMP,
    PAGING,
    STAMP,
    TEXT,
    WRITE_ERRORS,
    body,
    errors,
    nullable,
    obj,
    ok,
    page_of,
    path_id,
    query,
)

LEVEL = {"enum": ["watching", "normal", "muted"], "description": "beobachten / normal / stumm"}
KIND = {"enum": ["hilfreich", "daumen", "herz", "idee"]}
NULLABLE_ID = {"anyOf": [ID, {"type": "null"}]}

SCHEMAS = {
    "Notification": obj({
        "id": ID, "kind": {"type": "string", "description": "reply, watched_reply, mention, new_thread, reaction, "
                                                            "report_outcome, consent_request, join_request, …"},
        "category": {"enum": ["reply", "mention", "watched", "new_thread", "reaction", "moderation"]},
        "text": TEXT, "url": {"anyOf": [{"type": "string", "pattern": "^/"}, {"type": "null"}]},
        "available": {"type": "boolean", "description": "false: der Inhalt ist für den Aufrufer nicht mehr sichtbar"},
        "actor": nullable("Author"), "cluster_id": NULLABLE_ID, "thread_id": NULLABLE_ID, "post_id": NULLABLE_ID,
        "created_at": STAMP, "read_at": NULLABLE_STAMP}),
    "NotificationPage": page_of("Notification"),
    "MarkRead": obj({"ids": {"type": "array", "items": ID, "maxItems": 500}, "all": {"const": True}}, [],
                    description="Entweder `ids` oder `all: true`."),
    "MarkedRead": obj({"marked": COUNT, "unread": COUNT}),
    "WatchLevel": obj({"level": LEVEL}),
    "Watch": obj({"target_type": {"enum": ["thread", "board", "cluster"]}, "target_id": ID, "level": LEVEL}),
    "ReactionCount": obj({"kind": KIND, "symbol": TEXT, "label": TEXT, "count": COUNT, "mine": FLAG,
                          "names": {"type": "array", "items": TEXT, "description": "Anzeigenamen der Reagierenden"}}),
    "Reactions": obj({"post_id": ID,
                      "items": {"type": "array", "items": {"$ref": "#/components/schemas/ReactionCount"}}}),
}

_KIND_PARAM = {"name": "kind", "in": "path", "required": True, "schema": KIND}
_SLUG_PARAM = {"name": "slug", "in": "path", "required": True, "schema": TEXT}

PATHS = {
    "/notifications": {"get": {
        "operationId": "listNotifications", "summary": "Eigene Benachrichtigungen, neueste zuerst",
        "parameters": [query("unread", {"enum": ["0", "1", "true", "false"]}, "1: nur ungelesene"), *PAGING],
        "responses": {**ok("NotificationPage"), **errors(400, 401)}}},
    "/notifications/read": {"post": {
        "operationId": "markNotificationsRead", "summary": "Benachrichtigungen als gelesen markieren",
        "requestBody": body("MarkRead"), "responses": {**ok("MarkedRead"), **errors(400, 401, 413, 415)}}},
    "/threads/{thread_id}/watch": {"put": {
        "operationId": "watchThread", "summary": "Stufe für ein Thema setzen (beobachten, normal, stumm)",
        "parameters": [path_id("thread_id")], "requestBody": body("WatchLevel"),
        "responses": {**ok("Watch"), **errors(*WRITE_ERRORS)}}},
    "/boards/{board_id}/watch": {"put": {
        "operationId": "watchBoard", "summary": "Stufe für ein Brett setzen (gilt für seine Themen)",
        "parameters": [path_id("board_id")], "requestBody": body("WatchLevel"),
        "responses": {**ok("Watch"), **errors(*WRITE_ERRORS)}}},
    "/clusters/{slug}/watch": {"put": {
        "operationId": "watchCluster", "summary": "Stufe für einen ganzen Cluster setzen",
        "parameters": [_SLUG_PARAM], "requestBody": body("WatchLevel"),
        "responses": {**ok("Watch"), **errors(*WRITE_ERRORS)}}},
    "/posts/{post_id}/reactions": {"get": {
        "operationId": "listReactions", "summary": "Reaktionen auf einen Beitrag mit Anzahl und Namen",
        "parameters": [path_id("post_id")], "responses": {**ok("Reactions"), **errors(401, 404)}}},
    "/posts/{post_id}/reactions/{kind}": {
        "put": {"operationId": "addReaction", "summary": "Reagieren (Hilfreich, 👍, ❤️, 💡)",
                "parameters": [path_id("post_id"), _KIND_PARAM],
                "responses": {**ok("Reactions"), **errors(400, 401, 403, 404)}},
        "delete": {"operationId": "removeReaction", "summary": "Eigene Reaktion zurücknehmen",
                   "parameters": [path_id("post_id"), _KIND_PARAM],
                   "responses": {**ok("Reactions"), **errors(400, 401, 403, 404)}}},
}

# The answer to a new post or thread says which mentions notified nobody.
POST_FIELDS = {"unnotified_mentions": {
    "type": "array", "items": TEXT,
    "description": "Nur in der Antwort auf einen neuen Beitrag: erwähnte Namen, die niemanden benachrichtigt haben "
                   "(die Person kann das Thema nicht sehen oder es gibt sie nicht)"}}
