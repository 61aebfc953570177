"""Schemathesis fuzzes every /api/v1 operation of the OpenAPI document against the app.

The document is loaded from the WSGI app itself (``/api/v1/openapi.json``). The requests carry the
bearer token of a member of the world's first cluster (every operation) and, in a second run, of
its manager (the operations documented for the moderation and the cluster managers, which a
member is refused before the input is looked at). Each operation gets schema-valid and
schema-violating cases. Path parameters of schema-valid cases are drawn half of the time from the
ids and slugs of real objects (in both clusters, so visible and invisible ones), so the operations
reach their services instead of answering 404 only.

Every answer must pass all of schemathesis' checks: no 5xx, a documented status code, content type,
headers and body schema, schema-violating input rejected, schema-valid input not answered with
415/422 and the like, authentication not ignored. Schema-valid input may still break a business
rule (a ``parent_id`` from another thread, a used invitation, a tag with a control character),
which answers 400: ``positive_data_acceptance`` accepts that. Query parameters the document does
not name are ignored by the API, not rejected, so none are generated.

Bounded for CI: a fixed number of examples per operation and mode, derandomised (the same cases on
every run), no example database, no shrinking (the database changes between examples), no
deadline. The number of requests is printed and recorded as the test property ``fuzz_requests``.
"""
from __future__ import annotations

import collections
import itertools
import os
import random

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation

from forum.api.openapi import document
from forum.services import best_practice, membership, reports
from tests import factories, membership_factories

# FORUM_FUZZ_EXAMPLES=200 for a deeper run by hand; CI keeps to the default.
_POSITIVE = int(os.environ.get("FORUM_FUZZ_EXAMPLES", "8"))
EXAMPLES = {GenerationMode.POSITIVE: _POSITIVE, GenerationMode.NEGATIVE: max(1, _POSITIVE // 2)}
_SEEDS = itertools.count(1)


def fresh_random() -> None:
    """Hypothesis resets the global ``random`` before every example; Whoosh names its index
    segments with it, so two examples would write segments of the same name."""
    random.seed(next(_SEEDS))


def _real_objects(world) -> dict[str, list]:
    """Objects the fuzzer's path parameters can hit."""
    reply = factories.reply(world.thread_a, world.member, "Antwort für den Fuzzer")
    nested = factories.reply(world.thread_a, world.manager, "Antwort auf die Antwort", parent=reply)
    report = reports.create_report(world.member, nested, "spam", "Werbung")
    bp_thread = factories.thread(world.board_a, world.member, "Best Practice Azubis", "So geht es")
    best_practice.set_best_practice(world.manager, bp_thread, True)
    proposal = best_practice.propose(world.manager, bp_thread)
    invitation = membership_factories.invitation(world.cluster_a, world.manager)
    return {
        "slug": [world.cluster_a.slug, world.cluster_b.slug],
        "board_id": [world.board_a.id, world.board_b.id, world.platform_board.id],
        "thread_id": [world.thread_a.id, world.thread_b.id, world.platform_thread.id, bp_thread.id],
        "post_id": [world.thread_a.first_post_id, reply.id, nested.id, world.thread_b.first_post_id,
                    world.platform_thread.first_post_id],
        "report_id": [report.id],
        "proposal_id": [proposal.id],
        "token": [membership.token_for(invitation)],
    }


def _load_schema(app, known: dict[str, list]):
    config = SchemathesisConfig.from_dict({
        "generation": {"deterministic": True, "allow-extra-parameters": False, "with-security-parameters": False},
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "403", "404", "409"]}},
    })
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)

    @schema.hook
    def flatmap_case(context, case):
        """Half of the time a real object's id or slug in place of a schema-valid path value."""
        names = [name for name in case.path_parameters or {} if name in known]
        if not names or case.meta is None or case.meta.is_negative_at(ParameterLocation.PATH):
            return st.just(case)

        def with_real(values: dict):
            case.path_parameters = {**case.path_parameters, **values}
            return case

        return st.fixed_dictionaries(
            {name: st.sampled_from(known[name]) | st.just(case.path_parameters[name]) for name in names}
        ).map(with_real)

    return schema


def _manager_operations() -> frozenset[str]:
    """Operations documented for the moderation or the cluster managers: the manager's run
    covers these (a member is refused them before their input is looked at)."""
    return frozenset(f"{method.upper()} {path}" for path, item in document()["paths"].items()
                     for method, operation in item.items()
                     if "Moderation" in operation.get("summary", "") + operation.get("description", "")
                     or "Clustermanager" in operation.get("summary", "") + operation.get("description", ""))


@pytest.mark.parametrize("role", ["member", "manager"])
def test_api_survives_fuzzing(app, world, api_token, role, record_property):
    # Werkzeug's test client does not unpack gzip as a real client would.
    headers = {**api_token(getattr(world, role)), "Accept-Encoding": "identity"}
    schema = _load_schema(app, _real_objects(world))
    wanted = _manager_operations() if role == "manager" else None
    tally: collections.Counter = collections.Counter()
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if wanted is None or op.label in wanted]
    for operation in operations:
        for mode, examples in EXAMPLES.items():
            first: list[str] = []   # the first failure as it happened (a replay may differ: the database moved on)

            @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case):
                fresh_random()
                try:
                    response = case.call_and_validate(headers=headers)
                except (Exception, BaseExceptionGroup) as exc:
                    first.append(str(exc))
                    raise
                tally[operation.label, mode.value, response.status_code] += 1

            try:
                fuzz()
            except Unsatisfiable:
                pass  # nothing schema-violating to send (GET /me, a free-text slug)
            except (Exception, BaseExceptionGroup) as exc:  # collected, reported together below
                failures.append(f"{operation.label} ({mode.value}): {first[0] if first else exc}")
    total = sum(tally.values())
    record_property("fuzz_requests", total)
    print(f"\n{role}: {total} Anfragen an {len(operations)} Operationen")
    for key, n in sorted(tally.items()):
        print("  ", key, n)
    assert not failures, "\n\n".join(failures)
    # Real ids and slugs reached the services: most operations answered 2xx at least once.
    succeeded = {label for (label, _mode, status), _n in tally.items() if 200 <= status < 300}
    assert len(succeeded) >= len(operations) // 2, sorted({op.label for op in operations} - succeeded)
