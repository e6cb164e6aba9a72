"""The API's description matches the API: schemathesis over /openapi.json, with and without tokens.

Each run is schemathesis' own engine (what ``st run`` runs) in-process over the app: the
examples, coverage (boundaries, missing and invalid values, undeclared methods), fuzzing and
stateful phases, with every check — no 5xx, and status codes, content types, headers and
bodies as documented. Anonymous over every operation (a protected one must answer its
documented 401), then a lawyer's and an admin's personal token over the case API, a
``logs:read`` token over the monitoring feed, a district staff member's token over the help desk
API and a ``help:read`` token over the union's help figures, on data where every case state and some log
records exist. Bounded and derandomised: the same requests on every run.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

from search_api.accounts.tokens import create_token
from search_api.app import create_app
from search_api.help.fields import validate_request
from tests.conftest import make_settings
from tests.fixtures.cases import CASE, PASSWORD
from tests.fixtures.help import HELP_REQUEST

SEED = 20240901
EXAMPLES = 10  # per operation and phase (fuzzing); coverage and examples are explicit sets
STATEFUL_STEPS = 8

# What the API refuses although JSON Schema allows it (rules across fields, the calendar, an
# opaque cursor) is said, with the reason, in the project's schemathesis.toml, which `st run`
# reads too; each run below adds its token, phases and bounds to it.
PROJECT = tomllib.loads((Path(__file__).parents[2] / "schemathesis.toml").read_text(encoding="utf-8"))


@schemathesis.deserializer("application/x-ndjson")
def _ndjson(ctx, response):
    # The feed is read as the array its schema describes: one object per line.
    return [json.loads(line) for line in response.content.decode("utf-8").splitlines() if line.strip()]


@schemathesis.serializer("application/x-ndjson")
def _to_ndjson(ctx, value):
    if not isinstance(value, list):
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in value).encode("utf-8")


@dataclass
class Seeded:
    app: object
    tokens: dict[str, str]


@pytest.fixture
def seeded(tmp_path_factory, corpus_index):
    """The app on a copy of the corpus index (publishing writes to it), with an account and a
    personal token per role, a logs:read token, cases in every state and a few logged searches."""
    data = tmp_path_factory.mktemp("conformance")
    shutil.copy(corpus_index, data / "index.sqlite3")
    settings = make_settings(data, sqlite_path=data / "index.sqlite3")
    app = create_app(settings)
    store, service = app.state.store, app.state.case_service
    users, tokens = {}, {}
    for role in ("lawyer", "reviewer", "admin"):
        store.users.create(role, PASSWORD, role)
        users[role] = store.users.with_hash(role)[0]
        tokens[role] = store.tokens.create(users[role].id)
    tokens["logs"] = create_token(settings, "monitor", ["logs:read"])
    tokens["help"] = create_token(settings, "legal-aid-platform", ["help:read"])
    store.users.create("staff", PASSWORD, "staff", districts=["崂山区"])
    tokens["staff"] = store.tokens.create(store.users.with_hash("staff")[0].id)
    for district in ("崂山区", "市南区"):  # one the staff member works, one they may not see
        app.state.help.submit(validate_request({**HELP_REQUEST, "district": district}, settings.district_list))
    lawyer, reviewer = users["lawyer"], users["reviewer"]
    for state in ("draft", "submitted", "published", "returned", "withdrawn", "published"):
        case_id = service.create(lawyer, CASE).id
        if state != "draft":
            service.submit(lawyer, case_id)
        if state in ("published", "withdrawn"):
            service.review(reviewer, case_id, "publish")
        if state == "returned":
            service.review(reviewer, case_id, "return", "请补充证据")
        if state == "withdrawn":
            service.withdraw(lawyer, case_id)
    with TestClient(app) as client:
        for q in ("老板拖欠工资怎么办", "被辞退 经济补偿", "加班费怎么算"):
            assert client.get("/api/search", params={"q": q}).status_code == 200
        yield Seeded(app, tokens)


ALL_PHASES = ("examples", "coverage", "fuzzing", "stateful")


@dataclass(frozen=True)
class Run:
    token: str | None  # whose (a key of ``Seeded.tokens``), None: no Authorization header
    paths: str | None  # the operations whose path starts so, None: every operation
    phases: tuple[str, ...] = ALL_PHASES


RUNS = {
    "anonymous": Run(None, None),
    "admin": Run("admin", "/api/cases"),
    # The parameter and body variants the coverage phase sends do not depend on the role, and the
    # admin run has sent them: the lawyer's own answers (403s, others' drafts) come from fuzzing.
    "lawyer": Run("lawyer", "/api/cases", ("fuzzing", "stateful")),
    "logs-reader": Run("logs", "/api/logs"),
    "staff": Run("staff", "/api/help-requests"),
    "help-reader": Run("help", "/api/help/"),
}


def config(token: str | None, phases: tuple[str, ...]) -> SchemathesisConfig:
    data = {
        **PROJECT,
        "seed": SEED,
        "workers": 1,
        "suppress-health-check": ["all"],
        "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
        "checks": {"enabled": True},
        "phases": {phase: {"enabled": phase in phases} for phase in ALL_PHASES},
    }
    data["phases"]["stateful"]["max-steps"] = STATEFUL_STEPS
    if token:
        data["headers"] = {"Authorization": f"Bearer {token}"}
    return SchemathesisConfig.from_dict(data)


def failures(app, token: str | None, run: Run) -> tuple[Counter, dict[tuple[str, str], str]]:
    """One engine run: the failures counted by kind, and one example of each kind per operation."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config(token, run.phases))
    if run.paths:
        # (``include`` would be OR-ed with the filters of the ``operations`` entries)
        schema = schema.exclude(path_regex=f"^(?!{run.paths})")
    kinds: Counter = Counter()
    examples: dict[tuple[str, str], str] = {}
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    key = (failure.operation, f"{failure.code} {failure.title}")
                    if key not in examples:
                        kinds[key[1]] += 1
                        examples[key] = f"{failure.message.strip()}\n{check.failure_info.code_sample}"
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            error = getattr(event, "value", None) or getattr(event, "exception", None)
            key = (getattr(event, "label", "run"), "engine error")
            kinds[key[1]] += 1
            examples[key] = repr(error)
    return kinds, examples


