"""Service tasks: the operator registry, running ready service tasks, the built-in operators.

A BPMN service task names an operator (``spiffworkflow:serviceTaskOperator id="notify"``) and
its parameters (expressions over the task data). :func:`register_operator` maps the name to a
Python handler and declares the parameters; deployments are validated against the registry
(unknown operator, missing required parameter → the deploy fails naming file and element).

Handlers never act on the outside world: they write outbox rows (``app.outbox``) or
notifications in the caller's transaction, keyed by :attr:`ServiceContext.idempotency_key`
(``instance:<id>:task:<spiff task id>``), so a step that is retried, or rolled back and run
again, never duplicates a side effect. The dispatcher delivers after the commit.

``notify``'s recipients are references ("role:<code>", "requester", "user:<id>",
"phone:<number>"); a domain adds its own kinds with :func:`register_recipient_kind` (records:
"customer:<id>"), resolved when the message is sent, so the workflow data carries a reference
and never the personal data behind it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from app.engine import spiff
from app.engine import tasks as engine_tasks
from app.engine.history import jsonable
from app.engine.models import ProcessInstance
from app.extensions import db
from app.notifications.recipients import Recipient
from app.notifications.service import notify
from app.notifications.templates import ROOT as TEMPLATES_ROOT
from app.notifications.templates import TemplateStore
from app.outbox.operations import enqueue
from app.uow import session_flag, session_flagged

#: Rounds of "run the ready service tasks, advance" one step may take (a loop in a diagram
#: made only of service tasks ends here as an incident instead of spinning forever).
MAX_SERVICE_ROUNDS = 50


class ServiceTaskError(Exception):
    """A service task cannot run: unknown operator, bad parameter, handler refused."""


@dataclass(frozen=True)
class ServiceContext:
    """What a handler knows about the task it runs for."""

    instance_id: int
    project_id: int
    flow: str
    business_key: str | None
    requester_id: int | None
    task_id: str
    element_id: str
    data: dict[str, Any]
    deployment_id: int

    @property
    def idempotency_key(self) -> str:
        """Stable for this execution of the task: retries reuse it, a loop's next pass not."""
        return f"instance:{self.instance_id}:task:{self.task_id}"


Handler = Callable[[ServiceContext, dict[str, Any]], Any]


@dataclass(frozen=True)
class Operator:
    name: str
    params: dict[str, type]
    required: frozenset[str]
    handler: Handler
    description: str = ""


_registry: dict[str, Operator] = {}
_registry_lock = threading.Lock()


def register_operator(
    name: str,
    *,
    params: Mapping[str, type],
    handler: Handler,
    required: Iterable[str] | None = None,
    description: str = "",
) -> Operator:
    """Make ``name`` usable in service tasks (replaces an earlier registration of the name).

    ``params``: parameter name → expected Python type of its evaluated value; ``required``:
    the names a diagram must give (default: all of ``params``).
    """
    needed = frozenset(params if required is None else required)
    unknown = needed - set(params)
    if unknown:
        raise ValueError(f"required parameter(s) not declared: {', '.join(sorted(unknown))}")
    operator = Operator(name, dict(params), needed, handler, description)
    with _registry_lock:
        _registry[name] = operator
    return operator


def unregister_operator(name: str) -> None:
    """Forget an operator (tests)."""
    with _registry_lock:
        _registry.pop(name, None)


def get_operator(name: str) -> Operator:
    try:
        return _registry[name]
    except KeyError:
        raise ServiceTaskError(f"unknown service operator {name!r}") from None


def operator_requirements() -> dict[str, frozenset[str]]:
    """{operator: required parameter names}, what deploy-time validation checks against."""
    return {name: op.required for name, op in sorted(_registry.items())}


# --- running ---------------------------------------------------------------------------------


