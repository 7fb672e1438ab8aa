"""Deployments and process instances in the JSON API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from app.accounts.permissions import require
from app.api import PAGE_QUERY, json_body, page_args
from app.api.openapi import doc
from app.engine import incidents, messaging, runtime
from app.engine.bundle import BundleInvalid, Problem
from app.engine.deployments import deploy, deployment_version, list_deployments
from app.engine.inbox import InstanceFilter, instance_query
from app.engine.models import Deployment, Incident, ProcessInstance
from app.errors import FieldErrors
from app.extensions import db
from app.scoping import in_scope

bp = Blueprint("engine_api", __name__, url_prefix="/api/v1")

DEPLOYMENT = {"type": "object", "properties": {
    "id": {"type": "integer"}, "version": {"type": "integer"},
    "content_hash": {"type": "string"}, "created_at": {"type": "string"},
    "created_by": {"type": "string"}, "created": {"type": "boolean"},
    "instances": {"type": "integer"},
    "processes": {"type": "array", "items": {"type": "object"}}}}
INSTANCE = {"type": "object", "properties": {
    "id": {"type": "integer"}, "flow": {"type": "string"}, "version": {"type": "integer"},
    "project_id": {"type": "integer"}, "business_key": {"type": ["string", "null"]},
    "status": {"type": "string"}, "current_steps": {"type": "string"},
    "next_timer_due": {"type": ["string", "null"]}, "started_at": {"type": "string"},
    "ended_at": {"type": ["string", "null"]}, "cancel_reason": {"type": ["string", "null"]}}}
NEW_INSTANCE = {"type": "object", "required": ["flow", "project_id"],
                "additionalProperties": False, "properties": {
                    "flow": {"type": "string", "minLength": 1, "maxLength": 100},
                    "project_id": {"type": "integer"},
                    "data": {"type": "object"},
                    "business_key": {"type": ["string", "null"], "maxLength": 64}}}
CANCEL = {"type": "object", "required": ["reason"], "additionalProperties": False,
          "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 500}}}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def deployment_json(d: Deployment, instances: int | None = None) -> dict[str, Any]:
    body = {"id": d.id, "version": d.version, "content_hash": d.content_hash,
            "created_at": _iso(d.created_at), "created_by": d.created_by_label,
            "processes": [{"id": p.process_id, "name": p.name, "file": p.file,
                           "timer_start": p.has_timer_start} for p in d.processes]}
    if instances is not None:
        body["instances"] = instances
    return body


def instance_json(i: ProcessInstance) -> dict[str, Any]:
    return {"id": i.id, "flow": i.flow, "version": deployment_version(i),
            "project_id": i.project_id, "business_key": i.business_key, "status": i.status,
            "current_steps": i.current_steps, "next_timer_due": _iso(i.next_timer_due),
            "started_at": _iso(i.started_at), "ended_at": _iso(i.ended_at),
            "cancel_reason": i.cancel_reason}


def problems_error(problems: list[Problem]) -> FieldErrors:
    """422 whose fields name each file (and element) with its reasons."""
    fields: dict[str, str] = {}
    for p in problems:
        key = f"{p.file}#{p.element_id}" if p.element_id else p.file
        fields[key] = f"{fields[key]}; {p.reason}" if key in fields else p.reason
    return FieldErrors(fields, "the bundle cannot be deployed:\n" + "\n".join(map(str, problems)))


def uploaded_bundle() -> dict[str, bytes]:
    """Uploaded files keyed by bundle path: the part's filename, or its field name."""
    files: dict[str, bytes] = {}
    for field, storage in request.files.items(multi=True):
        name = (storage.filename or field or "").replace("\\", "/").lstrip("/")
        if name and "/" not in name:
            name = f"processes/{name}" if name.endswith((".bpmn", ".dmn")) else f"forms/{name}"
        if name:
            files[name] = storage.read()
    if not files:
        raise FieldErrors({"files": "upload at least one file"})
    return files


@bp.post("/deployments")
@require("processes.manage")
@doc("Deploy a bundle (multipart: each file's name is its bundle path, e.g. "
     "processes/repair.bpmn or forms/repair/dispatch.json)", tags=("processes",),
     response=DEPLOYMENT, status=201)
def create_deployment() -> ResponseReturnValue:
    try:
        deployment, created = deploy(uploaded_bundle())
    except BundleInvalid as exc:
        raise problems_error(exc.problems) from exc
    return jsonify({**deployment_json(deployment), "created": created}), 201 if created else 200