@pytest.mark.parametrize("who", RUNS)
def test_every_operation_conforms(seeded, who):
    run = RUNS[who]
    kinds, examples = failures(seeded.app, seeded.tokens.get(run.token), run)
    report = "\n\n".join(f"{op} — {kind}\n{text[:900]}" for (op, kind), text in sorted(examples.items(), key=str))
    assert not kinds, f"{who}: {dict(kinds)}\n\n{report}"


def test_the_description_declares_what_the_api_answers(settings):
    """What schemathesis found missing: the required title, the 422s, the NDJSON feed, the tokens."""
    paths = TestClient(create_app(settings)).get("/openapi.json").json()["paths"]
    create, update = paths["/api/cases"]["post"], paths["/api/cases/{case_id}"]["put"]
    for operation in (create, update):
        assert operation["requestBody"]["content"]["application/json"]["schema"]["required"] == ["title"]
        assert "422" in operation["responses"]
    feed = paths["/api/logs"]["get"]["responses"]["200"]
    assert list(feed["content"]) == ["application/x-ndjson"] and "X-Next-Cursor" in feed["headers"]
    assert paths["/api/cases/{case_id}/review"]["post"]["security"] == [{"personalToken": []}]
    assert paths["/api/logs/stats"]["get"]["security"] == [{"scopedToken": []}]
    assert "security" not in paths["/api/search"]["get"]
    health = paths["/healthz"]["get"]["responses"]["503"]["content"]["application/json"]["schema"]
    assert health == {"$ref": "#/components/schemas/Health"}  # not the Error body: /healthz says why
    # Validation errors are 400s; only the case rules and a help request's fields answer 422.
    for path, operations in paths.items():
        for operation in operations.values():
            assert "400" in operation["responses"] or not operation.get("parameters"), path
            assert "422" not in operation["responses"] or path.startswith(("/api/cases", "/api/help-requests")), path