def _requester(instance: ProcessInstance, data: Mapping[str, Any]) -> int | None:
    raw = data.get("requester_id")
    if raw not in (None, ""):
        try:
            return int(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
    return instance.started_by_id


def _json_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """The task data as plain JSON (dates become strings), what handlers and templates see."""
    plain = jsonable({str(k): v for k, v in data.items()})  # one round trip for all of it
    return plain if isinstance(plain, dict) else {}


def _check_params(operator: Operator, call: engine_tasks.ServiceCall) -> dict[str, Any]:
    missing = sorted(operator.required - set(call.params))
    if missing:
        raise ServiceTaskError(f"operator {operator.name!r} needs parameter(s) "
                               f"{', '.join(missing)}")
    params: dict[str, Any] = {}
    for name, value in call.params.items():
        expected = operator.params.get(name)
        if expected is None:
            raise ServiceTaskError(f"operator {operator.name!r} has no parameter {name!r}")
        if value is not None and not isinstance(value, expected):
            raise ServiceTaskError(
                f"parameter {name!r} of {operator.name!r} must be a {expected.__name__}, "
                f"got {type(value).__name__} {value!r}")
        params[name] = value
    return params


@dataclass
class FailedService(Exception):
    """A handler failed; carries the task so the incident names it."""

    task_id: str
    element_id: str
    error: BaseException = field(repr=False)

    def __str__(self) -> str:
        return f"{self.element_id}: {type(self.error).__name__}: {self.error}"


def clear_cache() -> None:
    """Forget cached template stores (tests that roll back deployments)."""
    with _registry_lock:
        _stores.clear()


def run_service_call(
    instance: ProcessInstance, workflow: BpmnWorkflow, call: engine_tasks.ServiceCall
) -> Any:
    """Run one ready service task's handler and complete the task with its result."""
    task = spiff.get_task(workflow, call.task_id)
    context = ServiceContext(
        instance_id=instance.id, project_id=instance.project_id, flow=instance.flow,
        business_key=instance.business_key, requester_id=_requester(instance, task.data),
        task_id=str(call.task_id), element_id=call.element_id, data=_json_data(task.data),
        deployment_id=instance.deployment_id,
    )
    operator = get_operator(call.operator)
    result = operator.handler(context, _check_params(operator, call))
    engine_tasks.complete_service_task(workflow, call.task_id, jsonable(result))
    return result


#: session.info key set by :func:`unguarded_handlers`.
_UNGUARDED = "estateflow.unguarded_handlers"


class StepFailed(Exception):
    """A step failed inside :func:`unguarded_handlers`: roll back to the savepoint taken
    before it and step again outside the block (where the failure becomes an incident)."""


def unguarded_handlers() -> AbstractContextManager[None]:
    """Within the block, service handlers run without a savepoint each, and a step that fails
    raises :class:`StepFailed` instead of becoming an incident.

    For a caller that took a savepoint of its own before the step (the timer pass): the
    usual step pays two savepoint statements per service task — a network round trip each on
    PostgreSQL — to be able to keep the work done before a failing handler; here a failure
    costs a rollback and a second, guarded step instead, and the outcome is the same. (The
    handlers before the failing one then run twice, with the same idempotency keys, as on any
    retry: a handler that reaches outside the database must use its key.)"""
    return session_flag(_UNGUARDED)


def handlers_unguarded() -> bool:
    return session_flagged(_UNGUARDED)


def run_to_wait(instance: ProcessInstance, workflow: BpmnWorkflow) -> None:
    """Advance, then run every ready service task and advance again, until none is ready.

    A failing handler raises :class:`FailedService` (the caller turns it into an incident).
    """
    spiff.advance(workflow)
    guarded = not handlers_unguarded()
    for _ in range(MAX_SERVICE_ROUNDS):
        calls = engine_tasks.ready_service_tasks(workflow)
        if not calls:
            return
        for call in calls:
            try:
                # Its own savepoint: a failing handler leaves no half-written rows behind.
                with db.session.begin_nested() if guarded else nullcontext():
                    run_service_call(instance, workflow, call)
            except Exception as exc:
                raise FailedService(str(call.task_id), call.element_id, exc) from exc
        spiff.advance(workflow)
    raise ServiceTaskError(
        f"service tasks still ready after {MAX_SERVICE_ROUNDS} rounds (a loop in the diagram?)")


# --- built-in operators ----------------------------------------------------------------------

_stores: dict[tuple[int, str], TemplateStore | None] = {}


def deployment_templates(deployment_id: int) -> TemplateStore | None:
    """The notification templates deployed with a version (None: none were)."""
    from app.engine.deployments import loaded_deployment_by_id  # deployments imports us

    loaded = loaded_deployment_by_id(deployment_id)
    key = (loaded.id, loaded.content_hash)
    if key not in _stores:
        files = {path: content for path, content in loaded.files.items()
                 if path.startswith(TEMPLATES_ROOT)}
        store = TemplateStore(files) if files else None
        with _registry_lock:
            _stores[key] = store
    return _stores[key]


#: A domain's recipient kind: ``resolver(value, context)`` turns the part after "<kind>:" into
#: recipients (none is fine: nobody to reach) or raises :class:`ServiceTaskError` (an incident).
RecipientResolver = Callable[[str, ServiceContext], list[Recipient]]


@dataclass(frozen=True)
class RecipientKind:
    name: str
    resolver: RecipientResolver
    usage: str  # how the error message shows it, e.g. "customer:<id>"


_BUILT_IN_RECIPIENTS = ("role:<code>", "requester", "user:<id>", "phone:<number>")
_BUILT_IN_KINDS = frozenset({"role", "requester", "user", "phone"})
_recipient_kinds: dict[str, RecipientKind] = {}


def register_recipient_kind(kind: str, resolver: RecipientResolver, *,
                            usage: str | None = None) -> RecipientKind:
    """Let ``notify``'s ``to`` name "<kind>:<value>" (replaces an earlier registration of the
    kind). The resolver runs when the task sends, in its transaction; the built-in kinds
    (role, requester, user, phone) cannot be replaced."""
    if kind in _BUILT_IN_KINDS:
        raise ValueError(f"recipient kind {kind!r} is built in")
    if not kind.isidentifier():
        raise ValueError(f"recipient kind {kind!r}: letters, digits and _ only")
    registered = RecipientKind(kind, resolver, usage or f"{kind}:<value>")
    with _registry_lock:
        _recipient_kinds[kind] = registered
    return registered


def unregister_recipient_kind(kind: str) -> None:
    """Forget a recipient kind (tests)."""
    with _registry_lock:
        _recipient_kinds.pop(kind, None)


def _recipient_usage() -> str:
    usages = [*_BUILT_IN_RECIPIENTS, *(k.usage for _, k in sorted(_recipient_kinds.items()))]
    return f"{', '.join(usages[:-1])} or {usages[-1]}"


def recipients_of(context: ServiceContext, to: list[Any] | str) -> list[Recipient]:
    """``notify``'s ``to``: "role:<code>", "requester", "user:<id>", "phone:<raw>", or a kind
    a domain registered ("customer:<id>", see :func:`register_recipient_kind`)."""
    items = [to] if isinstance(to, str) else list(to)
    result: list[Recipient] = []
    for item in items:
        text = str(item).strip()
        kind, _, value = text.partition(":")
        value = value.strip()
        if text == "requester":
            if context.requester_id is None:
                raise ServiceTaskError("recipient 'requester': the instance has no requester "
                                       "(no requester_id in the data, started by the system)")
            result.append(Recipient.user(context.requester_id))
        elif kind == "role" and value:
            result.append(Recipient.role_in_project(value))
        elif kind == "user" and value.isdigit():
            result.append(Recipient.user(int(value)))
        elif kind == "phone" and value:
            result.append(Recipient.to_phone(value))
        elif value and (registered := _recipient_kinds.get(kind)) is not None:
            result.extend(registered.resolver(value, context))
        else:
            raise ServiceTaskError(f"recipient {item!r}: use {_recipient_usage()}")
    return result


def _notify(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    store = deployment_templates(context.deployment_id)
    messages = notify(
        params["event"], project_id=context.project_id,
        recipients=recipients_of(context, params["to"]), data=context.data,
        urgent=bool(params.get("urgent") or False), channels=params.get("channels"),
        idempotency_key=context.idempotency_key, templates=store,
        # In a timer group's first try a task's key is new: its messages and the task's
        # completion are saved together, so they exist only once the task is done. (A
        # duplicate would fail on the unique key, and the guarded retry looks keys up.)
        new_key=handlers_unguarded(),
    )
    return {"event": params["event"], "messages": len(messages)}


def _outbox(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    message = enqueue(
        params["kind"], idempotency_key=context.idempotency_key,
        payload=dict(params.get("payload") or {}), project_id=context.project_id,
    )
    return {"outbox_id": message.id}


register_operator(
    "notify", params={"event": str, "to": list, "urgent": bool, "channels": list},
    required=("event", "to"), handler=_notify,
    description="Notify people of an event (templates under notifications/<flow>/).",
)
register_operator(
    "outbox", params={"kind": str, "payload": dict}, required=("kind",), handler=_outbox,
    description="Queue a generic side effect for the deliverer registered for its kind.",
)