@bp.get("/deployments")
@require("processes.manage")
@doc("Deployed versions, newest first, with their instance counts", tags=("processes",),
     response={"type": "array", "items": DEPLOYMENT})
def get_deployments() -> ResponseReturnValue:
    return jsonify([deployment_json(d, n) for d, n in list_deployments()])


@bp.post("/instances")
@require("tasks.work")
@doc("Start a process instance", tags=("processes",), request=NEW_INSTANCE, response=INSTANCE,
     status=201)
def start_instance() -> ResponseReturnValue:
    body = json_body(NEW_INSTANCE)
    instance = runtime.start_instance(body["flow"], body["project_id"], body.get("data") or {},
                                      body.get("business_key"))
    return jsonify(instance_json(instance)), 201


@bp.get("/instances")
@require("tasks.work")
@doc("Process instances (filters: flow, status, project_id, q = business key prefix)",
     tags=("processes",), query={**PAGE_QUERY, "flow": {"type": "string"},
                                 "status": {"type": "string"},
                                 "project_id": {"type": "integer"}, "q": {"type": "string"}},
     response={"type": "object", "properties": {
         "items": {"type": "array", "items": INSTANCE}, "total": {"type": "integer"},
         "page": {"type": "integer"}, "pages": {"type": "integer"}}})
def list_instances() -> ResponseReturnValue:
    page, per_page = page_args()
    args = request.args
    flt = InstanceFilter(flow=args.get("flow", ""), status=args.get("status", ""),
                         project_id=args.get("project_id", type=int), q=args.get("q", ""))
    result = db.paginate(instance_query(flt), page=page, per_page=per_page, error_out=False)
    return jsonify({"items": [instance_json(i) for i in result.items], "total": result.total,
                    "page": result.page, "pages": result.pages})


@bp.get("/instances/<int:instance_id>")
@require("tasks.work")
@doc("One process instance", tags=("processes",), response=INSTANCE)
def get_instance(instance_id: int) -> ResponseReturnValue:
    return jsonify(instance_json(runtime.get_instance(instance_id)))


@bp.post("/instances/<int:instance_id>/suspend")
@require("instances.manage")
@doc("Suspend an instance", tags=("processes",), response=INSTANCE)
def suspend(instance_id: int) -> ResponseReturnValue:
    return jsonify(instance_json(runtime.suspend_instance(instance_id)))


@bp.post("/instances/<int:instance_id>/resume")
@require("instances.manage")
@doc("Resume a suspended instance", tags=("processes",), response=INSTANCE)
def resume(instance_id: int) -> ResponseReturnValue:
    return jsonify(instance_json(runtime.resume_instance(instance_id)))


@bp.post("/instances/<int:instance_id>/cancel")
@require("instances.manage")
@doc("Cancel an instance with a reason", tags=("processes",), request=CANCEL,
     response=INSTANCE)
def cancel(instance_id: int) -> ResponseReturnValue:
    body = json_body(CANCEL)
    return jsonify(instance_json(runtime.cancel_instance(instance_id, body["reason"])))


# --- messages and signals ---------------------------------------------------------------------

MESSAGE = {"type": "object", "required": ["name", "correlation"], "additionalProperties": False,
           "properties": {
               "name": {"type": "string", "minLength": 1, "maxLength": 200},
               "correlation": {"type": "object", "description":
                               "correlation property → value, e.g. {\"ticket_no\": \"BX-1\"}"},
               "payload": {"type": ["object", "null"]},
               "project_id": {"type": ["integer", "null"], "description":
                              "limits the receivers; required when the message starts a flow"}}}
SIGNAL = {"type": "object", "required": ["name", "project_id"], "additionalProperties": False,
          "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200},
                         "project_id": {"type": "integer"},
                         "payload": {"type": ["object", "null"]}}}
SIGNAL_RESULT = {"type": "object", "properties": {
    "name": {"type": "string"}, "project_id": {"type": "integer"},
    "instances": {"type": "integer", "description": "how many instances caught it"}}}


@bp.post("/messages")
@require("instances.manage")
@doc("Deliver a message to the instance waiting for it with that correlation (or start the "
     "flow whose start event catches it); 404 when nothing waits for it",
     tags=("processes",), request=MESSAGE, response=INSTANCE)
def post_message() -> ResponseReturnValue:
    body = json_body(MESSAGE)
    instance = messaging.send_message(body["name"], body["correlation"], body.get("payload"),
                                      body.get("project_id"))
    return jsonify(instance_json(instance))


@bp.post("/signals")
@require("instances.manage")
@doc("Throw a signal to every instance of a project waiting for it (e.g. a building-wide "
     "outage notice)", tags=("processes",), request=SIGNAL, response=SIGNAL_RESULT)
def post_signal() -> ResponseReturnValue:
    body = json_body(SIGNAL)
    if not in_scope(body["project_id"]):
        raise FieldErrors({"project_id": "no such project"})
    caught = messaging.broadcast_signal(body["name"], body["project_id"], body.get("payload"))
    return jsonify({"name": body["name"], "project_id": body["project_id"],
                    "instances": caught})


# --- incidents ---------------------------------------------------------------------------------

INCIDENT_FIELDS: dict[str, Any] = {
    "id": {"type": "integer"}, "instance_id": {"type": "integer"},
    "project_id": {"type": "integer"}, "flow": {"type": "string"},
    "status": {"type": "string", "enum": ["open", "resolved"]},
    "resolution": {"type": ["string", "null"], "enum": ["retried", "skipped", None]},
    "task_id": {"type": ["string", "null"]}, "element_id": {"type": ["string", "null"]},
    "element_name": {"type": ["string", "null"]}, "error_type": {"type": "string"},
    "message": {"type": "string"}, "occurrences": {"type": "integer"},
    "created_at": {"type": "string"}, "last_failed_at": {"type": "string"},
    "resolved_at": {"type": ["string", "null"]}}
INCIDENT = {"type": "object", "properties": INCIDENT_FIELDS}
INCIDENT_DETAIL = {"type": "object", "properties": {
    **INCIDENT_FIELDS, "traceback": {"type": "string"},
    "data": {"type": ["object", "null"]}}}
RETRY = {"type": "object", "additionalProperties": False, "properties": {
    "data": {"type": ["object", "null"],
             "description": "replaces the failing task's data before it runs again"}}}


def incident_json(i: Incident, detail: bool = False) -> dict[str, Any]:
    body = {"id": i.id, "instance_id": i.instance_id, "project_id": i.project_id,
            "flow": i.instance.flow, "status": i.status, "resolution": i.resolution,
            "task_id": i.task_id, "element_id": i.element_id, "element_name": i.element_name,
            "error_type": i.error_type, "message": i.message, "occurrences": i.occurrences,
            "created_at": _iso(i.created_at), "last_failed_at": _iso(i.last_failed_at),
            "resolved_at": _iso(i.resolved_at)}
    if detail:
        body.update(traceback=i.traceback, data=i.data)
    return body


@bp.get("/incidents")
@require("processes.manage")
@doc("Incidents (status=open (default) | resolved), newest first", tags=("processes",),
     query={**PAGE_QUERY, "status": {"type": "string", "enum": ["open", "resolved"]}},
     response={"type": "object", "properties": {
         "items": {"type": "array", "items": INCIDENT}, "total": {"type": "integer"},
         "page": {"type": "integer"}, "pages": {"type": "integer"}}})
def list_incidents() -> ResponseReturnValue:
    page, per_page = page_args()
    status = request.args.get("status", "open")
    if status not in ("open", "resolved"):
        raise FieldErrors({"status": "open or resolved"})
    result = db.paginate(incidents.incident_query(status), page=page, per_page=per_page,
                         error_out=False)
    return jsonify({"items": [incident_json(i) for i in result.items], "total": result.total,
                    "page": result.page, "pages": result.pages})


@bp.get("/incidents/<int:incident_id>")
@require("processes.manage")
@doc("One incident with its traceback and the failing task's data", tags=("processes",),
     response=INCIDENT_DETAIL)
def get_incident(incident_id: int) -> ResponseReturnValue:
    return jsonify(incident_json(incidents.get_incident(incident_id), detail=True))


@bp.post("/incidents/<int:incident_id>/retry")
@require("processes.manage")
@doc("Run the failing step again, optionally with corrected task data; the incident stays "
     "open (one more occurrence) if it fails again", tags=("processes",), request=RETRY,
     response=INCIDENT_DETAIL)
def retry_incident(incident_id: int) -> ResponseReturnValue:
    body = json_body(RETRY) if request.get_data() else {}
    incident = incidents.retry_incident(incident_id, body.get("data"))
    return jsonify(incident_json(incident, detail=True))


@bp.post("/incidents/<int:incident_id>/skip")
@require("processes.manage")
@doc("Complete the failing step without running it (not for gateways)", tags=("processes",),
     response=INCIDENT_DETAIL)
def skip_incident(incident_id: int) -> ResponseReturnValue:
    return jsonify(incident_json(incidents.skip_incident(incident_id), detail=True))
